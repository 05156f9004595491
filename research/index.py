"""Keeping the search index current: each document's chunks and their terms.

The document services call `index_documents` in the transaction that stores the text, so
a document is searchable as soon as it exists; the text never changes once annotated and a
new text is indexed again. `reindex_search` (a command) rebuilds everything after a change
to research/terms.py.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection

from . import sqlite
from .models import Chunk
from .search import terms_value
from .terms import chunk_spans, index_terms


def index_documents(documents: Iterable[tuple[int, str]], *, new: bool = False) -> int:
    """(Re)index these (document id, text) pairs; the number of chunks written. `new`
    documents have no chunks yet: one query fewer (two statements in all on PostgreSQL,
    three on SQLite, for up to a thousand chunks)."""
    documents = list(documents)
    ids = [document_id for document_id, _ in documents]
    old = (
        [] if new else list(Chunk.objects.filter(document_id__in=ids).values_list("pk", flat=True))
    )
    if old:
        Chunk.objects.filter(pk__in=old).delete()
    chunks: list[Chunk] = []
    terms: list[str] = []
    for document_id, text in documents:
        for start, end in chunk_spans(text):
            value = terms_value(index_terms(text[start:end]))
            chunks.append(Chunk(document_id=document_id, start=start, end=end))
            terms.append(value)
    postgresql = connection.vendor == "postgresql"
    if postgresql:
        for chunk, value in zip(chunks, terms, strict=True):
            chunk.terms = value
    Chunk.objects.bulk_create(chunks, batch_size=1000)
    if not postgresql:
        sqlite.replace(old, [(c.pk, value) for c, value in zip(chunks, terms, strict=True)])
    return len(chunks)
