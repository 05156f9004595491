"""Who may do what, as one table: every page, htmx endpoint and API endpoint against every
kind of caller (each role of project A, a member of another project only, a site
administrator who is no member, an anonymous caller, a read-only token and a token limited
to another project).

`ENDPOINTS` has one row per URL pattern and method; a URL pattern without a row fails
`test_every_endpoint_has_a_row`, so a new endpoint cannot slip in unchecked. Then
`test_isolation` checks that nothing of project A shows in what the others can list,
search or export.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from documents import services
from documents.models import ImportBatch, ImportItem, ImportStatus, SourceFile
from projects import services as project_services
from projects.models import Action, Membership, Project, Role, may
from tests.conftest import MIXED_TEXT
from tests.helpers import annotate

# What a call may come to.
OK, DENIED, HIDDEN, LOGIN = "ok", "denied", "hidden", "login"


@dataclass(frozen=True)
class Caller:
    name: str
    #: Role in project A, None for no membership (or a token that does not reach A).
    role: str | None = None
    anonymous: bool = False
    site_admin: bool = False
    #: Calls the API with a token (read-only or not) instead of a session.
    token: str = ""  # "", "read-only", "other-project"
    #: May import into some project (its own project B, say).
    imports_elsewhere: bool = False


CALLERS = [
    Caller("anonymous", anonymous=True),
    Caller("outsider", imports_elsewhere=True),  # owner of project B only
    Caller("site-admin", site_admin=True),
    Caller("reader", Role.READER),
    Caller("coder", Role.CODER),
    Caller("reviewer", Role.REVIEWER),
    Caller("owner", Role.OWNER),
    Caller("read-only-token", Role.CODER, token="read-only"),
    Caller("token-for-b", None, token="other-project", imports_elsewhere=True),
]


def right(action: str) -> Callable[[Caller, bool], str]:
    """Members whose role allows `action` may; other members are refused; to everyone
    else project A's object is not there."""

    def rule(caller: Caller, write: bool) -> str:
        if caller.anonymous:
            return LOGIN
        if caller.role is None:
            return HIDDEN
        if write and caller.token == "read-only":
            return DENIED
        return OK if may(caller.role, action) else DENIED

    return rule


def change_coders(caller: Caller, write: bool) -> str:
    """The coder's own annotation: the coder changes it, reviewers and owners too."""
    if caller.anonymous:
        return LOGIN
    if caller.role is None:
        return HIDDEN
    if write and caller.token == "read-only":
        return DENIED
    if caller.name in ("coder", "read-only-token"):
        return OK
    return OK if may(caller.role, Action.CHANGE_OTHERS) else DENIED


def anyone(caller: Caller, write: bool) -> str:
    """Any logged-in caller (lists: what they show is checked by test_isolation)."""
    if caller.anonymous:
        return LOGIN
    if write and caller.token == "read-only":
        return DENIED
    return OK


def site_admins(caller: Caller, write: bool) -> str:
    if caller.anonymous:
        return LOGIN
    return OK if caller.site_admin else DENIED


def importers(caller: Caller, write: bool) -> str:
    """The import pages: for whoever may import somewhere; A's batch, or an import into
    A, only for A's owner."""
    if caller.anonymous:
        return LOGIN
    if caller.role == Role.OWNER:
        return OK
    return HIDDEN if caller.imports_elsewhere else DENIED


def import_page(caller: Caller, write: bool) -> str:
    """The upload page itself: for whoever may import into some project."""
    if caller.anonymous:
        return LOGIN
    return OK if caller.role == Role.OWNER or caller.imports_elsewhere else DENIED


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    rule: Callable[[Caller, bool], str]
    args: Callable[[Any], list[Any]] = lambda world: []
    data: Callable[[Any], Any] = lambda world: None
    api: bool = False
    htmx: bool = False

    @property
    def write(self) -> bool:
        return self.method not in ("get", "head")

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.name}"


