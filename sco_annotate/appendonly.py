"""Records that are written once and never changed: the activity log, a memo's revisions.

A model mixes in `AppendOnly` (before models.Model) and takes `AppendOnlyQuerySet` as its
manager; its `append_only` names it in the refusal. Bulk updates and deletes are refused
as well as a change or delete of one row.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models


class AppendOnlyQuerySet(models.QuerySet[Any]):
    def update(self, **kwargs: Any) -> int:
        raise TypeError(f"{self.model.append_only} append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError(f"{self.model.append_only} append-only.")


class AppendOnly:
    #: What the refusal calls the records, before "append-only": "The activity log is".
    append_only: ClassVar[str] = "These records are"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:  # type: ignore[attr-defined]
            raise TypeError(f"{self.append_only} append-only.")
        super().save(*args, **kwargs)  # type: ignore[misc]

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError(f"{self.append_only} append-only.")
