"""Small helpers shared by the tests."""

from __future__ import annotations

from documents import services


def annotate(user, document, needle, *, tags=("extradition",), note="", occurrence=0):
    """Tag the `occurrence`-th (from 0) `needle` in the document's text through the service,
    sending the quote as every client does."""
    start = -1
    for _ in range(occurrence + 1):
        start = document.text.index(needle, start + 1)
    return services.annotation_create(
        user=user,
        document=document,
        start=start,
        end=start + len(needle),
        quote=needle,
        tags=list(tags),
        note=note,
    )


def totp_code(key, *, steps_ahead=0):
    """The authenticator app's code for the hex `key` now (or `steps_ahead` 30-second steps
    later, a code not used yet)."""
    from django_otp.oath import TOTP

    totp = TOTP(bytes.fromhex(key))
    totp.time = totp.time + 30 * steps_ahead
    return f"{totp.token():06d}"


def enable_mfa(user):
    """Turn two-factor on for `user` through the service; returns its key and recovery codes."""
    from django_otp.util import random_hex

    from accounts import services as account_services

    key = random_hex(20)
    codes = account_services.mfa_enable(user=user, key=key, code=totp_code(key), request=None)
    return key, codes
