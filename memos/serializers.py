"""What the memos API reads and writes: input serializers, and the output's fields for the
schema (the JSON itself is memos.representations')."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from documents.models import MAX_ID
from documents.serializers import TextField

from .models import MAX_TEXT, MAX_TITLE, MAX_VERSION, About
from .representations import MemoLinks, memo_detail_json, memo_json


def _urls(context: dict[str, Any]) -> MemoLinks:
    found = context.get("memo_links")
    if not isinstance(found, MemoLinks):
        raise RuntimeError("Serializer context needs 'memo_links' (MemoLinks.for_request).")
    return found


class MemoCodeSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    slug = serializers.SlugField(read_only=True)
    name = serializers.CharField(read_only=True)
    url = serializers.URLField(read_only=True)


class MemoDocumentSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    title = serializers.CharField(read_only=True)
    url = serializers.URLField(read_only=True)


class MemoSerializer(serializers.Serializer):
    """A memo about the project, one of its codes or one of its documents."""

    id = serializers.IntegerField(read_only=True)
    url = serializers.URLField(read_only=True)
    page_url = serializers.URLField(read_only=True, help_text="The memo's page, with its history.")
    project = serializers.IntegerField(read_only=True)
    project_url = serializers.URLField(read_only=True)
    about = serializers.ChoiceField(choices=About.values, read_only=True)
    code = MemoCodeSerializer(read_only=True, allow_null=True, help_text="When about a code.")
    document = MemoDocumentSerializer(
        read_only=True, allow_null=True, help_text="When about a document."
    )
    title = serializers.CharField(read_only=True)
    text = serializers.CharField(read_only=True)
    author = serializers.CharField(read_only=True, help_text="Username of who wrote it.")
    created = serializers.DateTimeField(read_only=True)
    updated = serializers.DateTimeField(read_only=True)
    version = serializers.IntegerField(
        read_only=True, help_text="The number of its latest revision."
    )
    deleted = serializers.BooleanField(read_only=True)
    deleted_at = serializers.DateTimeField(read_only=True, allow_null=True)
    deleted_by = serializers.CharField(read_only=True, allow_null=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return memo_json(instance, _urls(self.context))


class MemoRevisionSerializer(serializers.Serializer):
    """One version of a memo's title and text, and who made it when."""

    version = serializers.IntegerField(read_only=True)
    title = serializers.CharField(read_only=True)
    text = serializers.CharField(read_only=True)
    author = serializers.CharField(read_only=True)
    created = serializers.DateTimeField(read_only=True)
    restored_from = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="The earlier version this one brought back."
    )


class MemoDetailSerializer(MemoSerializer):
    """A memo with every version of it, oldest first."""

    revisions = MemoRevisionSerializer(many=True, read_only=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        memo, revisions = instance
        return memo_detail_json(memo, revisions, _urls(self.context))


class MemoPageSerializer(serializers.Serializer):
    """A page of a project's memos, latest change first."""

    count = serializers.IntegerField(read_only=True)
    next = serializers.URLField(read_only=True, allow_null=True)
    previous = serializers.URLField(read_only=True, allow_null=True)
    results = MemoSerializer(many=True, read_only=True)


class MemoCreateSerializer(serializers.Serializer):
    title = TextField(required=False, allow_blank=True, default="", max_length=MAX_TITLE)
    text = TextField(allow_blank=True, max_length=MAX_TEXT)
    code = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        max_value=MAX_ID,
        help_text="The id of the code the memo is about.",
    )
    document = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        max_value=MAX_ID,
        help_text="The id of the document the memo is about. Neither: about the project.",
    )


class MemoUpdateSerializer(serializers.Serializer):
    title = TextField(required=False, allow_blank=True, max_length=MAX_TITLE)
    text = TextField(required=False, allow_blank=True, max_length=MAX_TEXT)
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_VERSION,
        help_text="The version you read: refused (409) if the memo changed since.",
    )


class MemoRevertSerializer(serializers.Serializer):
    version = serializers.IntegerField(
        min_value=1, max_value=MAX_VERSION, help_text="The earlier version to bring back."
    )
