"""The versions that name what one document's list of annotations shows.

The API keeps a document's formatted list, and names it in its ETag, under the document's
`annotations_version` and the one SharedVersion row (selectors.document_list_version). The
services change them here, in the same transaction as the change, so a kept list is served
only while it is current: a new kind of change that the list shows must call one of these.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User
from django.db import connection
from django.db.models import F, QuerySet
from django.utils import timezone

from documents.models import Annotation, Document, SharedVersion


def document_list_changed(document_id: int) -> None:
    """Give a document's list of annotations a new version: every change to its annotations
    or their tags calls this."""
    Document.objects.filter(pk=document_id).update(annotations_version=uuid.uuid4())


def documents_list_changed(document_ids: Iterable[int] | QuerySet[Any, Any]) -> None:
    """`document_list_changed` for many documents at once (ids or an id queryset)."""
    Document.objects.filter(pk__in=document_ids).update(annotations_version=uuid.uuid4())


def shared_list_changed() -> None:
    """Give every document's list a new version: a change to the codebook or to a user's
    name (documents/signals.py calls this whatever made the change, the Django admin
    included)."""
    if not SharedVersion.objects.filter(pk=SharedVersion.ROW).update(token=uuid.uuid4()):
        SharedVersion.objects.get_or_create(pk=SharedVersion.ROW)


def codebook_lock() -> None:
    """Hold the SharedVersion row until the transaction ends: every change to a codebook
    (and a user's rename) takes it first, so that they run one after another.

    They would otherwise wait for each other in a circle: a change to a code holds its row
    and then writes this row (shared_list_changed), while a new child of the same code
    writes this row and then, at commit, checks its parent (PostgreSQL checks Django's
    foreign keys at the end of the transaction, taking a lock on the parent's row).
    Codebook changes are rare and short; passages are not held up by this row.
    SQLite runs one writing transaction at a time and needs none of this."""
    if connection.vendor == "sqlite":
        return
    row = SharedVersion.objects.select_for_update().filter(pk=SharedVersion.ROW)
    if not list(row.values_list("pk")):
        SharedVersion.objects.get_or_create(pk=SharedVersion.ROW)
        list(row.values_list("pk"))


def user_renaming(user: User) -> None:
    """Before user `user`'s new name is written (the row of a unique name is then locked
    until the transaction ends, and every passage or activity row the user writes checks
    it at commit): take first what user_renamed will need, the shared row and the user's
    passages (in id order), so that the user's own writes, or a codebook change, finish
    first rather than wait for the user's row in a circle. Outside a transaction (nothing
    else is held then) and on SQLite there is nothing to order."""
    if connection.vendor == "sqlite" or not connection.in_atomic_block:
        return
    codebook_lock()
    list(
        Annotation.objects.select_for_update(no_key=True, of=("self",))
        .filter(author=user)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def user_renamed(user: User) -> None:
    """A new username is a new `author` on each of the user's annotations: they get a new
    `updated` and version, so that a client that syncs with `updated_after` sees it."""
    # The shared row first, as a codebook change takes it (codebook_lock), before the
    # passages that a merge may be holding.
    shared_list_changed()
    Annotation.objects.filter(author=user).update(updated=timezone.now(), version=F("version") + 1)
