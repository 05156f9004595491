"""The data model: documents, the codebook (tags), tagged spans (annotations), provenance.

Offsets are Unicode code points into `Document.text`: start included, end excluded, as in the
W3C Web Annotation Data Model's TextPositionSelector.
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Count, F, Q
from django.db.models.functions import Length
from django.urls import reverse
from django.utils import timezone

from projects.models import Action, Membership, Project, may
from sco_annotate.appendonly import AppendOnly, AppendOnlyQuerySet

from . import text as textlib


def is_site_admin(user: Any) -> bool:
    """Site administrators manage users and projects; what they see of a project's research
    data follows their membership, as anyone's does."""
    return bool(user.is_authenticated and user.is_active and (user.is_staff or user.is_superuser))


def role_in(user: Any, project_id: Any) -> str | None:
    """`user`'s role in the project, None when not a member (or when the API token used
    is not for that project)."""
    return (
        Membership.objects.of(user)
        .filter(project_id=project_id)
        .values_list("role", flat=True)
        .first()
    )


class DocumentType(models.TextChoices):
    REPORT = "report", "Report"
    STATEMENT = "statement", "Statement"
    LETTER = "letter", "Letter"
    NEWS_ARTICLE = "news_article", "News article"
    TREATY = "treaty", "Treaty"
    TESTIMONY = "testimony", "Testimony"
    OTHER = "other", "Other"


class DatePrecision(models.TextChoices):
    DAY = "day", "Day"
    MONTH = "month", "Month"
    YEAR = "year", "Year"


class DocumentQuerySet(models.QuerySet["Document"]):
    def visible_to(self, user: Any, action: str = Action.READ) -> DocumentQuerySet:
        """Documents this user may read (or do `action` with): the access rule, written
        here only. Every read of research data starts here (documents/selectors.py), and so
        does every write.

        A member of a project reads its documents; what else they may do follows their
        role (projects.models.RIGHTS). An annotation is readable with its document.
        """
        return self.filter(
            project_id__in=Membership.objects.allowed(user, action).values("project_id")
        )

    def without_text(self) -> DocumentQuerySet:
        """Skip the full text (and its length in memory) for lists of documents."""
        return self.defer("text")


#: The largest id and offset the columns hold: a larger number from a URL or a request
#: names nothing (and would make PostgreSQL raise).
MAX_ID = 2**63 - 1
MAX_OFFSET = 2**31 - 1


