"""Django's model backend, with each request's user read in one plain statement."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db import connection

from . import rows


class UserBackend(ModelBackend):
    """Logging in, permissions and everything else are ModelBackend's.

    Every logged-in request reads its user by id; `Manager.get()` builds that query anew
    each time, at several times the cost of running it (see sco_annotate/sessions.py).
    """

    def get_user(self, user_id: Any) -> Any:
        # user_id comes from the session, already converted by the primary key field.
        model = get_user_model()
        names = rows.field_names(model)
        with connection.cursor() as cursor:
            cursor.execute(
                f'SELECT {rows.columns(model, names)} FROM "{model._meta.db_table}" '
                f'WHERE "{model._meta.pk.column}" = %s',
                [user_id],
            )
            row = cursor.fetchone()
        if row is None:
            return None
        user = rows.from_row(model, names, row)
        return user if self.user_can_authenticate(user) else None
