"""Two-factor setup and login, and the lockout message, in Chromium (Playwright) against a
live server."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser import launched_chromium
from tests.helpers import totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="module")
def browser():
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture
def page(browser, live_server, request):
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def console(message):
        # The lockout answers 429, which Chromium also reports as an error.
        if message.type == "error" and "status of 429" not in message.text:
            errors.append(message.text)

    page.on("console", console)
    failed_before = request.session.testsfailed
    yield page
    if request.session.testsfailed > failed_before:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]", "_", request.node.name)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()
    # No script error and no refused resource (Content-Security-Policy included).
    assert errors == []


def fill_login(page, username, password):
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_an_admin_sets_up_two_factor_then_logs_in_with_a_code(page, staff_user, settings):
    settings.MFA_REQUIRED_FOR_ADMINS = True
    page.goto("/accounts/login/")
    fill_login(page, "editor", "editor-pass-1")
    # Nothing else opens before two-factor is set up.
    expect(page).to_have_url(re.compile(r"/accounts/2fa/setup/$"))
    page.goto("/admin/")
    expect(page).to_have_url(re.compile(r"/accounts/2fa/setup/$"))
    expect(page.locator(".qr svg")).to_be_visible()
    secret = page.locator("#mfa-secret").inner_text().replace(" ", "")
    key = base64.b32decode(secret).hex()
    page.get_by_label("Code", exact=True).fill(totp_code(key))
    page.get_by_role("button", name="Turn on two-factor").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Two-factor authentication is on")
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.get_by_role("link", name="Go on to the documents").click()
    expect(page.get_by_role("link", name="Access log")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    fill_login(page, "editor", "editor-pass-1")
    expect(page).to_have_url(re.compile(r"/accounts/login/code/"))
    page.get_by_label("Code", exact=True).fill(totp_code(key, steps_ahead=1))
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/$"))
    page.goto("/admin/")
    expect(page).to_have_url(re.compile(r"/admin/$"))


def test_an_analyst_sets_up_two_factor_from_the_page_behind_their_name(page, user):
    page.goto("/accounts/login/")
    fill_login(page, "analyst", "analyst-pass-1")
    expect(page).to_have_url(re.compile(r"/$"))
    page.get_by_role("link", name="analyst").click()
    page.get_by_role("link", name="Set up two-factor authentication").click()
    secret = page.locator("#mfa-secret").inner_text().replace(" ", "")
    page.get_by_label("Code", exact=True).fill(totp_code(base64.b32decode(secret).hex()))
    page.get_by_role("button", name="Turn on two-factor").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.get_by_role("link", name="Two-factor settings").click()
    expect(page.get_by_text("Two-factor authentication is on")).to_be_visible()


def test_the_login_page_says_when_the_account_is_locked(page, user, settings):
    page.goto("/accounts/login/")
    for _ in range(settings.LOGIN_FAILURE_LIMIT - 1):
        fill_login(page, "analyst", "not-the-password")
        expect(page.get_by_role("alert")).to_contain_text("correct username and password")
    fill_login(page, "analyst", "not-the-password")
    expect(page.locator("#locked-out")).to_contain_text("Too many failed logins")
    # Even the right password is refused now, with the same message.
    fill_login(page, "analyst", "analyst-pass-1")
    expect(page.locator("#locked-out")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
