"""Two-factor authentication: who must have it, and what this session has proven.

`mfa_required` is the one place that decides whether a user must use a second factor;
the middleware, the pages and the tests ask it and nothing else.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.db.models import Exists, OuterRef
from django_otp import user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

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


def has_authenticator(user: Any) -> bool:
    """Whether `user` has two-factor on (a confirmed authenticator app), as the API token's
    rule reads it (token_missing, has_authenticator_column)."""
    return TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).exists()


def has_authenticator_column(user_column: str) -> Exists:
    """has_authenticator of the user named by the outer query's `user_column`, to be read
    along with them."""
    return Exists(TOTPDevice.objects.filter(user_id=OuterRef(user_column), confirmed=True))


#: Why a request has not given the second factor that a project requires, and what to do:
#: the key is `user.mfa_missing`, set beside `user.mfa_verified` (a session's: "session").
UNLOCK = {
    "session": "Log out and in again with your two-factor code, or set up two-factor "
    "authentication on the page /accounts/2fa/ first.",
    "user": "This API token's user has no two-factor authentication: once they set it up "
    "(on the page /accounts/2fa/), the token reaches the project.",
    "token": "This API token was made without a second factor: ask an admin who logged in "
    "with their two-factor code for a new token (or make one with `manage.py "
    "create_api_token` on the server), and revoke this one.",
}


def token_missing(*, issued_with_mfa: bool, user_has_mfa: bool) -> str | None:
    """The rule for API tokens: what a token lacks to reach a project that requires
    two-factor authentication (a key of UNLOCK), or None when it may.

    A token is a password that never asks for a code, so it stands in for a session that
    gave one only when both hold: it was made by someone who had given a second factor
    (an admin logged in with their code) or on the server's command line (whoever runs it
    holds the database already), and its user has two-factor on now (as a member without
    it sees nothing of such a project in the browser either; turning it off, or an admin
    turning it off for them, stops their tokens there too)."""
    if not issued_with_mfa:
        return "token"
    if not user_has_mfa:
        return "user"
    return None


def locked_message(user: Any, project_name: str) -> str:
    """The refusal of a project that requires a second factor `user` has not given."""
    reason = UNLOCK.get(getattr(user, "mfa_missing", "session"), UNLOCK["session"])
    return f"{project_name} requires two-factor authentication. {reason}"


def is_verified(session: SessionBase) -> bool:
    return bool(session.get(VERIFIED_KEY))


def mark_verified(session: SessionBase, verified: bool = True) -> None:
    if verified:
        session[VERIFIED_KEY] = True
    else:
        session.pop(VERIFIED_KEY, None)
