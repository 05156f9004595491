"""Every read of the accounts app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django_otp.plugins.otp_static.models import StaticToken

from .models import AccessEvent


@dataclass(frozen=True)
class AccessEventFilter:
    username: str = ""
    kind: str = ""


def access_event_list(*, user: Any, filters: AccessEventFilter) -> QuerySet[AccessEvent]:
    """The access log as `user` may read it, newest first: all of it for site admins,
    nothing for anyone else."""
    if not (user.is_authenticated and user.is_staff):
        return AccessEvent.objects.none()
    events = AccessEvent.objects.all()
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
