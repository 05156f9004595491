"""Argon2 password hashing, older hashes still accepted and upgraded at login."""

from __future__ import annotations

from django.contrib.auth.hashers import make_password
from django.urls import reverse

from sco_annotate import settings as project_settings

ARGON2 = "django.contrib.auth.hashers.Argon2PasswordHasher"
PBKDF2 = "django.contrib.auth.hashers.PBKDF2PasswordHasher"


def test_argon2_is_the_projects_first_hasher():
    assert project_settings.PASSWORD_HASHERS[0] == ARGON2
    assert PBKDF2 in project_settings.PASSWORD_HASHERS


def test_an_older_hash_is_accepted_and_upgraded_to_argon2_at_login(client, user, settings):
    settings.PASSWORD_HASHERS = [ARGON2, PBKDF2]
    user.password = make_password("analyst-pass-1", hasher="pbkdf2_sha256")
    user.save(update_fields=["password"])
    response = client.post(reverse("login"), {"username": "analyst", "password": "analyst-pass-1"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")
