"""Which chunks hold a query's phrases: PostgreSQL's full-text index or SQLite's FTS5.

Both hold the terms of research/terms.py, so a query finds the same chunks on either; the
hits' offsets are then found in each chunk's text by the same functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.postgres.search import SearchVectorField
from django.db import connection, models
from django.db.models import Lookup

from . import sqlite
from .models import Chunk, DocumentTerms
from .terms import Phrase, tsvector


@SearchVectorField.register_lookup
class Matches(Lookup):
    """`terms__matches=<tsquery text>`: the query is cast, not parsed by to_tsquery(),
    whose parser and dictionaries (and the database's locale) would cut and change terms
    that research/terms.py has already cut."""

    lookup_name = "matches"

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} @@ ({rhs})::tsquery", [*lhs_params, *rhs_params]


def tsquery(group: Sequence[Phrase]) -> str:
    """A tsquery for chunks holding any phrase of `group`: 'a' <-> 'b' | 'c':*."""
    return " | ".join(_tsquery_phrase(phrase) for phrase in group)


def _tsquery_phrase(phrase: Phrase) -> str:
    parts = ["'" + term.replace("\\", "\\\\").replace("'", "''") + "'" for term in phrase.terms]
    if phrase.prefix:
        parts[-1] += ":*"
    return "(" + " <-> ".join(parts) + ")"


def chunks_matching(group: Sequence[Phrase]) -> models.QuerySet[Chunk]:
    """The chunks that hold any phrase of `group`."""
    if connection.vendor == "postgresql":
        return Chunk.objects.filter(terms__matches=tsquery(group))
    return Chunk.objects.filter(id__in=sqlite.chunk_ids(group))


def documents_matching(group: Sequence[Phrase]) -> models.QuerySet[Any]:
    """The ids (`document_id`) of the documents that hold any phrase of `group`: on
    PostgreSQL, words alone from the documents' terms (one index, one row a document),
    phrases of several terms from the chunks, which keep the terms' positions."""
    if connection.vendor == "postgresql" and all(len(phrase.terms) == 1 for phrase in group):
        return DocumentTerms.objects.filter(terms__matches=tsquery(group)).values("document_id")
    return chunks_matching(group).values("document_id")


def terms_value(found: Sequence[str]) -> str:
    """What a chunk stores, from its terms (terms.index_terms): the tsvector text on
    PostgreSQL, the terms separated by spaces for SQLite's FTS5 table."""
    if connection.vendor == "postgresql":
        return tsvector(found)
    return " ".join(found)