def _doc(world: Any) -> list[Any]:
    return [world.document.pk]


def _coders(world: Any) -> list[Any]:
    return [world.coders.pk]


def _project(world: Any) -> list[Any]:
    return [world.project.pk]


def _code(world: Any) -> list[Any]:
    return [world.project.pk, world.project.tags.order_by("pk").first().pk]


_QDC = (
    b'<?xml version="1.0" encoding="utf-8"?><CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>'
    b'<Code guid="6b3d9b8e-1c0f-4a5e-9f7e-2d1c0b9a8f7e" name="Imported" isCodable="true"/>'
    b"</Codes></CodeBook>"
)


def _code_of_a(world: Any, *, retired: bool = False) -> str:
    """The slug of a code that project A's codebook alone has (retired if asked)."""
    tag = project_services.code_save(
        user=world.users["owner"],
        project=world.project,
        values={"name": "Only in A", "colour": "#336699", "is_active": not retired},
    )
    return str(tag.slug)


def _reader_membership(world: Any) -> list[Any]:
    return [world.project.pk, world.memberships["reader"].pk]


def _tag_pk(world: Any) -> int:
    return world.project.tags.get(slug="extradition").pk


def _batch(world: Any) -> list[Any]:
    """A batch of coded search hits, made by the coder."""
    from research import services as research_services

    text = world.document.text
    start = text.index("Convention")
    batch = research_services.code_hits(
        user=world.users["coder"],
        project=world.project.pk,
        tag=world.project.tags.get(slug="due-process"),
        hits=[(world.document.pk, start, start + len("Convention"))],
        scope="match",
        query="Convention",
    )
    return [world.project.pk, batch.pk]


def undo_rule(caller: Caller, write: bool) -> str:
    """A batch of coded hits: undone by who made it (the coder), reviewers and owners."""
    return change_coders(caller, write)


def _coders_memo(world: Any) -> Any:
    """A memo on a code by the coder, at version 2 (so that version 1 can be restored)."""
    from memos import services as memo_services

    memo = memo_services.memo_create(
        user=world.users["coder"],
        project=world.project,
        code=world.project.tags.get(slug="extradition"),
        text="Secret memo of A",
    )
    return memo_services.memo_update(user=world.users["coder"], memo=memo, text="Second text.")


def _memo_page(world: Any) -> list[Any]:
    return [world.project.pk, _coders_memo(world).pk]


def _memo_api(world: Any) -> list[Any]:
    return [_coders_memo(world).pk]


def _deleted_memo_page(world: Any) -> list[Any]:
    from memos import services as memo_services

    memo = _coders_memo(world)
    memo_services.memo_delete(user=world.users["coder"], memo=memo)
    return [world.project.pk, memo.pk]


def _country(world: Any) -> Any:
    """Project A's attribute "country" (a choice), made by its owner once."""
    from documents.models import Attribute

    return Attribute.objects.filter(project=world.project, slug="country").first() or (
        services.attribute_create(
            user=world.users["owner"],
            project=world.project,
            name="Country",
            kind="choice",
            choices=["China", "Russia"],
        )
    )


def _doc_attributes(world: Any) -> list[Any]:
    _country(world)
    return [world.document.pk]


def _project_attributes(world: Any) -> list[Any]:
    _country(world)
    return [world.project.pk]


def _attribute(world: Any) -> list[Any]:
    return [world.project.pk, _country(world).pk]


def _attribute_csv(world: Any) -> dict[str, Any]:
    body = f"document_id,country\n{world.document.pk},Russia\n".encode()
    return {"file": SimpleUploadedFile("values.csv", body, content_type="text/csv")}


def _span(world: Any, needle: str = "Россия") -> dict[str, Any]:
    start = world.document.text.index(needle)
    return {"start": start, "end": start + len(needle), "quote": needle}


