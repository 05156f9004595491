"""Every page checked with axe-core in Chromium: no serious or critical accessibility
violation (missing labels, too little contrast, missing landmarks, headings out of order).

axe-core comes from npm (package.json, installed by `make install` with `npm ci`). The
pages' policy forbids inline scripts, so it is not added as a <script>: Playwright
evaluates its source in the page, as developer tools do, which the policy does not
govern, and the pages keep their real policy while they are checked.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from documents import services
from documents.models import Document, Tag
from memos import services as memo_services
from projects.models import Project
from tests.browser import launched_chromium
from tests.test_browser import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
#: What a page must not have. Minor and moderate findings are reported by axe too, but
#: judged case by case rather than failing the suite.
FAILING_IMPACTS = {"serious", "critical"}


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        pytest.fail(
            f"{AXE} is missing: the accessibility tests need axe-core from npm. Install Node's "
            "npm (Debian, Ubuntu: apt-get install npm) and run `npm ci` (make install does)."
        )
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def browser():
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture
def demo(db):
    """The demo's project: the sample corpus, the admin who owns it, the analyst's passages,
    a memo, an attribute with values, and a batch of files waiting in the import."""
    call_command("load_demo", stdout=io.StringIO())
    admin = get_user_model().objects.get(username="admin")
    project = Project.objects.get()
    document = Document.objects.order_by("pk").first()
    memo_services.memo_create(
        user=admin,
        project=project,
        code=Tag.objects.get(project=project, slug="extradition"),
        title="What counts as extradition",
        text="Informal returns count too.",
    )
    services.attribute_create(
        user=admin, project=project, name="Country", kind="choice", choices=["China", "Russia"]
    )
    batch = services.import_batch_create(
        user=admin,
        project=project,
        uploads=[
            services.Upload(
                filename="statement.txt",
                data=b"Skip to main content\nA statement on the SCO.\nDonate now\n",
            )
        ],
        defaults={},
    )
    services.import_batch_step(user=admin, batch=batch)
    return admin, project, document, batch


def _violations(page, axe_source: str) -> list[dict]:
    # What folds away (forms to add a code or a memo, the clean-up record) is checked too.
    page.evaluate("() => document.querySelectorAll('details').forEach((d) => { d.open = true; })")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source)
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        {
            "rule": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "where": [node["target"] for node in violation["nodes"]][:5],
        }
        for violation in result
    ]


def _pages(project: Project, document: Document, batch) -> dict[str, str]:
    pk = project.pk
    return {
        "projects": reverse("projects:list"),
        "project": reverse("projects:detail", args=[pk]),
        "documents": reverse("documents:list"),
        "workspace": document.get_absolute_url(),
        "search": reverse("research:search", args=[pk]) + "?q=extradition",
        "passages": reverse("research:passages", args=[pk]),
        "passages-counted": reverse("research:passages_count", args=[pk]),
        "matrix": reverse("research:matrix", args=[pk]),
        "cooccurrence": reverse("research:cooccurrence", args=[pk]),
        "timeline": reverse("research:timeline", args=[pk]),
        "memos": reverse("memos:list", args=[pk]),
        "attributes": reverse("projects:document_attributes", args=[pk]),
        "import": reverse("documents:import"),
        "import-preview": reverse("documents:import_batch", args=[batch.pk]),
        "access-log": reverse("access_log"),
        "two-factor": reverse("mfa"),
        "two-factor-setup": reverse("mfa_setup"),
        "guide": reverse("guide"),
    }


def test_no_page_has_a_serious_accessibility_violation(browser, live_server, demo, axe_source):
    admin, project, document, batch = demo
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 720})
    page = context.new_page()
    found: dict[str, list[dict]] = {}
    try:
        page.goto(reverse("login"))
        found["login"] = _violations(page, axe_source)
        client = Client()
        client.force_login(admin)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
        )
        for name, url in _pages(project, document, batch).items():
            response = page.goto(url)
            assert response is not None and response.status == 200, f"{name}: {url}"
            page.wait_for_load_state("networkidle")
            found[name] = _violations(page, axe_source)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"axe-{name}.png"), full_page=True)
    finally:
        context.close()
    # Every finding is kept beside the screenshots, the minor ones included.
    (ARTIFACTS / "axe.json").write_text(json.dumps(found, indent=1), encoding="utf-8")
    failing = {
        name: [v for v in violations if v["impact"] in FAILING_IMPACTS]
        for name, violations in found.items()
    }
    failing = {name: violations for name, violations in failing.items() if violations}
    assert failing == {}, json.dumps(failing, indent=1)
