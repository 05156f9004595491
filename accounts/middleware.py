"""Session limits and the second factor site admins must have, for every request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, resolve_url
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from sco_annotate.middleware import error_response, is_api

from . import mfa, sessions
from .models import AccessEvent
from .services import access_event

ENDED = {
    "idle": "You were logged out after {minutes} minutes without activity. Log in again.",
    "lifetime": "Your session ended {hours} hours after you logged in. Log in again.",
}


def mfa_setup_allowed(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view as open to a user who must still set up two-factor (the setup page,
    logout), as Django's login_not_required marks views open to anyone."""
    view.mfa_setup_allowed = True  # type: ignore[attr-defined]
    return view


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _to(request: HttpRequest, url: str) -> HttpResponseBase:
    """A redirect; for htmx, HX-Redirect, so that the whole page goes there instead of the
    page being swapped into a fragment."""
    if _is_htmx(request):
        return HttpResponseClientRedirect(url)
    return redirect(url)


class SessionLimitsMiddleware:
    """End a session after SESSION_IDLE_SECONDS without a request or SESSION_LIFETIME_SECONDS
    after login: back to the login page with a message (the API answers 401 as for anyone
    logged out). Also turns the login page's redirect of an htmx request into HX-Redirect."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        reason = sessions.expiry(request.session)
        if reason is not None:
            ended = self._end(request, reason)
            if ended is not None:
                return ended
        response = self.get_response(request)
        login_url = resolve_url(settings.LOGIN_URL)
        if (
            _is_htmx(request)
            and response.status_code == 302
            and response["Location"].startswith(login_url)
        ):
            return HttpResponseClientRedirect(response["Location"])
        return response

    def _end(self, request: HttpRequest, reason: str) -> HttpResponseBase | None:
        access_event(kind=AccessEvent.Kind.LOGOUT, request=request, detail={"ended": reason})
        logout(request)
        if is_api(request):
            return None
        messages.info(
            request,
            ENDED[reason].format(
                minutes=settings.SESSION_IDLE_SECONDS // 60,
                hours=settings.SESSION_COOKIE_AGE // 3600,
            ),
        )
        htmx = getattr(request, "htmx", None)
        page = htmx.current_url_abs_path if htmx else request.get_full_path()
        query = f"?{urlencode({'next': page})}" if page and request.method == "GET" else ""
        return _to(request, reverse("login") + query)


class MfaRequiredMiddleware:
    """Send a user who must have two-factor (accounts.mfa.mfa_required) and has not given
    it in this session to the setup page, from every page but those marked
    @mfa_setup_allowed, the Django admin included."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: Any,
        view_kwargs: Any,
    ) -> HttpResponseBase | None:
        user = request.user
        if user.is_authenticated:
            # The access rule reads it: a project that requires two-factor shows nothing to
            # a session that has not given it (projects.models.MembershipQuerySet.of).
            user.mfa_verified = mfa.is_verified(request.session)  # type: ignore[attr-defined]
        if getattr(view_func, "mfa_setup_allowed", False):
            return None
        if not user.is_authenticated or mfa.is_verified(request.session):
            return None
        if not mfa.mfa_required(user):
            return None
        if is_api(request):
            return error_response(
                request,
                403,
                "Set up two-factor authentication first, on the page /accounts/2fa/setup/.",
            )
        return _to(request, reverse("mfa_setup"))
