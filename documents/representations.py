"""One representation of each resource, as the API's JSON gives it.

`annotation_json` is the only function that turns an annotation row (selectors.annotation_rows)
into its JSON object; the JSON Lines export writes the same objects, the CSV export and the
W3C JSON-LD (webannotation.py) read the same rows. `document_json`, `tag_json` and
`attribute_json` do the same for documents, codebook entries and document attributes.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.http import HttpRequest
from django.urls import get_script_prefix, reverse

#: The version of these representations, part of the ETag of one document's list (a client
#: keeps an ETag across deployments). Raise it with any change to what `annotation_json`
#: writes.
REPRESENTATION_VERSION = 2


def utc(value: datetime.datetime | None) -> str | None:
    """RFC 3339 / xsd:dateTime in UTC with a Z, with microseconds (cursors rely on them)."""
    if value is None:
        return None
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rfc3339(value: Any) -> str:
    """A timestamp read as text ('2026-11-22 16:27:37.5+00' from PostgreSQL in UTC,
    '2026-11-22 16:27:37.500000' from SQLite) as '2026-11-22T16:27:37.500000Z'."""
    if isinstance(value, datetime.datetime):
        return utc(value) or ""
    text = str(value)
    seconds, _, fraction = (text[:-3] if text.endswith("+00") else text).partition(".")
    if (
        len(seconds) == 19
        and seconds[10] in " T"
        and len(fraction) <= 6
        and (not fraction or fraction.isdigit())
    ):
        return f"{seconds[:10]}T{seconds[11:]}.{fraction:0<6}Z"
    # Not one of the UTC forms above: let Python read it (naive means UTC, as Django
    # stores it).
    parsed = datetime.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return utc(parsed) or ""


# ---------------------------------------------------------------------------------------
# Absolute URLs

_SENTINEL = "2147480000"


@dataclass(frozen=True)
class Links:
    """Absolute URLs of API resources, built once per request rather than once per row."""

    annotation_parts: tuple[str, str]
    document_parts: tuple[str, str]
    tag_parts: tuple[str, str]
    project_parts: tuple[str, str]

    @classmethod
    def for_request(cls, request: HttpRequest) -> Links:
        # The same for every request to the same origin (ALLOWED_HOSTS keeps these few).
        key = (request.scheme, request.get_host(), get_script_prefix())
        found = _links.get(key)
        if found is None:

            def parts(name: str) -> tuple[str, str]:
                url = request.build_absolute_uri(reverse(name, args=[_SENTINEL]))
                head, tail = url.split(_SENTINEL)
                return head, tail

            found = cls(
                parts("api:annotation-detail"),
                parts("api:document-detail"),
                parts("api:tag-detail"),
                parts("api:project-detail"),
            )
            if len(_links) < 64:  # ALLOWED_HOSTS with a wildcard admits any number of hosts
                _links[key] = found
        return found

    @cached_property
    def digest(self) -> str:
        """A short digest of the origin these URLs name, for ETags of what holds them."""
        parts = "\n".join(
            self.annotation_parts + self.document_parts + self.tag_parts + self.project_parts
        )
        return hashlib.sha256(parts.encode()).hexdigest()[:16]

    def annotation(self, pk: int) -> str:
        return f"{self.annotation_parts[0]}{pk}{self.annotation_parts[1]}"

    def document(self, pk: int) -> str:
        return f"{self.document_parts[0]}{pk}{self.document_parts[1]}"

    def tag(self, slug: str) -> str:
        return f"{self.tag_parts[0]}{slug}{self.tag_parts[1]}"

    def project(self, pk: int) -> str:
        return f"{self.project_parts[0]}{pk}{self.project_parts[1]}"

    def api_root(self) -> str:
        """The API's base URL (…/api/v1/), ending with a slash."""
        return self.project_parts[0].removesuffix("projects/")


_links: dict[tuple[str | None, str, str], Links] = {}


# ---------------------------------------------------------------------------------------
# Resources


