"""Long imports indexed for search by the background worker (BACKGROUND_TASKS), not in the
request: queued in the import's transaction, not found until indexed, counted as waiting
by the search page and the API, indexed by the task, by `db_worker` and by
`reindex_search --queued`.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from documents import services
from documents.models import Document
from research import selectors
from research.index import INDEX_NOW_CHARS
from research.models import Chunk, QueuedDocument
from research.selectors import SearchFilter
from research.tasks import index_queued
from research.terms import parse_query

# Long enough to be queued: over INDEX_NOW_CHARS in one import.
LONG = "The members agreed on the extradition of suspects.\n" * (INDEX_NOW_CHARS // 50 + 10)


@pytest.fixture
def queueing(settings):
    """A server's settings, with the queue's rows kept in the database and the worker
    run by the test."""
    settings.BACKGROUND_TASKS = True
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def found(user, project, words: str) -> list[str]:
    page = selectors.search(
        user=user, filters=SearchFilter(project=project.pk, query=parse_query(words))
    )
    return [result.document.title for result in page.results]


def create(project, title, text):
    return services.document_create(
        user=None, project=project, text=text, metadata=services.DocumentMetadata(title=title)
    )


# The worker closes its database connection between tasks, as a process of its own does:
# committed transactions, not the test's one.
@pytest.mark.django_db(transaction=True)
def test_a_long_import_is_queued_not_indexed_then_the_worker_indexes_it(
    queueing, client, user, project
):
    document = create(project, "Long report", LONG)
    assert QueuedDocument.objects.filter(document=document).exists()
    assert not Chunk.objects.filter(document=document).exists()
    # The task was written in the import's transaction, for a worker to take.
    assert DBTaskResult.objects.filter(task_path="research.tasks.index_queued").count() == 1
    assert found(user, project, "extradited") == []

    client.force_login(user)
    page = client.get(reverse("research:search", args=[project.pk]), {"q": "extradited"})
    assert "1 document of this project is still being indexed" in page.content.decode()

    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload")
    assert not QueuedDocument.objects.exists()
    assert Chunk.objects.filter(document=document).count() > 1
    assert found(user, project, "extradited") == ["Long report"]
    page = client.get(reverse("research:search", args=[project.pk]), {"q": "extradited"})
    assert "still being indexed" not in page.content.decode()


@pytest.mark.django_db
def test_a_short_import_is_indexed_at_once_even_with_a_worker(queueing, user, project):
    create(project, "Short note", "A note on extradition.\n")
    assert not QueuedDocument.objects.exists()
    assert not DBTaskResult.objects.exists()
    assert found(user, project, "extradited") == ["Short note"]


@pytest.mark.django_db
def test_a_bulk_import_over_the_limit_queues_every_document(queueing, user, project):
    items = [
        (f"Report {i} on extradition.\n" + "Filler line.\n" * (INDEX_NOW_CHARS // 60), meta)
        for i, meta in enumerate(services.DocumentMetadata(title=f"Report {i}") for i in range(6))
    ]
    documents = services.documents_create(user=None, project=project, items=items)
    assert set(QueuedDocument.objects.values_list("pk", flat=True)) == {d.pk for d in documents}
    assert index_queued.call() == 6
    assert sorted(found(user, project, "extradition")) == [f"Report {i}" for i in range(6)]
    assert index_queued.call() == 0


@pytest.mark.django_db
def test_a_changed_long_text_loses_its_old_chunks_at_once_and_is_queued_again(
    queueing, staff_user, user, project
):
    document = create(project, "Long report", LONG)
    index_queued.call()
    assert found(user, project, "extradited") == ["Long report"]
    changed = LONG.replace("extradition", "deportation")
    services.document_update(user=staff_user, document=document, text=changed)
    # Stale chunks would point into the old text: they are gone before the worker comes.
    assert not Chunk.objects.filter(document=document).exists()
    assert QueuedDocument.objects.filter(document=document).exists()
    assert found(user, project, "extradited") == []
    index_queued.call()
    assert found(user, project, "deported") == ["Long report"]
    assert found(user, project, "extradited") == []


@pytest.mark.django_db
def test_an_import_rolled_back_leaves_nothing_queued(queueing, project):
    create(project, "Long report", LONG)
    with pytest.raises(services.DuplicateDocument):
        create(project, "Again", LONG)
    assert QueuedDocument.objects.count() == 1
    assert DBTaskResult.objects.count() == 1


@pytest.mark.django_db
def test_reindex_search_queued_indexes_what_waits(queueing, user, project):
    create(project, "Long report", LONG)
    call_command("reindex_search", "--queued")
    assert not QueuedDocument.objects.exists()
    assert found(user, project, "extradited") == ["Long report"]


@pytest.mark.django_db
def test_a_failed_task_leaves_its_documents_queued_for_the_next(
    queueing, monkeypatch, user, project
):
    create(project, "Long report", LONG)

    def broken(documents, *, new=False):
        raise RuntimeError("disk full")

    monkeypatch.setattr("research.tasks.index_documents", broken)
    with pytest.raises(RuntimeError):
        index_queued.call()
    assert QueuedDocument.objects.count() == 1
    monkeypatch.undo()
    assert index_queued.call() == 1
    assert found(user, project, "extradited") == ["Long report"]


@pytest.mark.django_db
def test_the_api_search_says_how_many_documents_wait(queueing, client, user, project, bearer):
    create(project, "Long report", LONG)
    url = reverse("api:search", args=[project.pk])
    body = client.get(url, {"q": "extradited"}, headers=bearer(user)).json()
    assert (body["documents"], body["waiting"]) == (0, 1)
    index_queued.call()
    body = client.get(url, {"q": "extradited"}, headers=bearer(user)).json()
    assert (body["documents"], body["waiting"]) == (1, 0)


@pytest.mark.django_db
def test_without_a_worker_every_import_is_indexed_in_its_request(settings, user, project):
    settings.BACKGROUND_TASKS = False
    create(project, "Long report", LONG)
    assert not QueuedDocument.objects.exists()
    assert found(user, project, "extradited") == ["Long report"]
    assert Document.objects.count() == 1
