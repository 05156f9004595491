"""The only hand-written SQL outside migrations: the statements of an API create on
PostgreSQL, beside the ORM versions that SQLite uses.

Why it exists: the anchor benchmark (docs/benchmarks.md) showed a create on an ordinary
document behind Taguette's, and most of our time went to the ORM building its queries, not
to PostgreSQL running them (about 0.4 ms a query). So on PostgreSQL:

- the API token with its user (and whether that user has two-factor on) is read in one
  plain statement (authentication._live_token is the ORM version), the rows turned into
  models by Django's own `Model.from_db`;
- an annotation is created in two statements where the ORM takes seven: one reads the
  locked document with the user's role and the tags asked for, one writes the annotation,
  its tag links, its document's list version and its activity row
  (services/annotations.py holds the checks, their order, and the ORM version, which a
  request with an API token limited to some projects also takes).

tests/test_postgresql.py runs both versions and compares what they read and write.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django_otp.plugins.otp_totp.models import TOTPDevice
from psycopg.types.json import Jsonb

from documents.models import MAX_ID, Annotation, ApiToken, Document, Tag

# The tags asked for are held FOR KEY SHARE, in id order and before the document (the
# InitPlan runs as the document's row is read, before that row is locked), the order in
# which every writer takes its locks (documents.services.codebook.hold_codes): a merge or
# retirement holding a tag (FOR UPDATE) is waited for and its outcome read, so that a
# passage is never written with a code retired meanwhile; creates do not wait for each
# other.
_LOCK = """
WITH held AS (
    SELECT t.id, t.slug, t.name, t.is_active, t.sort_order
      FROM documents_tag t
     WHERE t.project_id = (SELECT project_id FROM documents_document WHERE id = %(document)s)
       AND t.slug = ANY(%(slugs)s)
     ORDER BY t.id
       FOR KEY SHARE OF t
)
SELECT d.id, d.project_id, d.length, d.sha256,
       (SELECT m.role FROM projects_membership m
          JOIN projects_project p ON p.id = m.project_id
         WHERE m.project_id = d.project_id AND m.user_id = %(user)s
           AND (%(verified)s OR NOT p.require_mfa)) AS role,
       (SELECT coalesce(
                 json_agg(json_build_array(id, slug, name, is_active, sort_order)
                          ORDER BY sort_order, name),
                 '[]')
          FROM held) AS tags
  FROM documents_document d
 WHERE d.id = %(document)s
   FOR NO KEY UPDATE OF d
"""

# hold_codes's lock on its own, for the writers that take the document's row through the
# ORM. Django's select_for_update has no FOR KEY SHARE; its weakest lock, FOR NO KEY
# UPDATE, conflicts with itself, and would make every two writers of one code wait for
# each other.
_HOLD = """
SELECT t.id
  FROM documents_tag t
 WHERE t.project_id = (SELECT project_id FROM documents_document WHERE id = %(document)s)
   AND t.slug = ANY(%(slugs)s)
 ORDER BY t.id
   FOR KEY SHARE OF t
