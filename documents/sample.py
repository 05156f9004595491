"""The sample corpus (raw scraped pages, noise included) and the default codebook."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings

from projects.models import Project

from . import services
from .models import Document, Tag
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
            "counter-terrorism framework and human rights, as scraped, noise and all.",
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


def load_corpus(project: Project) -> int:
    """Import the sample documents that are not in the project yet."""
    corpus = SAMPLE_DIR / "corpus"
    manifest: list[dict[str, Any]] = json.loads(
        (corpus / "manifest.json").read_text(encoding="utf-8")
    )
    added = 0
    for row in manifest:
        data = (corpus / row["file"]).read_bytes()
        sha = text_sha256(normalize_text(data.decode("utf-8-sig")))
        if Document.objects.filter(project=project, sha256=sha).exists():
            continue
        services.document_import(
            user=None,
            project=project,
            upload=services.Upload(filename=row["file"], data=data, content_type="text/plain"),
            metadata=services.DocumentMetadata.from_mapping(row),
        )
        added += 1
    return added


def load_sample_data() -> tuple[Project, int, int]:
    project = sample_project()
    return project, load_codebook(project), load_corpus(project)
