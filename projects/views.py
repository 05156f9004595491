"""The project pages: the projects one is in, a project's documents, codebook and members,
and, for its owners, its settings and membership. Thin adapters over the selectors and
services; a refused change comes back as the page with the reason (422), never a 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import AccessEvent
from accounts.services import access_event
from documents import exports as document_exports
from documents import refiqda, refusals
from documents import selectors as document_selectors
from documents import services as document_services
from documents.forms import AttributeValuesForm
from documents.models import Attribute, Tag, is_site_admin
from documents.shortcuts import found_or_404

from . import services
from .forms import (
    DEFAULT_CODEBOOK,
    AttributeEditForm,
    AttributeForm,
    AttributesUploadForm,
    CodebookCopyForm,
    CodebookImportForm,
    CodeExampleForm,
    CodeForm,
    CodeMergeForm,
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
    request: HttpRequest,
    project: Project,
    *,
    errors: list[str] | None = None,
    attribute_errors: list[str] | None = None,
    **forms: Any,
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
        "attributes": document_selectors.attribute_list_with_counts(
            user=request.user, project=project.pk
        ),
        "attribute_errors": attribute_errors or [],
        "attribute_form": forms.get("attribute_form") or AttributeForm(),
        "upload_form": forms.get("upload_form") or AttributesUploadForm(),
    }
    return render(
        request,
        "projects/project_detail.html",
        context,
        status=UNPROCESSABLE if errors or attribute_errors else 200,
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


def _codebook_page(
    request: HttpRequest, project: Project, *, errors: list[str] | None = None, **forms: Any
) -> HttpResponse:
    """The codebook page, with any form sent back as it was filled in."""
    role = project.role  # type: ignore[attr-defined]
    may_edit = may(role, Action.CODEBOOK)
    found = document_selectors.codebook(user=request.user, project=project.pk)
    context = {
        "project": project,
        "codebook": found,
        "may_edit": may_edit,
        "errors": errors or [],
        "code_form": forms.get("code_form")
        or CodeForm(parents=[(node.tag.pk, node.tag.name) for node in found.tree]),
        "import_form": forms.get("import_form") or CodebookImportForm(),
    }
    return render(
        request,
        "projects/codebook.html",
        context,
        status=UNPROCESSABLE if errors else 200,
    )


@require_http_methods(["GET", "POST"])
def codebook(request: HttpRequest, pk: int) -> HttpResponse:
    """The codebook page for every member; a code added by its owners (POST)."""
    project = _project(request, pk)
    if request.method == "GET":
        return _codebook_page(request, project)
    from_codebook = request.POST.get("back") == "codebook"
    form = CodeForm(request.POST, parents=_parents(request, project))
    try:
        if not form.is_valid():
            raise _form_errors(form)
        values = dict(form.cleaned_data)
        values.pop("seen", None)
        tag = services.code_save(user=request.user, project=project, values=values)
    except ValidationError as exc:
        if from_codebook:
            return _codebook_page(request, project, errors=refusals.lines(exc), code_form=form)
        return _page(request, project, errors=refusals.lines(exc), code_form=form)
    messages.success(request, f"Code {tag.name} added.")
    if from_codebook:
        return redirect(reverse("projects:codebook", args=[project.pk]) + f"#code-{tag.pk}")
    return redirect(project)


def _may_edit_codebook(project: Project) -> None:
    if not may(project.role, Action.CODEBOOK):  # type: ignore[attr-defined]
        raise PermissionDenied("Only the project's owners change its codebook.")


def _code(request: HttpRequest, project: Project, code: int) -> Tag:
    found: Tag = found_or_404(
        document_selectors.tag_get, user=request.user, project=project.pk, pk=code
    )
    return found


def _code_page(
    request: HttpRequest,
    project: Project,
    tag: Tag,
    *,
    form: CodeForm | None = None,
    errors: list[str] | None = None,
) -> HttpResponse:
    """A code's page: what the codebook says of it, its example and history; for the
    owners, its forms."""
    may_edit = may(project.role, Action.CODEBOOK)  # type: ignore[attr-defined]
    codes = document_selectors.tag_list(user=request.user, project=project.pk)
    names = {other.pk: other.name for other in codes}
    context: dict[str, Any] = {
        "project": project,
        "tag": tag,
        "may_edit": may_edit,
        "errors": errors or [],
        "history": history_lines(document_selectors.tag_history(tag=tag), names),
        "merged_from": [other for other in codes if other.merged_into_id == tag.pk],
    }
    if may_edit:
        context["form"] = form or _code_form(None, project, tag, names)
        context["merge_form"] = CodeMergeForm(
            targets=[
                (other.pk, other.name) for other in codes if other.is_active and other.pk != tag.pk
            ]
        )
        context["example_form"] = CodeExampleForm(
            initial={"annotation": tag.example_id},
            passages=document_selectors.tag_example_choices(user=request.user, tag=tag),
        )
    return render(
        request,
        "projects/code_edit.html",
        context,
        status=UNPROCESSABLE if errors else 200,
    )


def _code_form(data: Any, project: Project, tag: Tag, names: dict[int, str]) -> CodeForm:
    return CodeForm.of(data, tag, [(pk, name) for pk, name in names.items() if pk != tag.pk])


@require_http_methods(["GET", "POST"])
def code_edit(request: HttpRequest, pk: int, code: int) -> HttpResponse:
    """A code's page (every member); its change by the owners (POST): rename, re-define,
    re-colour, move under another code."""
    project = _project(request, pk)
    if request.method == "POST":
        _may_edit_codebook(project)
    tag = _code(request, project, code)
    if request.method == "GET":
        return _code_page(request, project, tag)
    names = dict(
        document_selectors.tag_list(user=request.user, project=project.pk).values_list("pk", "name")
    )
    form = _code_form(request.POST, project, tag, names)
    # Only what the owner changed on the page is written: a field left as the page showed
    # it keeps whatever a colleague saved into it meanwhile.
    changed = form.changed_fields()
    try:
        if not form.is_valid():
            raise _form_errors(form)
        values = {name: form.cleaned_data[name] for name in changed}
        if not values:
            # Saving would only make the code look changed to every other open page.
            messages.info(request, f"Nothing was changed in {tag.name}.")
            return redirect(reverse("projects:code_edit", args=[project.pk, tag.pk]))
        seen = form.cleaned_data["seen"] or None
        services.code_save(user=request.user, project=project, values=values, pk=tag.pk, seen=seen)
    except ValidationError as exc:
        tag = _code(request, project, code)
        data: QueryDict = request.POST
        if services.STALE in refusals.codes(exc):
            # Someone else changed the code since the page was opened: the page comes back
            # on the code as it is now, with what this owner changed typed over it. Any
            # other refusal keeps what the page was opened on, so that saving again after
            # fixing it still meets a colleague's change made meanwhile.
            data = form.over(tag)
        form = _code_form(data, project, tag, names)
        form.is_valid()
        return _code_page(request, project, tag, form=form, errors=refusals.lines(exc))
    messages.success(request, f"Code {form.cleaned_data['name']} saved.")
    return redirect(reverse("projects:code_edit", args=[project.pk, tag.pk]))


def _code_change(
    request: HttpRequest, pk: int, code: int, change: Callable[[Project, Tag], str]
) -> HttpResponse:
    """A change to one code by the owners: `change` makes it and says what it did; a
    refusal comes back as the code's page with the reason."""
    project = _project(request, pk)
    _may_edit_codebook(project)
    tag = _code(request, project, code)
    try:
        done = change(project, tag)
    except ValidationError as exc:
        return _code_page(request, project, tag, errors=refusals.lines(exc))
    messages.success(request, done)
    return redirect(reverse("projects:code_edit", args=[project.pk, tag.pk]))


