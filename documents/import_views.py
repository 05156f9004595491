"""The admins' import pages: upload files, correct the metadata, choose the clean-up, confirm.

A batch is read and imported a few files per request: the batch page polls the step view
with htmx (each call handles the next files and answers with the progress fragment), and
without JavaScript a "Continue" button does the same. Thin adapters over the import services.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh

from projects.models import Action, Membership, Project

from . import refusals, selectors, services
from .models import DocumentType, ImportBatch, ImportStatus
from .text import parse_whole_number

#: Files handled per request: small enough that a request never takes long.
FILES_PER_STEP = 3
_DEFAULT_FIELDS = ("organisation", "author", "language", "document_type", "source_url")


def _importable(request: HttpRequest) -> list[Project]:
    """The projects the user may import into; PermissionDenied when there are none."""
    allowed = Membership.objects.allowed(request.user, Action.IMPORT).values("project_id")
    projects = list(Project.objects.filter(pk__in=allowed).order_by("name", "pk"))
    if not projects:
        raise PermissionDenied("Only a project's owners import documents.")
    return projects


def _batch_for(request: HttpRequest, pk: int) -> ImportBatch:
    _importable(request)
    batches = selectors.import_batch_list(user=request.user).select_related("project")
    return get_object_or_404(batches, pk=pk)


def _progress(batch: ImportBatch) -> dict[str, Any]:
    counts = dict(batch.items.values_list("status").annotate(count=Count("pk")).order_by("status"))
    total = sum(counts.values())
    pending = counts.get(ImportStatus.PENDING, 0)
    queued = counts.get(ImportStatus.QUEUED, 0)
    if pending:
        phase, left = "read", pending
    elif queued:
        phase, left = "imported", queued
    else:
        phase, left = "", 0
    return {
        "total": total,
        "done": total - left,
        "busy": bool(left),
        "phase": phase,
        "counts": {ImportStatus(status).label: count for status, count in counts.items()},
    }


def _batch_context(
    batch: ImportBatch,
    errors: dict[int, list[str]] | None = None,
    posted: dict[int, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The page's items: those still to check (with the values to show in their form: what
    was just posted when it was refused, else what is recorded) and the others."""
    items = list(
        batch.items.select_related("document", "duplicate_of")
        .defer("data", "document__text", "duplicate_of__text")
        .order_by("position")
    )
    review, others = [], []
    for item in items:
        if batch.confirmed_at is None and item.status in (
            ImportStatus.READY,
            ImportStatus.SKIPPED,
        ):
            submitted = (posted or {}).get(item.pk)
            item.values = {**item.metadata, **(submitted or {})}  # type: ignore[attr-defined]
            item.chosen = submitted["clean"] if submitted else item.clean  # type: ignore[attr-defined]
            item.form_errors = (errors or {}).get(item.pk, [])  # type: ignore[attr-defined]
            review.append(item)
        else:
            others.append(item)
    return {
        "batch": batch,
        "progress": _progress(batch),
        "review": review,
        "others": others,
        "document_types": DocumentType.choices,
    }


def _read_files(request: HttpRequest) -> tuple[list[services.Upload], list[tuple[str, int]]]:
    """The uploaded files, and the names and sizes of those too large to be read at all."""
    limit = settings.IMPORT_MAX_FILE_BYTES
    uploads, oversized = [], []
    for file in request.FILES.getlist("files"):
        name, size = file.name or "unnamed", file.size or 0
        if size > limit:
            oversized.append((name, size))
        else:
            uploads.append(services.Upload(name, file.read(), file.content_type or ""))
    return uploads, oversized


@require_http_methods(["GET", "POST"])
def import_upload(request: HttpRequest) -> HttpResponse:
    projects = _importable(request)
    user = request.user
    errors: list[str] = []
    defaults = {name: request.POST.get(name, "").strip() for name in _DEFAULT_FIELDS}
    asked = request.POST.get("project") if request.method == "POST" else request.GET.get("project")
    chosen = parse_whole_number(asked or "")
    if chosen is None and len(projects) == 1:
        chosen = projects[0].pk
    if request.method == "POST":
        uploads, oversized = _read_files(request)
        try:
            if chosen is None:
                raise ValidationError({"project": ["Choose the project to import into."]})
            batch = services.import_batch_create(
                user=user,  # type: ignore[arg-type]
                uploads=uploads,
                defaults={name: value for name, value in defaults.items() if value},
                oversized=oversized,
                project=chosen,
            )
        except (ValidationError, PermissionDenied) as exc:
            errors = [str(exc)] if isinstance(exc, PermissionDenied) else refusals.lines(exc)
        else:
            return redirect(batch)
    batches = (
        selectors.import_batch_list(user=user)
        .select_related("project")
        .annotate(files=Count("items"))[:10]
    )
    return render(
        request,
        "documents/import_upload.html",
        {
            "errors": errors,
            "projects": projects,
            "chosen": chosen,
            "defaults": defaults,
            "document_types": DocumentType.choices,
            "batches": batches,
            "max_megabytes": settings.IMPORT_MAX_FILE_BYTES // (1024 * 1024),
        },
        status=400 if errors else 200,
    )


@require_GET
def import_batch(request: HttpRequest, pk: int) -> HttpResponse:
    batch = _batch_for(request, pk)
    return render(request, "documents/import_batch.html", _batch_context(batch))


@require_POST
def import_step(request: HttpRequest, pk: int) -> HttpResponse:
    batch = _batch_for(request, pk)
    services.import_batch_step(user=request.user, batch=batch, limit=FILES_PER_STEP)  # type: ignore[arg-type]
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect(batch)
    progress = _progress(batch)
    if not progress["busy"]:
        # Everything is read (or imported): reload the page to show the results.
        return HttpResponseClientRefresh()
    return render(
        request,
        "documents/import_batch.html#progress",
        {"batch": batch, "progress": progress},
    )


@require_POST
def import_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    batch = _batch_for(request, pk)
    errors: dict[int, list[str]] = {}
    posted: dict[int, dict[str, Any]] = {}
    items = batch.items.filter(status__in=[ImportStatus.READY, ImportStatus.SKIPPED]).defer("data")
    for item in items:
        prefix = f"item-{item.pk}-"
        posted[item.pk] = {
            name: request.POST.get(prefix + name, "") for name in services.METADATA_FORM_FIELDS
        }
        posted[item.pk]["clean"] = request.POST.getlist(prefix + "clean")
        try:
            services.import_item_choose(
                user=request.user,  # type: ignore[arg-type]
                item=item,
                include=request.POST.get(prefix + "include") == "on",
                metadata=posted[item.pk],
                clean=posted[item.pk]["clean"],
            )
        except ValidationError as exc:
            errors[item.pk] = refusals.lines(exc)
    if errors:
        return render(
            request,
            "documents/import_batch.html",
            _batch_context(batch, errors, posted),
            status=400,
        )
    services.import_batch_confirm(user=request.user, batch=batch)  # type: ignore[arg-type]
    return redirect(batch)
