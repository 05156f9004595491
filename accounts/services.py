"""Every write of the accounts app: the access log, turning two-factor on and off, and
accounts made on the server."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models, transaction
from django.http import HttpRequest
from django_otp.models import Device
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.request import Request

from .addresses import client_address
from .models import AccessEvent

#: How many recovery codes a user gets; each works once.
RECOVERY_CODES = 10
USER_AGENT_LENGTH = AccessEvent._meta.get_field("user_agent").max_length or 300

Kind = AccessEvent.Kind


def access_event(
    *,
    kind: str,
    request: HttpRequest | Request | None,
    user: Any = None,
    username: str = "",
    detail: Mapping[str, Any] | None = None,
    project_id: int | None = None,
) -> AccessEvent:
    """Append one event to the access log, with the request's address and user agent.

    `user` defaults to the request's user when logged in; `username` to that user's name
    (give it for a failed login, which has no user).
    """
    if kind not in Kind.values:
        raise ValueError(f"Unknown access event kind {kind!r}.")
    if user is None and request is not None:
        # An API request's user is the token's (DRF's Request), not the session's.
        user = getattr(request, "user", None)
    if isinstance(user, AnonymousUser) or (user is not None and not user.is_authenticated):
        user = None
    http = request._request if isinstance(request, Request) else request
    return AccessEvent.objects.create(
        kind=kind,
        user=user,
        username=(user.get_username() if user is not None else username)[:150],
        address=client_address(http) if http is not None else None,
        user_agent=http.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_LENGTH] if http else "",
        detail=dict(detail or {}),
        project_id=project_id,
    )


# ---------------------------------------------------------------------------------------
# Two-factor authentication

_CODE = re.compile(r"[0-9a-z]{6,16}")


def normalise_code(code: str) -> str:
    """A code as typed (spaces, dashes, capitals) in the form the devices store."""
    return re.sub(r"[\s-]", "", code).lower()


def check_code_format(code: str) -> str:
    """The normalised code, or a ValidationError saying what a code looks like."""
    code = normalise_code(code)
    if not _CODE.fullmatch(code):
        raise ValidationError(
            {"code": ["Type the 6 digits your authenticator app shows, or a recovery code."]}
        )
    return code


def totp_matches(key: str, code: str) -> bool:
    """Whether `code` is the current code (give or take 30 seconds) of the hex `key`."""
    if not code.isdigit():
        return False
    totp = TOTP(bytes.fromhex(key))
    return bool(totp.verify(int(code), tolerance=1))


def _recovery_codes(device: StaticDevice) -> list[str]:
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@transaction.atomic
def mfa_enable(
    *, user: AbstractBaseUser, key: str, code: str, request: HttpRequest | None
) -> list[str]:
    """Turn two-factor on with the authenticator whose hex `key` the user was shown, once
    `code` proves the app has it. Returns the recovery codes, which are shown once."""
    code = check_code_format(code)
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise ValidationError("Two-factor authentication is on already.")
    if not totp_matches(key, code):
        raise ValidationError(
            {"code": ["That code does not match: check the app's clock and type the new code."]}
        )
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    TOTPDevice.objects.create(user=user, name="Authenticator app", key=key, confirmed=True)
    recovery = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
    codes = _recovery_codes(recovery)
    access_event(kind=Kind.MFA_ENABLED, request=request, user=user)
    return codes


def mfa_verify(*, user: AbstractBaseUser, code: str) -> Device | None:
    """The device (authenticator or recovery codes) that accepts `code`, or None.

    A recovery code is used up; each device slows down after failures (django-otp's
    throttling), so codes cannot be guessed by trying them all.
    """
    code = normalise_code(code)
    if not _CODE.fullmatch(code):
        return None
    devices: list[Device] = []
    # Only what looks like an app's code is tried as one: a recovery code typed must not
    # count as a wrong app code (and slow the app's next code down).
    if len(code) == 6 and code.isdigit():
        devices += TOTPDevice.objects.filter(user=user, confirmed=True)
    devices += StaticDevice.objects.filter(user=user, confirmed=True)
    for device in devices:
        if device.verify_token(code):
            return device
    return None


@transaction.atomic
def mfa_disable(
    *, user: AbstractBaseUser, request: HttpRequest | None, by_admin: bool = False
) -> None:
    """Turn two-factor off: remove the user's authenticator and recovery codes."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    detail = {"user": user.get_username(), "by_admin": True} if by_admin else {}
    access_event(
        kind=Kind.MFA_DISABLED, request=request, user=None if by_admin else user, detail=detail
    )


@transaction.atomic
def recovery_codes_regenerate(*, user: AbstractBaseUser, request: HttpRequest | None) -> list[str]:
    """New recovery codes for a user with two-factor on; the old ones stop working."""
    device = StaticDevice.objects.filter(user=user, confirmed=True).first()
    if device is None or not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise ValidationError("Turn two-factor authentication on first.")
    device.token_set.all().delete()
    codes = _recovery_codes(device)
    access_event(kind=Kind.RECOVERY_CODES_REGENERATED, request=request, user=user)
    return codes


# ---------------------------------------------------------------------------------------
# Accounts made on the server (the create_user command, the demo)

#: Long enough to resist guessing, short enough to type once from a terminal.
GENERATED_PASSWORD_BYTES = 12


def generated_password() -> str:
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


def user_create(
    *, username: str, password: str | None = None, email: str = "", admin: bool = False
) -> tuple[AbstractBaseUser, str]:
    """A new active account, a site administrator (staff and superuser) with `admin`;
    with a random password when none is given. Returns the user and the password, which
    only the caller sees (only its hash is stored).

    Raises ValidationError, one message per field, when the name is taken or malformed,
    the e-mail address is not one, or the password fails the site's password rules.
    """
    users = get_user_model()
    errors: dict[str, list[str]] = {}
    username = username.strip() if isinstance(username, str) else ""
    name_field = users._meta.get_field(users.USERNAME_FIELD)
    assert isinstance(name_field, models.Field)
    try:
        name_field.clean(username, None)
    except ValidationError as exc:
        errors["username"] = [f"{message} (not {username!r})" for message in exc.messages]
    if not errors and users.objects.filter(**{users.USERNAME_FIELD: username}).exists():
        errors["username"] = [f"There is a user named {username!r} already."]
    email = email.strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = [f"{email!r} is not an e-mail address: write name@example.org."]
    generated = password is None
    password = generated_password() if password is None else password
    if not generated:
        candidate = users(**{users.USERNAME_FIELD: username, "email": email})
        try:
            validate_password(password, candidate)
        except ValidationError as exc:
            errors["password"] = list(exc.messages)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        if admin:
            user = users.objects.create_superuser(username, email, password)
        else:
            user = users.objects.create_user(username, email, password)
    return user, password
