"""The OpenAPI schema, the interactive docs, and a schemathesis run against the schema."""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config._checks import POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES

pytestmark = pytest.mark.django_db

#: Examples per operation: enough to hit each parameter's edge cases, bounded so that the
#: run stays well under a minute. Raise it locally with SCHEMATHESIS_EXAMPLES=500.
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))


def test_schema_needs_credentials(client, user, bearer):
    assert client.get("/api/schema/").status_code == 401
    response = client.get("/api/schema/?format=json", headers=bearer(user, read_only=True))
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/annotations/{id}/" in schema["paths"]
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_docs_page_is_served_from_the_app_under_the_csp(client, user):
    assert client.get("/api/docs/").status_code == 302  # to the login page
    client.force_login(user)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    csp = response["Content-Security-Policy"]
    script_src = next(part for part in csp.split(";") if part.strip().startswith("script-src"))
    assert script_src.split() == ["script-src", "'self'"]
    # Every script and style is a file of this site: no CDN, no inline script.
    assert "<script>" not in html.replace(" ", "")
    assert "http://" not in html.replace("http://testserver", "")
    assert "https://" not in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()
    bundle = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    bundle.close()


@pytest.fixture
def keep_test_connection():
    """Like Django's test client: the WSGI app must not close the test's DB connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_schemathesis_finds_nothing(
    user, staff_user, bearer, annotation, sample_corpus, keep_test_connection
):
    """Generated requests to every operation, valid and invalid, pass every check
    schemathesis has: no 5xx, and each answer as the schema declares it."""
    load_all_checks()
    checks = CHECKS.get_all()
    # Uncompressed: the WSGI client hands schemathesis the body as sent, and gzip is
    # tested on its own (tests/test_errors.py).
    headers = {**bearer(staff_user), "Accept-Encoding": "identity"}
    config = schemathesis.config.SchemathesisConfig.from_dict(
        {
            "checks": {
                # Schema-valid is not always valid: a tag, author or document named in a
                # filter must exist (400), an If-Match must name the current version (412),
                # an Idempotency-Key must come with the body it was first sent with (422).
                "positive_data_acceptance": {
                    "expected-statuses": [
                        *POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES,
                        400,
                        412,
                        422,
                    ]
                }
            }
        }
    )
    schema = schemathesis.openapi.from_wsgi(
        "/api/schema/?format=json", WSGIHandler(), headers=headers, config=config
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    failures = []
    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=not os.environ.get("SCHEMATHESIS_RANDOM"),
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case):
            response = case.call(headers=headers)
            case.validate_response(response, checks=checks, headers=headers)

        try:
            run()
        except (
            Exception,
            BaseExceptionGroup,
        ) as exc:  # collect all operations' failures, not only the first
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
