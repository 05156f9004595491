"""No-store on everything but static files, ETags kept; a CSP without inline styles for the
app's pages, and no inline style left in its templates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse

from sco_annotate.middleware import with_inline_styles

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


def style_src(response):
    policy = response["Content-Security-Policy"]
    return next(part.split() for part in policy.split(";") if part.split()[0] == "style-src")


def test_pages_and_api_answers_are_not_stored(logged_in, document, user, bearer):
    for url in ("/", document.get_absolute_url(), reverse("mfa"), "/access-log/"):
        assert "no-store" in logged_in.get(url)["Cache-Control"], url
    headers = bearer(user)
    for url in (
        "/api/v1/documents/",
        f"/api/v1/documents/{document.pk}/",
        f"/api/v1/documents/{document.pk}/annotations/",
        "/api/v1/annotations/",
        "/api/v1/export/annotations.csv",
    ):
        response = logged_in.get(url, headers=headers)
        assert response["Cache-Control"] == "no-store", url
    assert "no-store" in logged_in.get(reverse("login"))["Cache-Control"]


def test_static_files_keep_their_caching(client, db):
    response = client.get("/static/css/app.css")
    response.close()  # WhiteNoise streams the file
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


def test_etags_still_answer_304_under_no_store(client, document, annotation, user, bearer):
    headers = bearer(user)
    url = f"/api/v1/documents/{document.pk}/annotations/"
    first = client.get(url, headers=headers)
    assert first["ETag"]
    again = client.get(url, headers={**headers, "If-None-Match": first["ETag"]})
    assert again.status_code == 304


def test_the_apps_pages_forbid_inline_styles(logged_in, document):
    for url in ("/", document.get_absolute_url(), reverse("mfa_setup"), reverse("login")):
        response = logged_in.get(url)
        assert "'unsafe-inline'" not in response["Content-Security-Policy"], url
        assert style_src(response) == ["style-src", "'self'"]


def test_only_the_admin_and_the_api_docs_allow_inline_styles(admin_client):
    for url in ("/admin/", "/api/docs/"):
        response = admin_client.get(url)
        assert response.status_code == 200
        assert style_src(response) == ["style-src", "'self'", "'unsafe-inline'"]
        assert "script-src 'self';" in response["Content-Security-Policy"]


def test_with_inline_styles_changes_only_style_src():
    policy = "default-src 'self'; style-src 'self'; script-src 'self'"
    assert with_inline_styles(policy) == (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'"
    )
    assert with_inline_styles("default-src 'none'") == "default-src 'none'"


def test_no_template_of_the_app_has_an_inline_style():
    for template in TEMPLATES.rglob("*.html"):
        if template.relative_to(TEMPLATES).parts[0] == "admin":
            continue  # the admin's pages have their own, looser policy
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"<style|\sstyle=", text, re.IGNORECASE), template
