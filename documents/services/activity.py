"""The activity log's writer: every service that changes research data calls `log`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.contrib.auth.models import User
from django.db import models

from documents.models import Activity


def entry(
    *,
    actor: User | None,
    action: str,
    obj: models.Model,
    document_id: int | None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> Activity:
    """One row of the activity log, not yet written: `log` writes it, `log_all` writes many
    in one statement."""
    return Activity(
        actor=actor,
        action=action,
        object_type=obj._meta.model_name or "",
        object_id=obj.pk,
        document_id=document_id,
        before=dict(before) if before is not None else None,
        after=dict(after) if after is not None else None,
    )


def log(
    *,
    actor: User | None,
    action: str,
    obj: models.Model,
    document_id: int | None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> Activity:
    """Append one row to the activity log, in the caller's transaction."""
    row = entry(
        actor=actor, action=action, obj=obj, document_id=document_id, before=before, after=after
    )
    row.save(force_insert=True)
    return row


def log_all(rows: Sequence[Activity]) -> None:
    """Append rows made by `entry` to the activity log in one statement, in the caller's
    transaction."""
    Activity.objects.bulk_create(rows)