ENDPOINTS = [
    # The analysts' pages and their htmx fragments.
    Endpoint("documents:list", "get", anyone),
    Endpoint("documents:detail", "get", right(Action.READ), _doc),
    # The file it was imported from: as the document (readers read and export everything).
    Endpoint("documents:original", "get", right(Action.READ), _doc),
    Endpoint(
        "documents:annotation_create",
        "post",
        right(Action.ANNOTATE),
        _doc,
        lambda w: {**_span(w), "tags": ["extradition"], "note": ""},
        htmx=True,
    ),
    Endpoint("documents:annotation_panel", "get", right(Action.READ), _doc, htmx=True),
    Endpoint("documents:annotation_summaries", "get", right(Action.READ), _doc, htmx=True),
    Endpoint("documents:annotation_card", "get", right(Action.READ), _coders, htmx=True),
    Endpoint("documents:annotation_edit", "get", change_coders, _coders, htmx=True),
    Endpoint(
        "documents:annotation_edit",
        "post",
        change_coders,
        _coders,
        lambda w: {"version": 1, "tags": ["due-process"], "note": "Changed."},
        htmx=True,
    ),
    Endpoint(
        "documents:annotation_delete",
        "post",
        change_coders,
        _coders,
        lambda w: {"version": 1},
        htmx=True,
    ),
    Endpoint(
        "documents:annotation_restore",
        "post",
        change_coders,
        _coders,
        lambda w: {"version": 1},
        htmx=True,
    ),
    # Changing the extent of the coder's annotation, its history, the document's activity
    # and deleted annotations.
    Endpoint("documents:annotation_extent", "get", change_coders, _coders, htmx=True),
    Endpoint(
        "documents:annotation_extent",
        "post",
        change_coders,
        _coders,
        lambda w: {"version": 1, **_span(w, "Shanghai Convention")},
        htmx=True,
    ),
    Endpoint("documents:annotation_history", "get", right(Action.READ), _coders, htmx=True),
    Endpoint("documents:activity", "get", right(Action.READ), _doc),
    Endpoint("documents:trash", "get", right(Action.READ), _doc),
    Endpoint("documents:tag_styles", "get", anyone),
    Endpoint("documents:import", "get", import_page),
    Endpoint(
        "documents:import",
        "post",
        importers,
        data=lambda w: {
            "project": w.project.pk,
            "files": SimpleUploadedFile("new.txt", b"A new witness statement."),
        },
    ),
    Endpoint("documents:import_batch", "get", importers, lambda w: [w.batch.pk]),
    Endpoint("documents:import_step", "post", importers, lambda w: [w.batch.pk]),
    Endpoint("documents:import_confirm", "post", importers, lambda w: [w.batch.pk]),
    # The project pages.
    Endpoint("projects:list", "get", anyone),
    Endpoint("projects:create", "get", site_admins),
    Endpoint("projects:create", "post", site_admins, data=lambda w: {"name": "Another"}),
    Endpoint("projects:detail", "get", right(Action.READ), _project),
    Endpoint(
        "projects:settings",
        "post",
        right(Action.MANAGE),
        _project,
        lambda w: {"name": "Renamed", "description": ""},
    ),
    Endpoint(
        "projects:member_add",
        "post",
        right(Action.MANAGE),
        _project,
        lambda w: {"username": "newcomer", "role": Role.READER},
    ),
    Endpoint(
        "projects:member_role",
        "post",
        right(Action.MANAGE),
        _reader_membership,
        lambda w: {"role": Role.CODER},
    ),
    Endpoint("projects:member_remove", "post", right(Action.MANAGE), _reader_membership),
    Endpoint(
        "projects:codebook_copy",
        "post",
        right(Action.MANAGE),
        _project,
        lambda w: {"source": "default"},
    ),
    Endpoint(
        "projects:code_add",
        "post",
        right(Action.CODEBOOK),
        _project,
        lambda w: {"name": "Oversight gap 2", "colour": "#336699", "is_active": "on"},
    ),
    # The codebook page and a code's page: every member; the changes: the owners.
    Endpoint("projects:codebook", "get", right(Action.READ), _project),
    Endpoint("projects:codebook_export", "get", right(Action.READ), _project),
    Endpoint(
        "projects:codebook_import",
        "post",
        right(Action.CODEBOOK),
        _project,
        lambda w: {"file": SimpleUploadedFile("codebook.qdc", _QDC)},
    ),
    Endpoint("projects:code_edit", "get", right(Action.READ), _code),
    Endpoint(
        "projects:code_merge",
        "post",
        right(Action.CODEBOOK),
        _code,
        lambda w: {"into": w.project.tags.get(slug="due-process").pk},
    ),
    Endpoint("projects:code_retire", "post", right(Action.CODEBOOK), _code),
    Endpoint("projects:code_restore", "post", right(Action.CODEBOOK), _code),
    Endpoint(
        "projects:code_example", "post", right(Action.CODEBOOK), _code, lambda w: {"annotation": ""}
    ),
    Endpoint(
        "projects:code_edit",
        "post",
        right(Action.CODEBOOK),
        _code,
        lambda w: {"name": "Renamed code", "colour": "#336699", "is_active": "on"},
    ),
    # Document attributes: defined and filled in by the owners, read by every member.
    Endpoint("documents:attributes", "get", right(Action.IMPORT), _doc_attributes),
    Endpoint(
        "documents:attributes",
        "post",
        right(Action.IMPORT),
        _doc_attributes,
        lambda w: {"attr.country": "China"},
    ),
    Endpoint(
        "projects:attribute_add",
        "post",
        right(Action.IMPORT),
        _project,
        lambda w: {"name": "Issuer", "kind": "text"},
    ),
    Endpoint("projects:attribute_edit", "get", right(Action.IMPORT), _attribute),
    Endpoint(
        "projects:attribute_edit",
        "post",
        right(Action.IMPORT),
        _attribute,
        lambda w: {
            "name": "Country",
            "kind": "choice",
            "choices": "China\nRussia\nIndia",
            "sort_order": 0,
        },
    ),
    Endpoint("projects:attribute_delete", "get", right(Action.IMPORT), _attribute),
    Endpoint("projects:attribute_delete", "post", right(Action.IMPORT), _attribute),
    Endpoint("projects:document_attributes", "get", right(Action.READ), _project_attributes),
    Endpoint(
        "projects:attributes_upload",
        "post",
        right(Action.IMPORT),
        _project_attributes,
        _attribute_csv,
    ),
    Endpoint("projects:attributes_csv", "get", right(Action.READ), _project_attributes),
    # The research pages of a project.
    Endpoint("research:search", "get", right(Action.READ), _project),
    Endpoint(
        "research:code_hits",
        "post",
        right(Action.ANNOTATE),
        _project,
        lambda w: {"q": "Convention", "code": _tag_pk(w), "scope": "sentence", "every": "on"},
    ),
    Endpoint("research:batch_undo", "post", undo_rule, _batch),
    Endpoint("research:passages", "get", right(Action.READ), _project),
    Endpoint("research:passages_count", "get", right(Action.READ), _project),
    Endpoint("research:matrix", "get", right(Action.READ), _project),
    Endpoint("research:matrix_export", "get", right(Action.READ), lambda w: [w.project.pk, "csv"]),
    Endpoint("research:cooccurrence", "get", right(Action.READ), _project),
    Endpoint(
        "research:cooccurrence_export", "get", right(Action.READ), lambda w: [w.project.pk, "svg"]
    ),
    Endpoint("research:timeline", "get", right(Action.READ), _project),
    Endpoint(
        "research:timeline_export", "get", right(Action.READ), lambda w: [w.project.pk, "svg"]
    ),
    Endpoint(
        "research:passages_export", "get", right(Action.READ), lambda w: [w.project.pk, "csv"]
    ),
    # A project's memos: members read them; coders, reviewers and owners write them; a
    # memo is changed by its author (the coder), reviewers and owners.
    Endpoint("memos:list", "get", right(Action.READ), _project),
    Endpoint(
        "memos:create",
        "post",
        right(Action.ANNOTATE),
        _project,
        lambda w: {"code": _tag_pk(w), "text": "A new memo."},
    ),
    Endpoint(
        "memos:create",
        "post",
        right(Action.ANNOTATE),
        _project,
        lambda w: {"code": _tag_pk(w), "text": "A new memo in place."},
        htmx=True,
    ),
    Endpoint("memos:detail", "get", right(Action.READ), _memo_page),
    Endpoint("memos:detail", "get", right(Action.READ), _memo_page, htmx=True),
    Endpoint("memos:edit", "get", change_coders, _memo_page, htmx=True),
    Endpoint(
        "memos:edit",
        "post",
        change_coders,
        _memo_page,
        lambda w: {"title": "", "text": "Changed.", "version": 2},
        htmx=True,
    ),
    Endpoint("memos:delete", "post", change_coders, _memo_page, lambda w: {"version": 2}),
    Endpoint("memos:restore", "post", change_coders, _deleted_memo_page),
    Endpoint(
        "memos:revert", "post", change_coders, _memo_page, lambda w: {"version": 2, "revision": 1}
    ),
    # The API.
    Endpoint("api:project-list", "get", anyone, api=True),
    Endpoint("api:project-detail", "get", right(Action.READ), _project, api=True),
    Endpoint("api:attribute-list", "get", right(Action.READ), _project_attributes, api=True),
    Endpoint("api:passage-list", "get", right(Action.READ), _project, api=True),
    Endpoint(
        "api:passage-export", "get", right(Action.READ), lambda w: [w.project.pk, "md"], api=True
    ),
    Endpoint(
        "api:search", "get", right(Action.READ), _project, lambda w: {"q": "Convention"}, api=True
    ),
    Endpoint("api:document-list", "get", anyone, api=True),
    Endpoint(
        "api:document-list",
        "post",
        right(Action.IMPORT),
        data=lambda w: {"project": w.project.pk, "title": "New", "text": "A new text."},
        api=True,
    ),
    Endpoint("api:document-detail", "get", right(Action.READ), _doc, api=True),
    Endpoint("api:document-annotations", "get", right(Action.READ), _doc, api=True),
    Endpoint("api:document-original", "get", right(Action.READ), _doc, api=True),
    Endpoint("api:tag-list", "get", anyone, api=True),
    Endpoint(
        "api:tag-list",
        "post",
        right(Action.CODEBOOK),
        data=lambda w: {"project": w.project.pk, "name": "A new code"},
        api=True,
    ),
    # A code only A's codebook has (B's has the default codes too, whose slugs its members
    # reach by the same URLs).
    Endpoint(
        "api:tag-detail",
        "patch",
        right(Action.CODEBOOK),
        lambda w: [_code_of_a(w)],
        lambda w: {"name": "Renamed in A"},
        api=True,
    ),
    Endpoint(
        "api:tag-merge",
        "post",
        right(Action.CODEBOOK),
        lambda w: [_code_of_a(w)],
        lambda w: {"into": "due-process"},
        api=True,
    ),
    Endpoint("api:tag-retire", "post", right(Action.CODEBOOK), lambda w: [_code_of_a(w)], api=True),
    Endpoint(
        "api:tag-restore",
        "post",
        right(Action.CODEBOOK),
        lambda w: [_code_of_a(w, retired=True)],
        api=True,
    ),
    Endpoint("api:annotation-list", "get", anyone, api=True),
    Endpoint(
        "api:annotation-list",
        "post",
        right(Action.ANNOTATE),
        data=lambda w: {"document": w.document.pk, **_span(w), "tags": ["extradition"]},
        api=True,
    ),
    Endpoint("api:annotation-detail", "get", right(Action.READ), _coders, api=True),
    Endpoint(
        "api:annotation-detail",
        "patch",
        change_coders,
        _coders,
        lambda w: {"note": "Changed."},
        api=True,
    ),
    Endpoint("api:annotation-detail", "delete", change_coders, _coders, api=True),
    Endpoint("api:annotation-restore", "post", change_coders, _coders, api=True),
    Endpoint("api:memo-list", "get", right(Action.READ), _project, api=True),
    Endpoint(
        "api:memo-list",
        "post",
        right(Action.ANNOTATE),
        _project,
        lambda w: {"code": _tag_pk(w), "text": "A new memo."},
        api=True,
    ),
    Endpoint("api:memo-detail", "get", right(Action.READ), _memo_api, api=True),
    Endpoint(
        "api:memo-detail",
        "patch",
        change_coders,
        _memo_api,
        lambda w: {"text": "Changed.", "version": 2},
        api=True,
    ),
    Endpoint("api:memo-detail", "delete", change_coders, _memo_api, api=True),
    Endpoint("api:memo-restore", "post", change_coders, _memo_api, api=True),
    Endpoint(
        "api:memo-revert", "post", change_coders, _memo_api, lambda w: {"version": 1}, api=True
    ),
    Endpoint("api:export-csv", "get", anyone, api=True),
    Endpoint("api:export-jsonl", "get", anyone, api=True),
]


