"""Site administrators manage projects and their members here as well as on the project
pages; every membership change is written to the activity record either way."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Membership, Project
from .services import _log


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    fields = ("user", "role", "created")
    readonly_fields = ("created",)
    raw_id_fields = ("user",)


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
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
        removed = [
            (sent.instance.pk, sent.instance.user.username, sent.instance.role)
            for sent in formset.deleted_forms
            if sent.instance.pk is not None
        ]
        before = {
            member.pk: member.role for member in Membership.objects.filter(project=form.instance)
        }
        instances = formset.save()
        for member in instances:
            values = {
                "project": member.project_id,
                "user": member.user.username,
                "role": member.role,
            }
            if member.pk in before:
                _log(
                    actor=request.user,
                    action="membership.change",
                    obj=member,
                    before={**values, "role": before[member.pk]},
                    after=values,
                )
            else:
                _log(actor=request.user, action="membership.add", obj=member, after=values)
        for pk, username, role in removed:
            _log(
                actor=request.user,
                action="membership.remove",
                obj=Membership(pk=pk),
                before={"project": form.instance.pk, "user": username, "role": role},
            )
