"""Which chunks hold a query's phrases: PostgreSQL's full-text index or SQLite's FTS5.

Both hold the terms of research/terms.py, so a query finds the same chunks on either; the
hits' offsets are then found in each chunk's text by the same functions.
"""

from __future__ import annotations

import contextlib
import functools
import operator
from collections.abc import Iterator, Sequence
from typing import Any

from django.contrib.postgres.search import SearchVectorField
from django.db import connection, models
from django.db.models import Exists, Lookup, OuterRef, Q

from . import sqlite
from .models import Chunk, DocumentTerms
from .terms import Phrase, Query, term_bucket, tsvector


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


def tsquery(group: Sequence[Phrase], joiner: str = " <-> ") -> str:
    """A tsquery for chunks holding any phrase of `group`: 'a' <-> 'b' | 'c':*; with the
    joiner " & ", holding all of a phrase's terms in any order."""
    return " | ".join(_tsquery_phrase(phrase, joiner) for phrase in group)


def _tsquery_phrase(phrase: Phrase, joiner: str = " <-> ") -> str:
    """The phrase's terms in order (or, joined by " & ", in any order)."""
    parts = ["'" + term.replace("\\", "\\\\").replace("'", "''") + "'" for term in phrase.terms]
    if phrase.prefix:
        parts[-1] += ":*"
    return "(" + joiner.join(parts) + ")"


def chunks_matching(group: Sequence[Phrase]) -> models.QuerySet[Chunk]:
    """The chunks that hold any phrase of `group`."""
    if connection.vendor == "postgresql":
        return Chunk.objects.filter(terms__matches=tsquery(group))
    return Chunk.objects.filter(id__in=sqlite.chunk_ids(group))


def chunks_to_read(group: Sequence[Phrase]) -> models.QuerySet[Chunk]:
    """The chunks in which to look for the hits of `group`'s phrases: on PostgreSQL those
    holding all the terms of one of them, in any order (a few more than hold a phrase),
    which the index answers without reading the chunks' terms (a phrase's order needs
    them: for a common phrase, those of thousands of chunks outside the documents asked
    for); the phrases are then found in the text."""
    if connection.vendor == "postgresql":
        return Chunk.objects.filter(terms__matches=tsquery(group, " & "))
    return chunks_matching(group)


def documents_matching(group: Sequence[Phrase]) -> Q:
    """A condition on documents: that they hold any phrase of `group`.

    On PostgreSQL, words are read from the documents' terms, each from its own bucket's
    rows (models.DocumentTerms). A phrase of several terms needs the chunks, which keep
    the terms' positions; but only one chunk of a document has to hold it, so each
    document that holds all of a phrase's words (the documents' terms again) is asked for
    one such chunk, in its chunks' index, instead of every chunk holding the phrase being
    read (for a phrase of words found in most documents, three chunks in four). A phrase
    of ideographs is the exception (below).
    """
    if connection.vendor != "postgresql":
        return Q(pk__in=chunks_matching(group).values("document_id"))
    if all(len(phrase.terms) == 1 for phrase in group):
        rows = functools.reduce(operator.or_, (_rows_holding(p.terms[0], p.prefix) for p in group))
        return Q(pk__in=DocumentTerms.objects.filter(rows).values("document_id"))
    if all(phrase.ideographs for phrase in group):
        # Pairs of ideographs are many and each is rare, so that the chunks holding all of
        # a phrase's pairs are few (in the benchmark, 5,995 for a phrase found in 1,448
        # documents): read from the chunks' index, they are found in half the time that
        # asking each document for each pair takes.
        return Q(pk__in=chunks_matching(group).values("document_id"))
    return functools.reduce(operator.or_, (_documents_holding(phrase) for phrase in group))


def _rows_holding(term: str, prefix: bool) -> Q:
    """The rows of documents' terms that hold `term` (as a prefix: any term it starts,
    found in every bucket)."""
    held = Q(terms__matches=_tsquery_phrase(Phrase((term,), prefix)))
    return held if prefix else held & Q(bucket=term_bucket(term))


def _documents_holding(phrase: Phrase) -> Q:
    """Documents holding the phrase: all of its words (each in its own rows of the
    documents' terms), then one chunk holding them in order."""
    last = len(phrase.terms) - 1
    # Each distinct word once, in the phrase's order (a dict keeps it; "right to a right"
    # asks for "right" once), the last one a prefix if the phrase ends in one.
    words = {(term, phrase.prefix and i == last): None for i, term in enumerate(phrase.terms)}
    held = Q()
    for term, prefix in words:
        rows = DocumentTerms.objects.filter(_rows_holding(term, prefix))
        held &= Q(pk__in=rows.values("document_id"))
    if last:
        chunk = Chunk.objects.filter(document_id=OuterRef("pk"), terms__matches=tsquery([phrase]))
        held &= Q(Exists(chunk))
    return held


def has_phrases(query: Query) -> bool:
    """Whether the query looks for a phrase of several terms (documents_matching reads the
    chunks for it)."""
    return any(len(phrase.terms) > 1 for phrase in [*query.phrases, *query.excluded])


@contextlib.contextmanager
def planned_each_time(wanted: bool = True) -> Iterator[None]:
    """Statements run inside are planned for their own values on every run, not from the
    generic plan of a prepared statement (settings: DATABASE_PREPARED_STATEMENTS).

    A generic plan cannot know how many chunks hold a phrase and takes them for few: it
    reads every chunk holding it (a fifth of a second for a phrase found in most
    documents), where a plan made for the phrase asks each candidate document for one.
    Searches for words are prepared as usual: any plan reads a word from its bucket's rows
    of the documents' terms (a prefix from every bucket's, through their index)."""
    if not wanted or connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    driver = connection.connection
    threshold = driver.prepare_threshold
    driver.prepare_threshold = None  # psycopg: prepare nothing, use no prepared statement
    try:
        yield
    finally:
        driver.prepare_threshold = threshold


def terms_value(found: Sequence[str]) -> str:
    """What a chunk stores, from its terms (terms.index_terms): the tsvector text on
    PostgreSQL, the text of sqlite.terms_text for SQLite's FTS5 table."""
    if connection.vendor == "postgresql":
        return tsvector(found)
    return sqlite.terms_text(found)
