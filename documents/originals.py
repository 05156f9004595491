"""A document's original file as a download, for its page and the API alike.

The file is whatever was uploaded: an HTML page may hold script, a name may hold quotes,
line breaks or any script's letters. So it is only ever sent as an attachment, under the
type its name gave the importer (not the one the uploading browser claimed), with a policy
that lets nothing in it run should a browser show it anyway; its name is sent in the
RFC 6266 / RFC 5987 form every browser reads. Each download is a row of the access log.
"""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import quote

from django.http import Http404, HttpRequest, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.models import AccessEvent
from accounts.services import access_event

from . import selectors
from .api_schema import errors
from .exports import AnyAccept
from .extract import base_name, file_kind
from .models import MAX_ID, SourceFile

#: The type of each kind of file the importer reads (documents/extract.py), by its name.
CONTENT_TYPES = {
    "text": "text/plain",
    "markdown": "text/markdown",
    "html": "text/html",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
#: Nothing in the file may run, load or be shown as part of the app's origin.
POLICY = "default-src 'none'; sandbox"


def content_type(filename: str) -> str:
    """The type the file is sent as: what the importer read it as, by its name."""
    return CONTENT_TYPES.get(file_kind(filename), "application/octet-stream")


#: Characters that reorder how a name is shown ("report\u202efdp.exe" shows as
#: "reportexe.pdf"): dropped from a download's name.
_BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _shown_name(filename: str) -> str:
    """The file's own name (no folder), without control or reordering characters; line
    and paragraph separators become spaces."""
    kept = []
    for char in base_name(filename):
        category = unicodedata.category(char)
        if category in ("Zl", "Zp"):
            kept.append(" ")
        elif category not in ("Cc", "Cs", "Co", "Cn") and char not in _BIDI_CONTROLS:
            kept.append(char)
    return "".join(kept).strip() or "original"


def content_disposition(filename: str) -> str:
    """`attachment` with the file's own name: `filename*` carries it exactly (UTF-8,
    percent-encoded, RFC 5987), `filename` an ASCII stand-in for old clients."""
    name = _shown_name(filename)
    ascii_name = "".join(
        char if " " <= char <= "~" and char not in '"\\%' else "_"
        for char in unicodedata.normalize("NFKD", name)
        if not unicodedata.combining(char)
    )
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def original_or_404(*, user: Any, pk: int) -> SourceFile:
    """The original file of document `pk` (selectors.original_get), or a 404 that says
    whether the document is there but was added as text."""
    try:
        return selectors.original_get(user=user, pk=pk)
    except SourceFile.DoesNotExist:
        if 0 < pk <= MAX_ID and selectors.document_list(user=user).filter(pk=pk).exists():
            raise Http404(
                f"Document #{pk} was added as text, not imported from a file: it has no "
                "original file."
            ) from None
        raise Http404("No such document, or not one you can read.") from None


def original_response(request: HttpRequest | Request, original: SourceFile) -> HttpResponse:
    """The file (read by selectors.original_get) as a download, recorded in the access log."""
    access_event(
        kind=AccessEvent.Kind.ORIGINAL_DOWNLOAD,
        request=request,
        detail={
            "document": original.document_id,
            "file": original.filename[:300],
            "sha256": original.sha256,
        },
        # Its owners read it in the access log of the project.
        project_id=original.project_id,  # type: ignore[attr-defined]
    )
    response = HttpResponse(bytes(original.data), content_type=content_type(original.filename))
    response["Content-Disposition"] = content_disposition(original.filename)
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = POLICY
    return response


@extend_schema(
    tags=["documents"],
    operation_id="documents_original",
    summary="The file the document was imported from, byte for byte, as an attachment",
    responses={
        (200, "*/*"): OpenApiResponse(
            OpenApiTypes.BINARY,
            description="The file, as `Content-Disposition: attachment` with its name; its "
            "type follows its name (text/plain, text/markdown, text/html, application/pdf, "
            "the Word type, else application/octet-stream).",
        ),
        **errors(401, 404),
    },
)
class DocumentOriginalView(APIView):
    """Every member who reads the document; each download is in the access log."""

    renderer_classes = [JSONRenderer]
    content_negotiation_class = AnyAccept

    def get(self, request: Request, pk: int) -> HttpResponse:
        return original_response(request, original_or_404(user=request.user, pk=pk))
