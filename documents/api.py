"""The REST API under /api/v1/: thin DRF adapters over the querysets and services.

Reads are generic list/retrieve views over the same QuerySet methods as the pages; writes
validate input with a serializer, call a service and answer with the output representation.
Offsets are Unicode code points throughout.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import io
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import parse_etags, urlencode
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, generics, parsers, status
from rest_framework.pagination import BasePagination
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from projects.models import Action, Project
from projects.selectors import project_for
from projects.services import code_save
from sco_annotate.middleware import accepts_gzip, gzip_bytes

from . import api_schema, refusals, selectors, services, webannotation
from .api_schema import JSON, JSONLD, errors
from .models import Annotation, Document
from .representations import REPRESENTATION_VERSION, Links, annotation_json, tag_json, utc
from .serializers import (
    AnnotationCreateSerializer,
    AnnotationFilterSerializer,
    AnnotationSerializer,
    AnnotationUpdateSerializer,
    DocumentCreateSerializer,
    DocumentDetailSerializer,
    DocumentFilterSerializer,
    DocumentsCreatedSerializer,
    DocumentSerializer,
    DocumentUploadSerializer,
    NoParameters,
    ProjectParameter,
    TagCreateSerializer,
    TagMergeResultSerializer,
    TagMergeSerializer,
    TagSerializer,
    TagUpdateSerializer,
)
from .services import idempotency
from .shortcuts import found_or_404
from .text import parse_whole_number

# ---------------------------------------------------------------------------------------
# Errors


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus the services' errors: every refusal is a JSON answer, never a 500.

    - ValidationError → 400 with a message per field;
    - PermissionDenied → 403 with the service's reason;
    - DuplicateDocument → 409 with the document that already holds the text;
    - StaleAnnotation → 412 when the client sent If-Match, else 409, with the current version;
    - idempotency.KeyReused → 422.
    """
    request: Request | None = context.get("request")
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": _too_big_message()}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, services.DuplicateDocument):
        body: dict[str, Any] = {
            "detail": exc.messages[0],
            "document": _document_named(request, exc.document),
        }
        return Response(body, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, services.DuplicateDocuments):
        duplicates: dict[str, dict[str, Any]] = {
            str(position): (
                {"document": _document_named(request, exc.stored[position])}
                if position in exc.stored
                else {"same_as": exc.repeated[position]}
            )
            for position in sorted([*exc.stored, *exc.repeated])
        }
        return Response(
            {"detail": exc.messages[0], "duplicates": duplicates}, status=status.HTTP_409_CONFLICT
        )
    if isinstance(exc, services.InvalidDocuments):
        return Response(
            {str(position): refusals.by_field(error) for position, error in exc.errors.items()},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, services.StaleAnnotation):
        conditional = request is not None and "If-Match" in request.headers
        return Response(
            {"detail": exc.messages[0], "current_version": exc.current_version},
            status=(
                status.HTTP_412_PRECONDITION_FAILED if conditional else status.HTTP_409_CONFLICT
            ),
        )
    if isinstance(exc, idempotency.KeyReused):
        return Response(
            {
                "detail": "This Idempotency-Key was used before with a different request body: "
                "use a new key for a new request."
            },
            status=status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    if isinstance(exc, DjangoValidationError):
        return Response(refusals.by_field(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    return drf_exception_handler(exc, context)


def _document_named(request: Request | None, document: Document) -> dict[str, Any]:
    """The id, URL and title of a document, as a 409 names the one holding a text."""
    named: dict[str, Any] = {"id": document.pk}
    if request is not None:
        named["url"] = Links.for_request(request).document(document.pk)
    named["title"] = document.title
    return named


def _user(request: Request) -> User:
    """The authenticated user (the permission classes let no one else through)."""
    user = request.user
    if not isinstance(user, User):
        raise exceptions.NotAuthenticated()
    return user


def _too_big_message() -> str:
    return (
        f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes. "
        "Send large documents as a file (multipart/form-data), and many documents in "
        "several requests."
    )


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with Django's body limit (DRF reads the stream past that check).

    It also refuses bodies nested deeper than `max_depth`: the standard parser and the code
    that handles what it returns recurse, and run out of stack (RecursionError, a 500)
    somewhere near a thousand levels, depending on how deep the stack already is.
    """

    max_depth = 100

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise exceptions.ParseError(_too_big_message())
        try:
            data = super().parse(io.BytesIO(body), media_type, parser_context)
            too_deep = self._nested_too_deeply(data)
        except RecursionError:
            too_deep = True
        if too_deep:
            raise exceptions.ParseError(
                f"JSON parse error - the body is nested more than {self.max_depth} levels "
                "deep: send objects and lists nested a few levels, as the API documentation "
                "shows."
            )
        return data

    def _nested_too_deeply(self, data: Any) -> bool:
        # Without recursion, for the reason above; only containers are visited.
        stack: list[tuple[Any, int]] = [(data, 1)]
        while stack:
            value, depth = stack.pop()
            if not isinstance(value, dict | list):
                continue
            if depth > self.max_depth:
                return True
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
        return False


def reject_unknown(data: Any, serializer_class: type[Any], *, read_only: frozenset[str]) -> None:
    """Refuse keys the serializer does not know, instead of silently ignoring a typo."""
    if not hasattr(data, "keys"):
        return  # The serializer reports a body that is not an object.
    # The declared fields, without building a serializer (which copies every field).
    known = set(serializer_class._declared_fields)
    errors: dict[str, list[str]] = {}
    for key in data:
        if key in known:
            continue
        if key in read_only:
            errors[key] = ["Read-only: it cannot be set."]
        else:
            errors[key] = [f"Unknown field; the fields are: {', '.join(sorted(known))}."]
    if errors:
        raise exceptions.ValidationError(errors)


def filters(request: Request, serializer_class: type[Any], *, also: tuple[str, ...] = ()) -> Any:
    """The validated query-string filters; unknown parameters are refused with a 400."""
    known = set(serializer_class._declared_fields) | {"format", *also}
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise exceptions.ValidationError(
            {
                name: [f"Unknown parameter; the parameters are: {', '.join(sorted(known))}."]
                for name in unknown
            }
        )
    serializer = serializer_class(data=request.query_params, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return serializer


class FastJSONRenderer(JSONRenderer):
    """DRF's JSON renderer, passing through a body already encoded (one document's list,
    kept in the cache)."""

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if isinstance(data, bytes):
            return data
        return super().render(data, accepted_media_type, renderer_context)


# ---------------------------------------------------------------------------------------
# Cursor pagination


class KeysetPagination(BasePagination):
    """Cursor pagination by keyset: WHERE (key) > (last key seen) ORDER BY key LIMIT n.

    Each page costs the same at any depth, as long as an index covers `ordering`. The
    cursor is opaque to clients: follow `next` and `previous` as given.
    """

    ordering: ClassVar[tuple[str, ...]] = ("id",)
    page_size = 100
    max_page_size = 1000

    def __init__(self) -> None:
        # The row (or, on an empty page, the cursor's key) the next/previous page starts
        # after. Rows are read for their key only when a link is built: the view may
        # still turn their columns into the form the key is printed in.
        self.next_anchor: dict[str, Any] | list[Any] | None = None
        self.prev_anchor: dict[str, Any] | list[Any] | None = None
        self.base_url = ""

    def paginate_queryset(
        self, queryset: Any, request: Request, view: APIView | None = None
    ) -> list[Any]:
        size = self._page_size(request)
        forward, key = self._cursor(request)
        self.base_url = request.build_absolute_uri()
        if key is not None:
            queryset = queryset.filter(self._after(key, forward))
        order = [name if forward else f"-{name}" for name in self.ordering]
        rows = self.fetch(queryset.order_by(*order)[: size + 1])
        more = len(rows) > size
        rows = rows[:size]
        if not forward:
            rows.reverse()
        first, last = (rows[0], rows[-1]) if rows else (key, key)
        if forward:
            self.next_anchor = last if more else None
            self.prev_anchor = first if key is not None else None
        else:
            self.prev_anchor = first if more else None
            self.next_anchor = last
        return rows

    def fetch(self, queryset: Any) -> list[Any]:
        """The rows of the page's sliced queryset."""
        return list(queryset)

    def _page_size(self, request: Request) -> int:
        value = request.query_params.get("page_size")
        if value is None:
            return self.page_size
        size = parse_whole_number(value)
        if size is None or not 1 <= size <= self.max_page_size:
            raise exceptions.ValidationError(
                {"page_size": [f"Must be a whole number from 1 to {self.max_page_size}."]}
            )
        return size

    def _cursor(self, request: Request) -> tuple[bool, list[Any] | None]:
        value = request.query_params.get("cursor")
        if value is None:
            return True, None
        try:
            direction, *key = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
            if direction not in ("n", "p") or len(key) != len(self.ordering):
                raise ValueError(value)
            return direction == "n", [
                self._parse(name, part) for name, part in zip(self.ordering, key, strict=True)
            ]
        except (
            ValueError,
            TypeError,
            OverflowError,
            RecursionError,
            binascii.Error,
            UnicodeDecodeError,
        ):
            raise exceptions.ValidationError(
                {
                    "cursor": [
                        "Not a cursor of this list: follow the next or previous link as given."
                    ]
                }
            ) from None

    @staticmethod
    def _parse(name: str, value: Any) -> Any:
        if name == "id":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
                raise ValueError(value)
            return value
        if not isinstance(value, str):
            raise ValueError(value)
        parsed = datetime.datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError(value)
        # In UTC here: near year 1 or 9999 the conversion overflows, which is a bad cursor.
        return parsed.astimezone(datetime.UTC)

    def _after(self, key: list[Any], forward: bool) -> Q:
        """Rows after `key` in the ordering (before it when going backwards)."""
        op = "gt" if forward else "lt"
        if len(self.ordering) == 1:
            return Q(**{f"{self.ordering[0]}__{op}": key[0]})
        (first, second), (first_value, second_value) = self.ordering, key
        # The redundant first condition lets the database range-scan the index on
        # (first, second) instead of filtering the whole of it.
        return Q(**{f"{first}__{op}e": first_value}) & (
            Q(**{f"{first}__{op}": first_value})
            | Q(**{first: first_value, f"{second}__{op}": second_value})
        )

    def _link(self, anchor: dict[str, Any] | list[Any] | None, direction: str) -> str | None:
        if anchor is None:
            return None
        key = [anchor[name] for name in self.ordering] if isinstance(anchor, dict) else anchor
        return replace_query_param(self.base_url, "cursor", encode_cursor(key, direction))

    def next_link(self) -> str | None:
        return self._link(self.next_anchor, "n")

    def previous_link(self) -> str | None:
        return self._link(self.prev_anchor, "p")

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {"next": self.next_link(), "previous": self.previous_link(), "results": data}
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        return [
            {
                "name": "cursor",
                "required": False,
                "in": "query",
                "description": "Opaque position in the list, from a next or previous link.",
                "schema": {"type": "string"},
            },
            {
                "name": "page_size",
                "required": False,
                "in": "query",
                "description": f"Items per page, 1 to {self.max_page_size} "
                f"(default {self.page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]


def encode_cursor(key: list[Any], direction: str = "n") -> str:
    """The opaque cursor for the rows after (direction "n") or before ("p") `key`."""
    parts = [
        direction,
        *(utc(part) if isinstance(part, datetime.datetime) else part for part in key),
    ]
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


class AnnotationPagination(KeysetPagination):
    # Changes move an annotation to the end: a client paging through while others edit
    # sees every change at least once (index on (updated, id)).
    ordering = ("updated", "id")

    def fetch(self, queryset: Any) -> list[Any]:
        return selectors.annotation_rows(queryset)


class DocumentPagination(KeysetPagination):
    ordering = ("id",)


# ---------------------------------------------------------------------------------------
# Shared plumbing


class ApiView(APIView):
    def get_serializer_context(self) -> dict[str, Any]:
        return {
            "request": self.request,
            "view": self,
            "format": self.format_kwarg,
            "links": Links.for_request(self.request),
            "annotations_url": self.request.build_absolute_uri(reverse("api:annotation-list")),
        }


def _context(view: Any) -> dict[str, Any]:
    return ApiView.get_serializer_context(view)


_BODY_READ_ONLY = frozenset(AnnotationSerializer().fields) - {
    "start",
    "end",
    "quote",
    "note",
    "tags",
    "document",
}


# ---------------------------------------------------------------------------------------
# Documents


_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "true or false"}


def _documents_to_create(data: list[Any]) -> list[tuple[str, services.DocumentMetadata]]:
    """The (text, metadata) of each object of a bulk create. Every bad one is refused at
    once, by its position in the array: {"2": {"text": ["…"]}}."""
    if not data:
        raise exceptions.ValidationError({"non_field_errors": ["Send at least one document."]})
    most = services.MAX_DOCUMENTS_AT_ONCE
    if len(data) > most:
        raise exceptions.ValidationError(
            {
                "non_field_errors": [
                    f"At most {most} documents in one request, not {len(data)}: send the rest "
                    "in another."
                ]
            }
        )
    # One serializer checks every item (as DRF's ListSerializer does): building one per
    # item would copy its fields a thousand times.
    check = DocumentCreateSerializer()
    read_only = frozenset(DocumentDetailSerializer().fields)
    items: list[tuple[str, services.DocumentMetadata]] = []
    errors: dict[str, Any] = {}
    for position, item in enumerate(data):
        try:
            if not isinstance(item, dict):
                kind = _JSON_TYPES.get(type(item), "null" if item is None else "a number")
                raise exceptions.ValidationError(
                    {"non_field_errors": [f"Must be an object with title and text, not {kind}."]}
                )
            reject_unknown(item, DocumentCreateSerializer, read_only=read_only)
            values = check.run_validation(item)
            items.append((values["text"], services.DocumentMetadata.from_mapping(values)))
        except exceptions.ValidationError as exc:
            errors[str(position)] = exc.detail
        except DjangoValidationError as exc:
            errors[str(position)] = refusals.by_field(exc)
    if errors:
        raise exceptions.ValidationError(errors)
    return items


@extend_schema(tags=["documents"])
class DocumentListView(generics.ListAPIView):
    serializer_class = DocumentSerializer
    pagination_class = DocumentPagination
    parser_classes = [JSONParser, parsers.MultiPartParser]

    def get_serializer_context(self) -> dict[str, Any]:
        return _context(self)

    @extend_schema(
        parameters=[DocumentFilterSerializer],
        summary="List documents (without their text), by id",
        responses={200: DocumentSerializer(many=True), **errors(400, 401)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filtering = filters(request, DocumentFilterSerializer, also=("cursor", "page_size"))
        documents = selectors.document_list(user=request.user, filters=filtering.to_filter())
        page = self.paginate_queryset(documents)
        selectors.attach_attribute_values(page or [])
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        summary="Add a document (admins): JSON with its text, or a file as multipart; "
        "or up to 1,000 documents at once as a JSON array",
        request={
            "application/json": PolymorphicProxySerializer(
                component_name="DocumentCreateOneOrMany",
                serializers=[DocumentCreateSerializer, DocumentCreateSerializer(many=True)],
                resource_type_field_name=None,
                many=False,
            ),
            "multipart/form-data": DocumentUploadSerializer,
        },
        responses={
            201: PolymorphicProxySerializer(
                component_name="DocumentCreatedOneOrMany",
                serializers=[DocumentDetailSerializer, DocumentsCreatedSerializer],
                resource_type_field_name=None,
                many=False,
            ),
            **errors(400, 401, 403),
            409: api_schema.DUPLICATE_DOCUMENT,
        },
        parameters=[ProjectParameter, api_schema.location(201)],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # The project: ?project= (a bulk create's array has no room for it), else the
        # body's field, else the only project the caller may import into.
        project = filters(request, ProjectParameter).validated_data.get("project")
        if isinstance(request.data, list):
            documents = services.documents_create(
                user=_user(request), items=_documents_to_create(request.data), project=project
            )
            for created in documents:  # new: no attribute values yet, nothing to read
                created.attribute_list = []
            body = DocumentsCreatedSerializer(
                {"count": len(documents), "results": documents},
                context=self.get_serializer_context(),
            ).data
            return Response(body, status=status.HTTP_201_CREATED)
        upload = request.content_type.startswith("multipart/")
        input_class = DocumentUploadSerializer if upload else DocumentCreateSerializer
        reject_unknown(
            request.data, input_class, read_only=frozenset(DocumentDetailSerializer().fields)
        )
        serializer = input_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        project = data.pop("project", None) or project
        metadata = services.DocumentMetadata.from_mapping(data)
        if upload:
            file = data["file"]
            if file.size > settings.IMPORT_MAX_FILE_BYTES:
                raise exceptions.ValidationError(
                    {"file": [f"Larger than {settings.IMPORT_MAX_FILE_BYTES} bytes."]}
                )
            document = services.document_import(
                user=_user(request),
                project=project,
                upload=services.Upload(
                    filename=file.name or "upload",
                    data=file.read(),
                    content_type=file.content_type or "",
                ),
                metadata=metadata,
            )
        else:
            document = services.document_create(
                user=_user(request), text=data["text"], metadata=metadata, project=project
            )
        # Read back as GET shows it (with its original file, if it came as one).
        document = selectors.document_get(
            user=_user(request), pk=document.pk, text=True, original=True
        )
        body = DocumentDetailSerializer(document, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["url"]})


@extend_schema(
    tags=["documents"],
    summary="A document with its text",
    responses={200: DocumentDetailSerializer, **errors(401, 404)},
)
class DocumentDetailView(generics.RetrieveAPIView):
    serializer_class = DocumentDetailSerializer

    def get_object(self) -> Document:
        document: Document = found_or_404(
            selectors.document_get,
            user=self.request.user,
            pk=self.kwargs["pk"],
            text=True,
            original=True,
        )
        selectors.attach_attribute_values([document])
        return document

    def get_serializer_context(self) -> dict[str, Any]:
        return _context(self)


# ---------------------------------------------------------------------------------------
# Codebook


def _tag_response(request: Request, tag: Any, code: int = status.HTTP_200_OK) -> Response:
    found = selectors.tag_list(user=request.user, project=tag.project_id).get(pk=tag.pk)
    return Response(tag_json(found, Links.for_request(request)), status=code)


def _code_values(request: Request, project: int, data: dict[str, Any]) -> dict[str, Any]:
    """What the API sent, as projects.services.code_save takes it: the parent's slug as
    its id (a code of the same project)."""
    values = dict(data)
    if values.get("parent") is not None:
        parent = (
            selectors.tag_list(user=request.user, project=project)
            .filter(slug=values["parent"])
            .values_list("pk", flat=True)
            .first()
        )
        if parent is None:
            raise exceptions.ValidationError(
                {"parent": [f"No code {values['parent']!r} in the project's codebook."]}
            )
        values["parent"] = parent
    return values


@extend_schema(tags=["codebook"])
class TagListView(generics.ListAPIView):
    serializer_class = TagSerializer
    pagination_class = None
    parser_classes = [JSONParser]

    @extend_schema(
        summary="The codebooks of your projects (of one with ?project=), retired tags included",
        parameters=[ProjectParameter],
        responses={200: TagSerializer(many=True), **errors(400, 401)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Add a code to a project's codebook (its owners)",
        request=TagCreateSerializer,
        responses={201: TagSerializer, **errors(400, 401, 403)},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        reject_unknown(request.data, TagCreateSerializer, read_only=_TAG_READ_ONLY)
        serializer = TagCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        project = project_for(
            user=request.user, project=data.pop("project", None), action=Action.CODEBOOK
        )
        data.setdefault("colour", "#ffd54f")
        data["is_active"] = True
        tag = code_save(
            user=request.user, project=project, values=_code_values(request, project.pk, data)
        )
        response = _tag_response(request, tag, status.HTTP_201_CREATED)
        response["Location"] = Links.for_request(request).tag(tag.slug) + f"?project={project.pk}"
        return response

    def get_queryset(self) -> Any:
        project = filters(self.request, ProjectParameter).validated_data.get("project")
        return selectors.tag_list(user=self.request.user, project=project)

    def get_serializer_context(self) -> dict[str, Any]:
        return _context(self)


def _tag(request: Request, slug: str) -> Any:
    """The code with this slug in the codebooks the caller reads (?project= when several
    have it): 404 when none, 400 when ambiguous."""
    project = filters(request, ProjectParameter).validated_data.get("project")
    found = list(selectors.tag_list(user=request.user, project=project).filter(slug=slug)[:2])
    if not found:
        raise exceptions.NotFound("No such code in the codebooks you can read.")
    if len(found) > 1:
        raise exceptions.ValidationError(
            {"project": ["Codes of several of your projects have this slug: add ?project=ID."]}
        )
    return found[0]


#: Fields of a code's JSON that a write may not set.
_TAG_READ_ONLY = frozenset(TagSerializer().fields) - set(TagCreateSerializer().fields) - {"example"}


@extend_schema(tags=["codebook"], parameters=[ProjectParameter])
class TagDetailView(generics.RetrieveAPIView):
    serializer_class = TagSerializer
    lookup_field = "slug"
    parser_classes = [JSONParser]

    @extend_schema(
        summary="One codebook entry (the IRI of a tagging body)",
        responses={200: TagSerializer, **errors(400, 401, 404)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Rename, re-define, re-colour or move a code, or choose its example passage "
        "(the project's owners)",
        request=TagUpdateSerializer,
        responses={200: TagSerializer, **errors(400, 401, 403, 404)},
    )
    def patch(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        tag = self.get_object()
        reject_unknown(request.data, TagUpdateSerializer, read_only=_TAG_READ_ONLY | {"slug"})
        serializer = TagUpdateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        if not serializer.validated_data:
            raise exceptions.ValidationError(
                {
                    "non_field_errors": [
                        "Nothing to change: send name, definition, inclusion, "
                        "exclusion, colour, parent, shortcut or example."
                    ]
                }
            )
        # Only what was sent changes: the rest stays as the code is when the change is
        # written (a merge or a rename meanwhile is kept).
        values = dict(serializer.validated_data)
        code_save(
            user=request.user,
            project=Project(pk=tag.project_id),
            values=_code_values(request, tag.project_id, values),
            pk=tag.pk,
        )
        return _tag_response(request, tag)

    def get_object(self) -> Any:
        return _tag(self.request, self.kwargs["slug"])

    def get_serializer_context(self) -> dict[str, Any]:
        return _context(self)


@extend_schema(tags=["codebook"], parameters=[ProjectParameter])
class TagMergeView(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Merge a code into another: its passages carry the other code instead, and "
        "it is retired (the project's owners)",
        request=TagMergeSerializer,
        responses={200: TagMergeResultSerializer, **errors(400, 401, 403, 404)},
    )
    def post(self, request: Request, slug: str) -> Response:
        tag = _tag(request, slug)
        reject_unknown(request.data, TagMergeSerializer, read_only=frozenset())
        serializer = TagMergeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        into = (
            selectors.tag_list(user=request.user, project=tag.project_id)
            .filter(slug=serializer.validated_data["into"])
            .first()
        )
        if into is None:
            raise exceptions.ValidationError(
                {
                    "into": [
                        f"No code {serializer.validated_data['into']!r} in the project's codebook."
                    ]
                }
            )
        moved = services.tag_merge(user=_user(request), tag=tag, into=into)
        urls = Links.for_request(request)
        both = selectors.tag_list(user=request.user, project=tag.project_id).in_bulk(
            [tag.pk, into.pk]
        )
        return Response(
            {
                "merged": tag_json(both[tag.pk], urls),
                "into": tag_json(both[into.pk], urls),
                "passages": moved,
            }
        )


@extend_schema(tags=["codebook"], parameters=[ProjectParameter])
class TagRetireView(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Retire a code: no longer applied, it stays on its passages (the project's owners)",
        request=None,
        responses={200: TagSerializer, **errors(400, 401, 403, 404)},
    )
    def post(self, request: Request, slug: str) -> Response:
        tag = services.tag_retire(user=_user(request), tag=_tag(request, slug))
        return _tag_response(request, tag)


@extend_schema(tags=["codebook"], parameters=[ProjectParameter])
class TagRestoreView(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Put a retired code back in use (the project's owners)",
        request=None,
        responses={200: TagSerializer, **errors(400, 401, 403, 404)},
    )
    def post(self, request: Request, slug: str) -> Response:
        tag = services.tag_restore(user=_user(request), tag=_tag(request, slug))
        return _tag_response(request, tag)


# ---------------------------------------------------------------------------------------
# Annotations


def _annotation_responses(status_code: int, *codes: int, json: Any = None) -> dict[Any, Any]:
    """One annotation as JSON (live unless `json` says otherwise) or JSON-LD, or an error."""
    return {
        (status_code, JSON): json or api_schema.LiveAnnotationSchema,
        (status_code, JSONLD): api_schema.WEB_ANNOTATION,
        **errors(*codes, media_types=(JSON, JSONLD)),
    }


_JSONLD_PARAMETER = OpenApiParameter(
    "format",
    OpenApiTypes.STR,
    enum=["json", "jsonld"],
    description="jsonld: a W3C Web Annotation (also with Accept: application/ld+json).",
)


def _jsonld(request: Request) -> bool:
    renderer = getattr(request, "accepted_renderer", None)
    return renderer is not None and renderer.format == "jsonld"


def _etag(annotation: Annotation, request: Request) -> str:
    # Strong ETags, so If-Match compares them; each representation has its own.
    return f'"{annotation.version}-jsonld"' if _jsonld(request) else f'"{annotation.version}"'


_ETAG = re.compile(r'^(?:W/)?"(\d{1,18})(?:-jsonld)?"$')


def _expected_version(request: Request, annotation: Annotation) -> int | None:
    """The version If-Match asks for; 412 at once when it names none of the current one."""
    if not annotation.can_change(request.user, annotation.role):  # type: ignore[attr-defined]
        # Before the precondition: someone else's annotation is a 403 whatever the version.
        raise exceptions.PermissionDenied(
            "You can change only your own annotations (reviewers and owners change anyone's)."
        )
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    versions = set()
    for part in header.split(","):
        match = _ETAG.match(part.strip())
        if match is None:
            raise exceptions.ValidationError(
                {"If-Match": ['Give the ETag of the annotation as received, e.g. "3".']}
            )
        versions.add(int(match[1]))
    if annotation.version not in versions:
        raise services.StaleAnnotation(annotation.pk, annotation.version)
    return annotation.version


def _respond(
    request: Request, annotation: Annotation, status_code: int = status.HTTP_200_OK
) -> Response:
    """One annotation as JSON or JSON-LD, with its ETag."""
    urls = Links.for_request(request)
    row = selectors.annotation_row(annotation)
    if _jsonld(request):
        if annotation.is_deleted:
            raise exceptions.NotFound("This annotation was deleted.")
        response = Response(
            webannotation.annotation(row, urls),
            status=status_code,
            content_type=webannotation.MEDIA_TYPE,
        )
    else:
        # The text annotation_json builds, as the list does (tests check both agree with
        # AnnotationSerializer): every create answers with it.
        response = Response(annotation_json(row, urls), status=status_code)
    response["ETag"] = _etag(annotation, request)
    patch_vary_headers(response, ["Accept"])
    return response


@extend_schema(tags=["annotations"])
class AnnotationListView(generics.ListAPIView):
    serializer_class = AnnotationSerializer
    parser_classes = [JSONParser]
    pagination_class = AnnotationPagination
    renderer_classes = [FastJSONRenderer, webannotation.JSONLDRenderer]

    def get_serializer_context(self) -> dict[str, Any]:
        return _context(self)

    @extend_schema(
        summary="List annotations, oldest change first (cursor-paginated, for sync)",
        parameters=[AnnotationFilterSerializer, _JSONLD_PARAMETER],
        responses={
            (200, JSON): api_schema.annotation_or_tombstone(many=True),
            (200, JSONLD): api_schema.WEB_ANNOTATION_PAGE,
            **errors(400, 401, media_types=(JSON, JSONLD)),
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filtering = filters(request, AnnotationFilterSerializer, also=("cursor", "page_size"))
        jsonld = _jsonld(request)
        if jsonld and filtering.validated_data["include_deleted"]:
            raise exceptions.ValidationError(
                {"include_deleted": ["W3C annotations have no tombstones: ask for JSON."]}
            )
        wanted = filtering.to_filter()
        queryset = selectors.annotation_list(user=request.user, filters=wanted)
        paginator = self.paginator
        assert isinstance(paginator, KeysetPagination)
        context = self.get_serializer_context()
        if not jsonld:
            urls = context["links"]

            def page() -> bytes:
                rows = paginator.paginate_queryset(queryset, request, self)
                body = paginator.get_paginated_response(
                    [annotation_json(row, urls) for row in rows]
                ).data
                return FastJSONRenderer().render(body)

            if wanted.document is None:
                return Response(page())
            # One document's pages are what a client anchoring its highlights reads again
            # and again: kept under the document's list version, as its one-call list is.
            version = filtering.document_version
            asked = urlencode(sorted(request.query_params.lists()), doseq=True).encode()
            key = f"annotations:{wanted.document}:{version.key}:{urls.digest}:{request.user.pk}"
            return _kept(request, f"{key}:{hashlib.sha256(asked).hexdigest()}", page)
        rows = paginator.paginate_queryset(queryset, request, self)
        page_url = request.build_absolute_uri()
        first = remove_query_param(page_url, "cursor")
        collection = remove_query_param(first, "page_size") + "#collection"
        body = webannotation.page(
            rows,
            context["links"],
            page_id=page_url,
            collection_id=collection,
            first=first,
            total=queryset.count(),
            next_url=paginator.next_link(),
            prev_url=paginator.previous_link(),
        )
        return Response(body, content_type=webannotation.MEDIA_TYPE)

    @extend_schema(
        summary="Tag a span of a document; with Idempotency-Key, safe to retry",
        request=AnnotationCreateSerializer,
        responses=_annotation_responses(201, 400, 401, 403, 422),
        parameters=[
            _JSONLD_PARAMETER,
            api_schema.IDEMPOTENCY_KEY,
            api_schema.etag(201),
            api_schema.location(201),
        ],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        reject_unknown(request.data, AnnotationCreateSerializer, read_only=_BODY_READ_ONLY)
        serializer = AnnotationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data

        def create() -> Annotation:
            return services.annotation_create(
                user=_user(request),
                document=data["document"],
                start=data["start"],
                end=data["end"],
                tags=data["tags"],
                note=data["note"],
                quote=data.get("quote"),
            )

        key = _idempotency_key(request)
        if key is None:
            annotation = create()
        else:
            # A retry answers as the first request did: 201, the same Location.
            annotation, _ = idempotency.create_once(
                user=_user(request), key=key, data=request.data, create=create
            )
        response = _respond(request, annotation, status.HTTP_201_CREATED)
        response["Location"] = Links.for_request(request).annotation(annotation.pk)
        return response


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not idempotency.KEY_PATTERN.fullmatch(key):
        raise exceptions.ValidationError(
            {"Idempotency-Key": ["Give 1 to 255 printable ASCII characters, e.g. a UUID."]}
        )
    return key


@extend_schema(tags=["annotations"], parameters=[_JSONLD_PARAMETER])
class AnnotationDetailView(generics.RetrieveAPIView):
    serializer_class = AnnotationSerializer
    parser_classes = [JSONParser]
    renderer_classes = [FastJSONRenderer, webannotation.JSONLDRenderer]

    def get_object(self) -> Annotation:
        return found_or_404(selectors.annotation_get, user=self.request.user, pk=self.kwargs["pk"])

    @extend_schema(
        summary="One annotation (deleted ones as a tombstone); ETag is its version",
        responses=_annotation_responses(
            200, 400, 401, 404, json=api_schema.annotation_or_tombstone()
        ),
        parameters=[api_schema.etag(200)],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return _respond(request, self.get_object())

    @extend_schema(
        summary="Change tags, note or span; If-Match with the ETag refuses a stale change (412)",
        request=AnnotationUpdateSerializer,
        responses=_annotation_responses(200, 400, 401, 403, 404, 409, 412),
        parameters=[api_schema.IF_MATCH, api_schema.etag(200)],
    )
    def patch(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        annotation = self.get_object()
        reject_unknown(
            request.data, AnnotationUpdateSerializer, read_only=_BODY_READ_ONLY | {"document"}
        )
        serializer = AnnotationUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not serializer.validated_data:
            raise exceptions.ValidationError(
                {"non_field_errors": ["Nothing to change: send start, end, quote, tags or note."]}
            )
        annotation = services.annotation_update(
            user=_user(request),
            annotation=annotation,
            expected_version=_expected_version(request, annotation),
            **serializer.validated_data,
        )
        return _respond(request, annotation)

    @extend_schema(
        summary="Delete (kept as a tombstone for sync); If-Match as for PATCH",
        responses={
            204: None,
            **errors(400, 401, 403, 404, 409, 412, media_types=(JSON, JSONLD)),
        },
        parameters=[api_schema.IF_MATCH, api_schema.etag(204)],
    )
    def delete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        annotation = self.get_object()
        annotation = services.annotation_delete(
            user=_user(request),
            annotation=annotation,
            expected_version=_expected_version(request, annotation),
        )
        response = Response(status=status.HTTP_204_NO_CONTENT)
        response["ETag"] = _etag(annotation, request)
        return response


@extend_schema(tags=["annotations"], parameters=[_JSONLD_PARAMETER])
class AnnotationRestoreView(generics.GenericAPIView):
    renderer_classes = [FastJSONRenderer, webannotation.JSONLDRenderer]

    def get_object(self) -> Annotation:
        annotation: Annotation = found_or_404(
            selectors.annotation_get, user=self.request.user, pk=self.kwargs["pk"]
        )
        return annotation

    @extend_schema(
        operation_id="annotations_restore",
        summary="Undo a delete (author or admin); If-Match as for PATCH; 409 if not deleted",
        request=None,
        responses=_annotation_responses(200, 400, 401, 403, 404, 409, 412),
        parameters=[api_schema.IF_MATCH, api_schema.etag(200)],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        annotation = self.get_object()
        expected = _expected_version(request, annotation)
        if not annotation.is_deleted:
            return Response(
                {
                    "detail": f"Annotation #{annotation.pk} is not deleted: there is "
                    "nothing to restore.",
                    "current_version": annotation.version,
                },
                status=status.HTTP_409_CONFLICT,
            )
        annotation = services.annotation_restore(
            user=_user(request), annotation=annotation, expected_version=expected
        )
        return _respond(request, annotation)


#: Most annotations one document's list returns; beyond, the paginated list serves.
DOCUMENT_ANNOTATIONS_LIMIT = 10_000


@extend_schema_view(get=extend_schema(operation_id="documents_annotations_list"))
@extend_schema(
    tags=["annotations"],
    summary="Every annotation of one document, in text order (not paginated)",
    description=(
        "As JSON the answer carries an ETag that changes with any change to the list; send "
        "it back in If-None-Match to get 304 Not Modified while nothing changed."
    ),
    parameters=[
        _JSONLD_PARAMETER,
        api_schema.IF_NONE_MATCH,
        OpenApiParameter(
            "ETag",
            OpenApiTypes.STR,
            location=OpenApiParameter.HEADER,
            response=[200, 304],
            description="Names the list as JSON (absent where the server keeps no list "
            "tokens): send it back in If-None-Match.",
        ),
    ],
    responses={
        (200, JSON): api_schema.DocumentAnnotationsSchema,
        (200, JSONLD): api_schema.WEB_ANNOTATION_PAGE,
        304: OpenApiResponse(description="Not modified since the ETag in If-None-Match."),
        **errors(400, 401, 404, media_types=(JSON, JSONLD)),
    },
)
class DocumentAnnotationsView(generics.GenericAPIView):
    """What a client anchoring highlights in one text needs, in one request."""

    renderer_classes = [FastJSONRenderer, webannotation.JSONLDRenderer]

    def get(self, request: Request, pk: int) -> Response:
        filters(request, NoParameters)
        version = found_or_404(selectors.document_list_version, user=request.user, pk=pk)
        urls = Links.for_request(request)
        if _jsonld(request):
            rows = _document_rows(version.document)
            page_url = request.build_absolute_uri()
            collection = webannotation.page(
                rows,
                urls,
                page_id=page_url,
                collection_id=page_url + "#collection",
                first=page_url,
                total=len(rows),
                next_url=None,
                prev_url=None,
            )
            page = Response(collection, content_type=webannotation.MEDIA_TYPE)
            patch_vary_headers(page, ["Accept"])
            return page
        # The version names the list: a client that anchors highlights asks for the same long
        # list again and again, and gets a 304, or the list kept in the cache.
        etag = f'"{REPRESENTATION_VERSION}.{version.key}.{urls.digest}"'
        # If-None-Match compares weakly (RFC 9110), so W/ is dropped.
        sent = [
            tag.removeprefix("W/") for tag in parse_etags(request.headers.get("If-None-Match", ""))
        ]
        compressed = accepts_gzip(request)
        if etag in sent or sent == ["*"]:
            response = Response(status=status.HTTP_304_NOT_MODIFIED)
            patch_vary_headers(response, ["Accept", "Accept-Encoding"])
        else:
            response = _kept(
                request,
                f"annotations:{pk}:{etag}",
                lambda: _document_list_body(version.document, urls),
            )
        response["ETag"] = f"W/{etag}" if compressed else etag
        return response


def _document_list_body(document: Document, urls: Links) -> bytes:
    rows = _document_rows(document)
    listed = {
        "document": document.pk,
        "document_url": urls.document(document.pk),
        "count": len(rows),
        "results": [annotation_json(row, urls) for row in rows],
    }
    return json.dumps(listed, ensure_ascii=False, separators=(",", ":")).encode()


def _kept(request: Request, key: str, build: Callable[[], bytes]) -> Response:
    """The JSON body kept in the cache under `key`, made by `build` when it is not there.
    `key` must name everything the body shows, its version included: a kept body is never
    checked again. It is kept as sent, compressed for clients that accept gzip, so that
    neither is made twice."""
    compressed = accepts_gzip(request)
    if compressed:
        key += ".gz"
    body = cache.get(key)
    if body is None:
        body = build()
        if compressed:
            body = gzip_bytes(body)
        cache.set(key, body, LIST_CACHE_SECONDS)
    response = Response(body)
    # As ApiGZipMiddleware would answer (it passes an answer that has an encoding).
    patch_vary_headers(response, ["Accept", "Accept-Encoding"])
    if compressed:
        response["Content-Encoding"] = "gzip"
    return response


#: How long one document's formatted list stays in the cache unread. Its key names its
#: version, so a kept list is never stale; this only bounds what the cache holds.
LIST_CACHE_SECONDS = 24 * 3600


def _document_rows(document: Document) -> list[dict[str, Any]]:
    rows = selectors.document_annotation_rows(document, DOCUMENT_ANNOTATIONS_LIMIT)
    if len(rows) > DOCUMENT_ANNOTATIONS_LIMIT:
        raise exceptions.ValidationError(
            {
                "document": [
                    f"More than {DOCUMENT_ANNOTATIONS_LIMIT} annotations: page through "
                    f"/api/v1/annotations/?document={document.pk} instead."
                ]
            }
        )
    return rows
