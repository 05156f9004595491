"""What the API reads and writes: input serializers, output representations, filters.

Output for lists is built from `.values()` rows rather than model instances: a page of 1,000
annotations is then a couple of milliseconds of Python instead of tens. The serializers
declare their fields all the same, for the OpenAPI schema and for input validation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from projects.models import Project

from .models import MAX_ID, MAX_OFFSET, AttributeKind, Document, DocumentType, Tag
from .representations import (
    Links,
    annotation_json,
    attribute_json,
    document_json,
    original_json,
    project_json,
    tag_json,
)
from .selectors import AnnotationFilter, DocumentFilter, document_list_version
from .text import has_unpaired_surrogate

#: Longest filter text accepted in a query string.
MAX_FILTER_LENGTH = 500


def _no_surrogates(value: str) -> None:
    # JSON may carry "\ud800" escapes; such text cannot be stored as UTF-8. One scan at C
    # speed: a loop over the characters takes a sixth of a second on a 1 MB text.
    if has_unpaired_surrogate(value):
        raise serializers.ValidationError(
            "Contains an unpaired UTF-16 surrogate (e.g. \\ud800): send valid Unicode text."
        )


def links(context: Mapping[str, Any]) -> Links:
    found = context.get("links")
    if found is None:
        raise RuntimeError("Serializer context needs 'links' (Links.for_request).")
    assert isinstance(found, Links)
    return found


class TextField(serializers.CharField):
    """Text as sent: not trimmed (offsets and quotes depend on every character)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)
        # In place of DRF's check for the same characters, which loops over them in Python:
        # most of a second on a 1 MB text.
        self.validators = [
            validator
            for validator in self.validators
            if not isinstance(validator, ProhibitSurrogateCharactersValidator)
        ]
        self.validators.append(_no_surrogates)

    def to_internal_value(self, data: Any) -> str:
        # DRF would turn 5 into "5"; a number where text belongs is a client's mistake.
        if not isinstance(data, str):
            raise serializers.ValidationError(f"Must be text, not {type(data).__name__}.")
        return str(super().to_internal_value(data))


