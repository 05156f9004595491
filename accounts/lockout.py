"""Login throttling with django-axes: two limits, and the login page when locked out.

Failures are counted for the username and address together (LOGIN_FAILURE_LIMIT) and for
the address alone (LOGIN_ADDRESS_FAILURE_LIMIT, higher). So an attacker guessing one
researcher's password is stopped after a few tries without locking that researcher out
from anywhere else, and an address trying many usernames is stopped as a whole. A locked
out attempt is refused by axes' backend before the password hasher runs.

Admins lift a lockout by deleting its access attempts in the Django admin (Axes → Access
attempts) or with `manage.py axes_reset_username NAME`, `axes_reset_ip ADDRESS` or
`axes_reset`. Lockouts also end LOGIN_LOCKOUT_MINUTES after the last failure.
"""

from __future__ import annotations

from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .views import login_page_context


class LockoutHandler(AxesDatabaseHandler):
    """Axes' database handler with a limit for each of AXES_LOCKOUT_PARAMETERS.

    Axes compares one count with one limit (AXES_FAILURE_LIMIT, the username-and-address
    limit): the address's failures are scaled so that it reaches that limit at
    LOGIN_ADDRESS_FAILURE_LIMIT.
    """

    def get_failures(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        pair, address = (
            attempts.aggregate(failures=Sum("failures_since_start"))["failures"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        scaled = address * settings.LOGIN_FAILURE_LIMIT // settings.LOGIN_ADDRESS_FAILURE_LIMIT
        return max(pair, scaled)

    def reset_user_attempts(
        self, request: HttpRequest, credentials: dict[str, Any] | None = None
    ) -> int:
        # A successful login forgets that account's failures from this address only: an
        # attacker's own account must not reset the address's count.
        pair = self.filter_user_attempts(request, credentials)[0]
        count, _ = pair.delete()
        return count


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any
) -> HttpResponse:
    """The login page with the lockout's message (AXES_LOCKOUT_CALLABLE), 429."""
    context = {
        "form": AuthenticationForm(request),
        "locked_out": True,
        "lockout_minutes": settings.LOGIN_LOCKOUT_MINUTES,
        "next": request.POST.get("next", ""),
        **login_page_context(),
    }
    return render(request, "registration/login.html", context, status=429)
