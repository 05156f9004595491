"""Annotations as W3C Web Annotations (https://www.w3.org/TR/annotation-model/), JSON-LD.

One annotation:
- `@context` http://www.w3.org/ns/anno.jsonld, an absolute `id` (the annotation's API URL),
  `type` Annotation, `motivation` tagging, `creator` (a Person), `created`, `modified`;
- one body per tag: a SpecificResource whose `source` is the tag's codebook entry
  (/api/v1/tags/<slug>/) with `purpose` tagging (the model's "semantic tag", §3.3.5 / §4);
  the note, if any, as a TextualBody with `purpose` commenting;
- one target: a SpecificResource whose `source` is the document's API URL, with two selectors
  for the same segment (§4.2): a TextQuoteSelector (exact, prefix, suffix) and a
  TextPositionSelector (start, end), both counting Unicode code points as the model does.

A list is an AnnotationPage (§5.2) whose `partOf` embeds its AnnotationCollection (§5.1)
with `total` and `first`; `next`/`prev` link the neighbouring pages. Annotations inside a
page carry no `@context` of their own: the page's applies.
"""

from __future__ import annotations

from typing import Any

from rest_framework.renderers import JSONRenderer

from .representations import Links

CONTEXT = "http://www.w3.org/ns/anno.jsonld"
PROFILE = CONTEXT
MEDIA_TYPE = f'application/ld+json; profile="{PROFILE}"'


class JSONLDRenderer(JSONRenderer):
    """`Accept: application/ld+json` or `?format=jsonld` selects the W3C representation."""

    media_type = "application/ld+json"
    format = "jsonld"


def annotation(row: dict[str, Any], urls: Links, *, context: bool = True) -> dict[str, Any]:
    """One annotation row (selectors.annotation_rows) as a W3C Annotation."""
    bodies: list[dict[str, Any]] = [
        {"type": "SpecificResource", "source": urls.tag(slug), "purpose": "tagging"}
        for slug in row["tags"]
    ]
    if row["note"]:
        bodies.append(
            {
                "type": "TextualBody",
                "value": row["note"],
                "format": "text/plain",
                "purpose": "commenting",
            }
        )
    out: dict[str, Any] = {}
    if context:
        out["@context"] = CONTEXT
    out.update(
        {
            "id": urls.annotation(row["id"]),
            "type": "Annotation",
            "motivation": "tagging",
            "creator": {
                "type": "Person",
                "nickname": row["author"],
                "name": row["author"],
            },
            "created": row["created"],
            "modified": row["updated"],
            "body": bodies,
            "target": {
                "type": "SpecificResource",
                "source": urls.document(row["document_id"]),
                "selector": [
                    {
                        "type": "TextQuoteSelector",
                        "exact": row["quote"],
                        "prefix": row["prefix"],
                        "suffix": row["suffix"],
                    },
                    {
                        "type": "TextPositionSelector",
                        "start": row["start"],
                        "end": row["end"],
                    },
                ],
            },
        }
    )
    return out


def page(
    rows: list[dict[str, Any]],
    urls: Links,
    *,
    page_id: str,
    collection_id: str,
    first: str,
    total: int,
    next_url: str | None,
    prev_url: str | None,
) -> dict[str, Any]:
    """An AnnotationPage of `rows`, embedding the AnnotationCollection it is part of."""
    collection: dict[str, Any] = {
        "id": collection_id,
        "type": "AnnotationCollection",
        "label": "Tagged passages",
        "total": total,
    }
    if total:
        # §5.1: first SHOULD be given when there are annotations.
        collection["first"] = first
    out: dict[str, Any] = {
        "@context": CONTEXT,
        "id": page_id,
        "type": "AnnotationPage",
        "partOf": collection,
        "items": [annotation(row, urls, context=False) for row in rows],
    }
    if next_url:
        out["next"] = next_url
    if prev_url:
        out["prev"] = prev_url
    return out
