"""Reads of memos. Every read starts from `Memo.objects.visible_to(user)`: a member of a
project reads its memos, whatever their role; to anyone else they are not there."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from documents.models import MAX_ID, Document, Tag, role_in
from projects.models import Action, Membership, may

from .models import About, Memo, MemoRevision

#: How many of the project's own memos, and of those about its codes and documents, the
#: project's page shows (the memos page has them all).
PROJECT_PAGE_MEMOS = 10

#: What lists of memos never read of the documents they are about.
_DOCUMENT_UNREAD = (
    "document__text",
    "document__import_report",
    "document__page_breaks",
    "document__notes",
)


@dataclass(frozen=True)
class MemoFilter:
    """Which of a project's memos to list: the same for the memos page and the API (both
    parse it with memos.forms.MemoFilterForm)."""

    project: int
    about: str = ""
    author: str = ""
    code: int | None = None
    document: int | None = None
    include_deleted: bool = False

    def apply(self, memos: QuerySet[Memo]) -> QuerySet[Memo]:
        memos = memos.filter(project_id=self.project)
        if self.about:
            memos = memos.filter(about=self.about)
        if self.author:
            memos = memos.filter(author__username=self.author)
        if self.code is not None:
            memos = memos.filter(tag_id=self.code)
        if self.document is not None:
            memos = memos.filter(document_id=self.document)
        if not self.include_deleted:
            memos = memos.filter(deleted_at__isnull=True)
        return memos


def _shown(memos: QuerySet[Memo]) -> QuerySet[Memo]:
    """With what a list shows of each memo: author, code, document (without its text), who
    deleted it."""
    return memos.select_related("author", "tag", "document", "deleted_by").defer(*_DOCUMENT_UNREAD)


def memo_list(*, user: Any, filters: MemoFilter) -> QuerySet[Memo]:
    """The memos of a project `user` is a member of that pass `filters`, latest change first."""
    memos = filters.apply(Memo.objects.visible_to(user))
    return _shown(memos).order_by("-updated", "-pk")


def memo_get(*, user: Any, project: int, pk: int) -> Memo:
    """Memo `pk` of project `project`, deleted or not, with `role` (the user's in the
    project); Memo.DoesNotExist when `user` may not read it."""
    if not (0 < pk <= MAX_ID and 0 < project <= MAX_ID):
        raise Memo.DoesNotExist(f"No memo #{pk}.")
    mine = Membership.objects.of(user).filter(project_id=OuterRef("project_id"))
    memos = Memo.objects.visible_to(user).filter(project_id=project)
    return _shown(memos).annotate(role=Subquery(mine.values("role")[:1])).get(pk=pk)


def memo_get_any(*, user: Any, pk: int) -> Memo:
    """Memo `pk` of any project `user` is a member of (the API names memos by id alone)."""
    if not 0 < pk <= MAX_ID:
        raise Memo.DoesNotExist(f"No memo #{pk}.")
    project = Memo.objects.visible_to(user).filter(pk=pk).values_list("project_id", flat=True)
    found = project.first()
    if found is None:
        raise Memo.DoesNotExist(f"No memo #{pk}.")
    return memo_get(user=user, project=found, pk=pk)


def memo_revisions(*, memo: Memo) -> list[MemoRevision]:
    """Every version of a memo that a selector returned, oldest first, with its author."""
    return list(
        MemoRevision.objects.filter(memo_id=memo.pk).select_related("author").order_by("version")
    )


def memo_authors(*, user: Any, project: int) -> list[str]:
    """The usernames a project's memos can be filtered by: its members and whoever wrote
    one of its memos (a former member, say)."""
    members = Membership.objects.of(user).filter(project_id=project).values("project_id")
    names = set(
        Membership.objects.filter(project_id__in=members).values_list("user__username", flat=True)
    )
    names.update(
        Memo.objects.visible_to(user)
        .filter(project_id=project)
        .order_by()
        .values_list("author__username", flat=True)
        .distinct()
    )
    return sorted(names)


def with_rights(memos: Iterable[Memo], user: Any, role: str | None) -> list[Memo]:
    """The memos, each with `editable`: whether `user` (with `role` in their project) may
    change, delete and restore it."""
    found = list(memos)
    for memo in found:
        memo.editable = memo.can_change(user, role)  # type: ignore[attr-defined]
    return found


# ---------------------------------------------------------------------------------------
# What other pages show: a code's or a document's memos, the project page's section


@dataclass
class Panel:
    """The memos about one target, as the passages view, the code page and the document page
    show them, with the form to add one."""

    project: int
    about: str
    target: Tag | Document | None
    memos: list[Memo]
    may_write: bool
    role: str | None = None
    #: A refused create sent back: what was typed and why it was refused.
    title: str = ""
    text: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def dom_id(self) -> str:
        return f"memos-{self.about}" + (f"-{self.target.pk}" if self.target is not None else "")

    @property
    def code_id(self) -> int | None:
        return self.target.pk if isinstance(self.target, Tag) else None

    @property
    def document_id(self) -> int | None:
        return self.target.pk if isinstance(self.target, Document) else None

    @property
    def name(self) -> str:
        if isinstance(self.target, Tag):
            return self.target.name
        if isinstance(self.target, Document):
            return self.target.title
        return ""


def target_panel(
    *,
    user: Any,
    project: int,
    code: Tag | None = None,
    document: Document | None = None,
    limit: int | None = None,
) -> Panel:
    """The live memos about `code` or `document` (one a selector returned; else the
    project's own memos), latest change first (the `limit` latest if given). Two queries."""
    role = role_in(user, project)
    filters = MemoFilter(
        project=project,
        about=About.CODE if code else About.DOCUMENT if document else About.PROJECT,
        code=code.pk if code else None,
        document=document.pk if document else None,
    )
    listed = memo_list(user=user, filters=filters)
    memos = with_rights(listed if limit is None else listed[:limit], user, role)
    return Panel(
        project=project,
        about=filters.about,
        target=code or document,
        memos=memos,
        may_write=may(role, Action.ANNOTATE),
        role=role,
    )


def target_get(
    *, user: Any, project: int, code: int | None, document: int | None
) -> Tag | Document | None:
    """The code or document of `project` that a memo form names, if `user` may read it;
    None when it names neither, or one that is not there."""
    if code is not None and 0 < code <= MAX_ID:
        return Tag.objects.visible_to(user).filter(project_id=project, pk=code).first()
    if document is not None and 0 < document <= MAX_ID:
        found: Document | None = (
            Document.objects.visible_to(user)
            .without_text()
            .filter(project_id=project, pk=document)
            .first()
        )
        return found
    return None


@dataclass
class Overview:
    """The project page's section: the project's own memos and the latest about its codes
    and documents."""

    panel: Panel
    on_targets: list[Memo]
    count: int


def project_overview(*, user: Any, project: int, limit: int = PROJECT_PAGE_MEMOS) -> Overview:
    """The `limit` latest of the project's own memos and of those about its codes and
    documents, with the number of its memos. Four queries."""
    panel = target_panel(user=user, project=project, limit=limit)
    on_targets = memo_list(user=user, filters=MemoFilter(project=project)).exclude(
        about=About.PROJECT
    )
    count = memo_list(user=user, filters=MemoFilter(project=project)).count()
    return Overview(panel=panel, on_targets=list(on_targets[:limit]), count=count)
