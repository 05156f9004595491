"""The activity log's writer: every service that changes research data calls `log`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import User
from django.db import models

from documents.models import Activity


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
    return Activity.objects.create(
        actor=actor,
        action=action,
        object_type=obj._meta.model_name or "",
        object_id=obj.pk,
        document_id=document_id,
        before=dict(before) if before is not None else None,
        after=dict(after) if after is not None else None,
    )
