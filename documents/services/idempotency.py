"""Idempotency-Key: a create that is safe to retry.

A client that sends POST /api/v1/annotations/ and loses the answer (a timeout, a dropped
connection) cannot tell whether the annotation was made. With an Idempotency-Key header it
simply sends the request again: the key, a hash of the body and the annotation made are
stored in the same transaction as the annotation, so a retry finds them and answers the
same annotation. Keys are per user and forgotten after KEEP (each keyed request forgets the
old ones, so no scheduled job is needed).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from documents.models import Annotation, IdempotencyKey

#: How long a key is remembered (the IETF draft's examples use 24 hours as well).
KEEP = datetime.timedelta(hours=24)

#: 1 to 255 printable ASCII characters.
KEY_PATTERN = re.compile(r"[\x20-\x7e]{1,255}")


class KeyReused(Exception):
    """The key was used before for a request with another body."""


def request_hash(data: Any) -> str:
    """SHA-256 of the parsed body as canonical JSON: the same request sent with other
    whitespace or key order is the same request."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def forget_expired() -> int:
    """Delete the keys older than KEEP; the number deleted."""
    deleted, _ = IdempotencyKey.objects.filter(created__lt=timezone.now() - KEEP).delete()
    return deleted


def create_once(
    *, user: User, key: str, data: Any, create: Callable[[], Annotation]
) -> tuple[Annotation, bool]:
    """The annotation `create()` makes, or the one a request with the same key and body
    made before; and whether it was made before. Raises KeyReused if the key came with
    another body."""
    digest = request_hash(data)
    forget_expired()
    found = _find(user, key, digest)
    if found is not None:
        return found, True
    try:
        with transaction.atomic():
            annotation = create()
            IdempotencyKey.objects.create(
                user=user, key=key, request_hash=digest, annotation=annotation
            )
    except IntegrityError:
        # A retry raced with the request itself and lost: the unique (user, key) refused
        # its key and rolled its annotation back with it. The winner's is the answer.
        found = _find(user, key, digest)
        if found is None:
            raise
        return found, True
    return annotation, False


def _find(user: User, key: str, digest: str) -> Annotation | None:
    stored = (
        IdempotencyKey.objects.filter(user=user, key=key, created__gte=timezone.now() - KEEP)
        .select_related("annotation__author")
        .first()
    )
    if stored is None:
        return None
    if stored.request_hash != digest:
        raise KeyReused(key)
    return stored.annotation
