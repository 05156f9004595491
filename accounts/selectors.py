"""Every read of the accounts app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django_otp.plugins.otp_static.models import StaticToken

from .models import AccessEvent


@dataclass(frozen=True)
class AccessEventFilter:
    username: str = ""
    kind: str = ""


#: What a project's owners see of its members' own comings and goings.
_ACCOUNT_KINDS = [
    AccessEvent.Kind.LOGIN,
    AccessEvent.Kind.LOGIN_FAILED,
    AccessEvent.Kind.LOCKED_OUT,
    AccessEvent.Kind.LOGOUT,
    AccessEvent.Kind.MFA_ENABLED,
    AccessEvent.Kind.MFA_DISABLED,
    AccessEvent.Kind.RECOVERY_CODES_REGENERATED,
]


def may_read_access_log(user: Any) -> bool:
    """Site admins read all of it; a project's owners what concerns their projects."""
    from projects.models import Action, Membership

    if not user.is_authenticated:
        return False
    return bool(user.is_staff or Membership.objects.allowed(user, Action.MANAGE).exists())


def access_event_list(*, user: Any, filters: AccessEventFilter) -> QuerySet[AccessEvent]:
    """The access log as `user` may read it, newest first: all of it for site admins; for
    a project's owners, the events of their projects (exports, membership changes) and
    the logins, logouts and two-factor changes of their projects' members; nothing for
    anyone else."""
    from projects.models import Action, Membership

    if not user.is_authenticated:
        return AccessEvent.objects.none()
    if user.is_staff:
        events = AccessEvent.objects.all()
    else:
        owned = Membership.objects.allowed(user, Action.MANAGE).values("project_id")
        members = Membership.objects.filter(project_id__in=owned).values("user_id")
        events = AccessEvent.objects.filter(
            Q(project_id__in=owned) | Q(kind__in=_ACCOUNT_KINDS, user_id__in=members)
        )
    if filters.username:
        events = events.filter(username=filters.username)
    if filters.kind:
        events = events.filter(kind=filters.kind)
    return events.order_by("-created", "-pk")


def user_named(username: str) -> Any:
    """The account with this username, or None."""
    return get_user_model().objects.filter(username=username).first()


def recovery_codes_left(user: Any) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def user_get(pk: Any) -> Any:
    """The account with this primary key, or None."""
    if not isinstance(pk, int):
        return None
    return get_user_model().objects.filter(pk=pk).first()
