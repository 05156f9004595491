"""The access log: written for each kind of event, append-only, read by site admins."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts import services
from accounts.models import AccessEvent
from documents.models import ApiToken


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def kinds():
    return list(AccessEvent.objects.order_by("pk").values_list("kind", flat=True))


def test_a_login_and_logout_are_logged_with_address_and_browser(client, user):
    client.post(
        reverse("login"),
        {"username": "analyst", "password": "analyst-pass-1"},
        REMOTE_ADDR="2001:db8::1",
        HTTP_USER_AGENT="Firefox " + "x" * 500,
    )
    client.post(reverse("logout"), REMOTE_ADDR="2001:db8::1")
    login, logout = AccessEvent.objects.order_by("pk")
    assert (login.kind, logout.kind) == ("login", "logout")
    assert login.user == user and login.username == "analyst"
    assert login.address == "2001:db8::1"
    assert login.user_agent.startswith("Firefox") and len(login.user_agent) == 300
    assert logout.user == user


def test_an_export_is_logged_with_its_filters(client, user, bearer, annotation):
    response = client.get("/api/v1/export/annotations.csv?tag=extradition", headers=bearer(user))
    assert response.status_code == 200
    b"".join(response.streaming_content)
    event = AccessEvent.objects.get(kind="export")
    assert event.user == user
    assert event.detail == {"file": "annotations.csv", "query": "tag=extradition"}
    client.get("/api/v1/export/annotations.jsonl", headers=bearer(user))
    assert AccessEvent.objects.filter(kind="export").count() == 2


def test_a_refused_export_is_not_logged(client, user, bearer):
    response = client.get(
        "/api/v1/export/annotations.csv?updated_after=yesterday", headers=bearer(user)
    )
    assert response.status_code == 400
    assert not AccessEvent.objects.filter(kind="export").exists()


def test_tokens_made_and_revoked_in_the_admin_are_logged(client, admin_user, user):
    client.force_login(admin_user)
    client.post("/admin/documents/apitoken/add/", {"user": user.pk, "name": "notebook"})
    token = ApiToken.objects.get()
    client.post(
        "/admin/documents/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    created, revoked = AccessEvent.objects.filter(kind__startswith="token").order_by("pk")
    assert (created.kind, revoked.kind) == ("token_created", "token_revoked")
    assert created.user == admin_user
    # A password-only admin session (force_login): the token stands in for no second factor.
    assert created.detail == {"token": token.prefix, "owner": "analyst", "issued_with_mfa": False}
    assert revoked.detail == created.detail


def test_a_token_made_by_the_command_is_logged(user, capsys):
    call_command("create_api_token", "analyst")
    event = AccessEvent.objects.get(kind="token_created")
    assert event.user is None and event.detail["owner"] == "analyst"
    assert event.detail["by"] == "command"


def test_two_factor_changes_are_logged(client, user):
    from tests.helpers import enable_mfa, totp_code

    key, _ = enable_mfa(user)
    client.force_login(user)
    client.post(reverse("mfa_recovery_codes"), {"code": totp_code(key)})
    client.post(reverse("mfa_disable"), {"code": totp_code(key, steps_ahead=1)})
    assert kinds()[-3:] == ["mfa_enabled", "recovery_codes_regenerated", "mfa_disabled"]


def test_the_log_is_append_only(user):
    event = services.access_event(kind="login", request=None, user=user)
    event.username = "someone else"
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()
    with pytest.raises(ValueError):
        services.access_event(kind="no such kind", request=None)


def test_a_deleted_accounts_events_keep_its_name(user):
    services.access_event(kind="login", request=None, user=user)
    user.delete()
    event = AccessEvent.objects.get()
    assert event.user is None and event.username == "analyst"


def test_the_admin_shows_the_log_read_only(admin_client, user):
    event = services.access_event(kind="login", request=None, user=user)
    assert admin_client.get("/admin/accounts/accessevent/").status_code == 200
    change = admin_client.get(f"/admin/accounts/accessevent/{event.pk}/change/")
    assert change.status_code == 200 and 'name="_save"' not in change.content.decode()
    assert admin_client.get("/admin/accounts/accessevent/add/").status_code == 403
    assert admin_client.get(f"/admin/accounts/accessevent/{event.pk}/delete/").status_code == 403


def test_the_admin_turns_off_a_users_two_factor(admin_client, user):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.helpers import enable_mfa

    enable_mfa(user)
    listing = admin_client.get("/admin/otp_totp/totpdevice/").content.decode()
    assert "analyst" in listing
    device = TOTPDevice.objects.get()
    assert device.key not in listing
    admin_client.post(
        "/admin/otp_totp/totpdevice/", {"action": "turn_off", "_selected_action": [device.pk]}
    )
    assert not TOTPDevice.objects.exists()
    event = AccessEvent.objects.get(kind="mfa_disabled")
    assert event.detail == {"user": "analyst", "by_admin": True} and event.username == "admin"


# ---------------------------------------------------------------------------------------
# The page


def test_the_access_log_page_is_for_site_admins(client, user, staff_client):
    services.access_event(kind="login", request=None, user=user)
    page = staff_client.get("/access-log/")
    assert page.status_code == 200 and "analyst" in page.content.decode()
    client.force_login(user)
    assert client.get("/access-log/").status_code == 403
    client.logout()
    assert client.get("/access-log/").status_code == 302


def test_the_access_log_filters_by_user_and_kind(staff_client, user, other_user):
    services.access_event(kind="login", request=None, user=user)
    services.access_event(kind="logout", request=None, user=user)
    services.access_event(kind="login", request=None, user=other_user)
    page = staff_client.get("/access-log/", {"username": "analyst", "kind": "login"})
    events = list(page.context["page"])
    assert [(e.username, e.kind) for e in events] == [("analyst", "login")]
    assert len(staff_client.get("/access-log/", {"kind": "login"}).context["page"]) == 2


def test_the_access_log_pages_by_fifty(staff_client, user):
    for _ in range(51):
        services.access_event(kind="login", request=None, user=user)
    first = staff_client.get("/access-log/", {"kind": "login"})
    assert len(first.context["page"]) == 50 and first.context["page"].has_next()
    assert "kind=login&amp;page=2" in first.content.decode()
    second = staff_client.get("/access-log/", {"kind": "login", "page": 2})
    assert len(second.context["page"]) == 1
    assert staff_client.get("/access-log/", {"page": "many"}).status_code == 200


@pytest.mark.parametrize("query", [{"kind": "everything"}, {"username": "x" * 151}])
def test_the_access_log_refuses_a_bad_filter_with_a_message(staff_client, query):
    response = staff_client.get("/access-log/", query)
    assert response.status_code == 400
    assert 'class="errors"' in response.content.decode()
