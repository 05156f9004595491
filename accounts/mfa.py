"""Two-factor authentication: who must have it, and what this session has proven.

`mfa_required` is the one place that decides whether a user must use a second factor;
the middleware, the pages and the tests ask it and nothing else.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django_otp import user_has_device

#: In the session: the second factor was given at login (or set up) in this session.
VERIFIED_KEY = "accounts_mfa_verified"


def mfa_required(user: Any) -> bool:
    """Whether `user` must set up two-factor authentication before using the app.

    Site admins must, unless MFA_REQUIRED_FOR_ADMINS is off. A project whose owner
    requires it (Project.require_mfa) asks it of its members in its own place: the access
    rule shows such a project nothing of its data until the session has given a second
    factor (projects.models.MembershipQuerySet.of), and its page says how to set it up.
    """
    if not user.is_authenticated:
        return False
    return settings.MFA_REQUIRED_FOR_ADMINS and (user.is_staff or user.is_superuser)


def has_mfa(user: Any) -> bool:
    """Whether `user` has set up two-factor authentication (a confirmed authenticator)."""
    return bool(user.is_authenticated and user_has_device(user, confirmed=True))


def is_verified(session: SessionBase) -> bool:
    return bool(session.get(VERIFIED_KEY))


def mark_verified(session: SessionBase, verified: bool = True) -> None:
    if verified:
        session[VERIFIED_KEY] = True
    else:
        session.pop(VERIFIED_KEY, None)
