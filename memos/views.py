"""The memo pages: a project's memos, one memo with its history, and the writes (create,
change, delete, undo the delete, restore an earlier version). Thin adapters over
memos.selectors and memos.services.

A code's, a document's and the project's memos also show on those pages, through the
template tags of memos/templatetags/memo_panels.py (the apps below this one do not know
memos exist); a memo is created and changed in place there with htmx, and every form works
without JavaScript too: a plain POST is answered with a redirect, a refused one with the
form and its reasons (422).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from documents import refusals
from documents.shortcuts import found_or_404
from documents.text import parse_whole_number
from projects.models import Action, Project, may
from projects.selectors import project_get

from . import diff, selectors, services
from .forms import MemoFilterForm, MemoForm, MemoVersionForm
from .models import About, Memo

LIST = "memos/memo_list.html"
DETAIL = "memos/memo_detail.html"
UNPROCESSABLE = 422
MEMOS_PER_PAGE = 50


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _project(request: HttpRequest, pk: int) -> Project:
    """Project `pk` of the user's, or 404; 403 while it waits for a second factor."""
    project: Project = found_or_404(project_get, user=request.user, pk=pk)
    if project.locked:  # type: ignore[attr-defined]
        raise PermissionDenied("This project requires two-factor authentication.")
    return project


def _memo(request: HttpRequest, pk: int, memo: int) -> Memo:
    """Memo `memo` of project `pk`, with `editable` (whether the user may change it), or 404."""
    project = _project(request, pk)
    found: Memo = found_or_404(selectors.memo_get, user=request.user, project=pk, pk=memo)
    found.project = project
    return selectors.with_rights([found], request.user, found.role)[0]  # type: ignore[attr-defined]


def _form_errors(form: Any) -> ValidationError:
    return ValidationError({field: list(errs) for field, errs in form.errors.items()})


def _next(request: HttpRequest, value: Any) -> str | None:
    """Where a plain POST goes back to: a page of this site the form came from."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return None
    if not url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return None
    return value


# ---------------------------------------------------------------------------------------
# Reads


@require_GET
def memo_list(request: HttpRequest, pk: int) -> HttpResponse:
    """A project's memos, filtered by what they are about and who wrote them."""
    project = _project(request, pk)
    role = project.role  # type: ignore[attr-defined]
    form = MemoFilterForm(request.GET, user=request.user, project=project.pk)
    wanted = form.to_filter()
    page, memos = None, []
    if wanted is not None:
        listed = selectors.memo_list(user=request.user, filters=wanted)
        page = Paginator(listed, MEMOS_PER_PAGE).get_page(request.GET.get("page"))
        memos = selectors.with_rights(page.object_list, request.user, role)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        LIST,
        {
            "project": project,
            "form": form,
            "page": page,
            "memos": memos,
            "query": query.urlencode(),
            "may_write": may(role, Action.ANNOTATE),
        },
    )


@require_GET
def memo_detail(request: HtmxHttpRequest, pk: int, memo: int) -> HttpResponse:
    """One memo with its history; for htmx (an edit cancelled in place) its card."""
    found = _memo(request, pk, memo)
    if request.htmx:
        return render(request, LIST + "#memo-card", {"memo": found})
    return _detail(request, found)


def _detail(
    request: HttpRequest,
    memo: Memo,
    *,
    errors: list[str] | None = None,
    edit: dict[str, Any] | None = None,
) -> HttpResponse:
    """The memo page; with `errors`, a refused write's reasons, and with `edit`, the edit
    form as it was sent."""
    versions = diff.history(selectors.memo_revisions(memo=memo))
    context = {
        "project": memo.project,
        "memo": memo,
        "versions": versions,
        "errors": errors or [],
        "edit": edit or {"title": memo.title, "text": memo.text, "version": memo.version},
    }
    return render(request, DETAIL, context, status=UNPROCESSABLE if errors else 200)


# ---------------------------------------------------------------------------------------
# Writes


