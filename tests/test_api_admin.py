"""API tokens in the Django admin: created through the service, shown once, revocable."""

from __future__ import annotations

import pytest

from documents import services
from documents.models import Activity, ApiToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser(username="boss", password="boss-pass-1")
    client.force_login(admin)
    return client


def test_admin_creates_a_token_and_shows_it_once(admin_client, client, user):
    response = admin_client.post(
        "/admin/documents/apitoken/add/",
        {"user": user.pk, "name": "notebook", "read_only": "on"},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token = ApiToken.objects.get()
    plain = response.context["token"]
    assert plain.startswith(token.prefix)
    assert plain in response.content.decode()
    assert token.key_hash == services.api_token_hash(plain) and token.read_only
    assert token.name == "notebook" and token.user == user
    assert Activity.objects.filter(action="api_token.create").count() == 1
    # Nowhere to be seen again: not in the list, not on the token's page.
    listing = admin_client.get("/admin/documents/apitoken/").content.decode()
    detail = admin_client.get(f"/admin/documents/apitoken/{token.pk}/change/").content.decode()
    assert plain not in listing and plain not in detail
    assert token.prefix in listing
    assert (
        client.get("/api/v1/documents/", headers={"Authorization": f"Bearer {plain}"}).status_code
        == 200
    )


def test_admin_revokes_tokens(admin_client, client, user):
    token, plain = services.api_token_create(actor=None, user=user, read_only=False)
    headers = {"Authorization": f"Bearer {plain}"}
    assert client.get("/api/v1/documents/", headers=headers).status_code == 200
    response = admin_client.post(
        "/admin/documents/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert Activity.objects.filter(action="api_token.revoke", object_id=token.pk).exists()
    assert client.get("/api/v1/documents/", headers=headers).status_code == 401