class Document(models.Model):
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="documents")
    title = models.CharField(max_length=500)
    organisation = models.CharField(
        max_length=300, blank=True, help_text="Who published the document."
    )
    author = models.CharField(max_length=300, blank=True)
    source_url = models.URLField("source URL", max_length=2000, blank=True)
    published = models.DateField(
        null=True,
        blank=True,
        help_text="Publication date. With month or year precision, the first day of it.",
    )
    date_precision = models.CharField(
        max_length=5, choices=DatePrecision.choices, blank=True, default=""
    )
    language = models.CharField(
        max_length=35,
        blank=True,
        help_text="BCP 47 tag of the main language, e.g. en, ru, zh-Hans.",
    )
    language_detected = models.BooleanField(
        default=False, help_text="The language was detected from the text, not given."
    )
    document_type = models.CharField(
        max_length=20, choices=DocumentType.choices, default=DocumentType.OTHER
    )
    notes = models.TextField(blank=True)
    text = models.TextField(help_text="Normalised full text. Read-only once annotated.")
    length = models.PositiveIntegerField(
        editable=False, help_text="Length of the text in Unicode code points."
    )
    sha256 = models.CharField("SHA-256", max_length=64, editable=False)
    page_breaks = models.JSONField(
        default=list,
        blank=True,
        help_text="Offsets (code points) at which pages 2, 3, … begin, for paged sources.",
    )
    import_report = models.JSONField(
        default=dict,
        blank=True,
        help_text="What the import changed: normalisation and any clean-up that was applied.",
    )
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    imported_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    annotations_version = models.UUIDField(
        default=uuid.uuid4,
        editable=False,
        help_text="Changes, in the same transaction, with anything the document's list of "
        "annotations shows (services/versions.py): the ETag and cache key of that list.",
    )

    objects = DocumentQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["title", "id"]
        constraints: ClassVar = [
            # The same text may be in two projects, once in each.
            models.UniqueConstraint(fields=["project", "sha256"], name="document_text_once"),
        ]
        indexes: ClassVar = [
            models.Index(fields=["published"]),
            models.Index(fields=["organisation"]),
            models.Index(fields=["language"]),
            # Lists by title (the passages view, the search): read in order, not sorted.
            # Made by research/0002 (which measured the need); documents/0015 records it.
            models.Index(fields=["title", "id"], name="document_title_order"),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Normalise the text and refuse to change it once anything refers to its offsets."""
        self.text = textlib.normalize_text(self.text)
        self.length = len(self.text)
        new_sha = textlib.text_sha256(self.text)
        if (
            not self._state.adding
            and self.sha256
            and new_sha != self.sha256
            and self.annotations.exists()
        ):
            raise ValidationError(
                {
                    "text": "The text is annotated and cannot change: import the new version "
                    "as a new document."
                },
                code="text_immutable",
            )
        self.sha256 = new_sha
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "text" in update_fields:
            kwargs["update_fields"] = {*update_fields, "length", "sha256"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("documents:detail", args=[self.pk])

    def page_at(self, offset: int) -> int | None:
        """The page (1-based) an offset falls on, for paged sources; None otherwise."""
        if not self.page_breaks:
            return None
        page = 1
        for page_start in self.page_breaks:
            if offset < page_start:
                break
            page += 1
        return page

    @property
    def published_display(self) -> str:
        """The date at its precision: '16 June 2011', 'January 2002' or '2012'."""
        if self.published is None:
            return ""
        if self.date_precision == DatePrecision.YEAR:
            return f"{self.published.year}"
        if self.date_precision == DatePrecision.MONTH:
            return self.published.strftime("%B %Y")
        return f"{self.published.day} {self.published.strftime('%B %Y')}"

    def attribute_map(self) -> dict[str, Any]:
        """{slug: value as the API writes it} of the document's attributes that have a
        value, in the attributes' order: from `attribute_list`, when a selector read the
        values with the document (selectors.attach_attribute_values), else read here."""
        values = getattr(self, "attribute_list", None)
        if values is None:
            values = list(self.attribute_values.select_related("attribute"))
        return {value.attribute.slug: value.json_value() for value in values}


class SourceFile(models.Model):
    """The file a document was imported from, byte for byte, for provenance."""

    document = models.OneToOneField(Document, on_delete=models.CASCADE, related_name="source_file")
    filename = models.CharField(max_length=500)
    content_type = models.CharField(max_length=200, blank=True)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField("SHA-256", max_length=64)
    data = models.BinaryField()

    def __str__(self) -> str:
        return self.filename


_colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Give the colour as #rrggbb, e.g. #1f77b4.")


class TagQuerySet(models.QuerySet["Tag"]):
    def active(self) -> TagQuerySet:
        return self.filter(is_active=True)

    def visible_to(self, user: Any, action: str = Action.READ) -> TagQuerySet:
        """The codebook entries of the projects whose documents `user` may read (or do
        `action` with)."""
        return self.filter(
            project_id__in=Membership.objects.allowed(user, action).values("project_id")
        )


class Tag(models.Model):
    """An entry of a project's codebook."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=100)
    slug = models.SlugField(
        max_length=100,
        help_text="Stable identifier used by the API, unique in the project. Do not rename.",
    )
    definition = models.TextField(
        blank=True, help_text="For coders: what the tag covers and what it does not."
    )
    inclusion = models.TextField(
        "when to use", blank=True, help_text="Inclusion criteria: passages that get this code."
    )
    exclusion = models.TextField(
        "when not to use",
        blank=True,
        help_text="Exclusion criteria: passages that look alike but do not get this code.",
    )
    colour = models.CharField(max_length=7, default="#ffd54f", validators=[_colour])
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    shortcut = models.CharField(
        max_length=1, blank=True, help_text="One key that applies this tag in the tag chooser."
    )
    is_active = models.BooleanField(
        "active",
        default=True,
        help_text="Inactive tags stay on old passages but cannot be applied.",
    )
    sort_order = models.IntegerField(default=0)
    example = models.ForeignKey(
        "Annotation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="A passage that shows the code well, chosen by the codebook's editors.",
    )
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_from",
        help_text="The code that took over this one's passages when it was merged.",
    )
    uuid = models.UUIDField(
        "REFI-QDA guid",
        default=uuid.uuid4,
        editable=False,
        help_text="Names the code in REFI-QDA codebook exchange (.qdc), so that a codebook "
        "exported and imported again keeps its codes' identity.",
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = TagQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["sort_order", "name"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["project", "name"],
                name="tag_name_unique",
                violation_error_message="Another code of the project has this name.",
            ),
            models.UniqueConstraint(
                fields=["project", "slug"],
                name="tag_slug_unique",
                violation_error_message="Another code of the project has this slug.",
            ),
            models.UniqueConstraint(
                fields=["project", "shortcut"],
                condition=~Q(shortcut=""),
                name="tag_shortcut_unique",
                violation_error_message="Another code of the project has this shortcut.",
            ),
            models.UniqueConstraint(
                fields=["project", "uuid"],
                name="tag_uuid_unique",
                violation_error_message="Another code of the project has this REFI-QDA guid.",
            ),
            models.CheckConstraint(condition=~Q(parent=F("pk")), name="tag_not_own_parent"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.parent is not None and self.parent.project_id != self.project_id:
            raise ValidationError({"parent": "The parent must be a code of the same project."})
        parent = ancestor = self.parent
        while parent is not None and ancestor is not None:
            if ancestor.pk == self.pk:
                if parent.pk == self.pk:
                    message = f"{self.name} cannot go under itself."
                else:
                    message = (
                        f"{self.name} cannot go under {parent.name}: {parent.name} "
                        f"is below {self.name} already. Choose a code that is not below it."
                    )
                raise ValidationError({"parent": message})
            ancestor = ancestor.parent


def tag_descendant_ids(tags: list[Tag], roots: set[int]) -> set[int]:
    """Ids of `roots` and every tag below them, from the list of all tags.

    The codebook is small, so walking it in Python beats a recursive query.
    """
    children: dict[int | None, list[int]] = {}
    for tag in tags:
        children.setdefault(tag.parent_id, []).append(tag.pk)
    found: set[int] = set()
    pending = list(roots)
    while pending:
        tag_id = pending.pop()
        if tag_id in found:
            continue
        found.add(tag_id)
        pending.extend(children.get(tag_id, ()))
    return found


class AnnotationQuerySet(models.QuerySet["Annotation"]):
    def visible_to(self, user: Any) -> AnnotationQuerySet:
        """Annotations on documents this user may read (DocumentQuerySet.visible_to)."""
        return self.filter(document__in=Document.objects.visible_to(user).values("pk"))

    def in_project(self, project_id: int) -> AnnotationQuerySet:
        return self.filter(document__in=Document.objects.filter(project_id=project_id).values("pk"))

    def alive(self) -> AnnotationQuerySet:
        """Leave out soft-deleted annotations."""
        return self.filter(deleted_at__isnull=True)

    def tagged(self, *slugs: str) -> AnnotationQuerySet:
        """Annotations carrying any of these tags or a tag below one of them (in any
        project: the annotations themselves are limited to the caller's)."""
        tags = list(Tag.objects.only("pk", "slug", "parent_id"))
        roots = {tag.pk for tag in tags if tag.slug in slugs}
        ids = tag_descendant_ids(tags, roots)
        return self.filter(
            pk__in=Annotation.tags.through.objects.filter(tag_id__in=ids).values("annotation_id")
        )

    def in_text_order(self) -> AnnotationQuerySet:
        return self.order_by("start", "end", "pk")

    def after_in_text_order(self, annotation: Annotation) -> AnnotationQuerySet:
        """Annotations that come after `annotation` in text order (see in_text_order)."""
        start, end = annotation.start, annotation.end
        return self.filter(
            Q(start__gt=start)
            | Q(start=start, end__gt=end)
            | Q(start=start, end=end, pk__gt=annotation.pk)
        ).in_text_order()

    def tag_counts_by_document(self) -> dict[int, dict[int, int]]:
        """{document id: {tag id: number of these annotations carrying the tag}}: one query."""
        counts: dict[int, dict[int, int]] = {}
        found = (
            Annotation.tags.through.objects.filter(annotation__in=self.values("pk"))
            .values_list("annotation__document_id", "tag_id")
            .annotate(count=Count("pk"))
            .order_by()
        )
        for document_id, tag_id, count in found:
            counts.setdefault(document_id, {})[tag_id] = count
        return counts


class Annotation(models.Model):
    """A tagged span of a document's text."""

    # No index of its own: the text-order index below (document, start, end, id) serves
    # every lookup by document, and one index fewer is one less to update on each write.
    document = models.ForeignKey(
        Document, on_delete=models.CASCADE, related_name="annotations", db_index=False
    )
    start = models.PositiveIntegerField(help_text="First code point of the span.")
    end = models.PositiveIntegerField(help_text="Code point after the last one of the span.")
    quote = models.TextField(help_text="text[start:end], checked on every write.")
    prefix = models.CharField(max_length=textlib.CONTEXT_LENGTH, blank=True)
    suffix = models.CharField(max_length=textlib.CONTEXT_LENGTH, blank=True)
    tags = models.ManyToManyField(Tag, related_name="annotations")
    note = models.TextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="annotations"
    )
    created = models.DateTimeField(default=timezone.now, editable=False)
    updated = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(default=1, help_text="Raised by one on every change.")
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    objects = AnnotationQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["document", "start", "end", "pk"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=Q(start__gte=0), name="annotation_start_not_negative"),
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="annotation_not_empty"),
            models.CheckConstraint(
                condition=Q(end=F("start") + Length("quote")), name="annotation_quote_length"
            ),
        ]
        indexes: ClassVar = [
            # A document's annotations in text order (the workspace's panel pages through
            # them, by keyset): read from the index in order, without a sort.
            models.Index(fields=["document", "start", "end", "id"], name="annotation_text_order"),
            models.Index(fields=["updated", "id"]),
            models.Index(fields=["created", "id"]),
            # Who coded in a project (selectors.coder_names): each user's first live
            # passage is found here without reading the rest of theirs.
            models.Index(
                fields=["author", "document"],
                condition=Q(deleted_at__isnull=True),
                name="annotation_live_author",
            ),
        ]

    def __str__(self) -> str:
        quote = self.quote if len(self.quote) <= 60 else self.quote[:59] + "…"
        return f"{quote!r} [{self.start}:{self.end}] in #{self.document_id}"

    def get_absolute_url(self) -> str:
        return reverse("documents:detail", args=[self.document_id]) + f"#a{self.pk}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def can_change(self, user: Any, role: str | None) -> bool:
        """Whether `user`, with `role` in the document's project, may change it: coders
        change their own annotations, reviewers and owners anyone's."""
        if user.pk == self.author_id and user.is_active:
            return may(role, Action.ANNOTATE)
        return may(role, Action.CHANGE_OTHERS)

    def snapshot(self, tag_slugs: list[str]) -> dict[str, Any]:
        """The values recorded in the activity log before and after a change."""
        return {
            "document": self.document_id,
            "start": self.start,
            "end": self.end,
            "quote": self.quote,
            "tags": sorted(tag_slugs),
            "note": self.note,
            "version": self.version,
            "deleted": self.is_deleted,
        }


