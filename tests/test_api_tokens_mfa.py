"""API tokens and projects that require two-factor authentication.

A token reaches such a project only if it was made by someone who had given a second factor
(an admin logged in with their code, or the command on the server) and its user has
two-factor on (accounts.mfa.token_missing). Otherwise the project is listed, locked, as in
the browser: its data is not there, and naming it is refused with what to do.
"""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts import services as account_services
from documents import services
from documents.models import ApiToken
from projects import services as project_services
from projects.models import Role
from tests.conftest import member
from tests.helpers import enable_mfa


@pytest.fixture
def owner(django_user_model, project):
    return member(
        project,
        django_user_model.objects.create_user(username="owner", password="o-pass-1"),
        Role.OWNER,
    )


@pytest.fixture
def guarded(project, owner, annotation):
    """The test project, requiring two-factor of its members, with one annotation."""
    project_services.project_update(user=owner, project=project, require_mfa=True)
    return project


def _headers(user, *, issued_with_mfa, read_only=False):
    _, plain = services.api_token_create(
        actor=None, user=user, read_only=read_only, issued_with_mfa=issued_with_mfa
    )
    return {"Authorization": f"Bearer {plain}"}


def test_a_token_made_with_a_second_factor_reaches_the_project_while_its_user_has_one(
    client, guarded, user, annotation
):
    enable_mfa(user)
    headers = _headers(user, issued_with_mfa=True)
    listed = client.get(reverse("api:annotation-list"), headers=headers).json()["results"]
    assert [item["id"] for item in listed] == [annotation.pk]
    project = client.get(reverse("api:project-detail", args=[guarded.pk]), headers=headers)
    assert project.status_code == 200 and project.json()["locked"] is False
    text = annotation.document.text
    start = text.index("Россия")
    created = client.post(
        reverse("api:annotation-list"),
        data=json.dumps(
            {
                "document": annotation.document_id,
                "start": start,
                "end": start + 6,
                "tags": ["extradition"],
            }
        ),
        content_type="application/json",
        headers=headers,
    )
    assert created.status_code == 201, created.content


def test_a_token_made_without_a_second_factor_does_not_reach_the_project(
    client, guarded, user, annotation
):
    enable_mfa(user)  # the user has it; the token was made without it
    headers = _headers(user, issued_with_mfa=False)
    assert client.get(reverse("api:annotation-list"), headers=headers).json()["results"] == []
    assert client.get(reverse("api:document-list"), headers=headers).json()["results"] == []
    document = reverse("api:document-detail", args=[annotation.document_id])
    assert client.get(document, headers=headers).status_code == 404
    one = reverse("api:annotation-detail", args=[annotation.pk])
    assert client.get(one, headers=headers).status_code == 404
    export = client.get(reverse("api:export-jsonl"), headers=headers)
    assert b"".join(export.streaming_content) == b""
    # Listed, locked, as the browser lists it; asking for it says what to do.
    (listed,) = client.get(reverse("api:project-list"), headers=headers).json()
    assert (listed["id"], listed["locked"], listed["require_mfa"]) == (guarded.pk, True, True)
    refused = client.get(reverse("api:project-detail", args=[guarded.pk]), headers=headers)
    assert refused.status_code == 403
    assert "made without a second factor" in refused.json()["detail"]
    assert "Test project requires two-factor authentication" in refused.json()["detail"]


def test_a_token_of_a_user_without_two_factor_does_not_reach_the_project_until_they_set_it_up(
    client, guarded, user, annotation
):
    headers = _headers(user, issued_with_mfa=True)
    assert client.get(reverse("api:annotation-list"), headers=headers).json()["results"] == []
    refused = client.get(reverse("api:project-detail", args=[guarded.pk]), headers=headers)
    assert refused.status_code == 403
    assert "has no two-factor authentication" in refused.json()["detail"]
    enable_mfa(user)
    listed = client.get(reverse("api:annotation-list"), headers=headers).json()["results"]
    assert [item["id"] for item in listed] == [annotation.pk]
    # Turned off (by the user, or by an admin for a lost phone): the token stops there too.
    account_services.mfa_disable(user=user, request=None, by_admin=True)
    assert client.get(reverse("api:annotation-list"), headers=headers).json()["results"] == []


def test_a_write_naming_a_locked_project_is_refused_with_what_to_do(
    client, guarded, owner, annotation
):
    headers = _headers(owner, issued_with_mfa=False)
    created = client.post(
        reverse("api:document-list"),
        data=json.dumps({"project": guarded.pk, "title": "New", "text": "A new text."}),
        content_type="application/json",
        headers=headers,
    )
    assert created.status_code == 403
    assert "made without a second factor" in created.json()["detail"]
    start = annotation.document.text.index("Россия")
    annotated = client.post(
        reverse("api:annotation-list"),
        data=json.dumps(
            {
                "document": annotation.document_id,
                "start": start,
                "end": start + 6,
                "tags": ["extradition"],
            }
        ),
        content_type="application/json",
        headers=headers,
    )
    assert annotated.status_code == 400, annotated.content  # no document it can read
    assert "document" in annotated.json()
    assert guarded.documents.count() == 1


def test_other_projects_are_reached_by_any_token(client, project, user, annotation, bearer):
    # No project requires it here: a token made without a second factor reaches them all.
    listed = client.get(reverse("api:annotation-list"), headers=bearer(user)).json()["results"]
    assert [item["id"] for item in listed] == [annotation.pk]


def test_an_admin_who_gave_a_second_factor_makes_tokens_that_reach_such_projects(
    client, admin_user, guarded, user
):
    enable_mfa(user)
    client.force_login(admin_user)
    session = client.session
    session["accounts_mfa_verified"] = True  # as the login's code step marks it
    session.save()
    page = client.post(reverse("admin:documents_apitoken_add"), {"user": user.pk})
    assert page.status_code == 200
    assert ApiToken.objects.get(user=user).issued_with_mfa is True
    assert "does not reach" not in page.content.decode()


def test_an_admin_without_a_second_factor_is_told_the_token_does_not_reach_them(
    client, admin_user, guarded, user
):
    enable_mfa(user)
    client.force_login(admin_user)  # a password-only session
    page = client.post(reverse("admin:documents_apitoken_add"), {"user": user.pk})
    assert page.status_code == 200
    assert ApiToken.objects.get(user=user).issued_with_mfa is False
    text = page.content.decode()
    assert "This token does not reach Test project" in text
    assert "made without a second factor" in text


def test_the_command_makes_tokens_that_reach_such_projects_and_says_when_the_user_lacks_it(
    client, guarded, user, annotation, capsys
):
    call_command("create_api_token", "analyst")
    out, err = capsys.readouterr()
    assert ApiToken.objects.get(user=user).issued_with_mfa is True
    assert "does not reach Test project" in err and "has no two-factor" in err
    enable_mfa(user)
    headers = {"Authorization": f"Bearer {out.strip()}"}
    listed = client.get(reverse("api:annotation-list"), headers=headers).json()["results"]
    assert [item["id"] for item in listed] == [annotation.pk]
    call_command("create_api_token", "analyst")
    assert capsys.readouterr().err == ""


def test_existing_tokens_count_as_made_without_a_second_factor(db):
    field = ApiToken._meta.get_field("issued_with_mfa")
    assert field.default is False
