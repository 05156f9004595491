"""Projects: members and roles run by owners in the app, each change an activity row; a
codebook per project, started from another; the same text in two projects; API tokens
limited to chosen projects."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.urls import reverse

from documents import services
from documents.models import Activity, Annotation, Document, Tag
from projects import services as project_services
from projects.models import Membership, Project, Role
from tests.conftest import MIXED_TEXT, member


@pytest.fixture
def owner(staff_user):
    return staff_user  # the test project's owner


def _activity(action):
    return list(Activity.objects.filter(action=action).order_by("pk"))


def test_an_owner_adds_changes_and_removes_a_member_each_logged(
    client, owner, project, django_user_model
):
    django_user_model.objects.create_user(username="newcomer", password="newcomer-pass-1")
    client.force_login(owner)
    added = client.post(
        reverse("projects:member_add", args=[project.pk]),
        {"username": "newcomer", "role": Role.READER},
    )
    assert added.status_code == 302
    membership = Membership.objects.get(project=project, user__username="newcomer")
    assert membership.role == Role.READER
    changed = client.post(
        reverse("projects:member_role", args=[project.pk, membership.pk]), {"role": Role.CODER}
    )
    assert changed.status_code == 302
    assert Membership.objects.get(pk=membership.pk).role == Role.CODER
    removed = client.post(reverse("projects:member_remove", args=[project.pk, membership.pk]))
    assert removed.status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    [add] = _activity("membership.add")
    assert add.actor == owner and add.after == {
        "project": project.pk,
        "user": "newcomer",
        "role": "reader",
    }
    [change] = _activity("membership.change")
    assert (change.before["role"], change.after["role"]) == ("reader", "coder")
    [remove] = _activity("membership.remove")
    assert remove.before["user"] == "newcomer"
    page = client.get(reverse("projects:detail", args=[project.pk])).content.decode()
    assert "<td>newcomer</td>" not in page and "<td>analyst</td>" not in page


def test_bad_member_input_is_answered_with_what_to_fix(client, owner, project, user):
    client.force_login(owner)
    url = reverse("projects:member_add", args=[project.pk])
    for data, message in [
        ({"username": "nobody", "role": "reader"}, "There is no active user named"),
        ({"username": "analyst", "role": "reader"}, "is a member already"),
        ({"username": "analyst", "role": "boss"}, "Select a valid choice"),
        ({"username": "", "role": "reader"}, "This field is required"),
    ]:
        response = client.post(url, data)
        assert response.status_code == 422, data
        assert message in response.content.decode(), data
    membership = Membership.objects.get(project=project, user=user)
    wrong = client.post(
        reverse("projects:member_role", args=[project.pk, membership.pk + 1000]),
        {"role": "reader"},
    )
    assert wrong.status_code == 422
    assert "has no member" in wrong.content.decode()


def test_a_project_keeps_an_owner(client, owner, project):
    client.force_login(owner)
    mine = Membership.objects.get(project=project, user=owner)
    for url, data in [
        (reverse("projects:member_role", args=[project.pk, mine.pk]), {"role": "coder"}),
        (reverse("projects:member_remove", args=[project.pk, mine.pk]), {}),
    ]:
        response = client.post(url, data)
        assert response.status_code == 422
        assert "A project needs an owner" in response.content.decode()
    assert Membership.objects.get(pk=mine.pk).role == Role.OWNER


def test_coders_and_reviewers_cannot_manage(project, user, other_user, owner):
    Membership.objects.filter(user=other_user).update(role=Role.REVIEWER)
    for actor in (user, other_user):
        with pytest.raises(PermissionDenied):
            project_services.membership_add(
                user=actor, project=project, username="editor", role="reader"
            )
        with pytest.raises(PermissionDenied):
            project_services.project_update(user=actor, project=project, name="Mine now")


def test_only_site_admins_create_projects_and_name_the_first_owner(client, user, django_user_model):
    client.force_login(user)
    assert client.post(reverse("projects:create"), {"name": "Mine"}).status_code == 403
    root = django_user_model.objects.create_superuser("root", password="root-pass-1")
    client.force_login(root)
    response = client.post(
        reverse("projects:create"), {"name": "  Witness   material ", "owner": "analyst"}
    )
    assert response.status_code == 302
    project = Project.objects.get(name="Witness material")
    assert Membership.objects.get(project=project).user == user
    assert Membership.objects.get(project=project).role == Role.OWNER
    # The site administrator manages projects, but does not read one they are not in.
    assert client.get(project.get_absolute_url()).status_code == 404
    again = client.post(reverse("projects:create"), {"name": "Witness material"})
    assert again.status_code == 422
    assert "There is a project named" in again.content.decode()
    unknown = client.post(reverse("projects:create"), {"name": "X", "owner": "ghost"})
    assert unknown.status_code == 422
    assert "There is no active user named" in unknown.content.decode()


def test_the_same_text_may_be_in_two_projects_once_each(project, owner, django_user_model):
    second = project_services.project_create(user=None, name="Second", owner=owner)
    metadata = services.DocumentMetadata(title="Same")
    first = services.document_create(
        user=owner, project=project, text="Same text.", metadata=metadata
    )
    other = services.document_create(
        user=owner, project=second, text="Same text.", metadata=metadata
    )
    assert first.sha256 == other.sha256 and first.project != other.project
    with pytest.raises(services.DuplicateDocument) as refused:
        services.document_create(user=owner, project=second, text="Same text.", metadata=metadata)
    assert refused.value.document == other


def test_without_a_project_the_only_one_is_taken_else_it_must_be_named(project, owner):
    metadata = services.DocumentMetadata(title="One")
    document = services.document_create(user=owner, text="Only one project.", metadata=metadata)
    assert document.project == project
    project_services.project_create(user=None, name="Second", owner=owner)
    with pytest.raises(ValidationError) as refused:
        services.document_create(user=owner, text="Which project?", metadata=metadata)
    assert "Say which project" in refused.value.message_dict["project"][0]


def test_codebooks_are_per_project_and_copied_with_provenance(project, owner, tags):
    second = project_services.project_create(user=None, name="Second", owner=owner)
    added = project_services.codebook_copy(user=owner, project=second, source=project)
    assert added == len(tags)
    copied = {tag.slug: tag for tag in Tag.objects.filter(project=second)}
    assert set(copied) == set(tags)
    child = next(tag for tag in tags.values() if tag.parent_id)
    assert copied[child.slug].parent.slug == child.parent.slug
    assert copied[child.slug].parent.project == second
    second.refresh_from_db()
    assert (
        second.codebook_source
        == f"{added} codes copied from project 'Test project' (#{project.pk})"
    )
    [logged] = _activity("codebook.copy")
    assert logged.after["added"] == added
    # Copying again adds nothing; the same slug may be in both codebooks.
    assert project_services.codebook_copy(user=owner, project=second, source=project) == 0
    assert Tag.objects.filter(slug="extradition").count() == 2


def test_a_tag_slug_is_resolved_in_the_documents_project(project, owner, user, tags, document):
    second = project_services.project_create(user=None, name="Second", owner=owner)
    member(second, user, Role.CODER)
    project_services.codebook_copy(user=owner, project=second, source=None)
    theirs = services.document_create(
        user=owner, project=second, text=MIXED_TEXT, metadata=services.DocumentMetadata(title="B")
    )
    start = theirs.text.index("Shanghai")
    annotation = services.annotation_create(
        user=user, document=theirs, start=start, end=start + 8, tags=["extradition"]
    )
    assert [tag.project for tag in annotation.tags.all()] == [second]
    with pytest.raises(ValidationError):
        services.annotation_create(
            user=user, document=theirs, start=start, end=start + 8, tags=[tags["extradition"]]
        )


def test_readers_read_and_export_but_do_not_annotate(client, project, user, annotation, bearer):
    Membership.objects.filter(user=user).update(role=Role.READER)
    client.force_login(user)
    page = client.get(reverse("documents:detail", args=[annotation.document_id]))
    assert page.status_code == 200
    assert b'id="highlight-form"' not in page.content
    assert client.get(reverse("api:export-csv")).status_code == 200
    with pytest.raises(PermissionDenied):
        services.annotation_create(
            user=user, document=annotation.document_id, start=0, end=3, tags=["extradition"]
        )
    # Their own earlier annotation cannot be changed either now.
    refused = client.patch(
        reverse("api:annotation-detail", args=[annotation.pk]),
        json.dumps({"note": "x"}),
        content_type="application/json",
    )
    assert refused.status_code == 403


def test_reviewers_change_others_annotations(project, other_user, annotation):
    Membership.objects.filter(user=other_user).update(role=Role.REVIEWER)
    changed = services.annotation_update(
        user=other_user, annotation=annotation, note="Adjudicated."
    )
    assert changed.note == "Adjudicated."
    Membership.objects.filter(user=other_user).update(role=Role.CODER)
    with pytest.raises(PermissionDenied):
        services.annotation_update(user=other_user, annotation=annotation, note="Mine?")


def test_a_token_limited_to_a_project_reaches_that_project_only(
    client, project, owner, user, annotation
):
    second = project_services.project_create(user=None, name="Second", owner=owner)
    member(second, user, Role.CODER)
    _, limited = services.api_token_create(actor=None, user=user, projects=[second.pk])
    headers = {"Authorization": f"Bearer {limited}"}
    assert client.get(reverse("api:annotation-list"), headers=headers).json()["results"] == []
    projects = client.get(reverse("api:project-list"), headers=headers).json()
    assert [item["id"] for item in projects] == [second.pk]
    missing = client.get(reverse("api:annotation-detail", args=[annotation.pk]), headers=headers)
    assert missing.status_code == 404
    _, everywhere = services.api_token_create(actor=None, user=user)
    listed = client.get(
        reverse("api:annotation-list"), headers={"Authorization": f"Bearer {everywhere}"}
    ).json()["results"]
    assert [item["id"] for item in listed] == [annotation.pk]
    with pytest.raises(ValidationError) as refused:
        services.api_token_create(actor=None, user=user, projects=[second.pk + 1000])
    assert "is not a member of project" in refused.value.message_dict["projects"][0]


def test_api_lists_projects_with_role_and_counts(client, project, user, annotation, bearer):
    listed = client.get(reverse("api:project-list"), headers=bearer(user)).json()
    assert listed == [
        {
            "id": project.pk,
            "url": f"http://testserver/api/v1/projects/{project.pk}/",
            "name": "Test project",
            "description": "",
            "role": "coder",
            "require_mfa": False,
            "locked": False,
            "document_count": 1,
            "member_count": 1,
            "codebook_source": "",
            "documents_url": f"http://testserver/api/v1/documents/?project={project.pk}",
            "tags_url": f"http://testserver/api/v1/tags/?project={project.pk}",
            "annotations_url": f"http://testserver/api/v1/annotations/?project={project.pk}",
            "attributes_url": f"http://testserver/api/v1/projects/{project.pk}/attributes/",
            "created": listed[0]["created"],
        }
    ]
    documents = client.get(
        reverse("api:document-list"), {"project": project.pk}, headers=bearer(user)
    ).json()["results"]
    assert [item["project"] for item in documents] == [project.pk]
    unknown = client.get(
        reverse("api:document-list"), {"project": project.pk + 99}, headers=bearer(user)
    )
    assert unknown.status_code == 400
    assert "that you are a member of" in unknown.json()["project"][0]


def test_api_document_create_names_its_project_when_there_are_several(
    client, project, owner, bearer
):
    body = {"title": "One", "text": "A text for one project."}
    created = client.post(
        reverse("api:document-list"),
        json.dumps(body),
        content_type="application/json",
        headers=bearer(owner),
    )
    assert created.status_code == 201 and created.json()["project"] == project.pk
    second = project_services.project_create(user=None, name="Second", owner=owner)
    body = {"title": "Two", "text": "A text for which project?"}
    ambiguous = client.post(
        reverse("api:document-list"),
        json.dumps(body),
        content_type="application/json",
        headers=bearer(owner),
    )
    assert ambiguous.status_code == 400
    assert "Say which project" in ambiguous.json()["project"][0]
    named = client.post(
        reverse("api:document-list") + f"?project={second.pk}",
        json.dumps([body]),
        content_type="application/json",
        headers=bearer(owner),
    )
    assert named.status_code == 201
    assert Document.objects.get(title="Two").project == second


def test_project_pages_show_documents_codebook_and_members(client, owner, project, annotation):
    client.force_login(owner)
    listing = client.get(reverse("projects:list")).content.decode()
    assert "Test project" in listing and "Owner" in listing
    page = client.get(reverse("projects:detail", args=[project.pk])).content.decode()
    assert "Extradition" in page and "analyst" in page and "Add member" in page
    client.force_login(annotation.author)
    page = client.get(reverse("projects:detail", args=[project.pk])).content.decode()
    assert "Add member" not in page and "Save settings" not in page


def test_sample_data_loads_into_its_project_and_the_demo_admin_owns_it(db):
    call_command("load_sample_data", verbosity=0)
    call_command("create_demo_admin", verbosity=0)
    project = Project.objects.get()
    assert project.documents.count() == 5
    assert Membership.objects.get(project=project).role == Role.OWNER


def test_an_owner_adds_and_changes_codes_in_the_app(client, owner, project, tags):
    client.force_login(owner)
    url = reverse("projects:code_add", args=[project.pk])
    added = client.post(
        url,
        {
            "name": "Oversight gap (courts)",
            "definition": "No court reviews it.",
            "colour": "#336699",
            "parent": tags["extradition"].pk,
            "is_active": "on",
        },
    )
    assert added.status_code == 302
    code = Tag.objects.get(project=project, slug="oversight-gap-courts")
    assert code.parent == tags["extradition"] and code.is_active
    assert Activity.objects.filter(action="tag.create", object_id=code.pk).exists()
    same = client.post(url, {"name": "Oversight gap (courts)", "colour": "#336699"})
    assert same.status_code == 422
    assert "Another code of the project has this" in same.content.decode()
    bad = client.post(url, {"name": "X", "colour": "red"})
    assert bad.status_code == 422 and "#rrggbb" in bad.content.decode()
    edit = reverse("projects:code_edit", args=[project.pk, code.pk])
    assert client.get(edit).status_code == 200
    changed = client.post(
        edit, {"name": "Judicial oversight gap", "colour": "#113355", "slug": "x"}
    )
    assert changed.status_code == 302
    code.refresh_from_db()
    assert (code.name, code.slug, code.is_active) == (
        "Judicial oversight gap",
        "oversight-gap-courts",
        False,
    )
    other = project_services.project_create(user=None, name="Other", owner=owner)
    foreign = client.post(
        url,
        {
            "name": "Child",
            "colour": "#336699",
            "parent": Tag.objects.create(project=other, name="Theirs", slug="theirs").pk,
        },
    )
    assert foreign.status_code == 422


def test_a_project_that_requires_two_factor_shows_nothing_to_a_session_without_it(
    client, project, owner, user, annotation
):
    project_services.project_update(user=owner, project=project, require_mfa=True)
    client.force_login(user)  # a password-only session: no second factor given
    listing = client.get(reverse("projects:list")).content.decode()
    assert "Test project" in listing and "two-factor authentication required" in listing
    locked = client.get(reverse("projects:detail", args=[project.pk]))
    assert locked.status_code == 403 and "Set up two-factor" in locked.content.decode()
    assert client.get(reverse("documents:detail", args=[annotation.document_id])).status_code == 404
    assert client.get(reverse("api:annotation-list")).json()["results"] == []
    member_page = reverse("projects:member_add", args=[project.pk])
    assert client.post(member_page, {"username": "x", "role": "reader"}).status_code == 403
    created = client.post(
        reverse("documents:annotation_create", args=[annotation.document_id]),
        {"start": 0, "end": 5, "quote": annotation.document.text[:5], "tags": ["extradition"]},
        headers={"HX-Request": "true"},
    )
    assert created.status_code == 404 and Annotation.objects.count() == 1
    # The same session once it has given a second factor (as the login's code step marks it).
    session = client.session
    session["accounts_mfa_verified"] = True
    session.save()
    assert client.get(reverse("documents:detail", args=[annotation.document_id])).status_code == 200
    assert client.get(reverse("projects:detail", args=[project.pk])).status_code == 200


def test_owners_read_their_projects_access_log(client, project, user, other_user, bearer):
    from accounts.models import AccessEvent

    # An owner who is not a site administrator (those read all of the log).
    Membership.objects.filter(user=user).update(role=Role.OWNER)
    client.force_login(user)
    membership = Membership.objects.get(project=project, user=other_user)
    client.post(
        reverse("projects:member_role", args=[project.pk, membership.pk]), {"role": "reader"}
    )
    client.get(reverse("api:export-csv"), {"project": project.pk}, headers=bearer(user))
    outsider_project = project_services.project_create(user=None, name="Else", owner=other_user)
    AccessEvent.objects.create(kind="export", username="x", project_id=outsider_project.pk)
    page = client.get(reverse("access_log"))
    assert page.status_code == 200
    kinds = {(event.kind, event.project_id) for event in page.context["page"].object_list}
    assert ("membership_changed", project.pk) in kinds and ("export", project.pk) in kinds
    assert ("export", outsider_project.pk) not in kinds
    client.force_login(other_user)  # a reader now, and the owner of Else
    Membership.objects.filter(user=other_user, project=outsider_project).delete()
    assert client.get(reverse("access_log")).status_code == 403
