"""The sample corpus (raw scraped pages, noise included) and the default codebook."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings

from . import services
from .models import Document, Tag
from .text import normalize_text, text_sha256

SAMPLE_DIR = Path(settings.BASE_DIR) / "sample_data"


def codebook_entries() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(
        (SAMPLE_DIR / "codebook.json").read_text(encoding="utf-8")
    )
    return entries


def load_codebook() -> int:
    """Add the default tags that are missing (by slug); tags already there are left as edited."""
    existing = {tag.slug: tag for tag in Tag.objects.all()}
    added = 0
    for order, entry in enumerate(codebook_entries()):
        if entry["slug"] in existing:
            continue
        parent = existing.get(entry.get("parent", ""))
        tag = Tag(
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


def load_corpus() -> int:
    """Import the sample documents that are not stored yet."""
    corpus = SAMPLE_DIR / "corpus"
    manifest: list[dict[str, Any]] = json.loads(
        (corpus / "manifest.json").read_text(encoding="utf-8")
    )
    added = 0
    for row in manifest:
        data = (corpus / row["file"]).read_bytes()
        sha = text_sha256(normalize_text(data.decode("utf-8-sig")))
        if Document.objects.filter(sha256=sha).exists():
            continue
        services.document_import(
            user=None,
            upload=services.Upload(filename=row["file"], data=data, content_type="text/plain"),
            metadata=services.DocumentMetadata.from_mapping(row),
        )
        added += 1
    return added


def load_sample_data() -> tuple[int, int]:
    return load_codebook(), load_corpus()