class SharedVersion(models.Model):
    """One row whose token changes, in the same transaction, with anything that every
    document's list of annotations shows: the codebook and the users' names
    (services/versions.py). Part of each list's ETag and cache key."""

    ROW = 1

    token = models.UUIDField(default=uuid.uuid4)

    def __str__(self) -> str:
        return str(self.token)


class Activity(AppendOnly, models.Model):
    """One change to research data: who did what to which object, values before and after.

    Written by the services in the same transaction as the change; never edited or deleted
    by the application.
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="activities",
        help_text="Empty for changes made by a command without a user (sample data).",
    )
    action = models.CharField(max_length=50)
    object_type = models.CharField(max_length=50)
    object_id = models.PositiveBigIntegerField()
    document = models.ForeignKey(
        Document, null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now, editable=False)

    append_only = "The activity log is"

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["-created", "-id"]
        verbose_name_plural = "activities"
        indexes: ClassVar = [
            models.Index(fields=["object_type", "object_id"]),
            models.Index(fields=["created"]),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type} #{self.object_id}"


class ApiToken(models.Model):
    """A key for API clients. Only its SHA-256 is stored: the database holds no usable token."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True, help_text="What or who uses the token.")
    prefix = models.CharField(
        max_length=12, editable=False, help_text="First characters, to recognise the token."
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    read_only = models.BooleanField(default=True)
    projects = models.ManyToManyField(
        Project,
        blank=True,
        related_name="+",
        help_text="The projects the token reaches; none chosen: every project of its user.",
    )
    limited = models.BooleanField(
        default=False,
        editable=False,
        help_text="The token reaches its chosen projects only (kept with the choice).",
    )
    issued_with_mfa = models.BooleanField(
        "made with a second factor",
        default=False,
        editable=False,
        help_text="Made in the admin by someone who had given a second factor, or on the "
        "server's command line: only such a token reaches projects that require two-factor "
        "authentication, and only while its user has two-factor on.",
    )
    created = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user}{', read-only' if self.read_only else ''})"

    def project_scope(self) -> models.QuerySet[Any] | None:
        """The ids of the projects the token is limited to, as a subquery (so that the
        access rule adds no query), or None when it reaches all of its user's projects."""
        if not self.limited:
            return None
        links = ApiToken.projects.through.objects.filter(apitoken_id=self.pk)
        return links.values("project_id")