@require_POST
def code_merge(request: HttpRequest, pk: int, code: int) -> HttpResponse:
    """Merge a code into another: its passages carry the other instead."""

    def merge(project: Project, tag: Tag) -> str:
        targets = document_selectors.tag_list(user=request.user, project=project.pk)
        form = CodeMergeForm(request.POST, targets=[(other.pk, other.name) for other in targets])
        if not form.is_valid():
            raise _form_errors(form)
        into = targets.get(pk=form.cleaned_data["into"])
        moved = document_services.tag_merge(user=request.user, tag=tag, into=into)  # type: ignore[arg-type]
        return (
            f"{tag.name} merged into {into.name}: {moved} passage{'s' if moved != 1 else ''} "
            f"now carr{'y' if moved != 1 else 'ies'} {into.name}. {tag.name} is retired."
        )

    return _code_change(request, pk, code, merge)


@require_POST
def code_retire(request: HttpRequest, pk: int, code: int) -> HttpResponse:
    def retire(project: Project, tag: Tag) -> str:
        document_services.tag_retire(user=request.user, tag=tag)  # type: ignore[arg-type]
        return f"{tag.name} is retired: it stays on its passages but is no longer applied."

    return _code_change(request, pk, code, retire)


@require_POST
def code_restore(request: HttpRequest, pk: int, code: int) -> HttpResponse:
    def restore(project: Project, tag: Tag) -> str:
        document_services.tag_restore(user=request.user, tag=tag)  # type: ignore[arg-type]
        return f"{tag.name} is in use again."

    return _code_change(request, pk, code, restore)


