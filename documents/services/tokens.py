"""API tokens: created and revoked by admins, stored only as their SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from documents.models import ApiToken
from projects.models import Membership

from .activity import log

#: Tokens start with this, so that secret scanners and people recognise them.
API_TOKEN_PREFIX = "sco_"


def api_token_hash(token: str) -> str:
    """The SHA-256 under which a token is stored: the database never holds a usable token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@transaction.atomic
def api_token_create(
    *,
    actor: User | None,
    user: User,
    name: str = "",
    read_only: bool = True,
    projects: Sequence[int] = (),
    issued_with_mfa: bool = False,
) -> tuple[ApiToken, str]:
    """Create a token for `user`; returns it with the plain token, which is never stored.
    With `projects` (ids of projects `user` is a member of) the token reaches those only;
    without, every project of its user. `issued_with_mfa`: made by someone who had given a
    second factor (the admin's session) or on the server's command line; only then may it
    reach projects that require two-factor authentication (accounts.mfa.token_missing).

    Show the plain token to its owner once: afterwards only its hash and first characters
    are known.
    """
    if not user.is_active:
        raise ValidationError(
            {"user": [f"{user.username} is inactive: activate the account first."]}
        )
    name = name.strip()
    if len(name) > 100:
        raise ValidationError({"name": ["At most 100 characters."]})
    chosen = sorted(set(projects))
    member_of = set(
        Membership.objects.filter(user=user, project_id__in=chosen).values_list(
            "project_id", flat=True
        )
    )
    strangers = [pk for pk in chosen if pk not in member_of]
    if strangers:
        raise ValidationError(
            {
                "projects": [
                    f"{user.username} is not a member of project "
                    f"{', '.join(f'#{pk}' for pk in strangers)}."
                ]
            }
        )
    plain = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=plain[:12],
        key_hash=api_token_hash(plain),
        read_only=read_only,
        limited=bool(chosen),
        issued_with_mfa=issued_with_mfa,
    )
    if chosen:
        token.projects.set(chosen)
    log(
        actor=actor,
        action="api_token.create",
        obj=token,
        document_id=None,
        after={
            "user": user.username,
            "name": name,
            "prefix": token.prefix,
            "read_only": read_only,
            "projects": chosen or "all",
            "issued_with_mfa": issued_with_mfa,
        },
    )
    return token, plain


@transaction.atomic
def api_token_revoke(*, actor: User | None, token: ApiToken) -> ApiToken:
    """Revoke a token for good: requests with it get 401 from now on."""
    if token.revoked_at is not None:
        return token
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    log(
        actor=actor,
        action="api_token.revoke",
        obj=token,
        document_id=None,
        before={"revoked": False},
        after={"revoked": True, "prefix": token.prefix, "user_id": token.user_id},
    )
    return token