@require_POST
def memo_create(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A new memo about the project, a code or a document. From a panel (htmx) the answer
    is the panel again, with the new memo; else a redirect to where the form was."""
    project = _project(request, pk)
    form = MemoForm(request.POST)
    try:
        if not form.is_valid():
            raise _form_errors(form)
        data = form.cleaned_data
        memo = services.memo_create(
            user=request.user,
            project=project.pk,
            title=data["title"],
            text=data["text"],
            code=data["code"],
            document=data["document"],
        )
    except ValidationError as exc:
        return _refused_create(request, project, refusals.lines(exc))
    if request.htmx:
        panel = _panel(request, project.pk, memo.about, memo.tag or memo.document)
        context = {"panel": panel, "next": _posted_next(request)}
        return render(request, LIST + "#memo-panel", context)
    messages.success(request, f"Memo “{memo.heading}” saved.")
    back = _posted_next(request)
    return redirect(f"{back}#memo-{memo.pk}" if back else memo.get_absolute_url())


def _posted_next(request: HttpRequest) -> str | None:
    return _next(request, request.POST.get("next"))


def _panel(request: HttpRequest, project: int, about: str, target: Any) -> selectors.Panel:
    if about == About.PROJECT:
        return selectors.target_panel(
            user=request.user, project=project, limit=selectors.PROJECT_PAGE_MEMOS
        )
    if about == About.CODE:
        return selectors.target_panel(user=request.user, project=project, code=target)
    return selectors.target_panel(user=request.user, project=project, document=target)


def _refused_create(request: HtmxHttpRequest, project: Project, errors: list[str]) -> HttpResponse:
    """The form again, as it was filled in, with why it was refused: in its panel (htmx),
    else on a page of its own."""
    code = parse_whole_number(request.POST.get("code", ""))
    document = parse_whole_number(request.POST.get("document", ""))
    target = selectors.target_get(
        user=request.user, project=project.pk, code=code, document=document
    )
    about = (
        About.CODE
        if request.POST.get("code")
        else About.DOCUMENT
        if request.POST.get("document")
        else About.PROJECT
    )
    title, text = request.POST.get("title", ""), request.POST.get("text", "")
    if request.htmx and (target is not None or about == About.PROJECT):
        panel = _panel(request, project.pk, about, target)
        panel.title, panel.text, panel.errors = title, text, errors
        context: dict[str, Any] = {"panel": panel, "next": _posted_next(request)}
        return render(request, LIST + "#memo-panel", context, status=UNPROCESSABLE)
    context = {
        "project": project,
        "about": about,
        "target": target,
        "code": code,
        "document": document,
        "next": _posted_next(request),
        "title": title,
        "text": text,
        "errors": errors,
    }
    template = "memos/memo_new.html" + ("#memo-new-form" if request.htmx else "")
    return render(request, template, context, status=UNPROCESSABLE)


@require_http_methods(["GET", "POST"])
def memo_edit(request: HtmxHttpRequest, pk: int, memo: int) -> HttpResponse:
    """GET (htmx): the memo's card as a form. POST: the new title and text, as a new
    version; refused if the memo changed since the form's version."""
    found = _memo(request, pk, memo)
    if not found.editable:  # type: ignore[attr-defined]
        # The service refuses the POST too; this also spares a form that cannot be saved.
        raise PermissionDenied(
            "You can change only your own memos (reviewers and owners change anyone's)."
        )
    if request.method == "GET":
        if not request.htmx:
            return redirect(found.get_absolute_url() + "#edit")
        edit = {"title": found.title, "text": found.text, "version": found.version}
        return render(request, LIST + "#memo-edit", {"memo": found, "edit": edit})
    form = MemoForm(request.POST)
    edit = {
        "title": request.POST.get("title", ""),
        "text": request.POST.get("text", ""),
        "version": request.POST.get("version", ""),
    }
    try:
        if not form.is_valid():
            raise _form_errors(form)
        services.memo_update(
            user=request.user,
            memo=found,
            title=form.cleaned_data["title"],
            text=form.cleaned_data["text"],
            expected_version=form.cleaned_data["version"],
        )
    except ValidationError as exc:
        if isinstance(exc, services.StaleMemo):
            # Saving again replaces the other change, which stays in the history.
            edit["version"] = found.version
        return _refused_edit(request, found, edit, refusals.lines(exc))
    if request.htmx:
        return render(request, LIST + "#memo-card", {"memo": found})
    messages.success(request, f"Memo saved as version {found.version}.")
    return redirect(_posted_next(request) or found.get_absolute_url())


def _refused_edit(
    request: HtmxHttpRequest, memo: Memo, edit: dict[str, Any], errors: list[str]
) -> HttpResponse:
    if request.htmx:
        context = {"memo": memo, "edit": edit, "errors": errors}
        return render(request, LIST + "#memo-edit", context, status=UNPROCESSABLE)
    return _detail(request, memo, errors=errors, edit=edit)


def _version_change(
    request: HttpRequest, pk: int, memo: int, change: Any, done: str
) -> HttpResponse:
    """Delete, undo a delete or restore an earlier version: back to the memo page."""
    found = _memo(request, pk, memo)
    form = MemoVersionForm(request.POST)
    try:
        if not form.is_valid():
            raise _form_errors(form)
        change(found, form.cleaned_data)
    except ValidationError as exc:
        return _detail(request, found, errors=refusals.lines(exc))
    messages.success(request, done.format(memo=found))
    return redirect(found.get_absolute_url())


@require_POST
def memo_delete(request: HttpRequest, pk: int, memo: int) -> HttpResponse:
    def change(found: Memo, data: dict[str, Any]) -> None:
        services.memo_delete(user=request.user, memo=found, expected_version=data["version"])

    return _version_change(
        request, pk, memo, change, "Memo deleted. It is kept with its history: restore it below."
    )


@require_POST
def memo_restore(request: HttpRequest, pk: int, memo: int) -> HttpResponse:
    def change(found: Memo, data: dict[str, Any]) -> None:
        services.memo_restore(user=request.user, memo=found)

    return _version_change(request, pk, memo, change, "Memo restored.")


@require_POST
def memo_revert(request: HttpRequest, pk: int, memo: int) -> HttpResponse:
    def change(found: Memo, data: dict[str, Any]) -> None:
        if data["revision"] is None:
            raise ValidationError({"revision": ["Say which version to restore."]})
        services.memo_revert(
            user=request.user,
            memo=found,
            version=data["revision"],
            expected_version=data["version"],
        )

    return _version_change(
        request,
        pk,
        memo,
        change,
        "Earlier version restored: it is now version {memo.version}.",
    )
