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

from . import refusals, selectors, services
from .models import DocumentType, ImportBatch, ImportStatus, is_admin

#: Files handled per request: small enough that a request never takes long.
FILES_PER_STEP = 3
_DEFAULT_FIELDS = ("organisation", "author", "language", "document_type", "source_url")


def _require_admin(request: HttpRequest) -> Any:
    if not is_admin(request.user):
        raise PermissionDenied("Only admins import documents.")
    return request.user


def _batch_for(request: HttpRequest, pk: int) -> ImportBatch:
    user = _require_admin(request)
    return get_object_or_404(selectors.import_batch_list(user=user), pk=pk)


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
    user = _require_admin(request)
    errors: list[str] = []
    defaults = {name: request.POST.get(name, "").strip() for name in _DEFAULT_FIELDS}
    if request.method == "POST":
        uploads, oversized = _read_files(request)
        try:
            batch = services.import_batch_create(
                user=user,
                uploads=uploads,
                defaults={name: value for name, value in defaults.items() if value},
                oversized=oversized,
            )
        except ValidationError as exc:
            errors = refusals.lines(exc)
        else:
            return redirect(batch)
    batches = selectors.import_batch_list(user=user).annotate(files=Count("items"))[:10]
    return render(
        request,
        "documents/import_upload.html",
        {
            "errors": errors,
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
