"""The search index on SQLite, the embedded default: an FTS5 table of each chunk's terms.

FTS5 is reached only through SQL (it is a virtual table, which the ORM does not model), so
that SQL is here, in one place. PostgreSQL keeps the same terms in `Chunk.terms` (see
research/search.py); both are filled from research/terms.py, so both find the same chunks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.models.expressions import RawSQL

from .terms import Phrase

TABLE = "research_chunk_terms"


#: The ASCII characters other than letters and digits, which the "ascii" tokenizer takes
#: for separators, and what they are written as inside a term: code points of the Private
#: Use Area, which no word holds (terms.word_term folds a few letters into such ASCII: "⑴"
#: is "(1)", "ͺ" is " ι"). Without this, FTS5 would cut "(1)" into "1" and find it
#: wherever a 1 is, where the hits (from the terms themselves) are none.
_TOKEN_CHARS = {code: chr(0xF700 + code) for code in range(128) if not chr(code).isalnum()}


def terms_text(terms: Iterable[str]) -> str:
    """What the FTS5 table stores for a chunk's terms: each written as one token, the
    terms separated by spaces."""
    return " ".join(term.translate(_TOKEN_CHARS) for term in terms)


def create_table(schema_editor: BaseDatabaseSchemaEditor) -> None:
    # The terms are already cut and folded (research/terms.py), and written by terms_text:
    # the "ascii" tokenizer splits at the spaces between them and keeps each whole.
    schema_editor.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5(terms, tokenize = 'ascii')"
    )


def drop_table(schema_editor: BaseDatabaseSchemaEditor) -> None:
    schema_editor.execute(f"DROP TABLE IF EXISTS {TABLE}")


def replace(removed: Sequence[int], added: Iterable[tuple[int, str]]) -> None:
    """Drop the terms of the chunks `removed` and store those of `added` (id, terms)."""
    with connection.cursor() as cursor:
        for at in range(0, len(removed), 500):
            ids = removed[at : at + 500]
            cursor.execute(
                f"DELETE FROM {TABLE} WHERE rowid IN ({', '.join(['%s'] * len(ids))})", ids
            )
        cursor.executemany(f"INSERT INTO {TABLE} (rowid, terms) VALUES (%s, %s)", list(added))


def clear() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE}")


def match_expression(group: Sequence[Phrase]) -> str:
    """An FTS5 query for chunks holding any phrase of `group`."""
    return " OR ".join(_phrase(phrase) for phrase in group)


def _phrase(phrase: Phrase) -> str:
    # One quoted string per phrase: the tokenizer cuts it at the spaces into the phrase's
    # terms (written as stored: no space or quote left in them), and FTS5 reads nothing
    # inside it as syntax. A prefix is the string followed by *, which applies to its
    # last term.
    return '"' + terms_text(phrase.terms) + '"' + (" *" if phrase.prefix else "")


def chunk_ids(group: Sequence[Phrase]) -> RawSQL:
    """The ids of the chunks that hold any phrase of `group`, as a subquery."""
    return RawSQL(f"SELECT rowid FROM {TABLE} WHERE {TABLE} MATCH %s", (match_expression(group),))
