"""The interactive API documentation in Chromium: it runs under the CSP, all from the app.

Uses the browser `make test` names in CHROMIUM_EXECUTABLE (Playwright's own when empty).
"""

from __future__ import annotations

import pytest

from tests.browser import launched_chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_api_docs_page_renders_under_the_csp_without_other_hosts(live_server, user, client):
    client.force_login(user)
    session = client.cookies["sessionid"].value
    with launched_chromium() as browser:
        context = browser.new_context()
        context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
        page = context.new_page()
        console = []
        page.on("console", lambda message: console.append(message.text))
        elsewhere = []
        page.on(
            "request",
            lambda request: (
                elsewhere.append(request.url)
                if not request.url.startswith((live_server.url, "data:"))
                else None
            ),
        )
        page.goto(live_server.url + "/api/docs/")
        page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
        assert "sco-annotate API" in page.inner_text(".swagger-ui .info .title")
        page.wait_for_selector(".opblock", timeout=20_000)
        assert page.locator(".opblock").count() >= 10
        # A blocked script or style would be reported on the console.
        assert not [text for text in console if "Content Security Policy" in text]
        assert elsewhere == []