"""

_INSERT = """
WITH new AS (
    INSERT INTO documents_annotation
        (document_id, start, "end", quote, prefix, suffix, note, author_id, created, updated,
         version)
    VALUES (%(document)s, %(start)s, %(end)s, %(quote)s, %(prefix)s, %(suffix)s, %(note)s,
            %(author)s, %(created)s, %(created)s, 1)
    RETURNING id
), links AS (
    INSERT INTO documents_annotation_tags (annotation_id, tag_id)
    SELECT new.id, tag.id FROM new, unnest(%(tags)s::bigint[]) WITH ORDINALITY AS tag(id, n)
    ORDER BY tag.n
), listed AS (
    UPDATE documents_document SET annotations_version = %(version)s WHERE id = %(document)s
), logged AS (
    INSERT INTO documents_activity
        (actor_id, action, object_type, object_id, document_id, after, created)
    SELECT %(author)s, 'annotation.create', 'annotation', new.id, %(document)s, %(after)s,
           %(created)s
      FROM new
)
SELECT id FROM new
"""


def _columns(model: Any, alias: str) -> tuple[list[str], str]:
    names = [field.attname for field in model._meta.concrete_fields]
    return names, ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)


def live_token(key_hash: str) -> ApiToken | None:
    """The unrevoked token with this hash, with its user, if that user is active, and
    `user_has_mfa`, whether that user has two-factor on (as authentication._live_token
    reads it through the ORM)."""
    user_model = get_user_model()
    token_names, token_columns = _columns(ApiToken, "t")
    user_names, user_columns = _columns(user_model, "u")
    with connection.cursor() as cursor:
        cursor.execute(
            # Names from the models only; the one value is a parameter.
            f"SELECT {token_columns}, {user_columns},"
            f" EXISTS (SELECT 1 FROM {TOTPDevice._meta.db_table} d"
            "          WHERE d.user_id = u.id AND d.confirmed)"
            f" FROM {ApiToken._meta.db_table} t"
            f" JOIN {user_model._meta.db_table} u ON u.id = t.user_id"
            " WHERE t.key_hash = %s AND t.revoked_at IS NULL AND u.is_active",
            [key_hash],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    users_end = len(token_names) + len(user_names)
    token = ApiToken.from_db("default", token_names, row[: len(token_names)])
    token.user = user_model.from_db("default", user_names, row[len(token_names) : users_end])
    token.user_has_mfa = bool(row[users_end])  # type: ignore[attr-defined]
    return token


def applies(user: Any, tags: Sequence[Any]) -> bool:
    """Whether this module serves the create: on PostgreSQL, with tags given by slug, for a
    request not limited to some projects by its API token (the ORM applies that limit)."""
    return (
        connection.vendor == "postgresql"
        and getattr(user, "project_scope", None) is None
        and isinstance(tags, list | tuple)
        and all(isinstance(tag, str) for tag in tags)
    )


_SHARE = """
SELECT t.id FROM documents_tag t WHERE t.id = ANY(%(ids)s) ORDER BY t.id FOR KEY SHARE OF t
"""


def share_tags(ids: Sequence[int]) -> list[int]:
    """Hold tags `ids` FOR KEY SHARE, in id order, until the transaction ends (as
    hold_tags, for writers that know the ids); those still there."""
    with connection.cursor() as cursor:
        cursor.execute(_SHARE, {"ids": list(ids)})
        return [row[0] for row in cursor.fetchall()]


def hold_tags(document_id: int, slugs: Sequence[str]) -> list[int]:
    """Hold the tags of document `document_id`'s project among `slugs` FOR KEY SHARE, in
    id order, until the transaction ends (documents.services.codebook.hold_codes); their
    ids."""
    with connection.cursor() as cursor:
        cursor.execute(_HOLD, {"document": document_id, "slugs": list(slugs)})
        return [row[0] for row in cursor.fetchall()]


def locked_document(
    user: Any, document_id: int, slugs: Sequence[str]
) -> tuple[Document, str | None, list[Tag]] | None:
    """Document `document_id` (its id, project, length and SHA-256), its row locked until
    the end of the transaction, with the user's role in its project and the project's tags
    among `slugs` in codebook order; None when there is no such document or the user may
    not read it: not a member of its project, or a session without the second factor the
    project requires (as MembershipQuerySet.of rules; every role reads)."""
    if not 0 < document_id <= MAX_ID:
        return None
    params = {
        "user": user.pk,
        "verified": getattr(user, "mfa_verified", True) is not False,
        "slugs": list(slugs),
        "document": document_id,
    }
    with connection.cursor() as cursor:
        cursor.execute(_LOCK, params)
        row = cursor.fetchone()
    if row is None or row[4] is None:
        return None
    pk, project_id, length, sha256, role, tag_rows = row
    # As the ORM's .only() would: the fields not read load on first use. (from_db takes
    # the values in the order of the model's fields.)
    document = Document.from_db("default", _DOCUMENT_FIELDS, (pk, project_id, length, sha256))
    tags = [
        Tag.from_db("default", _TAG_FIELDS, (tag_id, project_id, name, slug, active, order))
        for tag_id, slug, name, active, order in tag_rows
    ]
    return document, role, tags


_DOCUMENT_FIELDS = ["id", "project_id", "length", "sha256"]
_TAG_FIELDS = ["id", "project_id", "name", "slug", "is_active", "sort_order"]


def insert(
    annotation: Annotation,
    tags: Sequence[Tag],
    after: Mapping[str, Any],
    created: datetime.datetime,
) -> int:
    """Write the new annotation, its tag links (in the order given), its document's new
    list version and its activity row, in one statement; returns the annotation's id."""
    with connection.cursor() as cursor:
        params: dict[str, Any] = {
            "document": annotation.document_id,
            "start": annotation.start,
            "end": annotation.end,
            "quote": annotation.quote,
            "prefix": annotation.prefix,
            "suffix": annotation.suffix,
            "note": annotation.note,
            "author": annotation.author_id,
            "created": created,
            "tags": [tag.pk for tag in tags],
            "version": uuid.uuid4(),
            "after": Jsonb(dict(after)),
        }
        cursor.execute(_INSERT, params)
        row = cursor.fetchone()
    assert row is not None
    return int(row[0])