class ProjectField(serializers.IntegerField):
    """A project the caller is a member of, by id."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        kwargs.setdefault("help_text", "A project id (GET /api/v1/projects/ lists yours).")
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        value = int(super().to_internal_value(data))
        user = self.context["request"].user
        if not Project.objects.of_member(user).filter(pk=value).exists():
            raise serializers.ValidationError(
                f"There is no project #{value} that you are a member of."
            )
        return value


class ProjectParameter(serializers.Serializer):
    """`?project=`: what a list is limited to, or where a create goes."""

    project = ProjectField()


class ProjectSerializer(serializers.Serializer):
    """A project the caller is a member of, with their role in it."""

    id = serializers.IntegerField(read_only=True)
    url = serializers.URLField(read_only=True)
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    role = serializers.ChoiceField(
        choices=["owner", "reviewer", "coder", "reader"],
        read_only=True,
        help_text="The caller's role in the project.",
    )
    require_mfa = serializers.BooleanField(read_only=True)
    locked = serializers.BooleanField(
        read_only=True,
        help_text="The project requires two-factor authentication, and this request's "
        "session or API token has not given it: nothing of the project is shown until it "
        "does (GET on the project answers 403 saying what to do).",
    )
    document_count = serializers.IntegerField(read_only=True)
    member_count = serializers.IntegerField(read_only=True)
    codebook_source = serializers.CharField(read_only=True)
    documents_url = serializers.URLField(read_only=True)
    tags_url = serializers.URLField(read_only=True)
    annotations_url = serializers.URLField(read_only=True)
    attributes_url = serializers.URLField(
        read_only=True, help_text="The attributes its owners defined for its documents."
    )
    created = serializers.DateTimeField(read_only=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return project_json(instance, links(self.context))


class AttributeSerializer(serializers.Serializer):
    """A document attribute of a project: a typed field its owners defined."""

    id = serializers.IntegerField(read_only=True)
    project = serializers.IntegerField(read_only=True)
    slug = serializers.SlugField(
        read_only=True, help_text="The key in documents' `attributes` and in filters attr.<slug>."
    )
    name = serializers.CharField(read_only=True)
    kind = serializers.ChoiceField(choices=AttributeKind.choices, read_only=True)
    choices = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="The values a choice attribute allows (empty for the other kinds).",
    )
    sort_order = serializers.IntegerField(read_only=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return attribute_json(instance)


# ---------------------------------------------------------------------------------------
# Annotations


class AnnotationSerializer(serializers.Serializer):
    """A tagged span. Deleted ones (with `include_deleted`) are tombstones: `deleted: true`
    with only `id`, `url`, `document`, `document_url`, `updated` and `version`."""

    id = serializers.IntegerField(read_only=True)
    url = serializers.URLField(read_only=True)
    document = serializers.IntegerField(read_only=True)
    document_url = serializers.URLField(read_only=True)
    start = serializers.IntegerField(
        read_only=True, help_text="First code point of the span (Unicode code points)."
    )
    end = serializers.IntegerField(
        read_only=True, help_text="Code point after the last one of the span."
    )
    quote = serializers.CharField(read_only=True, help_text="text[start:end]")
    prefix = serializers.CharField(read_only=True, help_text="Up to 32 code points before.")
    suffix = serializers.CharField(read_only=True, help_text="Up to 32 code points after.")
    tags = serializers.ListField(child=serializers.SlugField(), read_only=True)
    note = serializers.CharField(read_only=True)
    author = serializers.CharField(read_only=True, help_text="Username of the analyst.")
    created = serializers.DateTimeField(read_only=True)
    updated = serializers.DateTimeField(read_only=True)
    version = serializers.IntegerField(read_only=True, help_text="Raised by one on every change.")
    deleted = serializers.BooleanField(read_only=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return annotation_json(instance, links(self.context))


class DocumentAnnotationsSerializer(serializers.Serializer):
    """Every annotation of one document, in text order."""

    document = serializers.IntegerField(read_only=True)
    document_url = serializers.URLField(read_only=True)
    count = serializers.IntegerField(read_only=True)
    results = AnnotationSerializer(many=True, read_only=True)


class NoParameters(serializers.Serializer):
    """An endpoint that takes no query parameters (but `format`)."""


class AnnotationCreateSerializer(serializers.Serializer):
    document = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    start = serializers.IntegerField(
        min_value=0, max_value=MAX_OFFSET, help_text="In Unicode code points."
    )
    end = serializers.IntegerField(
        min_value=1, max_value=MAX_OFFSET, help_text="In Unicode code points, excluded."
    )
    tags = serializers.ListField(
        child=serializers.SlugField(max_length=100), allow_empty=False, max_length=100
    )
    note = TextField(required=False, allow_blank=True, default="", max_length=100_000)
    quote = TextField(
        required=False,
        max_length=10_000_000,
        help_text="Optional; when given it must equal text[start:end].",
    )


class AnnotationUpdateSerializer(serializers.Serializer):
    start = serializers.IntegerField(required=False, min_value=0, max_value=MAX_OFFSET)
    end = serializers.IntegerField(required=False, min_value=1, max_value=MAX_OFFSET)
    tags = serializers.ListField(
        child=serializers.SlugField(max_length=100),
        allow_empty=False,
        max_length=100,
        required=False,
    )
    note = TextField(required=False, allow_blank=True, max_length=100_000)
    quote = TextField(required=False, max_length=10_000_000)


class AnnotationFilterSerializer(serializers.Serializer):
    """Query-string filters of the annotation list and the exports."""

    project = ProjectField()
    document = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="A document id."
    )
    tag = serializers.ListField(
        child=serializers.SlugField(max_length=100),
        required=False,
        help_text="Tag slug; repeat for any of several. A parent tag includes its children.",
    )
    author = serializers.CharField(
        required=False, max_length=150, help_text="Username of the analyst."
    )
    created_after = serializers.DateTimeField(required=False)
    updated_after = serializers.DateTimeField(
        required=False, help_text="For incremental sync: changed (or deleted) after this time."
    )
    q = serializers.CharField(
        required=False, max_length=MAX_FILTER_LENGTH, help_text="Text in the quote or the note."
    )
    include_deleted = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Return deleted annotations too, as tombstones with deleted: true.",
    )
    mine = serializers.BooleanField(
        required=False, default=False, help_text="Only the annotations of the user who asks."
    )

    def validate_tag(self, value: list[str]) -> list[str]:
        tags = Tag.objects.visible_to(self.context["request"].user).filter(slug__in=value)
        known = set(tags.values_list("slug", flat=True))
        unknown = [slug for slug in dict.fromkeys(value) if slug not in known]
        if unknown:
            raise serializers.ValidationError(
                f"Unknown tag: {', '.join(unknown)}. GET /api/v1/tags/ lists the slugs."
            )
        return value

    def validate_author(self, value: str) -> str:
        if not get_user_model().objects.filter(username=value).exists():
            raise serializers.ValidationError(f"There is no user named {value!r}.")
        return value

    def validate_document(self, value: int) -> int:
        user = self.context["request"].user
        try:
            # Read with its list's version, which the list keeps one document's pages
            # under (`document_version`): one query for the check and the version.
            self.document_version = document_list_version(user=user, pk=value)
        except Document.DoesNotExist:
            raise serializers.ValidationError(
                f"There is no document #{value} that you can read."
            ) from None
        return value

    def to_filter(self) -> AnnotationFilter:
        """The validated filters, as the object the selectors take."""
        data = dict(self.validated_data)
        return AnnotationFilter(tags=tuple(data.pop("tag", ())), **data)


# ---------------------------------------------------------------------------------------
# Documents and the codebook


class DocumentSerializer(serializers.Serializer):
    """A document without its text (lists)."""

    id = serializers.IntegerField(read_only=True)
    url = serializers.URLField(read_only=True)
    project = serializers.IntegerField(read_only=True)
    title = serializers.CharField(read_only=True)
    organisation = serializers.CharField(read_only=True)
    author = serializers.CharField(read_only=True)
    source_url = serializers.CharField(read_only=True)
    published = serializers.DateField(read_only=True, allow_null=True)
    date_precision = serializers.CharField(
        read_only=True, help_text="day, month or year: how much of `published` is known."
    )
    language = serializers.CharField(read_only=True, help_text="BCP 47 tag.")
    document_type = serializers.ChoiceField(choices=DocumentType.choices, read_only=True)
    notes = serializers.CharField(read_only=True)
    length = serializers.IntegerField(read_only=True, help_text="In Unicode code points.")
    sha256 = serializers.CharField(read_only=True, help_text="SHA-256 of the UTF-8 encoded text.")
    annotations_url = serializers.URLField(read_only=True)
    attributes = serializers.DictField(
        read_only=True,
        help_text="The document's attribute values, by the attribute's slug: text and "
        "choices as strings, numbers as numbers, dates as YYYY-MM-DD. Attributes without a "
        "value are left out.",
    )
    imported_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return document_json(
            instance, links(self.context), annotations_url=self.context["annotations_url"]
        )


class OriginalFileSerializer(serializers.Serializer):
    """The file a document was imported from, kept byte for byte."""

    url = serializers.URLField(
        read_only=True, help_text="Download it (an attachment; each download is logged)."
    )
    filename = serializers.CharField(read_only=True)
    size = serializers.IntegerField(read_only=True, help_text="In bytes.")
    sha256 = serializers.CharField(read_only=True, help_text="SHA-256 of the file's bytes.")


class DocumentDetailSerializer(DocumentSerializer):
    """A document with its normalised text, the text the offsets count in."""

    text = serializers.CharField(read_only=True)
    page_breaks = serializers.ListField(
        child=serializers.IntegerField(),
        read_only=True,
        help_text="Offsets at which pages 2, 3, … begin, for paged sources.",
    )
    original = OriginalFileSerializer(
        read_only=True,
        allow_null=True,
        help_text="The file it was imported from; null for a document added as text.",
    )

    def to_representation(self, instance: Any) -> dict[str, Any]:
        out = super().to_representation(instance)
        out["text"] = instance.text
        out["page_breaks"] = instance.page_breaks
        out["original"] = original_json(instance, links(self.context))
        return out


class DocumentsCreatedSerializer(serializers.Serializer):
    """The answer to a bulk create: the documents stored, without their text, in the order
    they were sent."""

    count = serializers.IntegerField(read_only=True)
    results = DocumentSerializer(many=True, read_only=True)


class DocumentFilterSerializer(serializers.Serializer):
    project = ProjectField()
    language = serializers.CharField(required=False, max_length=35, help_text="BCP 47 tag.")
    organisation = serializers.CharField(required=False, max_length=300)
    document_type = serializers.ChoiceField(required=False, choices=DocumentType.choices)
    published_after = serializers.DateField(required=False, help_text="On or after this day.")
    published_before = serializers.DateField(required=False, help_text="On or before this day.")
    q = serializers.CharField(
        required=False, max_length=MAX_FILTER_LENGTH, help_text="In the title."
    )

    def to_filter(self) -> DocumentFilter:
        """The validated filters, as the object the selectors take."""
        return DocumentFilter(**self.validated_data)


class _MetadataFields(serializers.Serializer):
    organisation = TextField(required=False, allow_blank=True, max_length=300)
    author = TextField(required=False, allow_blank=True, max_length=300)
    source_url = TextField(required=False, allow_blank=True, max_length=2000)
    published = TextField(
        required=False, allow_blank=True, max_length=10, help_text="YYYY-MM-DD, YYYY-MM or YYYY."
    )
    date_precision = serializers.ChoiceField(
        required=False, allow_blank=True, choices=["day", "month", "year"]
    )
    language = TextField(required=False, allow_blank=True, max_length=35, help_text="BCP 47 tag.")
    document_type = serializers.ChoiceField(required=False, choices=DocumentType.choices)
    notes = TextField(required=False, allow_blank=True, max_length=100_000)


class DocumentCreateSerializer(_MetadataFields):
    """A document sent as JSON: its title, its text and what else is known about it. The
    project (one you own) may be left out when you own only one."""

    project = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    title = TextField(max_length=500)
    text = TextField(max_length=50_000_000)


class DocumentUploadSerializer(_MetadataFields):
    """A document sent as a file (multipart/form-data), with metadata fields beside it."""

    project = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    file = serializers.FileField()
    title = TextField(required=False, allow_blank=True, max_length=500)


class TagSerializer(serializers.Serializer):
    """An entry of the codebook."""

    id = serializers.IntegerField(read_only=True)
    url = serializers.URLField(read_only=True)
    project = serializers.IntegerField(read_only=True)
    slug = serializers.SlugField(read_only=True)
    name = serializers.CharField(read_only=True)
    definition = serializers.CharField(read_only=True)
    colour = serializers.CharField(read_only=True, help_text="#rrggbb")
    # A field named like Field.parent: DRF's metaclass moves it into `fields`, so the
    # attribute itself is never shadowed at run time.
    parent = serializers.SlugField(  # type: ignore[assignment]
        read_only=True, allow_null=True, help_text="Parent's slug."
    )
    is_active = serializers.BooleanField(
        read_only=True, help_text="Retired tags stay on old passages but cannot be applied."
    )
    inclusion = serializers.CharField(read_only=True, help_text="When to use the code.")
    exclusion = serializers.CharField(read_only=True, help_text="When not to use the code.")
    shortcut = serializers.CharField(
        read_only=True, help_text="The key that applies it in the tag chooser, or empty."
    )
    merged_into = serializers.SlugField(
        read_only=True,
        allow_null=True,
        help_text="The slug of the code that took over its passages when it was merged.",
    )
    example = serializers.URLField(
        read_only=True, allow_null=True, help_text="The annotation shown as its example."
    )
    guid = serializers.UUIDField(
        read_only=True, help_text="Its REFI-QDA guid (codebook exchange, .qdc files)."
    )

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return tag_json(instance, links(self.context))


_COLOUR = r"^#[0-9a-fA-F]{6}$"


class TagWriteSerializer(serializers.Serializer):
    """What a codebook entry's create or change may set (its slug only when made)."""

    name = serializers.CharField(max_length=100)
    definition = TextField(required=False, allow_blank=True, max_length=10_000)
    inclusion = TextField(required=False, allow_blank=True, max_length=10_000)
    exclusion = TextField(required=False, allow_blank=True, max_length=10_000)
    colour = serializers.RegexField(
        _COLOUR,
        required=False,
        help_text="#rrggbb",
        error_messages={"invalid": "Give the colour as #rrggbb, e.g. #1f77b4."},
    )
    # See TagSerializer.parent.
    parent = serializers.SlugField(  # type: ignore[assignment]
        required=False,
        allow_null=True,
        max_length=100,
        help_text="The slug of the code to go under (in the same project); null: top level.",
    )
    shortcut = TextField(required=False, allow_blank=True, max_length=1)


class TagCreateSerializer(TagWriteSerializer):
    project = ProjectField(
        help_text="The project whose codebook gets the code; needed when "
        "you may change the codebook of several."
    )
    slug = serializers.SlugField(
        required=False,
        max_length=100,
        help_text="Stable identifier, unique in the project; made from the name if left out. "
        "Fixed once set.",
    )


class TagUpdateSerializer(TagWriteSerializer):
    name = serializers.CharField(required=False, max_length=100)
    example = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_ID,
        help_text="The id of a live annotation carrying the code, shown as its example; "
        "null: none.",
    )


class TagMergeSerializer(serializers.Serializer):
    into = serializers.SlugField(
        max_length=100, help_text="The slug of the code (same project) that takes the passages."
    )


class TagMergeResultSerializer(serializers.Serializer):
    merged = TagSerializer(help_text="The merged code, now retired.")
    into = TagSerializer(help_text="The code that carries its passages now.")
    passages = serializers.IntegerField(help_text="How many passages changed.")
