"""Password reset by mail: only when mail is configured, otherwise a page saying to ask an
admin (and no mail tried)."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse


@pytest.fixture
def with_mail(settings):
    settings.PASSWORD_RESET_ENABLED = True
    settings.DEFAULT_FROM_EMAIL = "annotate@example.org"


def test_without_mail_the_login_page_has_no_reset_link(client, db):
    page = client.get(reverse("login")).content.decode()
    assert reverse("password_reset") not in page
    assert "Ask an admin" in page


@pytest.mark.parametrize(
    "url",
    [
        "/accounts/password_reset/",
        "/accounts/password_reset/done/",
        "/accounts/reset/MQ/set-password/",
        "/accounts/reset/done/",
    ],
)
def test_without_mail_the_reset_pages_say_to_ask_an_admin(client, user, url):
    response = client.get(url)
    assert response.status_code == 200
    assert "Ask an admin to set a new password" in response.content.decode()


def test_without_mail_a_reset_request_sends_nothing(client, user):
    user.email = "analyst@example.org"
    user.save()
    response = client.post("/accounts/password_reset/", {"email": "analyst@example.org"})
    assert response.status_code == 200
    assert mail.outbox == []


def test_with_mail_a_reset_link_sets_a_new_password(client, user, with_mail):
    user.email = "analyst@example.org"
    user.save()
    assert reverse("password_reset") in client.get(reverse("login")).content.decode()
    response = client.post(reverse("password_reset"), {"email": "analyst@example.org"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].from_email == "annotate@example.org"
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200 and form_page.context["validlink"]
    new = "a-new-long-passphrase-9"
    done = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": new, "new_password2": new}
    )
    assert done.status_code == 302
    assert (
        client.post(reverse("login"), {"username": "analyst", "password": new}).status_code == 302
    )


def test_with_mail_an_unknown_address_reveals_nothing(client, user, with_mail):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.org"})
    assert response.status_code == 302 and mail.outbox == []
    bad = client.post(reverse("password_reset"), {"email": "not an address"})
    assert bad.status_code == 200 and bad.context["form"].errors
