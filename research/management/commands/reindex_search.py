"""Rebuild the search index of every document (or of one project's), or index the queued
documents now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from documents.models import Document
from projects.models import Project
from research import sqlite
from research.index import index_documents
from research.models import Chunk, QueuedDocument
from research.tasks import index_queued

BATCH = 200


class Command(BaseCommand):
    help = (
        "Rebuild the search index: after an upgrade that changes how text is cut into "
        "search terms (research/terms.py), or to repair it."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--project", type=int, help="Only this project's documents (its id).")
        parser.add_argument(
            "--queued",
            action="store_true",
            help="Only index the documents waiting for the background worker, here and now.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["queued"]:
            if options.get("project") is not None:
                raise CommandError("--queued indexes every queued document: leave out --project.")
            # The task's function, called here rather than queued for a worker.
            indexed = index_queued.call()
            self.stdout.write(f"Indexed {indexed} queued documents.")
            return
        documents = Document.objects.order_by("pk")
        project = options.get("project")
        if project is not None:
            if not Project.objects.filter(pk=project).exists():
                raise CommandError(f"There is no project #{project}.")
            documents = documents.filter(project_id=project)
        elif connection.vendor == "sqlite":
            # Terms left by documents deleted since go too.
            with transaction.atomic():
                Chunk.objects.all().delete()
                sqlite.clear()
        ids = list(documents.values_list("pk", flat=True))
        chunks = 0
        for at in range(0, len(ids), BATCH):
            batch = Document.objects.filter(pk__in=ids[at : at + BATCH]).values_list("pk", "text")
            with transaction.atomic():
                chunks += index_documents(batch)
                QueuedDocument.objects.filter(pk__in=ids[at : at + BATCH]).delete()
        self.stdout.write(f"Indexed {len(ids)} documents in {chunks} chunks.")