def _access_log_rule(caller: Caller, write: bool) -> str:
    # Site administrators, and the owners of a project (of B, for the outsider).
    if caller.anonymous:
        return LOGIN
    owns = caller.role == Role.OWNER or caller.name == "outsider"
    return OK if caller.site_admin or owns else DENIED


def _tag_detail_rule(caller: Caller, write: bool) -> str:
    # The slug is looked up in the caller's codebooks (B has the same default codes); a
    # site administrator in no project has none.
    if caller.anonymous:
        return LOGIN
    return HIDDEN if caller.site_admin else OK


ENDPOINTS.append(
    Endpoint("api:tag-detail", "get", _tag_detail_rule, lambda w: ["extradition"], api=True)
)
ENDPOINTS.append(Endpoint("access_log", "get", _access_log_rule))
# The analyst guide: the same text for everyone who has logged in.
ENDPOINTS.append(Endpoint("guide", "get", anyone))

#: URL patterns that are not research data's: the log-in pages, the Django admin (which has
#: its own tests, test_admin.py), the API schema and its docs.
EXEMPT_PREFIXES = ("admin:",)
EXEMPT = {
    # Logging in, out, and one's own password and second factor: about one's account, not
    # a project's data (tests/test_accounts_*.py).
    "login",
    "login_code",
    "mfa",
    "mfa_setup",
    "mfa_disable",
    "mfa_recovery_codes",
    "logout",
    "password_change",
    "password_change_done",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "schema",
    "api-docs",
}


