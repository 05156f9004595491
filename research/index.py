"""Keeping the search index current: each document's chunks and their terms.

The document services call `index_or_queue` in the transaction that stores the text. A
short text is indexed there and then, so it is searchable as soon as it exists. A long
import (over INDEX_NOW_CHARS in all) is queued instead when a background worker runs
(settings.BACKGROUND_TASKS): cutting a million characters into terms takes half a second,
which the import's answer need not wait for. The text never changes once annotated; a
changed text is indexed again. `reindex_search` (a command) rebuilds everything after a
change to research/terms.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.conf import settings
from django.db import connection

from . import sqlite
from .models import Chunk, DocumentTerms, QueuedDocument
from .search import terms_value
from .terms import chunk_spans, index_terms, lexeme_rows

# Up to this many characters in one call are indexed at once even with a worker: about
# 50 ms of cutting terms, and the document is found by the next search.
INDEX_NOW_CHARS = 100_000


def index_or_queue(documents: Sequence[tuple[int, str]], *, new: bool = False) -> None:
    """Index these (document id, text) pairs now, or queue them for the background worker;
    called in the transaction that stores the texts (`new`: stored just now)."""
    ids = [document_id for document_id, _ in documents]
    if not new:
        # A changed text (its document locked by the caller, which the worker respects):
        # whatever was queued for the old text is done with.
        QueuedDocument.objects.filter(pk__in=ids).delete()
    if not settings.BACKGROUND_TASKS or sum(len(text) for _, text in documents) <= INDEX_NOW_CHARS:
        index_documents(documents, new=new)
        return
    from .tasks import index_queued  # the task module imports this one

    if not new:
        # The old chunks point into the old text: they go now, not when the worker comes.
        drop_chunks(ids)
    QueuedDocument.objects.bulk_create([QueuedDocument(document_id=pk) for pk in ids])
    # The task is a row written in this transaction too (django-tasks-db): the worker sees
    # it when the texts are committed, and never if they are rolled back.
    index_queued.enqueue()


def drop_chunks(ids: Sequence[int]) -> list[int]:
    """Delete the chunks (and on SQLite their terms, on PostgreSQL the documents' terms) of
    these documents; the chunks' ids."""
    if connection.vendor == "postgresql":
        DocumentTerms.objects.filter(document_id__in=ids).delete()
    old = list(Chunk.objects.filter(document_id__in=ids).values_list("pk", flat=True))
    if old:
        Chunk.objects.filter(pk__in=old).delete()
        if connection.vendor != "postgresql":
            sqlite.replace(old, [])
    return old


def index_documents(documents: Iterable[tuple[int, str]], *, new: bool = False) -> int:
    """(Re)index these (document id, text) pairs; the number of chunks written. `new`
    documents have no chunks yet: one query fewer (three statements in all on PostgreSQL,
    three on SQLite, for up to a thousand chunks)."""
    documents = list(documents)
    if not new:
        drop_chunks([document_id for document_id, _ in documents])
    postgresql = connection.vendor == "postgresql"
    chunks: list[Chunk] = []
    terms: list[str] = []
    whole: list[DocumentTerms] = []
    for document_id, text in documents:
        distinct: set[str] = set()
        for start, end in chunk_spans(text):
            found = index_terms(text[start:end])
            chunks.append(Chunk(document_id=document_id, start=start, end=end))
            terms.append(terms_value(found))
            distinct.update(found)
        if postgresql:
            whole.extend(
                DocumentTerms(document_id=document_id, bucket=bucket, part=part, terms=value)
                for bucket, part, value in lexeme_rows(distinct)
            )
    if postgresql:
        for chunk, value in zip(chunks, terms, strict=True):
            chunk.terms = value
        DocumentTerms.objects.bulk_create(whole, batch_size=500)
    Chunk.objects.bulk_create(chunks, batch_size=1000)
    if not postgresql:
        sqlite.replace([], [(c.pk, value) for c, value in zip(chunks, terms, strict=True)])
    return len(chunks)
