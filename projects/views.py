"""The project pages: the projects one is in, a project's documents, codebook and members,
and, for its owners, its settings and membership. Thin adapters over the selectors and
services; a refused change comes back as the page with the reason (422), never a 500."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import AccessEvent
from accounts.services import access_event
from documents import refusals
from documents import selectors as document_selectors
from documents.models import is_site_admin
from documents.shortcuts import found_or_404

from . import services
from .forms import (
    DEFAULT_CODEBOOK,
    CodebookCopyForm,
    CodeForm,
    MemberAddForm,
    MemberRoleForm,
    ProjectCreateForm,
    ProjectSettingsForm,
)
from .models import Action, Project, Role, may
from .selectors import member_list, project_get, project_list

UNPROCESSABLE = 422


@require_GET
def project_index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "projects/project_list.html",
        {"projects": project_list(user=request.user), "site_admin": is_site_admin(request.user)},
    )


@require_http_methods(["GET", "POST"])
def project_create(request: HttpRequest) -> HttpResponse:
    if not is_site_admin(request.user):
        raise PermissionDenied("Only site administrators create projects.")
    form = ProjectCreateForm(request.POST or None)
    errors: list[str] = []
    if request.method == "POST":
        try:
            if not form.is_valid():
                raise ValidationError({field: list(errs) for field, errs in form.errors.items()})
            owner: Any = request.user
            if form.cleaned_data["owner"]:
                owner = (
                    get_user_model()
                    .objects.filter(username=form.cleaned_data["owner"], is_active=True)
                    .first()
                )
                if owner is None:
                    raise ValidationError(
                        {
                            "owner": [
                                f"There is no active user named {form.cleaned_data['owner']!r}."
                            ]
                        }
                    )
            project = services.project_create(
                user=request.user,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                owner=owner,
            )
        except ValidationError as exc:
            errors = refusals.lines(exc)
        else:
            messages.success(request, f"Project {project.name} created.")
            return redirect(project)
    return render(
        request,
        "projects/project_create.html",
        {"form": form, "errors": errors},
        status=UNPROCESSABLE if errors else 200,
    )


def _project(request: HttpRequest, pk: int, *, locked_page: bool = False) -> Project:
    """Project `pk` of the user's, or 404. One that requires a second factor the session
    has not given shows nothing: its locked page, or a 403 for anything else."""
    project: Project = found_or_404(project_get, user=request.user, pk=pk)
    if project.locked and not locked_page:  # type: ignore[attr-defined]
        raise PermissionDenied("This project requires two-factor authentication.")
    return project


def _page(
    request: HttpRequest, project: Project, *, errors: list[str] | None = None, **forms: Any
) -> HttpResponse:
    """The project page, with any forms sent back as they were filled in."""
    role = project.role  # type: ignore[attr-defined]
    owner = may(role, Action.MANAGE)
    others = list(project_list(user=request.user).exclude(pk=project.pk).values_list("pk", "name"))
    context = {
        "project": project,
        "role": role,
        "may_manage": owner,
        "may_import": may(role, Action.IMPORT),
        "codebook": document_selectors.codebook_with_counts(user=request.user, project=project.pk),
        "members": member_list(project=project),
        "roles": Role.choices,
        "errors": errors or [],
        "settings_form": forms.get("settings_form")
        or ProjectSettingsForm(
            initial={
                "name": project.name,
                "description": project.description,
                "require_mfa": project.require_mfa,
            }
        ),
        "member_form": forms.get("member_form") or MemberAddForm(),
        "copy_form": forms.get("copy_form") or CodebookCopyForm(sources=others),
        "code_form": forms.get("code_form") or CodeForm(parents=_parents(request, project)),
    }
    return render(
        request,
        "projects/project_detail.html",
        context,
        status=UNPROCESSABLE if errors else 200,
    )


@require_GET
def project_detail(request: HttpRequest, pk: int) -> HttpResponse:
    project = _project(request, pk, locked_page=True)
    if project.locked:  # type: ignore[attr-defined]
        return render(request, "projects/project_locked.html", {"project": project}, status=403)
    return _page(request, project)


def _form_errors(form: Any) -> ValidationError:
    return ValidationError({field: list(errs) for field, errs in form.errors.items()})


@require_POST
def project_settings(request: HttpRequest, pk: int) -> HttpResponse:
    project = _project(request, pk)
    form = ProjectSettingsForm(request.POST)
    try:
        if not form.is_valid():
            raise _form_errors(form)
        services.project_update(user=request.user, project=project, **form.cleaned_data)
    except ValidationError as exc:
        return _page(request, project, errors=refusals.lines(exc), settings_form=form)
    messages.success(request, "Project settings saved.")
    return redirect(project)


@require_POST
def member_add(request: HttpRequest, pk: int) -> HttpResponse:
    project = _project(request, pk)
    form = MemberAddForm(request.POST)
    try:
        if not form.is_valid():
            raise _form_errors(form)
        membership = services.membership_add(
            user=request.user, project=project, **form.cleaned_data
        )
    except ValidationError as exc:
        return _page(request, project, errors=refusals.lines(exc), member_form=form)
    membership_event(request, project, "added", membership.user.username, membership.role)
    messages.success(request, f"{membership.user.username} added as {membership.role}.")
    return redirect(project)


@require_POST
def member_role(request: HttpRequest, pk: int, member: int) -> HttpResponse:
    project = _project(request, pk)
    form = MemberRoleForm(request.POST)
    try:
        if not form.is_valid():
            raise _form_errors(form)
        membership = services.membership_change(
            user=request.user, project=project, pk=member, role=form.cleaned_data["role"]
        )
    except ValidationError as exc:
        return _page(request, project, errors=refusals.lines(exc))
    membership_event(request, project, "role", membership.user.username, membership.role)
    messages.success(request, f"{membership.user.username} is now {membership.role}.")
    return redirect(project)


@require_POST
def member_remove(request: HttpRequest, pk: int, member: int) -> HttpResponse:
    project = _project(request, pk)
    try:
        removed = services.membership_remove(user=request.user, project=project, pk=member)
    except ValidationError as exc:
        return _page(request, project, errors=refusals.lines(exc))
    membership_event(request, project, "removed", removed.user.username, removed.role)
    messages.success(request, "Member removed.")
    return redirect(project)


@require_POST
def codebook_copy(request: HttpRequest, pk: int) -> HttpResponse:
    project = _project(request, pk)
    others = list(project_list(user=request.user).exclude(pk=project.pk).values_list("pk", "name"))
    form = CodebookCopyForm(request.POST, sources=others)
    try:
        if not form.is_valid():
            raise _form_errors(form)
        choice = form.cleaned_data["source"]
        source = None if choice == DEFAULT_CODEBOOK else int(choice)
        added = services.codebook_copy(
            user=request.user,
            project=project,
            source=None if source is None else Project(pk=source),
        )
    except ValidationError as exc:
        return _page(request, project, errors=refusals.lines(exc), copy_form=form)
    messages.success(request, f"{added} code{'s' if added != 1 else ''} added to the codebook.")
    return redirect(project)


def _parents(request: HttpRequest, project: Project, exclude: int | None = None) -> list[Any]:
    tags = document_selectors.tag_list(user=request.user, project=project.pk)
    return [(tag.pk, tag.name) for tag in tags if tag.pk != exclude]


@require_POST
def code_add(request: HttpRequest, pk: int) -> HttpResponse:
    project = _project(request, pk)
    form = CodeForm(request.POST, parents=_parents(request, project))
    try:
        if not form.is_valid():
            raise _form_errors(form)
        tag = services.code_save(user=request.user, project=project, values=form.cleaned_data)
    except ValidationError as exc:
        return _page(request, project, errors=refusals.lines(exc), code_form=form)
    messages.success(request, f"Code {tag.name} added.")
    return redirect(project)


@require_http_methods(["GET", "POST"])
def code_edit(request: HttpRequest, pk: int, code: int) -> HttpResponse:
    project = _project(request, pk)
    if not may(project.role, Action.CODEBOOK):  # type: ignore[attr-defined]
        raise PermissionDenied("Only the project's owners change its codebook.")
    tags = document_selectors.tag_list(user=request.user, project=project.pk)
    tag = tags.filter(pk=code).first()
    if tag is None:
        raise Http404("No such code in this project.")
    parents = _parents(request, project, exclude=tag.pk)
    form = CodeForm(
        request.POST if request.method == "POST" else None,
        parents=parents,
        initial={
            "name": tag.name,
            "slug": tag.slug,
            "definition": tag.definition,
            "colour": tag.colour,
            "parent": tag.parent_id,
            "shortcut": tag.shortcut,
            "is_active": tag.is_active,
        },
    )
    form.fields["slug"].disabled = True  # fixed once set: API clients and exports name it
    errors: list[str] = []
    if request.method == "POST":
        try:
            if not form.is_valid():
                raise _form_errors(form)
            services.code_save(
                user=request.user, project=project, values=form.cleaned_data, pk=tag.pk
            )
        except ValidationError as exc:
            errors = refusals.lines(exc)
        else:
            messages.success(request, f"Code {form.cleaned_data['name']} saved.")
            return redirect(project)
    return render(
        request,
        "projects/code_edit.html",
        {"project": project, "tag": tag, "form": form, "errors": errors},
        status=UNPROCESSABLE if errors else 200,
    )


def membership_event(
    request: HttpRequest, project: Project, change: str, username: str, role: str
) -> None:
    """Who changed a membership, from where: the access log the project's owners read
    (the activity record has the change itself)."""
    access_event(
        kind=AccessEvent.Kind.MEMBERSHIP_CHANGED,
        request=request,
        detail={"change": change, "member": username, "role": role},
        project_id=project.pk,
    )