class AttributeKind(models.TextChoices):
    TEXT = "text", "Text"
    CHOICE = "choice", "Choice"
    NUMBER = "number", "Number"
    DATE = "date", "Date"


#: The longest value of a text or choice attribute.
ATTRIBUTE_TEXT_LENGTH = 500
#: Numbers of number attributes: up to 14 digits before the point, 4 after it.
ATTRIBUTE_NUMBER_DIGITS = 18
ATTRIBUTE_NUMBER_PLACES = 4


class AttributeQuerySet(models.QuerySet["Attribute"]):
    def visible_to(self, user: Any, action: str = Action.READ) -> AttributeQuerySet:
        """The attributes of the projects whose documents `user` may read (or do `action`
        with)."""
        return self.filter(
            project_id__in=Membership.objects.allowed(user, action).values("project_id")
        )


class Attribute(models.Model):
    """A typed field that a project's owners define for its documents (a "variable" or
    "classification" in other QDA tools): country, issuer type, legal status, adoption date."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="attributes")
    name = models.CharField(max_length=100)
    slug = models.SlugField(
        max_length=100,
        help_text="Stable identifier in query strings, CSV headers and the API, unique in the "
        "project. Fixed once set.",
    )
    kind = models.CharField(max_length=10, choices=AttributeKind.choices)
    choices = models.JSONField(
        default=list,
        blank=True,
        help_text="The values a choice attribute allows, in the order offered.",
    )
    sort_order = models.IntegerField(default=0)
    created = models.DateTimeField(default=timezone.now, editable=False)

    objects = AttributeQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["sort_order", "name", "id"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["project", "slug"],
                name="attribute_slug_unique",
                violation_error_message="Another attribute of the project has this slug.",
            ),
            models.UniqueConstraint(
                fields=["project", "name"],
                name="attribute_name_unique",
                violation_error_message="Another attribute of the project has this name.",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=AttributeKind.values),
                name="attribute_kind_known",
                violation_error_message="The kind is text, choice, number or date.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def column(self) -> str:
        """The column of AttributeValue that holds this attribute's values."""
        return VALUE_COLUMNS[self.kind]


