"""The client's address, for login throttling (django-axes) and the access log."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str | None:
    """The address the request came from, or None if it is not a valid IP address.

    Behind a proxy (BEHIND_PROXY), REMOTE_ADDR is the proxy's own for every client: the
    client's is the last entry of X-Forwarded-For, the one the proxy added. Earlier
    entries are whatever the client sent, so never trusted.
    """
    address = request.META.get("REMOTE_ADDR", "")
    if settings.BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        address = forwarded.rsplit(",", 1)[-1].strip() or address
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None
