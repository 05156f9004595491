"""What every page's navigation needs to know about the user's projects."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .models import Action, Membership


def navigation(request: HttpRequest) -> dict[str, Any]:
    # Lazy: read only by a page that shows the navigation, once.
    def may_import() -> bool:
        return Membership.objects.allowed(request.user, Action.IMPORT).exists()

    return {"may_import_somewhere": SimpleLazyObject(may_import)}