#: Which column of AttributeValue holds the values of each kind.
VALUE_COLUMNS: dict[str, str] = {
    AttributeKind.TEXT: "value_text",
    AttributeKind.CHOICE: "value_text",
    AttributeKind.NUMBER: "value_number",
    AttributeKind.DATE: "value_date",
}


class AttributeValue(models.Model):
    """One document's value of one attribute, in the column of the attribute's kind: the
    database compares numbers as numbers and dates as dates, and each filter reads an
    index on (attribute, value) by range."""

    document = models.ForeignKey(
        Document, on_delete=models.CASCADE, related_name="attribute_values", db_index=False
    )
    # No index of its own: the indexes below begin with the attribute.
    attribute = models.ForeignKey(
        Attribute, on_delete=models.CASCADE, related_name="values", db_index=False
    )
    # NULL, not '': the value is a number or a date (the check below wants one column set).
    value_text = models.CharField(  # noqa: DJ001
        max_length=ATTRIBUTE_TEXT_LENGTH, null=True, blank=True
    )
    value_number = models.DecimalField(
        max_digits=ATTRIBUTE_NUMBER_DIGITS,
        decimal_places=ATTRIBUTE_NUMBER_PLACES,
        null=True,
        blank=True,
    )
    value_date = models.DateField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            # Its index (document, attribute) also serves reading a document's values.
            models.UniqueConstraint(
                fields=["document", "attribute"],
                name="attribute_value_once",
                violation_error_message="This document has a value of this attribute already.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(value_text__isnull=False, value_number__isnull=True, value_date__isnull=True)
                    | Q(
                        value_text__isnull=True,
                        value_number__isnull=False,
                        value_date__isnull=True,
                    )
                    | Q(
                        value_text__isnull=True,
                        value_number__isnull=True,
                        value_date__isnull=False,
                    )
                ),
                name="attribute_value_one_column",
                violation_error_message="A value is text, a number or a date: exactly one of them.",
            ),
        ]
        indexes: ClassVar = [
            # The filters: the documents whose value of an attribute equals, or lies
            # between, what was asked.
            models.Index(fields=["attribute", "value_text"], name="attribute_value_text"),
            models.Index(fields=["attribute", "value_number"], name="attribute_value_number"),
            models.Index(fields=["attribute", "value_date"], name="attribute_value_date"),
        ]

    def __str__(self) -> str:
        return f"{self.attribute_id}={self.value!r} of #{self.document_id}"

    @property
    def value(self) -> str | Decimal | datetime.date | None:
        """The value, whichever column holds it."""
        for value in (self.value_text, self.value_number, self.value_date):
            if value is not None:
                return value
        return None

    @property
    def text(self) -> str:
        """The value as text: dates as YYYY-MM-DD, numbers without trailing zeros."""
        return value_text(self.value)

    def json_value(self) -> str | int | float | None:
        """The value as the API writes it: a number as a JSON number, a date as YYYY-MM-DD."""
        value = self.value
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        if isinstance(value, datetime.date):
            return value.isoformat()
        return value


