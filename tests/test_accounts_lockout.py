"""Login throttling (django-axes): the username and address together, the address alone."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core.management import call_command
from django.urls import reverse

from accounts.models import AccessEvent

ELSEWHERE = "198.51.100.7"


def log_in(client, username, password, address="127.0.0.1"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def fail(client, username, times, address="127.0.0.1"):
    for _ in range(times):
        log_in(client, username, "wrong-password", address)


@pytest.fixture
def hashing(monkeypatch):
    """Counts the password hasher's runs (the tests' hasher is MD5)."""
    calls = []
    verify, encode = MD5PasswordHasher.verify, MD5PasswordHasher.encode

    def counted_verify(self, password, encoded):
        calls.append("verify")
        return verify(self, password, encoded)

    def counted_encode(self, password, salt):
        calls.append("encode")
        return encode(self, password, salt)

    monkeypatch.setattr(MD5PasswordHasher, "verify", counted_verify)
    monkeypatch.setattr(MD5PasswordHasher, "encode", counted_encode)
    return calls


def test_login_locks_after_the_failure_limit_with_a_clear_message(client, user, settings):
    fail(client, "analyst", settings.LOGIN_FAILURE_LIMIT - 1)
    assert log_in(client, "analyst", "analyst-pass-1").status_code == 302
    client.logout()
    fail(client, "analyst", settings.LOGIN_FAILURE_LIMIT)
    response = log_in(client, "analyst", "analyst-pass-1")
    assert response.status_code == 429
    page = response.content.decode()
    assert 'id="locked-out"' in page and "ask an admin to unlock it" in page
    assert 'name="username"' in page  # the login page, not a bare error
    assert "_auth_user_id" not in client.session


def test_a_successful_login_forgets_the_accounts_earlier_failures(client, user, settings):
    fail(client, "analyst", settings.LOGIN_FAILURE_LIMIT - 1)
    assert log_in(client, "analyst", "analyst-pass-1").status_code == 302
    client.logout()
    fail(client, "analyst", settings.LOGIN_FAILURE_LIMIT - 1)
    assert log_in(client, "analyst", "analyst-pass-1").status_code == 302


def test_a_locked_out_attempt_never_runs_the_password_hasher(client, user, settings, hashing):
    fail(client, "analyst", settings.LOGIN_FAILURE_LIMIT)
    assert "verify" in hashing
    hashing.clear()
    for _ in range(20):
        assert log_in(client, "analyst", "analyst-pass-1").status_code == 429
        assert log_in(client, "analyst", "wrong").status_code == 429
    assert hashing == []
    # Locked-out attempts are not recorded either: the lockout is not extended by them.
    assert AccessAttempt.objects.get().failures_since_start == settings.LOGIN_FAILURE_LIMIT


def test_a_lockout_does_not_lock_the_account_from_another_address(client, user, settings):
    fail(client, "analyst", settings.LOGIN_FAILURE_LIMIT)
    assert log_in(client, "analyst", "analyst-pass-1").status_code == 429
    assert log_in(client, "analyst", "analyst-pass-1", address=ELSEWHERE).status_code == 302


def test_a_lockout_does_not_lock_other_accounts_at_the_same_address(
    client, user, other_user, settings
):
    fail(client, "analyst", settings.LOGIN_FAILURE_LIMIT)
    assert log_in(client, "colleague", "colleague-pass-1").status_code == 302


def test_an_address_failing_for_many_usernames_is_throttled_as_a_whole(
    client, user, settings, hashing
):
    for number in range(settings.LOGIN_ADDRESS_FAILURE_LIMIT):
        log_in(client, f"guess-{number}", "password1")
    hashing.clear()
    assert log_in(client, "analyst", "analyst-pass-1").status_code == 429
    assert hashing == []
    # Elsewhere, the account is fine.
    assert log_in(client, "analyst", "analyst-pass-1", address=ELSEWHERE).status_code == 302


def test_admin_lifts_a_lockout_with_the_command(client, user, settings):
    fail(client, "analyst", settings.LOGIN_FAILURE_LIMIT)
    assert log_in(client, "analyst", "analyst-pass-1").status_code == 429
    call_command("axes_reset_username", "analyst")
    assert log_in(client, "analyst", "analyst-pass-1").status_code == 302


def test_admin_lifts_a_lockout_in_the_django_admin(client, user, admin_user, settings):
    fail(client, "analyst", settings.LOGIN_FAILURE_LIMIT)
    assert log_in(client, "analyst", "analyst-pass-1").status_code == 429
    admin = type(client)()
    admin.force_login(admin_user)
    listing = admin.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and "analyst" in listing.content.decode()
    response = admin.post(
        "/admin/axes/accessattempt/",
        {
            "action": "delete_selected",
            "_selected_action": [attempt.pk for attempt in AccessAttempt.objects.all()],
            "post": "yes",
        },
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert log_in(client, "analyst", "analyst-pass-1").status_code == 302


def test_failures_and_lockouts_are_in_the_access_log(client, user, settings):
    fail(client, "analyst", settings.LOGIN_FAILURE_LIMIT + 1)
    kinds = list(AccessEvent.objects.order_by("pk").values_list("kind", flat=True))
    assert kinds == ["login_failed"] * (settings.LOGIN_FAILURE_LIMIT - 1) + ["locked_out"] * 2
    event = AccessEvent.objects.latest("pk")
    assert event.user == user and event.username == "analyst"
    assert event.address == "127.0.0.1"


def test_a_login_with_missing_fields_is_a_form_error_not_a_failure(client, user):
    response = client.post(reverse("login"), {"username": "analyst"})
    assert response.status_code == 200
    assert not AccessEvent.objects.exists()


def test_behind_a_proxy_the_address_is_the_one_the_proxy_added(client, user, settings):
    settings.BEHIND_PROXY = True
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        client.post(
            reverse("login"),
            {"username": "analyst", "password": "wrong"},
            HTTP_X_FORWARDED_FOR="203.0.113.9, 192.0.2.1",
        )
    assert AccessEvent.objects.latest("pk").address == "192.0.2.1"
    # The proxy's own address (REMOTE_ADDR) is shared by all: another client is not locked.
    other = client.post(
        reverse("login"),
        {"username": "analyst", "password": "analyst-pass-1"},
        HTTP_X_FORWARDED_FOR="192.0.2.2",
    )
    assert other.status_code == 302