@require_POST
def code_example(request: HttpRequest, pk: int, code: int) -> HttpResponse:
    """Choose the passage shown as the code's example (or none)."""

    def choose(project: Project, tag: Tag) -> str:
        passages = document_selectors.tag_example_choices(user=request.user, tag=tag)
        form = CodeExampleForm(request.POST, passages=passages)
        if not form.is_valid():
            raise _form_errors(form)
        chosen = form.cleaned_data["annotation"]
        document_services.tag_set_example(
            user=request.user,  # type: ignore[arg-type]
            tag=tag,
            annotation=chosen,
        )
        return f"Example of {tag.name} {'chosen' if chosen else 'taken away'}."

    return _code_change(request, pk, code, choose)


@require_GET
def codebook_export(request: HttpRequest, pk: int) -> HttpResponse:
    """The project's codebook as a REFI-QDA codebook file (.qdc)."""
    project = _project(request, pk)
    tags = document_selectors.tag_list(user=request.user, project=project.pk)
    filename = f"codebook-project-{project.pk}.qdc"
    access_event(
        kind=AccessEvent.Kind.EXPORT,
        request=request,
        detail={"file": filename},
        project_id=project.pk,
    )
    response = HttpResponse(
        refiqda.codebook_xml(list(tags), origin=f"sco-annotate: {project.name}"),
        content_type=f"{refiqda.CONTENT_TYPE}; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_POST
def codebook_import(request: HttpRequest, pk: int) -> HttpResponse:
    """Codes from a REFI-QDA codebook file (.qdc), added by the owners: all or none."""
    project = _project(request, pk)
    _may_edit_codebook(project)
    form = CodebookImportForm(request.POST, request.FILES)
    try:
        if not form.is_valid():
            raise _form_errors(form)
        upload = form.cleaned_data["file"]
        if upload.size > refiqda.MAX_BYTES:
            raise ValidationError(
                {"file": [f"A codebook file may have at most {refiqda.MAX_BYTES:,} bytes."]}
            )
        added = document_services.codebook_import(
            user=request.user,  # type: ignore[arg-type]
            project=project,
            data=upload.read(),
        )
    except ValidationError as exc:
        return _codebook_page(request, project, errors=refusals.lines(exc), import_form=form)
    messages.success(request, f"{added} code{'s' if added != 1 else ''} imported.")
    return redirect(reverse("projects:codebook", args=[project.pk]))


#: How the activity log's codebook actions read on a code's page.
_ACTIONS = {
    "tag.create": "created",
    "tag.update": "changed",
    "tag.retire": "retired",
    "tag.restore": "restored",
    "tag.example": "example passage changed",
    "tag.import": "imported from a REFI-QDA codebook",
    "tag.merge": "merged",
}
_FIELD_NAMES = {
    "name": "name",
    "slug": "slug",
    "definition": "definition",
    "inclusion": "when to use",
    "exclusion": "when not to use",
    "colour": "colour",
    "parent": "under",
    "shortcut": "shortcut",
    "is_active": "in use",
    "sort_order": "position",
    "example": "example passage",
    "merged_into": "merged into",
}


def history_lines(rows: Any, names: dict[int, str]) -> list[dict[str, Any]]:
    """A code's activity rows as sentences: when, who, what changed (before → after)."""

    def shown(name: str, value: Any) -> str:
        if value is None or value == "":
            return "none"
        if name in ("parent", "merged_into"):
            return names.get(value, f"#{value}")
        if name == "example":
            return f"passage #{value}"
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value)

    lines = []
    for row in rows:
        before, after = row.before or {}, row.after or {}
        if row.action == "tag.merge":
            what = (
                f"{after['from']['name']} merged into {after['into']['name']}: "
                f"{after['passages']} passage{'s' if after['passages'] != 1 else ''}"
            )
            changes: list[str] = []
        else:
            what = _ACTIONS.get(row.action, row.action)
            # A new code's values as they were set; a change's as before → after.
            changes = [
                f"{_FIELD_NAMES.get(name, name)}: {shown(name, value)}"
                if not before
                else f"{_FIELD_NAMES.get(name, name)}: {shown(name, before.get(name))} → "
                f"{shown(name, value)}"
                for name, value in after.items()
                if name != "project" and (before.get(name) != value if before else value)
            ]
        lines.append(
            {
                "when": row.created,
                "who": row.actor.username if row.actor else "",
                "what": what,
                "changes": changes,
            }
        )
    return lines


