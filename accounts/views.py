"""Login (password, then a code for users with two-factor), logout, the two-factor pages,
password reset (only with mail configured) and the access log."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex

from . import mfa, selectors, services
from .forms import AccessLogFilterForm, CodeForm
from .middleware import mfa_setup_allowed
from .models import AccessEvent

Kind = AccessEvent.Kind
#: In the session between the password and the code: who gave the right password, when.
PENDING_KEY = "accounts_pending_login"
#: How long the code may follow the password.
PENDING_SECONDS = 300
#: In the session during setup: the new authenticator's key, until a code confirms it.
SETUP_KEY = "accounts_mfa_setup_key"


def _next(request: HttpRequest) -> str:
    """The page to go to after login, if it is one of this site's."""
    url = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return url if safe else ""


def _user(request: HttpRequest) -> AbstractBaseUser:
    """The logged-in user: every page here but the login's needs a login."""
    user = request.user
    assert isinstance(user, AbstractBaseUser)
    return user


def _with_next(url: str, next_url: str) -> str:
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


# ---------------------------------------------------------------------------------------
# Login and logout


class LoginView(auth_views.LoginView):
    """The password step. A user with two-factor is not logged in yet: the code page
    follows, and logs them in."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), **login_page_context()}

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        if mfa.has_mfa(user):
            self.request.session[PENDING_KEY] = {
                "user": user.pk,
                "backend": getattr(user, "backend", settings.AUTHENTICATION_BACKENDS[-1]),
                "at": int(time.time()),
            }
            return redirect(_with_next(reverse("login_code"), _next(self.request)))
        response = super().form_valid(form)
        services.access_event(kind=Kind.LOGIN, request=self.request, user=user)
        return response

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        # Only an attempt that reached the password check is an event: a missing field is not.
        if {"username", "password"} <= form.cleaned_data.keys():
            username = form.cleaned_data["username"]
            locked = getattr(self.request, "axes_locked_out", False)
            services.access_event(
                kind=Kind.LOCKED_OUT if locked else Kind.LOGIN_FAILED,
                request=self.request,
                user=selectors.user_named(username),
                username=username,
                detail={"step": "password"},
            )
        return super().form_invalid(form)


def login_page_context() -> dict[str, Any]:
    """What the login page shows besides the form (also on the lockout's page)."""
    return {"password_reset": settings.PASSWORD_RESET_ENABLED}


def _pending(request: HttpRequest) -> tuple[Any, str] | None:
    """The user who gave the right password in this session a moment ago, and the backend
    that accepted it; None if nobody did, or too long ago."""
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    user = selectors.user_get(pending.get("user"))
    if user is None or not user.is_active:
        return None
    return user, str(pending.get("backend"))


@login_not_required
@require_http_methods(["GET", "POST"])
def login_code(request: HttpRequest) -> HttpResponse:
    """The second step of login for a user with two-factor: a code from the app, or a
    recovery code."""
    pending = _pending(request)
    if pending is None:
        messages.info(request, "Log in with your username and password first.")
        return redirect(_with_next(reverse("login"), _next(request)))
    user, backend = pending
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = services.mfa_verify(user=user, code=form.cleaned_data["code"])
        if device is not None:
            del request.session[PENDING_KEY]
            auth_login(request, user, backend=backend)
            mfa.mark_verified(request.session)
            used_recovery = isinstance(device, StaticDevice)
            services.access_event(
                kind=Kind.LOGIN,
                request=request,
                user=user,
                detail={"second_factor": "recovery code" if used_recovery else "authenticator"},
            )
            if used_recovery:
                left = selectors.recovery_codes_left(user)
                messages.warning(
                    request,
                    f"You used a recovery code: {left} left. Make new ones on the "
                    "two-factor page if you are running out.",
                )
            return redirect(_next(request) or resolve_url(settings.LOGIN_REDIRECT_URL))
        form.add_error(
            "code",
            "That code is not right, or was used already. Wait for the next code from the "
            "app; after several wrong codes, each try has to wait a little longer.",
        )
        services.access_event(
            kind=Kind.LOGIN_FAILED, request=request, user=user, detail={"step": "code"}
        )
    return render(request, "accounts/login_code.html", {"form": form, "next": _next(request)})


@mfa_setup_allowed
@require_POST
def logout(request: HttpRequest) -> HttpResponseBase:
    if request.user.is_authenticated:
        services.access_event(kind=Kind.LOGOUT, request=request)
    return auth_views.LogoutView.as_view()(request)


@login_not_required
@require_GET
def admin_login(request: HttpRequest) -> HttpResponse:
    """The Django admin's login page would skip the second factor: use the app's."""
    return redirect(_with_next(reverse("login"), request.GET.get("next", reverse("admin:index"))))


# ---------------------------------------------------------------------------------------
# Two-factor authentication


def _qr_svg(url: str) -> SafeString:
    """The QR code of `url` as inline SVG, drawn here: the secret never leaves the server."""
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    return mark_safe(image.to_string(encoding="unicode"))  # noqa: S308 (our own drawing)


def _grouped_secret(key: str) -> str:
    """The key as people type it into an app: base32, in groups of four."""
    secret = base64.b32encode(bytes.fromhex(key)).decode("ascii")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _recovery_codes_page(request: HttpRequest, codes: list[str], *, first: bool) -> HttpResponse:
    # Shown in this response only: never stored where the page could be seen again.
    return render(request, "accounts/recovery_codes.html", {"codes": codes, "first": first})


@require_GET
def mfa_overview(request: HttpRequest) -> HttpResponse:
    context = {
        "enabled": mfa.has_mfa(request.user),
        "required": mfa.mfa_required(request.user),
        "codes_left": selectors.recovery_codes_left(request.user),
        "form": CodeForm(),
    }
    return render(request, "accounts/mfa.html", context)


@mfa_setup_allowed
@require_http_methods(["GET", "POST"])
def mfa_setup(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator: its QR code and key, confirmed by one of its codes."""
    user = _user(request)
    if mfa.has_mfa(user):
        if mfa.is_verified(request.session) or not mfa.mfa_required(user):
            return redirect("mfa")
        # Two-factor was turned on after this session's login: it must log in with a code.
        auth_logout(request)
        messages.info(request, "Log in again, with a code from your authenticator app.")
        return redirect("login")
    key = request.session.get(SETUP_KEY)
    if not isinstance(key, str):
        key = request.session[SETUP_KEY] = random_hex(20)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = services.mfa_enable(
                user=user, key=key, code=form.cleaned_data["code"], request=request
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            del request.session[SETUP_KEY]
            mfa.mark_verified(request.session)
            return _recovery_codes_page(request, codes, first=True)
    device = TOTPDevice(user=user, key=key)
    context = {
        "form": form,
        "qr_svg": _qr_svg(device.config_url),
        "secret": _grouped_secret(key),
        "required": mfa.mfa_required(user),
    }
    return render(request, "accounts/mfa_setup.html", context, status=400 if form.errors else 200)


def _code_checked(request: HttpRequest) -> CodeForm:
    """The posted code form, with an error unless the code is one of the user's."""
    form = CodeForm(request.POST)
    if (
        form.is_valid()
        and services.mfa_verify(user=_user(request), code=form.cleaned_data["code"]) is None
    ):
        form.add_error("code", "That code is not right, or was used already.")
    return form


def _refused(request: HttpRequest, form: CodeForm) -> HttpResponse:
    context = {
        "enabled": mfa.has_mfa(request.user),
        "required": mfa.mfa_required(request.user),
        "codes_left": selectors.recovery_codes_left(request.user),
        "form": form,
    }
    return render(request, "accounts/mfa.html", context, status=400)


@require_POST
def mfa_disable(request: HttpRequest) -> HttpResponse:
    """Turn two-factor off; it takes a current code, so a session left open is not enough."""
    if not mfa.has_mfa(request.user):
        return redirect("mfa")
    form = _code_checked(request)
    if form.errors:
        return _refused(request, form)
    services.mfa_disable(user=_user(request), request=request)
    mfa.mark_verified(request.session, False)
    messages.success(request, "Two-factor authentication is off.")
    return redirect("mfa")


@require_POST
def mfa_recovery_codes(request: HttpRequest) -> HttpResponse:
    """New recovery codes (the old ones stop working), shown once; it takes a current code."""
    if not mfa.has_mfa(request.user):
        return redirect("mfa")
    form = _code_checked(request)
    if form.errors:
        return _refused(request, form)
    codes = services.recovery_codes_regenerate(user=_user(request), request=request)
    return _recovery_codes_page(request, codes, first=False)


# ---------------------------------------------------------------------------------------
# Password reset: only when mail is configured


def reset_by_mail(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """`view` when the server can send mail (EMAIL_HOST set); otherwise a page saying to
    ask an admin, instead of an error when the mail cannot be sent."""

    @login_not_required
    @wraps(view)
    def reset_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not settings.PASSWORD_RESET_ENABLED:
            return render(request, "accounts/password_reset_unavailable.html")
        return view(request, *args, **kwargs)

    return reset_view


# ---------------------------------------------------------------------------------------
# The access log


@require_GET
def access_log(request: HttpRequest) -> HttpResponse:
    """The access log, newest first, filtered by user and kind: for site admins, and for
    a project's owners what concerns their projects (accounts.selectors)."""
    if not selectors.may_read_access_log(request.user):
        raise PermissionDenied
    form = AccessLogFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return render(request, "accounts/access_log.html", {"form": form, "page": None}, status=400)
    events = selectors.access_event_list(user=request.user, filters=form.to_filter())
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    query = urlencode({k: v for k, v in request.GET.items() if k != "page" and v})
    return render(request, "accounts/access_log.html", {"form": form, "page": page, "query": query})
