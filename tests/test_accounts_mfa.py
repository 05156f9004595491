"""Two-factor authentication: setup, login with a code or a recovery code, turning it off,
new recovery codes, and admins made to set it up."""

from __future__ import annotations

import base64
import time

import pytest
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import mfa
from accounts.models import AccessEvent
from accounts.views import PENDING_KEY, SETUP_KEY
from tests.helpers import enable_mfa, totp_code


def password_step(client, username="analyst", password="analyst-pass-1", next_url=""):
    data = {"username": username, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post(reverse("login"), data)


def is_logged_in(client):
    return "_auth_user_id" in client.session


@pytest.fixture
def mfa_user(user):
    key, codes = enable_mfa(user)
    return user, key, codes


# ---------------------------------------------------------------------------------------
# Who must


def test_mfa_required_only_for_admins_and_only_when_set(settings, user, staff_user, admin_user):
    settings.MFA_REQUIRED_FOR_ADMINS = True
    assert mfa.mfa_required(staff_user) and mfa.mfa_required(admin_user)
    assert not mfa.mfa_required(user)
    settings.MFA_REQUIRED_FOR_ADMINS = False
    assert not mfa.mfa_required(staff_user) and not mfa.mfa_required(admin_user)


# ---------------------------------------------------------------------------------------
# Setup


def test_setup_shows_a_qr_code_drawn_here_and_the_key_in_text(client, user):
    client.force_login(user)
    response = client.get(reverse("mfa_setup"))
    assert response.status_code == 200
    page = response.content.decode()
    key = client.session[SETUP_KEY]
    secret = base64.b32encode(bytes.fromhex(key)).decode()
    assert "<svg" in page and "<img" not in page
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page
    # The same key until it is confirmed, so that a reload does not change the QR code.
    client.get(reverse("mfa_setup"))
    assert client.session[SETUP_KEY] == key


def test_setup_confirmed_by_a_code_shows_the_recovery_codes_once(client, user):
    client.force_login(user)
    client.get(reverse("mfa_setup"))
    key = client.session[SETUP_KEY]
    response = client.post(reverse("mfa_setup"), {"code": totp_code(key)})
    assert response.status_code == 200
    codes = response.context["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(code in response.content.decode() for code in codes)
    assert "no-store" in response["Cache-Control"]
    device = TOTPDevice.objects.get(user=user)
    assert device.confirmed and device.key == key
    assert StaticToken.objects.filter(device__user=user).count() == 10
    assert SETUP_KEY not in client.session and mfa.is_verified(client.session)
    assert AccessEvent.objects.filter(kind="mfa_enabled", user=user).count() == 1
    # Done: the setup page now leads to the two-factor page, which shows no codes.
    assert client.get(reverse("mfa_setup"))["Location"] == reverse("mfa")
    assert codes[0] not in client.get(reverse("mfa")).content.decode()


@pytest.mark.parametrize("code", ["000000", "12345", "not a code", "1" * 41, ""])
def test_setup_refuses_a_wrong_or_malformed_code_with_a_message(client, user, code):
    client.force_login(user)
    client.get(reverse("mfa_setup"))
    key = client.session[SETUP_KEY]
    if code == "000000" and totp_code(key) == code:
        code = "000001"
    response = client.post(reverse("mfa_setup"), {"code": code})
    assert response.status_code == 400
    assert response.context["form"].errors
    assert not TOTPDevice.objects.exists()


def test_setup_needs_a_login(client, db):
    response = client.get(reverse("mfa_setup"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


# ---------------------------------------------------------------------------------------
# Login


def test_login_asks_for_the_code_after_the_password(client, mfa_user):
    user, key, _ = mfa_user
    response = password_step(client, next_url="/?page=2")
    assert response.status_code == 302
    assert response["Location"] == reverse("login_code") + "?next=%2F%3Fpage%3D2"
    assert not is_logged_in(client)
    assert client.get("/").status_code == 302
    response = client.post(reverse("login_code"), {"code": totp_code(key), "next": "/?page=2"})
    assert response.status_code == 302 and response["Location"] == "/?page=2"
    assert is_logged_in(client) and mfa.is_verified(client.session)
    assert client.get("/").status_code == 200
    event = AccessEvent.objects.get(kind="login")
    assert event.user == user and event.detail == {"second_factor": "authenticator"}


def test_a_code_is_accepted_with_spaces(client, mfa_user):
    _, key, _ = mfa_user
    password_step(client)
    code = totp_code(key)
    response = client.post(reverse("login_code"), {"code": f"{code[:3]} {code[3:]}"})
    assert response.status_code == 302 and is_logged_in(client)


def test_a_wrong_code_is_refused_and_logged(client, mfa_user):
    user, key, _ = mfa_user
    password_step(client)
    wrong = "000000" if totp_code(key) != "000000" else "000001"
    response = client.post(reverse("login_code"), {"code": wrong})
    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    assert not is_logged_in(client)
    event = AccessEvent.objects.get(kind="login_failed")
    assert event.user == user and event.detail == {"step": "code"}


def test_a_recovery_code_logs_in_once(client, mfa_user):
    user, _, codes = mfa_user
    password_step(client)
    response = client.post(reverse("login_code"), {"code": codes[0].upper()}, follow=True)
    assert response.status_code == 200 and is_logged_in(client)
    assert "9 left" in response.content.decode()
    assert AccessEvent.objects.get(kind="login").detail == {"second_factor": "recovery code"}
    client.post(reverse("logout"))
    password_step(client)
    response = client.post(reverse("login_code"), {"code": codes[0]})
    assert response.status_code == 200 and not is_logged_in(client)


def test_wrong_codes_slow_down_further_tries(client, mfa_user):
    user, key, _ = mfa_user
    password_step(client)
    wrong = "000000" if totp_code(key) != "000000" else "000001"
    client.post(reverse("login_code"), {"code": wrong})
    device = TOTPDevice.objects.get(user=user)
    assert device.throttling_failure_count == 1
    # After several wrong codes, even the right one waits until the delay has passed.
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=8)
    response = client.post(reverse("login_code"), {"code": totp_code(key)})
    assert response.status_code == 200 and not is_logged_in(client)


def test_the_code_page_needs_the_password_first(client, db):
    response = client.get(reverse("login_code"))
    assert response.status_code == 302 and response["Location"] == reverse("login")
    response = client.post(reverse("login_code"), {"code": "123456"})
    assert response.status_code == 302


def test_the_code_must_follow_the_password_within_minutes(client, mfa_user):
    _, key, _ = mfa_user
    password_step(client)
    session = client.session
    session[PENDING_KEY] = {**session[PENDING_KEY], "at": int(time.time()) - 301}
    session.save()
    response = client.post(reverse("login_code"), {"code": totp_code(key)})
    assert response.status_code == 302 and not is_logged_in(client)


def test_the_django_admin_login_leads_to_the_apps_login(client, db):
    response = client.get("/admin/login/?next=/admin/documents/")
    assert response.status_code == 302
    assert response["Location"] == reverse("login") + "?next=%2Fadmin%2Fdocuments%2F"


# ---------------------------------------------------------------------------------------
# Turning it off, new recovery codes


def test_turning_it_off_takes_a_code(client, mfa_user):
    user, key, _ = mfa_user
    client.force_login(user)
    response = client.post(reverse("mfa_disable"), {"code": "12"})
    assert response.status_code == 400 and response.context["form"].errors
    wrong = "000000" if totp_code(key) != "000000" else "000001"
    assert client.post(reverse("mfa_disable"), {"code": wrong}).status_code == 400
    assert TOTPDevice.objects.filter(user=user).exists()
    TOTPDevice.objects.filter(user=user).update(throttling_failure_count=0)
    response = client.post(reverse("mfa_disable"), {"code": totp_code(key)})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not StaticDevice.objects.filter(user=user).exists()
    assert AccessEvent.objects.filter(kind="mfa_disabled", user=user).count() == 1
    # The password alone logs in again.
    client.post(reverse("logout"))
    assert password_step(client)["Location"] == "/"


def test_new_recovery_codes_replace_the_old_ones(client, mfa_user):
    user, key, old = mfa_user
    client.force_login(user)
    response = client.post(reverse("mfa_recovery_codes"), {"code": totp_code(key)})
    assert response.status_code == 200
    new = response.context["codes"]
    assert len(new) == 10 and not set(new) & set(old)
    assert set(StaticToken.objects.values_list("token", flat=True)) == set(new)
    assert AccessEvent.objects.filter(kind="recovery_codes_regenerated", user=user).count() == 1


def test_new_recovery_codes_take_a_code(client, mfa_user):
    user, _, old = mfa_user
    client.force_login(user)
    response = client.post(reverse("mfa_recovery_codes"), {"code": ""})
    assert response.status_code == 400
    assert set(StaticToken.objects.values_list("token", flat=True)) == set(old)


def test_the_two_factor_page_says_whether_it_is_on(client, user):
    client.force_login(user)
    assert "is <strong>off</strong>" in client.get(reverse("mfa")).content.decode()
    enable_mfa(user)
    assert "is <strong>on</strong>" in client.get(reverse("mfa")).content.decode()


# ---------------------------------------------------------------------------------------
# Admins must set it up


@pytest.fixture
def required(settings):
    settings.MFA_REQUIRED_FOR_ADMINS = True


def test_an_admin_without_two_factor_is_sent_to_set_it_up(client, staff_user, required, document):
    response = password_step(client, "editor", "editor-pass-1")
    assert response.status_code == 302 and is_logged_in(client)
    setup = reverse("mfa_setup")
    for url in ("/", document.get_absolute_url(), "/admin/", "/access-log/", reverse("mfa")):
        assert client.get(url)["Location"] == setup, url
    htmx = client.get("/", headers={"HX-Request": "true"})
    assert htmx.status_code == 200 and htmx["HX-Redirect"] == setup
    api = client.get("/api/v1/documents/")
    assert api.status_code == 403 and "two-factor" in api.json()["detail"]
    assert client.get(setup).status_code == 200
    # Logging out stays possible.
    assert client.post(reverse("logout")).status_code == 302


def test_an_admin_who_set_it_up_goes_on(client, staff_user, required):
    password_step(client, "editor", "editor-pass-1")
    client.get(reverse("mfa_setup"))
    key = client.session[SETUP_KEY]
    assert client.post(reverse("mfa_setup"), {"code": totp_code(key)}).status_code == 200
    assert client.get("/").status_code == 200
    assert client.get("/admin/").status_code == 200


def test_an_admin_with_two_factor_logs_in_with_a_code(client, staff_user, required):
    key, _ = enable_mfa(staff_user)
    password_step(client, "editor", "editor-pass-1")
    client.post(reverse("login_code"), {"code": totp_code(key)})
    assert client.get("/admin/").status_code == 200


def test_an_admin_session_without_the_code_must_log_in_again(client, staff_user, required):
    """A session from before two-factor was turned on must log in again, with a code."""
    enable_mfa(staff_user)
    client.force_login(staff_user)
    response = client.get("/", follow=True)
    assert response.redirect_chain[-1][0] == reverse("login")
    assert not is_logged_in(client)


def test_without_the_requirement_admins_go_on_without_two_factor(client, staff_user, settings):
    settings.MFA_REQUIRED_FOR_ADMINS = False
    password_step(client, "editor", "editor-pass-1")
    assert client.get("/admin/").status_code == 200


def test_analysts_are_not_made_to_set_it_up(client, user, required):
    password_step(client)
    assert client.get("/").status_code == 200