# ---------------------------------------------------------------------------------------
# Document attributes


def _attributes_url(project: Project) -> str:
    return project.get_absolute_url() + "#attributes-title"


@require_POST
def attribute_add(request: HttpRequest, pk: int) -> HttpResponse:
    project = _project(request, pk)
    form = AttributeForm(request.POST)
    try:
        if not form.is_valid():
            raise _form_errors(form)
        attribute = document_services.attribute_create(
            user=request.user,  # type: ignore[arg-type]
            project=project,
            **form.cleaned_data,
        )
    except ValidationError as exc:
        return _page(request, project, attribute_errors=refusals.lines(exc), attribute_form=form)
    messages.success(request, f"Attribute {attribute.name} added.")
    return redirect(_attributes_url(project))


def _attribute(request: HttpRequest, project: Project, pk: int) -> Attribute:
    """Attribute `pk` of the project, for its owners; 404 or 403 otherwise."""
    if not may(project.role, Action.IMPORT):  # type: ignore[attr-defined]
        raise PermissionDenied("Only the project's owners change its attributes.")
    found = (
        document_selectors.attribute_list_with_counts(user=request.user, project=project.pk)
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise Http404("No such attribute in this project.")
    return found


@require_http_methods(["GET", "POST"])
def attribute_edit(request: HttpRequest, pk: int, attribute: int) -> HttpResponse:
    project = _project(request, pk)
    found = _attribute(request, project, attribute)
    form = AttributeEditForm(
        request.POST if request.method == "POST" else None,
        initial={
            "name": found.name,
            "slug": found.slug,
            "kind": found.kind,
            "choices": "\n".join(found.choices),
            "sort_order": found.sort_order,
        },
    )
    errors: list[str] = []
    if request.method == "POST":
        try:
            if not form.is_valid():
                raise _form_errors(form)
            data = form.cleaned_data
            document_services.attribute_update(
                user=request.user,  # type: ignore[arg-type]
                attribute=found,
                name=data["name"],
                kind=data["kind"],
                choices=data["choices"],
                sort_order=data["sort_order"],
            )
        except ValidationError as exc:
            errors = refusals.lines(exc)
        else:
            messages.success(request, f"Attribute {form.cleaned_data['name']} saved.")
            return redirect(_attributes_url(project))
    return render(
        request,
        "projects/attribute_edit.html",
        {"project": project, "attribute": found, "form": form, "errors": errors},
        status=UNPROCESSABLE if errors else 200,
    )


@require_http_methods(["GET", "POST"])
def attribute_delete(request: HttpRequest, pk: int, attribute: int) -> HttpResponse:
    """A page that asks first (saying how many values go with it), then the delete."""
    project = _project(request, pk)
    found = _attribute(request, project, attribute)
    if request.method == "POST":
        removed = document_services.attribute_delete(
            user=request.user,  # type: ignore[arg-type]
            attribute=found,
        )
        messages.success(
            request,
            f"Attribute {found.name} deleted, with its {removed} value{'s' if removed != 1 else ''}"
            " (the activity record keeps them).",
        )
        return redirect(_attributes_url(project))
    return render(
        request, "projects/attribute_delete.html", {"project": project, "attribute": found}
    )


@require_GET
def document_attributes(request: HttpRequest, pk: int) -> HttpResponse:
    """The project's documents × its attributes; for its owners, a form per row."""
    project = _project(request, pk)
    attributes = list(document_selectors.attribute_list(user=request.user, project=project.pk))
    documents = document_selectors.document_list(
        user=request.user, filters=document_selectors.DocumentFilter(project=project.pk)
    ).only("id", "title", "project_id")
    page = Paginator(documents.order_by("title", "pk"), 50).get_page(request.GET.get("page"))
    rows = list(page)
    document_selectors.attach_attribute_values(rows, attributes)
    may_edit = may(project.role, Action.IMPORT)  # type: ignore[attr-defined]
    for document in rows:
        if may_edit:
            document.form = AttributeValuesForm(  # type: ignore[attr-defined]
                attributes=attributes, document=document, form_id=f"values-{document.pk}"
            )
    return render(
        request,
        "projects/document_attributes.html",
        {
            "project": project,
            "attributes": attributes,
            "page": page,
            "rows": rows,
            "may_edit": may_edit,
            "upload_form": AttributesUploadForm(),
        },
    )


@require_POST
def attributes_upload(request: HttpRequest, pk: int) -> HttpResponse:
    """The attributes' values from a CSV file: all or none."""
    project = _project(request, pk)
    form = AttributesUploadForm(request.POST, request.FILES)
    try:
        if not form.is_valid():
            raise _form_errors(form)
        upload = form.cleaned_data["file"]
        done = document_services.attributes_from_csv(
            user=request.user,  # type: ignore[arg-type]
            project=project,
            file=upload,
            filename=upload.name or "",
            add_choices=form.cleaned_data["add_choices"],
        )
    except ValidationError as exc:
        return _page(request, project, attribute_errors=refusals.lines(exc), upload_form=form)
    added = "".join(
        f" New choices of {name}: {', '.join(values)}."
        for name, values in done.choices_added.items()
    )
    messages.success(
        request,
        f"{done.rows} row{'s' if done.rows != 1 else ''} read: {done.documents} "
        f"document{'s' if done.documents != 1 else ''} changed, {done.values_set} "
        f"value{'s' if done.values_set != 1 else ''} set, {done.values_cleared} cleared.{added}",
    )
    return redirect(reverse("projects:document_attributes", args=[project.pk]))


@require_GET
def attributes_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """The project's documents with their attributes' values as CSV: the template that the
    upload reads back."""
    project = _project(request, pk)
    attributes = list(document_selectors.attribute_list(user=request.user, project=project.pk))
    filename = f"attributes-project-{project.pk}.csv"
    access_event(
        kind=AccessEvent.Kind.EXPORT,
        request=request,
        detail={"file": filename},
        project_id=project.pk,
    )
    batches = document_selectors.attribute_table_batches(
        user=request.user, project=project.pk, attributes=attributes
    )
    response = StreamingHttpResponse(
        document_exports.attribute_csv_chunks(attributes, batches),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


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
