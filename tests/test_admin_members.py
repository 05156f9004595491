"""Members in the Django admin go through the project services: a project's last owner is
neither removed, demoted nor deleted with their account there either (a message says why,
nothing is saved), and every change is in the activity record and the access log."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accounts.models import AccessEvent
from documents.models import Activity
from projects import services as project_services
from projects.models import Membership, Project, Role
from tests.conftest import member


@pytest.fixture
def owner(django_user_model, project):
    return member(
        project,
        django_user_model.objects.create_user(username="owner", password="owner-pass-1"),
        Role.OWNER,
    )


@pytest.fixture
def admin_client_(client, admin_user):
    # A site administrator who is no member of the project: they manage members here.
    client.force_login(admin_user)
    return client


def _form(project, rows, *, extra=(), name=None):
    """The project's change form as the admin posts it: `rows` maps each membership to
    (role, delete?); `extra` adds (user, role) rows."""
    data = {
        "name": name or project.name,
        "description": project.description,
        "memberships-TOTAL_FORMS": str(len(rows) + len(extra)),
        "memberships-INITIAL_FORMS": str(len(rows)),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    for index, (membership, (role, delete)) in enumerate(rows.items()):
        prefix = f"memberships-{index}-"
        data |= {
            prefix + "id": membership.pk,
            prefix + "project": project.pk,
            prefix + "role": role,
        }
        if delete:
            data[prefix + "DELETE"] = "on"
    for offset, (user, role) in enumerate(extra):
        prefix = f"memberships-{len(rows) + offset}-"
        data |= {prefix + "project": project.pk, prefix + "user": user.pk, prefix + "role": role}
    return data


def _post(client, project, data):
    url = reverse("admin:projects_project_change", args=[project.pk])
    return client.post(url, data, follow=True)


def _messages(response):
    return [str(message) for message in response.context["messages"]]


def test_the_admin_cannot_remove_a_projects_last_owner(admin_client_, project, owner, user):
    mine = Membership.objects.get(user=owner)
    coder = Membership.objects.get(user=user)
    response = _post(
        admin_client_,
        project,
        _form(project, {mine: (Role.OWNER, True), coder: (Role.CODER, False)}, name="Renamed"),
    )
    assert response.status_code == 200
    (message,) = _messages(response)
    assert "owner: A project needs an owner" in message and "Nothing was saved." in message
    assert Membership.objects.filter(pk=mine.pk, role=Role.OWNER).exists()
    project.refresh_from_db()
    assert project.name == "Test project"  # the project's own change is undone too
    assert not Activity.objects.filter(action__startswith="membership.").exists()


def test_the_admin_cannot_demote_a_projects_last_owner(admin_client_, project, owner, user):
    mine = Membership.objects.get(user=owner)
    coder = Membership.objects.get(user=user)
    response = _post(
        admin_client_,
        project,
        _form(project, {mine: (Role.READER, False), coder: (Role.CODER, False)}),
    )
    assert "A project needs an owner" in _messages(response)[0]
    assert Membership.objects.get(pk=mine.pk).role == Role.OWNER


def test_the_admin_cannot_remove_every_owner_at_once(
    admin_client_, project, owner, user, other_user
):
    Membership.objects.filter(user=user).update(role=Role.OWNER)
    mine, theirs = Membership.objects.filter(role=Role.OWNER).order_by("pk")
    colleague = Membership.objects.get(user=other_user)
    response = _post(
        admin_client_,
        project,
        _form(
            project,
            {mine: (Role.OWNER, True), theirs: (Role.OWNER, True), colleague: (Role.CODER, False)},
        ),
    )
    assert "A project needs an owner" in _messages(response)[0]
    assert Membership.objects.filter(project=project, role=Role.OWNER).count() == 2
    assert not Activity.objects.filter(action="membership.remove").exists()


def test_the_admin_hands_ownership_over_in_one_save(
    admin_client_, admin_user, project, owner, user
):
    """A promotion and a demotion sent together: the promotion comes first."""
    mine = Membership.objects.get(user=owner)
    coder = Membership.objects.get(user=user)
    response = _post(
        admin_client_,
        project,
        _form(project, {mine: (Role.READER, False), coder: (Role.OWNER, False)}),
    )
    assert response.status_code == 200 and "was changed successfully" in _messages(response)[0]
    assert Membership.objects.get(pk=mine.pk).role == Role.READER
    assert Membership.objects.get(pk=coder.pk).role == Role.OWNER
    changes = Activity.objects.filter(action="membership.change").order_by("pk")
    assert [(entry.actor, entry.after["user"], entry.after["role"]) for entry in changes] == [
        (admin_user, "analyst", "owner"),
        (admin_user, "owner", "reader"),
    ]
    logged = AccessEvent.objects.filter(kind="membership_changed", project_id=project.pk)
    assert {(event.detail["member"], event.detail["role"]) for event in logged} == {
        ("analyst", "owner"),
        ("owner", "reader"),
    }


def test_the_admin_adds_and_removes_members_through_the_services(
    admin_client_, admin_user, project, owner, user, django_user_model
):
    newcomer = django_user_model.objects.create_user(username="newcomer", password="n-pass-1")
    mine = Membership.objects.get(user=owner)
    coder = Membership.objects.get(user=user)
    _post(
        admin_client_,
        project,
        _form(
            project,
            {mine: (Role.OWNER, False), coder: (Role.CODER, True)},
            extra=[(newcomer, Role.READER)],
        ),
    )
    assert Membership.objects.get(user=newcomer).role == Role.READER
    assert not Membership.objects.filter(user=user).exists()
    actions = list(
        Activity.objects.filter(action__startswith="membership.")
        .order_by("pk")
        .values_list("action", "actor")
    )
    assert actions == [("membership.add", admin_user.pk), ("membership.remove", admin_user.pk)]
    kinds = AccessEvent.objects.filter(kind="membership_changed").values_list("detail", flat=True)
    assert [detail["change"] for detail in kinds.order_by("pk")] == ["added", "removed"]


def test_an_inactive_user_is_refused_with_a_message(
    admin_client_, project, owner, django_user_model
):
    gone = django_user_model.objects.create_user(username="gone", is_active=False)
    mine = Membership.objects.get(user=owner)
    response = _post(
        admin_client_,
        project,
        _form(project, {mine: (Role.OWNER, False)}, extra=[(gone, "reader")]),
    )
    assert "gone: There is no active user named 'gone'." in _messages(response)[0]
    assert not Membership.objects.filter(user=gone).exists()


def test_a_project_made_in_the_admin_needs_an_owner(admin_client_, user):
    empty = {
        "name": "New project",
        "description": "",
        "memberships-TOTAL_FORMS": "1",
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-role": "coder",  # the empty row, as the browser sends it
    }
    url = reverse("admin:projects_project_add")
    refused = admin_client_.post(url, empty, follow=True)
    assert "Name the project's first owner" in _messages(refused)[0]
    assert not Project.objects.filter(name="New project").exists()
    with_owner = {**empty, "memberships-0-user": user.pk, "memberships-0-role": Role.OWNER}
    admin_client_.post(url, with_owner)
    made = Project.objects.get(name="New project")
    assert made.memberships.get().user == user


def test_only_site_admins_manage_members_as_site_admins(project, owner, user):
    coder = Membership.objects.get(user=user)
    with pytest.raises(PermissionDenied):
        project_services.membership_remove(
            user=user, project=project, pk=coder.pk, as_site_admin=True
        )
    assert Membership.objects.filter(pk=coder.pk).exists()


def test_deleting_a_projects_last_owner_is_refused_one_or_many(admin_client_, project, owner, user):
    page = admin_client_.get(reverse("admin:auth_user_delete", args=[owner.pk]))
    text = page.content.decode()
    assert "Test project would have no owner left without owner" in text
    admin_client_.post(reverse("admin:auth_user_delete", args=[owner.pk]), {"post": "yes"})
    bulk = {"action": "delete_selected", "_selected_action": [owner.pk, user.pk], "post": "yes"}
    listing = admin_client_.post(reverse("admin:auth_user_changelist"), bulk)
    assert "would have no owner left" in listing.content.decode()
    assert Membership.objects.filter(user=owner, role=Role.OWNER).exists()
    assert Membership.objects.filter(user=user).exists()


def test_deleting_a_user_who_is_not_a_last_owner_logs_their_memberships(
    admin_client_, admin_user, project, owner, user, django_user_model
):
    admin_client_.post(reverse("admin:auth_user_delete", args=[user.pk]), {"post": "yes"})
    assert not django_user_model.objects.filter(pk=user.pk).exists()
    (removed,) = Activity.objects.filter(action="membership.remove")
    assert removed.actor == admin_user
    assert removed.before == {"project": project.pk, "user": "analyst", "role": Role.CODER}


def test_the_user_deletion_service_refuses_a_last_owner_whatever_the_page_showed(
    admin_user, project, owner
):
    # As when another admin demoted the other owner between the confirmation and the delete.
    with pytest.raises(ValidationError) as refused:
        project_services.users_leave_projects(user=admin_user, users=[owner])
    assert "make someone else owner" in refused.value.messages[0]


def test_a_refused_delete_in_a_race_is_a_message(admin_client_, project, owner, monkeypatch):
    from projects.admin import UserWithProjectsAdmin

    # The confirmation page saw another owner; by the time of the delete there is none.
    monkeypatch.setattr(
        UserWithProjectsAdmin,
        "get_deleted_objects",
        lambda self, objs, request: ([], {}, set(), []),
    )
    response = admin_client_.post(
        reverse("admin:auth_user_delete", args=[owner.pk]), {"post": "yes"}, follow=True
    )
    assert "would have no owner left" in _messages(response)[0]
    assert Membership.objects.filter(user=owner).exists()


def _user_form(user, **changes):
    """The user change form of Django's admin as it would be posted back."""
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "is_active": "on",
    }
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def test_deactivating_a_projects_last_owner_is_refused(admin_client_, project, owner, user):
    url = reverse("admin:auth_user_change", args=[owner.pk])
    response = admin_client_.post(url, _user_form(owner, is_active=None), follow=True)
    assert "owner stays active: Test project would have no owner left without owner" in (
        " ".join(_messages(response))
    )
    owner.refresh_from_db()
    assert owner.is_active
    # A coder, or an owner beside another, may be deactivated.
    response = admin_client_.post(
        reverse("admin:auth_user_change", args=[user.pk]), _user_form(user, is_active=None)
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.is_active
