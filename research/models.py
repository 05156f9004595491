"""The search index (chunks of document text with their terms) and batches of coded hits."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils import timezone

from documents.models import Annotation, Document, Tag
from projects.models import Project


class Chunk(models.Model):
    """A stretch of whole lines of a document's text, as the search index holds it
    (research/terms.py cuts and reads it).

    On PostgreSQL its terms are in `terms`, under a GIN index; on SQLite they are in the
    FTS5 table of research/sqlite.py, whose rowid is the chunk's id.
    """

    document = models.ForeignKey(
        Document, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    terms = SearchVectorField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["document", "start"]
        indexes: ClassVar = [
            models.Index(fields=["document", "start"], name="chunk_document_start"),
            # Made on PostgreSQL only (migration 0001): SQLite searches its FTS5 table.
            GinIndex(fields=["terms"], name="chunk_terms"),
        ]

    def __str__(self) -> str:
        return f"#{self.document_id} [{self.start}:{self.end}]"


class DocumentTerms(models.Model):
    """Every term of a document once, without positions, under a GIN index (PostgreSQL
    only): which documents hold a word, one of several words or an excluded word, read
    from the index instead of from every chunk holding it. Phrases, and the offsets of
    hits, need the chunks.

    A document's terms are spread over rows by a hash of the term (`bucket`,
    terms.term_bucket), and a word is looked for in its bucket's rows only (a prefix in
    every bucket's). On PostgreSQL the table is partitioned by bucket (migration 0007): a
    bucket's rows of every document lie together, and for a document of up to a few
    thousand distinct terms (about 540 bytes a row in the benchmark's corpus) they stay
    uncompressed in the table. So whatever plan PostgreSQL picks (it takes a common word's
    rows for most of the table), it reads a sixteenth of the terms, mostly uncompressed,
    where one row a document made it decompress every document's terms. A bucket of very
    many terms (a text of hundreds of thousands of distinct words) has several parts."""

    # The partition's key (bucket) must be in the primary key; the document first, for
    # reading and deleting a document's rows.
    pk = models.CompositePrimaryKey("document_id", "bucket", "part")
    document = models.ForeignKey(
        Document, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    bucket = models.PositiveSmallIntegerField()
    part = models.PositiveSmallIntegerField(default=0)
    terms = SearchVectorField()

    class Meta:
        verbose_name_plural = "document terms"
        indexes: ClassVar = [
            # Made on PostgreSQL only (migration 0007): SQLite searches its FTS5 table.
            GinIndex(fields=["terms"], name="document_terms"),
        ]

    def __str__(self) -> str:
        return f"terms of #{self.document_id} ({self.bucket}.{self.part})"


class QueuedDocument(models.Model):
    """A document whose text waits to be indexed for search by the background worker
    (research/tasks.py). Its row is written in the transaction that stores the text, so a
    document is never stored unindexed without one; search says how many are waiting."""

    document = models.OneToOneField(
        Document, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    queued_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"#{self.document_id} queued {self.queued_at:%Y-%m-%d %H:%M}"


class DocumentCodes(models.Model):
    """The versions one document's counts (`CodeCount`, `CodePair`) were made under: its
    annotations_version, read before its passages, and a fingerprint of the codebook's
    tree. Counts whose versions are not the current ones are made again when next read
    (research/summaries.py), so a comparison after a write reads again only the documents
    written to."""

    document = models.OneToOneField(
        Document, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    annotations_version = models.UUIDField()
    tree_token = models.UUIDField()

    def __str__(self) -> str:
        return f"counts of #{self.document_id}"


class CodeCount(models.Model):
    """One document's live passages carrying a code (or a code below it), each counted
    once; with no code, its passages. For everyone together, or for one coder."""

    document = models.ForeignKey(
        Document, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    #: None: every passage, whatever its codes.
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, null=True, related_name="+")
    #: True: all coders together (coder is None).
    everyone = models.BooleanField()
    coder = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    passages = models.PositiveIntegerField()

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["document", "everyone"], name="code_count_document")
        ]

    def __str__(self) -> str:
        return f"#{self.document_id} code {self.tag_id}: {self.passages}"


class CodePair(models.Model):
    """In one document, how often a passage coded `a` overlaps one coded `b` (a passage
    coded with both counts once); with a = b, the passages coded a. As
    research.analysis.cooccurrence counts them."""

    document = models.ForeignKey(
        Document, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    a = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="+")
    b = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="+", db_index=False)
    overlaps = models.PositiveIntegerField()

    class Meta:
        indexes: ClassVar = [models.Index(fields=["document"], name="code_pair_document")]

    def __str__(self) -> str:
        return f"#{self.document_id} {self.a_id}×{self.b_id}: {self.overlaps}"


class Scope(models.TextChoices):
    """How much of the text around a search hit a batch codes."""

    MATCH = "match", "the words found"
    SENTENCE = "sentence", "the sentence"
    PARAGRAPH = "paragraph", "the paragraph"


class CodingBatch(models.Model):
    """Search hits coded in one step: the annotations it made, so that it can be undone
    as a whole."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    tag = models.ForeignKey(Tag, on_delete=models.PROTECT, related_name="+")
    query = models.CharField(max_length=1000)
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.SENTENCE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now, editable=False)
    annotations = models.ManyToManyField(Annotation, related_name="+")
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        ordering: ClassVar = ["-created", "-id"]
        verbose_name_plural = "coding batches"

    def __str__(self) -> str:
        return f"{self.tag} on hits of {self.query!r}"
