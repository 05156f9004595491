"""The two limits of a session: idle time and absolute lifetime.

Django's own expiry (SESSION_COOKIE_AGE) slides forward each time the session is saved,
so it bounds neither: the session keeps when it started and when it was last used.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest

STARTED_KEY = "accounts_started"
SEEN_KEY = "accounts_seen"
#: Last activity is written at most this often, so that reads stay reads.
ACTIVITY_RESOLUTION_SECONDS = 60


def start_clocks(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    """At login (the user_logged_in signal): the session starts now."""
    now = int(time.time())
    request.session[STARTED_KEY] = now
    request.session[SEEN_KEY] = now


def expiry(session: SessionBase, now: int | None = None) -> str | None:
    """Why a logged-in session has ended ("idle" or "lifetime"), or None if it goes on.

    A session still in use has its last activity brought up to date, at most once a minute.
    """
    if SESSION_KEY not in session:
        return None
    now = int(time.time()) if now is None else now
    started, seen = session.get(STARTED_KEY), session.get(SEEN_KEY)
    if not isinstance(started, int) or not isinstance(seen, int):
        # A session from before these limits: its clocks start now.
        session[STARTED_KEY] = session[SEEN_KEY] = now
        return None
    if now - started > settings.SESSION_COOKIE_AGE:
        return "lifetime"
    if now - seen > settings.SESSION_IDLE_SECONDS:
        return "idle"
    if now - seen >= ACTIVITY_RESOLUTION_SECONDS:
        session[SEEN_KEY] = now
    return None
