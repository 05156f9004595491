"""One representation of a memo and of its revisions: the API's JSON, built from what
memos.selectors read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from documents.representations import Links, utc

from .models import Memo, MemoRevision

# Numbers no id reaches, reversed into URLs and replaced by the real ids.
_A, _B = 987_654_321_987, 123_456_789_123


@dataclass(frozen=True)
class MemoLinks:
    """Absolute URLs of memos (API and page), of their projects, codes and documents, built
    once per request rather than once per memo."""

    links: Links
    api: tuple[str, str]
    page: str

    @classmethod
    def for_request(cls, request: HttpRequest) -> MemoLinks:
        api = request.build_absolute_uri(reverse("api:memo-detail", args=[_A]))
        page = request.build_absolute_uri(reverse("memos:detail", args=[_A, _B]))
        head, tail = api.split(str(_A))
        return cls(Links.for_request(request), (head, tail), page)

    def memo(self, pk: int) -> str:
        return f"{self.api[0]}{pk}{self.api[1]}"

    def memo_page(self, project: int, pk: int) -> str:
        return self.page.replace(str(_A), str(project), 1).replace(str(_B), str(pk), 1)


def memo_json(memo: Memo, urls: MemoLinks) -> dict[str, Any]:
    """A memo (read by memos.selectors, with its author, code, document and who deleted it)
    as the API's JSON object."""
    project = memo.project_id
    code = (
        {
            "id": memo.tag_id,
            "slug": memo.tag.slug,
            "name": memo.tag.name,
            "url": f"{urls.links.tag(memo.tag.slug)}?project={project}",
        }
        if memo.tag is not None
        else None
    )
    document = (
        {
            "id": memo.document_id,
            "title": memo.document.title,
            "url": urls.links.document(memo.document_id),
        }
        if memo.document is not None and memo.document_id is not None
        else None
    )
    return {
        "id": memo.pk,
        "url": urls.memo(memo.pk),
        "page_url": urls.memo_page(project, memo.pk),
        "project": project,
        "project_url": urls.links.project(project),
        "about": memo.about,
        "code": code,
        "document": document,
        "title": memo.title,
        "text": memo.text,
        "author": memo.author.username,
        "created": utc(memo.created),
        "updated": utc(memo.updated),
        "version": memo.version,
        "deleted": memo.is_deleted,
        "deleted_at": utc(memo.deleted_at) if memo.deleted_at is not None else None,
        "deleted_by": memo.deleted_by.username if memo.deleted_by is not None else None,
    }


def revision_json(revision: MemoRevision) -> dict[str, Any]:
    return {
        "version": revision.version,
        "title": revision.title,
        "text": revision.text,
        "author": revision.author.username,
        "created": utc(revision.created),
        "restored_from": revision.restored_from,
    }


def memo_detail_json(
    memo: Memo, revisions: Sequence[MemoRevision], urls: MemoLinks
) -> dict[str, Any]:
    """A memo with every version of it, oldest first."""
    return {**memo_json(memo, urls), "revisions": [revision_json(r) for r in revisions]}
