"""The projects API: the projects the caller is a member of, read-only (owners manage them
on the project pages)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics

from accounts import mfa
from documents import selectors as document_selectors
from documents.api import _context, errors, filters
from documents.serializers import AttributeSerializer, NoParameters, ProjectSerializer
from documents.shortcuts import found_or_404

from .selectors import project_get, project_list


@extend_schema(
    tags=["projects"],
    summary="The projects you are a member of, with your role in each",
    responses={200: ProjectSerializer(many=True), **errors(400, 401)},
)
class ProjectListView(generics.ListAPIView):
    serializer_class = ProjectSerializer
    pagination_class = None

    def get_queryset(self) -> Any:
        filters(self.request, NoParameters)
        return project_list(user=self.request.user)

    def get_serializer_context(self) -> dict[str, Any]:
        return _context(self)


@extend_schema(
    tags=["projects"],
    summary="One project you are a member of",
    responses={200: ProjectSerializer, **errors(401, 403, 404)},
)
class ProjectDetailView(generics.RetrieveAPIView):
    serializer_class = ProjectSerializer

    def get_object(self) -> Any:
        user = self.request.user
        project = found_or_404(project_get, user=user, pk=self.kwargs["pk"])
        if project.locked:  # type: ignore[attr-defined]
            # As its page does in the browser: listed, but nothing of it shown.
            raise PermissionDenied(mfa.locked_message(user, project.name))
        return project

    def get_serializer_context(self) -> dict[str, Any]:
        return _context(self)


@extend_schema(
    tags=["projects"],
    summary="The attributes a project's owners defined for its documents (its values are in "
    "each document's `attributes`; filter passages and search with attr.<slug>)",
    responses={200: AttributeSerializer(many=True), **errors(400, 401, 404)},
)
class AttributeListView(generics.ListAPIView):
    serializer_class = AttributeSerializer
    pagination_class = None

    def get_queryset(self) -> Any:
        filters(self.request, NoParameters)
        project = found_or_404(project_get, user=self.request.user, pk=self.kwargs["pk"])
        if project.locked:  # type: ignore[attr-defined]
            raise exceptions.PermissionDenied("This project requires two-factor authentication.")
        return document_selectors.attribute_list(user=self.request.user, project=project.pk)
