"""Site administrators manage projects and their members here as well as on the project
pages. Members are added, changed and removed through the same services as on the pages
(projects/services.py), so the same rules hold (a project keeps an owner) and every change
is written to the activity record and the access log; deleting a user who is the last
owner of a project is refused the same way."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from sco_annotate.admin_refusals import ServiceRefusals

from . import services
from .models import Membership, Project, Role
from .selectors import last_owner_memberships
from .services import _log
from .views import membership_event


class MembershipForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ("user", "role")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            # A membership is one user's: to put someone else in, remove it and add them.
            self.fields["user"].disabled = True


class MembershipInline(admin.TabularInline):
    model = Membership
    form = MembershipForm
    extra = 1
    fields = ("user", "role", "created")
    readonly_fields = ("created",)
    raw_id_fields = ("user",)


@admin.register(Project)
class ProjectAdmin(ServiceRefusals, admin.ModelAdmin):
    list_display = ["name", "created", "require_mfa"]
    search_fields = ["name", "description"]
    fields = ["name", "description", "require_mfa", "codebook_source", "created", "created_by"]
    readonly_fields = ["codebook_source", "created", "created_by"]
    inlines = [MembershipInline]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A project's documents are evidence; deleting one would take them along.
        return False

    def save_model(self, request: HttpRequest, obj: Project, form: Any, change: bool) -> None:
        adding = obj.pk is None
        if adding:
            obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)
        if adding or form.changed_data:
            _log(
                actor=request.user,
                action="project.create" if adding else "project.update",
                obj=obj,
                after={name: str(form.cleaned_data.get(name)) for name in form.changed_data},
            )

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """The members' rows through the services, in an order that never leaves the
        project without an owner on the way: additions, then promotions to owner, other
        role changes, removals. A refusal (a ValidationError) undoes the whole save."""
        project = form.instance
        events = _save_members(request, project, formset)
        if not change and not project.memberships.filter(role=Role.OWNER).exists():
            raise ValidationError(
                "Name the project's first owner: add a member with the role owner."
            )
        for change_kind, username, role in events:
            membership_event(request, project, change_kind, username, role)


def _save_members(
    request: HttpRequest, project: Project, formset: Any
) -> list[tuple[str, str, str]]:
    """Apply the inline's rows; returns (change, username, role) for the access log. Sets
    what the admin's own history reads of a formset's save."""
    kept = [row for row in formset.forms if row not in formset.deleted_forms and row.has_changed()]
    added = [row for row in kept if row.instance.pk is None]
    changed = sorted(
        (row for row in kept if row.instance.pk is not None and "role" in row.changed_data),
        key=lambda row: row.cleaned_data["role"] != Role.OWNER,
    )
    removed = [row for row in formset.deleted_forms if row.instance.pk is not None]
    events: list[tuple[str, str, str]] = []
    formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
    for row in added:
        username = row.cleaned_data["user"].username
        with _naming(username):
            membership = services.membership_add(
                user=request.user,
                project=project,
                username=username,
                role=row.cleaned_data["role"],
                as_site_admin=True,
            )
        formset.new_objects.append(membership)
        events.append(("added", username, membership.role))
    for row in changed:
        with _naming(row.instance.user.username):
            membership = services.membership_change(
                user=request.user,
                project=project,
                pk=row.instance.pk,
                role=row.cleaned_data["role"],
                as_site_admin=True,
            )
        formset.changed_objects.append((membership, ["role"]))
        events.append(("role", membership.user.username, membership.role))
    for row in removed:
        with _naming(row.instance.user.username):
            membership = services.membership_remove(
                user=request.user, project=project, pk=row.instance.pk, as_site_admin=True
            )
        formset.deleted_objects.append(membership)
        events.append(("removed", membership.user.username, membership.role))
    return events


@contextmanager
def _naming(username: str) -> Iterator[None]:
    """Put the member's name in front of a refusal, so that the message says which row."""
    try:
        yield
    except ValidationError as exc:
        raise ValidationError(f"{username}: {' '.join(exc.messages)} Nothing was saved.") from exc


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class UserWithProjectsAdmin(ServiceRefusals, UserAdmin):
    """Django's user admin, except that deleting or deactivating the last owner of a
    project is refused (one user or many), as removing them from the project is."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change and "is_active" in form.changed_data and not obj.is_active:
            sole = last_owner_memberships(users=[obj.pk])
            if sole:
                raise ValidationError(
                    f"{obj.get_username()} stays active: "
                    + services.last_owner_refusal(sole)
                    + " Nothing was saved."
                )
        super().save_model(request, obj, form, change)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # Shown on the confirmation page as what cannot go, with no button to confirm.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        sole = last_owner_memberships(users=[user.pk for user in objs])
        if sole:
            protected = [*protected, services.last_owner_refusal(sole)]
        return deleted, counts, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with transaction.atomic():
            services.users_leave_projects(user=request.user, users=[obj])
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        with transaction.atomic():
            services.users_leave_projects(user=request.user, users=list(queryset))
            super().delete_queryset(request, queryset)
