"""The sample corpus (raw scraped pages, noise included) and the default codebook."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings

from projects.models import Project

from . import services
from .models import Document, SourceFile, Tag
from .text import normalize_text, text_sha256

SAMPLE_DIR = Path(settings.BASE_DIR) / "sample_data"
#: The project that holds the sample corpus.
SAMPLE_PROJECT = "SCO counter-terrorism and human rights (sample)"


def codebook_entries() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(
        (SAMPLE_DIR / "codebook.json").read_text(encoding="utf-8")
    )
    return entries


def sample_project() -> Project:
    """The sample corpus's project, made the first time (by the operator: no user)."""
    project, created = Project.objects.get_or_create(
        name=SAMPLE_PROJECT,
        defaults={
            "description": "Five documents on the Shanghai Cooperation Organization's "
            "counter-terrorism framework and human rights, scraped from the web: each "
            "document's page says what the import's clean-up removed, and its original file "
            "is kept as scraped.",
            "codebook_source": "the default codebook",
        },
    )
    return project


def load_codebook(project: Project) -> int:
    """Add the default tags that are missing (by slug) to the project's codebook; tags
    already there are left as edited."""
    existing = {tag.slug: tag for tag in Tag.objects.filter(project=project)}
    added = 0
    for order, entry in enumerate(codebook_entries()):
        if entry["slug"] in existing:
            continue
        parent = existing.get(entry.get("parent", ""))
        tag = Tag(
            project=project,
            name=entry["name"],
            slug=entry["slug"],
            definition=entry["definition"],
            colour=entry["colour"],
            shortcut=entry.get("shortcut", ""),
            parent=parent,
            sort_order=order * 10,
        )
        existing[tag.slug] = services.tag_save(user=None, tag=tag)
        added += 1
    return added


def load_corpus(project: Project, *, clean: bool = False) -> int:
    """Import the sample documents that are not in the project yet. With `clean`, each
    import applies every clean-up the importer proposes, as an admin who accepts them all
    would: the import report records what went, by which rule, and the original file keeps
    the noise. Without it (what the tests read) the texts stay as scraped."""
    corpus = SAMPLE_DIR / "corpus"
    manifest: list[dict[str, Any]] = json.loads(
        (corpus / "manifest.json").read_text(encoding="utf-8")
    )
    added = 0
    for row in manifest:
        upload = services.Upload(
            filename=row["file"],
            data=(corpus / row["file"]).read_bytes(),
            content_type="text/plain",
        )
        if _imported(project, upload):
            continue
        services.document_import(
            user=None,
            project=project,
            upload=upload,
            metadata=services.DocumentMetadata.from_mapping(row),
            clean=clean,
        )
        added += 1
    return added


def _imported(project: Project, upload: services.Upload) -> bool:
    """Whether the project holds this file already: its raw text, or (once cleaned, the
    text differs) a document imported from these very bytes."""
    sha = text_sha256(normalize_text(upload.data.decode("utf-8-sig")))
    same_file = SourceFile.objects.filter(
        document__project=project, size=len(upload.data), sha256=upload.sha256
    )
    return Document.objects.filter(project=project, sha256=sha).exists() or same_file.exists()


def load_sample_data(*, clean: bool = True) -> tuple[Project, int, int]:
    """The sample project, with the codes and documents it lacked added (how many)."""
    project = sample_project()
    return project, load_codebook(project), load_corpus(project, clean=clean)