def annotation_json(row: Mapping[str, Any], urls: Links) -> dict[str, Any]:
    """An annotation row as the API's JSON object; a deleted one as a tombstone that keeps
    only what a client that mirrors the list needs to drop it."""
    pk, document = row["id"], row["document_id"]
    if row["deleted_at"] is not None:
        return {
            "id": pk,
            "url": urls.annotation(pk),
            "document": document,
            "document_url": urls.document(document),
            "updated": row["updated"],
            "version": row["version"],
            "deleted": True,
        }
    return {
        "id": pk,
        "url": urls.annotation(pk),
        "document": document,
        "document_url": urls.document(document),
        "start": row["start"],
        "end": row["end"],
        "quote": row["quote"],
        "prefix": row["prefix"],
        "suffix": row["suffix"],
        "tags": row["tags"],
        "note": row["note"],
        "author": row["author"],
        "created": row["created"],
        "updated": row["updated"],
        "version": row["version"],
        "deleted": False,
    }


def document_json(document: Any, urls: Links, *, annotations_url: str) -> dict[str, Any]:
    """A document's metadata (not its text) as the API's JSON object."""
    published = document.published
    return {
        "id": document.pk,
        "url": urls.document(document.pk),
        "project": document.project_id,
        "title": document.title,
        "organisation": document.organisation,
        "author": document.author,
        "source_url": document.source_url,
        "published": published.isoformat() if published else None,
        "date_precision": document.date_precision,
        "language": document.language,
        "document_type": document.document_type,
        "notes": document.notes,
        "length": document.length,
        "sha256": document.sha256,
        "annotations_url": f"{annotations_url}?document={document.pk}",
        "attributes": document.attribute_map(),
        "imported_at": utc(document.imported_at),
        "updated_at": utc(document.updated_at),
    }


def original_json(document: Any, urls: Links) -> dict[str, Any] | None:
    """The file a document was imported from (read with it: selectors.document_get with
    `original`), None for a document added as text."""
    if document.original_filename is None:
        return None
    return {
        "url": f"{urls.document(document.pk)}original/",
        "filename": document.original_filename,
        "size": document.original_size,
        "sha256": document.original_sha256,
    }


def tag_json(tag: Any, urls: Links) -> dict[str, Any]:
    """A codebook entry (its parent and the code it was merged into selected with it) as
    the API's JSON object."""
    return {
        "id": tag.pk,
        "url": urls.tag(tag.slug),
        "project": tag.project_id,
        "slug": tag.slug,
        "name": tag.name,
        "definition": tag.definition,
        "inclusion": tag.inclusion,
        "exclusion": tag.exclusion,
        "colour": tag.colour,
        "parent": tag.parent.slug if tag.parent_id else None,
        "shortcut": tag.shortcut,
        "is_active": tag.is_active,
        "merged_into": tag.merged_into.slug if tag.merged_into_id else None,
        "example": urls.annotation(tag.example_id) if tag.example_id else None,
        "guid": str(tag.uuid),
    }


def project_json(project: Any, urls: Links) -> dict[str, Any]:
    """A project (read by projects.selectors.project_list, with the caller's role and its
    counts) as the API's JSON object."""
    root = urls.api_root()
    return {
        "id": project.pk,
        "url": urls.project(project.pk),
        "name": project.name,
        "description": project.description,
        "role": project.role,
        "require_mfa": project.require_mfa,
        "locked": project.locked,
        "document_count": project.document_count,
        "member_count": project.member_count,
        "codebook_source": project.codebook_source,
        "documents_url": f"{root}documents/?project={project.pk}",
        "tags_url": f"{root}tags/?project={project.pk}",
        "annotations_url": f"{root}annotations/?project={project.pk}",
        "attributes_url": f"{root}projects/{project.pk}/attributes/",
        "created": utc(project.created),
    }


def attribute_json(attribute: Any) -> dict[str, Any]:
    """A document attribute's definition as the API's JSON object."""
    return {
        "id": attribute.pk,
        "project": attribute.project_id,
        "slug": attribute.slug,
        "name": attribute.name,
        "kind": attribute.kind,
        "choices": list(attribute.choices),
        "sort_order": attribute.sort_order,
    }