def value_text(value: Any) -> str:
    """An attribute's value as text: dates as YYYY-MM-DD, numbers without trailing zeros
    (12.5, not 12.5000; 1000, not 1E+3)."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        text = f"{value:f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


class ImportStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be read"
    READY = "ready", "Ready to import"
    SKIPPED = "skipped", "Left out"
    QUEUED = "queued", "Waiting to be imported"
    IMPORTED = "imported", "Imported"
    DUPLICATE = "duplicate", "Duplicate"
    FAILED = "failed", "Failed"


class ImportBatch(models.Model):
    """Files uploaded together on the import pages, read and imported a few per request."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="import_batches")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="import_batches"
    )
    created = models.DateTimeField(default=timezone.now, editable=False)
    defaults = models.JSONField(
        default=dict, blank=True, help_text="Metadata given on the upload form, for every file."
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created", "-id"]
        verbose_name_plural = "import batches"

    def __str__(self) -> str:
        return f"Import #{self.pk} by {self.created_by}"

    def get_absolute_url(self) -> str:
        return reverse("documents:import_batch", args=[self.pk])


class ImportItem(models.Model):
    """One file of an import batch: its bytes until imported, its preview, the admin's choices."""

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    filename = models.CharField(max_length=500)
    content_type = models.CharField(max_length=200, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    data = models.BinaryField(blank=True, default=b"")
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.PENDING
    )
    error = models.TextField(blank=True)
    preview = models.JSONField(
        default=dict,
        blank=True,
        help_text="What reading the file found: format, encoding, language, the start of the "
        "text, clean-up suggestions.",
    )
    metadata = models.JSONField(default=dict, blank=True)
    clean = models.JSONField(
        default=list, blank=True, help_text="Ids of the clean-up suggestions to apply."
    )
    document = models.ForeignKey(
        Document, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    duplicate_of = models.ForeignKey(
        Document, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering: ClassVar = ["batch", "position"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["batch", "position"], name="import_item_position"),
        ]
        indexes: ClassVar = [models.Index(fields=["batch", "status"])]

    def __str__(self) -> str:
        return self.filename


class IdempotencyKey(models.Model):
    """A create sent with an Idempotency-Key header: what it made, so that a retry of the
    same request answers that instead of making another (see documents/idempotency.py)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(
        max_length=64, help_text="SHA-256 of the request body, as canonical JSON."
    )
    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="+")
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_per_user"),
        ]
        # Forgetting old keys reads by age.
        indexes: ClassVar = [models.Index(fields=["created"])]

    def __str__(self) -> str:
        return self.key