def _names(patterns: list[Any], prefix: str = "") -> set[str]:
    names: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            namespace = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
            names |= _names(pattern.url_patterns, namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(prefix + pattern.name)
    return names


def test_every_endpoint_has_a_row():
    named = {
        name
        for name in _names(get_resolver().url_patterns)
        if name not in EXEMPT and not name.startswith(EXEMPT_PREFIXES)
    }
    rows = {endpoint.name for endpoint in ENDPOINTS}
    assert named - rows == set(), "endpoints without a row in ENDPOINTS"
    assert rows - named == set(), "rows for endpoints that no longer exist"


# ---------------------------------------------------------------------------------------
# The world: project A with one member of each role, project B with its owner.


@dataclass
class World:
    project: Project
    other: Project
    document: Any
    other_document: Any
    coders: Any
    batch: ImportBatch
    users: dict[str, Any]
    memberships: dict[str, Membership]
    tokens: dict[str, str]


@pytest.fixture
def world(db) -> World:
    users_model = get_user_model()
    project = Project.objects.create(name="Project A")
    other = Project.objects.create(name="Project B")
    users = {
        name: users_model.objects.create_user(username=name, password=f"{name}-pass-1")
        for name in ("reader", "coder", "reviewer", "owner", "outsider", "both", "newcomer")
    }
    users["site-admin"] = users_model.objects.create_superuser(
        username="site-admin", password="site-admin-pass-1"
    )
    memberships = {
        name: Membership.objects.create(project=project, user=users[name], role=name)
        for name in ("reader", "coder", "reviewer", "owner")
    }
    Membership.objects.create(project=other, user=users["outsider"], role=Role.OWNER)
    # "both" owns B and codes in A; its token reaches B only.
    Membership.objects.create(project=other, user=users["both"], role=Role.OWNER)
    Membership.objects.create(project=project, user=users["both"], role=Role.CODER)
    project_services.codebook_copy(user=users["owner"], project=project, source=None)
    project_services.codebook_copy(user=users["outsider"], project=other, source=None)
    document = services.document_create(
        user=users["owner"],
        project=project,
        text=MIXED_TEXT,
        metadata=services.DocumentMetadata(title="Witness statement A"),
    )
    SourceFile.objects.create(
        document=document,
        filename="witness-a.html",
        content_type="text/html",
        size=len(MIXED_TEXT.encode()),
        sha256=document.sha256,
        data=MIXED_TEXT.encode(),
    )
    other_document = services.document_create(
        user=users["outsider"],
        project=other,
        text="Project B's own text about extradition.",
        metadata=services.DocumentMetadata(title="Report B"),
    )
    coders = annotate(users["coder"], document, "Shanghai", note="Secret note of A")
    annotate(users["reviewer"], document, "Emoji")
    annotate(users["outsider"], other_document, "extradition")
    batch = ImportBatch.objects.create(project=project, created_by=users["owner"])
    ImportItem.objects.create(
        batch=batch,
        position=0,
        filename="waiting.txt",
        data=b"Waiting to be read.",
        status=ImportStatus.PENDING,
    )
    tokens = {
        "read-only": services.api_token_create(actor=None, user=users["coder"], read_only=True)[1],
        "other-project": services.api_token_create(
            actor=None, user=users["both"], read_only=False, projects=[other.pk]
        )[1],
    }
    return World(
        project, other, document, other_document, coders, batch, users, memberships, tokens
    )


def _call(client: Any, world: World, caller: Caller, endpoint: Endpoint) -> Any:
    headers: dict[str, str] = {}
    if caller.token:
        headers["Authorization"] = f"Bearer {world.tokens[caller.token]}"
    elif not caller.anonymous:
        client.force_login(world.users[caller.name])
    if endpoint.htmx:
        headers["HX-Request"] = "true"
    url = reverse(endpoint.name, args=endpoint.args(world))
    data = endpoint.data(world)
    method = getattr(client, endpoint.method)
    if endpoint.api and data is not None and endpoint.write:
        return method(url, data=json.dumps(data), content_type="application/json", headers=headers)
    if endpoint.method in ("get", "head") or not endpoint.api and data is not None:
        return method(url, data or {}, headers=headers)
    return method(url, headers=headers)


def _outcome(response: Any, endpoint: Endpoint) -> str:
    status = response.status_code
    location = response.headers.get("Location", "")
    if status in (401,) or (status == 302 and "/accounts/login/" in location):
        return LOGIN
    # An htmx request is sent to the login page as a whole page (accounts.middleware).
    if response.headers.get("HX-Redirect", "").startswith("/accounts/login/"):
        return LOGIN
    if status == 403:
        return DENIED
    if status == 404 or (status == 400 and endpoint.api):
        return HIDDEN
    # The import pages answer a project one is not in as a refused form.
    if status == 400 and endpoint.name == "documents:import":
        return HIDDEN
    # 422: a form sent back with what to fix; 409: a restore of what is not deleted. The
    # caller was let in either way.
    if status < 400 or status in (409, 422):
        return OK
    return f"HTTP {status}"


def _cases() -> list[Any]:
    cases = []
    for endpoint in ENDPOINTS:
        for caller in CALLERS:
            if caller.token and not endpoint.api:
                continue  # tokens are for the API only
            cases.append(pytest.param(endpoint, caller, id=f"{endpoint}-{caller.name}"))
    return cases


@pytest.mark.parametrize(("endpoint", "caller"), _cases())
def test_matrix(client, world, endpoint, caller):
    expected = endpoint.rule(caller, endpoint.write)
    response = _call(client, world, caller, endpoint)
    assert _outcome(response, endpoint) == expected, response.content[:300]


# ---------------------------------------------------------------------------------------
# What the others can list, search and export shows nothing of project A.

SECRETS = ("Witness statement A", "Secret note of A", "Shanghai Convention")


def _lists(world: World) -> list[tuple[str, dict[str, str]]]:
    return [
        (reverse("documents:list"), {}),
        (reverse("documents:list"), {"q": "Witness"}),
        (reverse("projects:list"), {}),
        (reverse("documents:tag_styles"), {}),
        (reverse("api:project-list"), {}),
        (reverse("api:document-list"), {}),
        (reverse("api:document-list"), {"q": "Witness"}),
        (reverse("api:tag-list"), {}),
        (reverse("api:annotation-list"), {}),
        (reverse("api:annotation-list"), {"q": "Secret"}),
        (reverse("api:annotation-list"), {"include_deleted": "true"}),
        (reverse("api:export-csv"), {}),
        (reverse("api:export-jsonl"), {}),
    ]


@pytest.mark.parametrize("name", ["outsider", "site-admin", "token-for-b"])
def test_isolation(client, world, name):
    headers: dict[str, str] = {}
    if name == "token-for-b":
        headers["Authorization"] = f"Bearer {world.tokens['other-project']}"
    else:
        client.force_login(world.users[name])
    own_tags = {str(tag.pk) for tag in world.project.tags.all()}
    for url, params in _lists(world):
        if headers and not url.startswith("/api/"):
            continue
        response = client.get(url, params, headers=headers)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        text = body.decode()
        for secret in SECRETS:
            assert secret not in text, (url, params, secret)
        if url.endswith("tags.css"):
            assert not any(f".t{pk}{{" in text for pk in own_tags)
    # Guessing ids gets nothing either: A's document and annotation are not there.
    for url in (
        reverse("api:document-detail", args=[world.document.pk]),
        reverse("api:annotation-detail", args=[world.coders.pk]),
        reverse("api:document-annotations", args=[world.document.pk]),
        reverse("api:document-original", args=[world.document.pk]),
    ):
        assert client.get(url, headers=headers).status_code == 404
    # Project B's memos, listed by its members, show nothing of A's.
    _coders_memo(world)
    if name != "site-admin":
        memo_lists = [reverse("api:memo-list", args=[world.other.pk])]
        if not headers:
            memo_lists.append(reverse("memos:list", args=[world.other.pk]))
        for url in memo_lists:
            listed = client.get(url, {"include_deleted": "true"}, headers=headers)
            assert listed.status_code == 200, url
            assert "Secret memo of A" not in listed.content.decode()
            assert "Second text." not in listed.content.decode()
    filtered = client.get(
        reverse("api:annotation-list"), {"document": world.document.pk}, headers=headers
    )
    assert filtered.status_code == 400
    assert "that you can read" in filtered.json()["document"][0]


def test_a_member_sees_their_project_and_not_the_other(client, world):
    client.force_login(world.users["both"])
    listed = client.get(reverse("api:annotation-list")).json()["results"]
    documents = {item["document"] for item in listed}
    assert documents == {world.document.pk, world.other_document.pk}  # codes in A, owns B
    client.force_login(world.users["outsider"])
    listed = client.get(reverse("api:annotation-list")).json()["results"]
    assert {item["document"] for item in listed} == {world.other_document.pk}
