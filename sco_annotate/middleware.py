"""Project-wide HTTP middleware."""

from __future__ import annotations

import gzip
import logging
import re
import zlib
from collections.abc import Callable, Iterable, Iterator

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils.cache import patch_vary_headers


class ContentSecurityPolicyMiddleware:
    """Send the Content-Security-Policy from settings on every response.

    Django 5.2 has no CSP support of its own; the policy forbids inline and foreign scripts
    and inline styles, so a document text that smuggles in markup can never run anything
    or restyle the page. The Django admin and the Swagger UI page write inline styles of
    their own: under CONTENT_SECURITY_POLICY_INLINE_STYLE_PATHS, and only there, the policy
    allows them (`with_inline_styles`).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        if policy:
            if request.path_info.startswith(settings.CONTENT_SECURITY_POLICY_INLINE_STYLE_PATHS):
                policy = with_inline_styles(policy)
            response.headers.setdefault("Content-Security-Policy", policy)
        return response


def with_inline_styles(policy: str) -> str:
    """`policy` with 'unsafe-inline' added to its style-src (if it has one)."""
    directives = [directive.strip() for directive in policy.split(";") if directive.strip()]
    for index, directive in enumerate(directives):
        if directive.split()[0] == "style-src" and "'unsafe-inline'" not in directive:
            directives[index] = directive + " 'unsafe-inline'"
    return "; ".join(directives)


class NoStoreMiddleware:
    """`Cache-Control: no-store` on every answer that sets no caching of its own.

    Pages and API answers carry research data: no browser cache, disk or shared proxy may
    keep a copy after the session ends. Static files never get here (WhiteNoise answers them
    above). ETags still work: API clients keep what they choose and send If-None-Match.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            response.headers["Cache-Control"] = "no-store"
        return response


def is_api(request: HttpRequest) -> bool:
    """Whether the request is for the API, whose clients read JSON, never an HTML page."""
    return request.path_info.startswith("/api/")


def error_response(request: HttpRequest, status: int, detail: str) -> HttpResponse:
    """An error as JSON `{"detail": ...}` for the API, as a line of plain text for pages."""
    if is_api(request):
        return JsonResponse({"detail": detail}, status=status)
    return HttpResponse(detail + "\n", status=status, content_type="text/plain; charset=utf-8")


def _holds_nul(data: QueryDict) -> bool:
    return any("\x00" in key or "\x00" in "".join(values) for key, values in data.lists())


class RejectNulMiddleware:
    """Answer 400 to a NUL character in the query string or a form-encoded body.

    PostgreSQL text cannot hold NUL, so such a parameter reaching a filter or a form is a
    500 wherever the code does not check for it. Refusing it here covers the pages, the
    admin and the API at once, before the session or the user costs a query.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # QueryDict decodes %00 too. Multipart bodies are left to the views: parsing them
        # here would read uploads before the view chose how to handle them.
        form = request.method == "POST" and (
            request.content_type == "application/x-www-form-urlencoded"
        )
        if _holds_nul(request.GET) or (form and _holds_nul(request.POST)):
            return error_response(
                request, 400, "A parameter holds a NUL character (%00): remove it and try again."
            )
        return self.get_response(request)


logger = logging.getLogger("sco_annotate.database")

RETRY_AFTER_SECONDS = 30


def database_unavailable(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """503 with Retry-After, logged once as a warning: an outage, not a bug to trace."""
    logger.warning("Database unavailable (%s): %s %s", exc, request.method, request.path)
    response = error_response(
        request,
        503,
        f"The database is unavailable for the moment. Try again in {RETRY_AFTER_SECONDS} seconds.",
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    # Django logs every 5xx answer as an error; this one is logged already.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


class DatabaseUnavailableMiddleware:
    """Answer 503 instead of 500 when a view cannot reach the database.

    psycopg reports a refused or dropped connection as OperationalError or InterfaceError.
    Errors raised outside views (a session read by another middleware) reach handler500,
    which answers the same way (see sco_annotate/urls.py).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, OperationalError | InterfaceError):
            return database_unavailable(request, exception)
        return None


class ApiGZipMiddleware:
    """Compress the API's answers (JSON, CSV, JSON Lines) for clients that accept gzip.

    Pages are left alone: they carry CSRF tokens, and compressing a secret next to text an
    attacker can choose leaks it (BREACH). So is the API's documentation page, whose script
    carries the CSRF token too. API answers hold no such secret.

    Django's GZipMiddleware compresses at level 6, which on a page of 1,000 annotations
    (600 KB of JSON) costs 20 ms, as much as reading the page; level 1 costs 7 ms and
    sends a fifth more bytes (a quarter of the JSON instead of a fifth). The rest follows
    GZipMiddleware: Vary, a weak ETag, nothing under 200 bytes, exports compressed as they
    stream. An answer that is compressed already (a kept list) passes as it is.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if (
            not is_api(request)
            or request.path_info.startswith("/api/docs/")
            or response.has_header("Content-Encoding")
        ):
            return response
        if isinstance(response, StreamingHttpResponse) and not response.is_async:
            patch_vary_headers(response, ("Accept-Encoding",))
            if not accepts_gzip(request):
                return response
            chunks: Iterator[bytes] = iter(response.streaming_content)  # type: ignore[arg-type]
            response.streaming_content = _gzip_stream(chunks)
            del response.headers["Content-Length"]
        elif isinstance(response, HttpResponse) and len(response.content) >= 200:
            patch_vary_headers(response, ("Accept-Encoding",))
            if not accepts_gzip(request):
                return response
            compressed = gzip_bytes(response.content)
            if len(compressed) >= len(response.content):
                return response
            response.content = compressed
            response.headers["Content-Length"] = str(len(compressed))
        else:
            return response
        etag = response.get("ETag")
        if etag and etag.startswith('"'):
            # RFC 9110 8.8.1: another encoding of the same representation.
            response.headers["ETag"] = "W/" + etag
        response.headers["Content-Encoding"] = "gzip"
        return response


_ACCEPTS_GZIP = re.compile(r"\bgzip\b")


def accepts_gzip(request: HttpRequest) -> bool:
    return bool(_ACCEPTS_GZIP.search(request.META.get("HTTP_ACCEPT_ENCODING", "")))


def gzip_bytes(data: bytes) -> bytes:
    """`data` gzip-compressed at level 1 (see ApiGZipMiddleware)."""
    return gzip.compress(data, compresslevel=1, mtime=0)


def _gzip_stream(chunks: Iterable[bytes]) -> Iterator[bytes]:
    compressor = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip framing
    for chunk in chunks:
        out = compressor.compress(chunk)
        if out:
            yield out
    yield compressor.flush()
