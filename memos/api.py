"""The memos API: a project's memos (filtered as on the memos page), one memo with its
revisions, and the writes of those whose role lets them write (a read-only token gets 403,
as everywhere: documents.authentication.TokenScopePermission)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.paginator import EmptyPage, Paginator
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from documents.api import JSONParser, errors, reject_unknown
from documents.shortcuts import found_or_404
from projects.models import Project
from projects.selectors import project_get

from . import selectors, services
from .forms import MemoFilterForm
from .models import About, Memo
from .representations import MemoLinks, memo_detail_json, memo_json
from .serializers import (
    MemoCreateSerializer,
    MemoDetailSerializer,
    MemoPageSerializer,
    MemoRevertSerializer,
    MemoUpdateSerializer,
)

_PAGE_PARAMETERS = ("page", "page_size", "format")

FILTER_PARAMETERS = [
    OpenApiParameter("about", str, enum=About.values, description="What the memos are about."),
    OpenApiParameter("code", int, description="The memos about this code (its id)."),
    OpenApiParameter("document", int, description="The memos about this document (its id)."),
    OpenApiParameter("author", str, description="Username of who wrote them."),
    OpenApiParameter(
        "include_deleted", bool, description="Deleted memos too (each with `deleted: true`)."
    ),
    OpenApiParameter("page", int, description="Page number, from 1."),
    OpenApiParameter("page_size", int, description="Memos per page (at most 500)."),
]


def _user(request: Request) -> User:
    user = request.user
    if not isinstance(user, User):
        raise exceptions.NotAuthenticated()
    return user


def _project(request: Request, pk: int) -> Project:
    project: Project = found_or_404(project_get, user=request.user, pk=pk)
    if project.locked:  # type: ignore[attr-defined]
        raise exceptions.PermissionDenied("This project requires two-factor authentication.")
    return project


def _memo(request: Request, pk: int) -> Memo:
    memo: Memo = found_or_404(selectors.memo_get_any, user=request.user, pk=pk)
    return memo


def _whole(request: Request, name: str, default: int, most: int) -> int:
    value = request.query_params.get(name)
    if value is None:
        return default
    if not (value.isascii() and value.isdecimal()) or not 1 <= int(value) <= most:
        raise exceptions.ValidationError({name: [f"Give a whole number from 1 to {most}."]})
    return int(value)


def _detail(request: Request, memo: Memo, code: int = status.HTTP_200_OK) -> Response:
    revisions = selectors.memo_revisions(memo=memo)
    return Response(memo_detail_json(memo, revisions, MemoLinks.for_request(request)), status=code)


def _conflict(exc: services.StaleMemo) -> Response:
    return Response(
        {"detail": exc.messages[0], "current_version": exc.current_version},
        status=status.HTTP_409_CONFLICT,
    )


@extend_schema(tags=["memos"])
class ProjectMemoListView(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="A project's memos, latest change first, filtered as on the memos page",
        parameters=FILTER_PARAMETERS,
        responses={200: MemoPageSerializer, **errors(400, 401, 403, 404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        project = _project(request, pk)
        form = MemoFilterForm(request.query_params, user=request.user, project=project.pk)
        problems: dict[str, list[str]] = {
            name: [
                "Unknown parameter; the parameters are: about, code, document, author, "
                "include_deleted, page, page_size."
            ]
            for name in sorted(set(request.query_params) - set(form.fields) - set(_PAGE_PARAMETERS))
        }
        wanted = form.to_filter()
        for name, messages in form.errors.items():
            problems[name if name != "__all__" else "non_field_errors"] = [str(m) for m in messages]
        if problems or wanted is None:
            raise exceptions.ValidationError(problems)
        size = _whole(request, "page_size", 100, 500)
        number = _whole(request, "page", 1, 10**9)
        paginator = Paginator(selectors.memo_list(user=request.user, filters=wanted), size)
        try:
            page = paginator.page(number)
        except EmptyPage:
            raise exceptions.NotFound(f"There are {paginator.num_pages} pages.") from None
        urls = MemoLinks.for_request(request)
        query = request.query_params.copy()

        def link(to: int) -> str:
            query["page"] = str(to)
            return request.build_absolute_uri(request.path) + "?" + query.urlencode()

        return Response(
            {
                "count": paginator.count,
                "next": link(page.next_page_number()) if page.has_next() else None,
                "previous": link(page.previous_page_number()) if page.has_previous() else None,
                "results": [memo_json(memo, urls) for memo in page.object_list],
            }
        )

    @extend_schema(
        summary="Write a memo about the project, one of its codes or one of its documents",
        request=MemoCreateSerializer,
        responses={201: MemoDetailSerializer, **errors(400, 401, 403, 404)},
    )
    def post(self, request: Request, pk: int) -> Response:
        project = _project(request, pk)
        reject_unknown(request.data, MemoCreateSerializer, read_only=_READ_ONLY)
        serializer = MemoCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        memo = services.memo_create(
            user=_user(request),
            project=project.pk,
            title=data["title"],
            text=data["text"],
            code=data["code"],
            document=data["document"],
        )
        response = _detail(request, _memo(request, memo.pk), status.HTTP_201_CREATED)
        response["Location"] = MemoLinks.for_request(request).memo(memo.pk)
        return response


_READ_ONLY = frozenset(MemoDetailSerializer().fields) - {"title", "text", "code", "document"}


@extend_schema(tags=["memos"])
class MemoDetailView(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        summary="One memo with every version of it (deleted ones too)",
        responses={200: MemoDetailSerializer, **errors(401, 404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        return _detail(request, _memo(request, pk))

    @extend_schema(
        summary="Change a memo's title or text, as a new version; `version` refuses a stale "
        "change (409)",
        request=MemoUpdateSerializer,
        responses={200: MemoDetailSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def patch(self, request: Request, pk: int) -> Response:
        memo = _memo(request, pk)
        read_only = _READ_ONLY | {"code", "document"}
        reject_unknown(request.data, MemoUpdateSerializer, read_only=read_only)
        serializer = MemoUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if not ({"title", "text"} & set(data)):
            raise exceptions.ValidationError(
                {"non_field_errors": ["Nothing to change: send title or text."]}
            )
        try:
            memo = services.memo_update(
                user=_user(request),
                memo=memo,
                title=data.get("title"),
                text=data.get("text"),
                expected_version=data.get("version"),
            )
        except services.StaleMemo as exc:
            return _conflict(exc)
        return _detail(request, memo)

    @extend_schema(
        summary="Delete a memo: it is kept, with its history, and can be restored",
        responses={204: None, **errors(401, 403, 404, 409)},
    )
    def delete(self, request: Request, pk: int) -> Response:
        try:
            services.memo_delete(user=_user(request), memo=_memo(request, pk))
        except services.StaleMemo as exc:
            return _conflict(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["memos"])
class MemoRestoreView(APIView):
    @extend_schema(
        operation_id="memos_restore",
        summary="Undo a memo's delete; 409 if it is not deleted",
        request=None,
        responses={200: MemoDetailSerializer, **errors(401, 403, 404, 409)},
    )
    def post(self, request: Request, pk: int) -> Response:
        memo = _memo(request, pk)
        if not memo.is_deleted:
            services.memo_restore(user=_user(request), memo=memo)  # checks the right first
            return Response(
                {
                    "detail": f"Memo #{memo.pk} is not deleted: there is nothing to restore.",
                    "current_version": memo.version,
                },
                status=status.HTTP_409_CONFLICT,
            )
        return _detail(request, services.memo_restore(user=_user(request), memo=memo))


@extend_schema(tags=["memos"])
class MemoRevertView(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="memos_revert",
        summary="Bring back an earlier version of a memo's title and text, as a new version",
        request=MemoRevertSerializer,
        responses={200: MemoDetailSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, pk: int) -> Response:
        memo = _memo(request, pk)
        reject_unknown(request.data, MemoRevertSerializer, read_only=frozenset())
        serializer = MemoRevertSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            memo = services.memo_revert(
                user=_user(request), memo=memo, version=serializer.validated_data["version"]
            )
        except services.StaleMemo as exc:
            return _conflict(exc)
        return _detail(request, memo)
