"""Background work of the research app, run by `manage.py db_worker` (bin/serve starts it)."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from documents.models import Document
from projects.models import Project

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
    versions = list(
        Document.objects.filter(project_id=project).values_list("pk", "annotations_version")
    )
    return make_current(versions, project=project) or 0


#: A recount queued or started longer ago than this is taken for lost (its worker
#: stopped), and another may be queued.
RECOUNT_LOST_AFTER = datetime.timedelta(hours=1)


def queue_recount(project: int) -> bool:
    """Queue `recount` of `project` unless one is waiting or running already (the queue
    itself says: the database backend's rows); whether one was queued. The project's row
    is held while the queue is read, so that two pages opened at once queue one."""
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    with transaction.atomic():
        list(Project.objects.select_for_update(no_key=True).filter(pk=project).values_list("pk"))
        pending = DBTaskResult.objects.filter(
            task_path=recount.module_path,
            status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING],
            args_kwargs__args=[project],
            enqueued_at__gte=timezone.now() - RECOUNT_LOST_AFTER,
        )
        if pending.exists():
            return False
        recount.enqueue(project)
        return True
