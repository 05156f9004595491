"""Sessions in the database, as Django's own backend keeps them, read with plain SQL.

Every request of a logged-in analyst starts by reading its session. Django's backend reads
it with `Session.objects.get()`, whose query building costs about three times what
PostgreSQL takes to answer; this one sends the same statement directly. Everything else
(writing, expiry, logout, key rotation) is Django's.
"""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone


class SessionStore(db.SessionStore):
    def load(self) -> dict[str, Any]:
        model = self.model
        connection = connections[router.db_for_read(model)]
        expire_date = model._meta.get_field("expire_date")
        with connection.cursor() as cursor:
            cursor.execute(
                f'SELECT "session_data" FROM "{model._meta.db_table}" '
                'WHERE "session_key" = %s AND "expire_date" > %s',
                [self.session_key, expire_date.get_db_prep_value(timezone.now(), connection)],
            )
            row = cursor.fetchone()
        if row is None:
            # As Django's backend does: an unknown or expired key is forgotten, so that the
            # next save creates a new session under a new key.
            self._session_key = None
            return {}
        decoded: dict[str, Any] = self.decode(row[0])
        return decoded
