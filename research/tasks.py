"""Background work of the research app, run by `manage.py db_worker` (bin/serve starts it)."""

from __future__ import annotations

from django.db import transaction
from django_tasks import task

from documents.models import Document

from .index import index_documents
from .models import QueuedDocument
from .summaries import make_current

# Documents indexed in one transaction: a batch's chunks become searchable together.
BATCH = 50


@task()
def index_queued() -> int:
    """Index every queued document; how many were indexed.

    Any number of workers may run it at once: each takes a batch of queue rows under lock,
    skipping those another holds. A task that fails leaves its rows queued; the next import
    enqueues a task that takes them too, and `reindex_search --queued` does it at once.
    """
    indexed = 0
    while True:
        with transaction.atomic():
            ids = list(
                QueuedDocument.objects.select_for_update(skip_locked=True)
                .order_by("pk")
                .values_list("pk", flat=True)[:BATCH]
            )
            if not ids:
                return indexed
            # The texts read under the lock a change of text takes (document services), so
            # that a text changed meanwhile is never indexed as it was. A document being
            # changed is skipped: its change indexes it, or queues it again.
            texts = list(
                Document.objects.select_for_update(skip_locked=True)
                .filter(pk__in=ids)
                .order_by("pk")
                .values_list("pk", "text")
            )
            if not texts:
                return indexed
            index_documents(texts)
            QueuedDocument.objects.filter(pk__in=[pk for pk, _ in texts]).delete()
            indexed += len(texts)


@task()
def recount(project: int) -> int:
    """Make current the kept counts of every document of `project` (the code comparisons'
    summaries, research/summaries.py), as a comparison that found too many out of date
    asked; how many were made. Until then comparisons count from the passages."""
    from django.core.cache import cache

    from .analysis import recount_key

    try:
        versions = list(
            Document.objects.filter(project_id=project).values_list("pk", "annotations_version")
        )
        return make_current(versions, project=project) or 0
    finally:
        cache.delete(recount_key(project))
