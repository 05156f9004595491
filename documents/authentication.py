"""API authentication: `Authorization: Bearer <token>` over hashed, revocable ApiTokens."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from accounts import mfa

from . import postgresql
from .models import ApiToken
from .services import api_token_hash

if TYPE_CHECKING:
    # Imported for types only: rest_framework.views imports this module through settings.
    from rest_framework.views import APIView

#: last_used_at is written at most this often per token, so that reads stay reads.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """Authenticate with a token created in the admin or by `create_api_token`."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            # No token: leave it to the session (the browser) or to a 401.
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the token as 'Authorization: Bearer <token>', with no spaces in the token."
            )
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("This token is not valid.") from None
        token = _live_token(api_token_hash(key))
        if token is None:
            raise exceptions.AuthenticationFailed("This token is not valid or has been revoked.")
        user = token.user
        # The access rule (projects.models.MembershipQuerySet.of) reads these: a token
        # limited to some projects reaches those only, and a project that requires
        # two-factor authentication only if the token may stand in for a second factor.
        missing = mfa.token_missing(
            issued_with_mfa=token.issued_with_mfa,
            user_has_mfa=token.user_has_mfa,  # type: ignore[attr-defined]
        )
        user.project_scope = token.project_scope()  # type: ignore[attr-defined]
        user.mfa_verified = missing is None  # type: ignore[attr-defined]
        user.mfa_missing = missing  # type: ignore[attr-defined]
        return user, token

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) without credentials, naming the scheme to use.
        return f'{self.keyword} realm="api"'


def _live_token(key_hash: str) -> ApiToken | None:
    """The unrevoked token with this hash, with its user, if that user is active, and
    `user_has_mfa` (whether that user has two-factor on); its last_used_at is brought up to
    date (to the minute, so that reads stay reads). On PostgreSQL read by one plain
    statement (documents/postgresql.py), elsewhere by the ORM."""
    if connection.vendor == "postgresql":
        token = postgresql.live_token(key_hash)
    else:
        token = (
            ApiToken.objects.select_related("user")
            .filter(key_hash=key_hash, revoked_at__isnull=True, user__is_active=True)
            .annotate(user_has_mfa=mfa.has_authenticator_column("user_id"))
            .first()
        )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or token.last_used_at <= now - LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


class TokenScopePermission(permissions.BasePermission):
    """Logged in, and a read-only token only reads."""

    message = "This token is read-only: create a read-write token to change anything."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        return not (isinstance(request.auth, ApiToken) and request.auth.read_only)


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Describes the token scheme in the OpenAPI schema (and the docs' Authorize button)."""

    target_class = "documents.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token from the admin or `manage.py create_api_token`.",
        }
