"""Memos: free text a researcher writes about the project, one code or one document (what a
code has come to mean, doubts, decisions), and every version of it.

A target has as many memos as its researchers write, each with its author, as QualCoder,
MAXQDA and ATLAS.ti keep them. A memo is changed in place, but each change writes a new
`MemoRevision` holding the whole new text, so that every earlier text stays readable and
restorable. A deleted memo is kept (soft deletion): memos are research records.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from documents.models import Document, Tag
from projects.models import Action, Membership, Project, may
from sco_annotate.appendonly import AppendOnly, AppendOnlyQuerySet

#: Longest title and text a memo may have (in characters).
MAX_TITLE = 200
MAX_TEXT = 100_000
#: The largest version number the column holds: a larger one from a request names nothing.
MAX_VERSION = 2**31 - 1


class About(models.TextChoices):
    """What a memo is about: its target."""

    PROJECT = "project", "the project"
    CODE = "code", "a code"
    DOCUMENT = "document", "a document"


class MemoQuerySet(models.QuerySet["Memo"]):
    def visible_to(self, user: Any) -> MemoQuerySet:
        """Memos of the projects `user` is a member of (any role reads them): the access
        rule of memos, the projects' rule (projects.models.MembershipQuerySet.of)."""
        return self.filter(
            project_id__in=Membership.objects.allowed(user, Action.READ).values("project_id")
        )

    def alive(self) -> MemoQuerySet:
        """Leave out deleted memos."""
        return self.filter(deleted_at__isnull=True)


class Memo(models.Model):
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="memos")
    about = models.CharField(max_length=8, choices=About.choices)
    tag = models.ForeignKey(
        Tag,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="memos",
        help_text="The code the memo is about (a code of the memo's project).",
    )
    document = models.ForeignKey(
        Document,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="memos",
        help_text="The document the memo is about (a document of the memo's project).",
    )
    title = models.CharField(max_length=MAX_TITLE, blank=True)
    text = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="memos"
    )
    created = models.DateTimeField(default=timezone.now, editable=False)
    updated = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(
        default=1, help_text="The number of its latest revision: raised by one on every change."
    )
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    objects = MemoQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["-updated", "-id"]
        constraints: ClassVar = [
            # Exactly one target: the project itself, one code or one document. That the
            # code or document is of the memo's project is checked by memos.services.
            models.CheckConstraint(
                condition=(
                    Q(about=About.PROJECT, tag__isnull=True, document__isnull=True)
                    | Q(about=About.CODE, tag__isnull=False, document__isnull=True)
                    | Q(about=About.DOCUMENT, tag__isnull=True, document__isnull=False)
                ),
                name="memo_one_target",
                violation_error_message="A memo is about the project, one code or one document.",
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="memo_version_positive"),
        ]
        indexes: ClassVar = [
            models.Index(fields=["project", "updated"], name="memo_project_updated"),
        ]

    def __str__(self) -> str:
        return self.title or f"Memo #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("memos:detail", args=[self.project_id, self.pk])

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def heading(self) -> str:
        """The title, or when there is none the start of the text's first line."""
        if self.title:
            return self.title
        first = self.text.split("\n", 1)[0].strip()
        return (first if len(first) <= 60 else first[:59] + "…") or "Untitled memo"

    def can_change(self, user: Any, role: str | None) -> bool:
        """Whether `user`, with `role` in the memo's project, may change, delete or restore
        it: as annotations, its author while their role lets them write, and reviewers and
        owners anyone's."""
        if user.pk == self.author_id and user.is_active:
            return may(role, Action.ANNOTATE)
        return may(role, Action.CHANGE_OTHERS)

    def snapshot(self) -> dict[str, Any]:
        """The values recorded in the activity log before and after a change. Not the title
        or the text: those are in the memo's revisions, which only the project's members
        read (the Django admin shows activity rows without a document to every site
        administrator)."""
        return {
            "project": self.project_id,
            "about": self.about,
            "code": self.tag_id,
            "document": self.document_id,
            "version": self.version,
            "deleted": self.is_deleted,
        }


class MemoRevision(AppendOnly, models.Model):
    """One version of a memo: its title and whole text as they were after a change, who made
    the change and when. Written by memos.services in the same transaction as the change;
    never edited or deleted."""

    memo = models.ForeignKey(Memo, on_delete=models.PROTECT, related_name="revisions")
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=MAX_TITLE, blank=True)
    text = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who made this version (the memo's author wrote the first).",
    )
    created = models.DateTimeField(default=timezone.now, editable=False)
    restored_from = models.PositiveIntegerField(
        null=True, blank=True, help_text="The earlier version this one brought back, if any."
    )

    append_only = "A memo's revisions are"

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["memo", "version"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["memo", "version"], name="memo_revision_once"),
        ]

    def __str__(self) -> str:
        return f"Memo #{self.memo_id}, version {self.version}"
