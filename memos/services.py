"""Writes of memos: create, change, restore an earlier version, delete and undo the delete.

Each write checks the caller's role in the memo's project first (so that others learn
nothing from the messages), changes nothing when it refuses, and in one transaction writes
the memo, its new `MemoRevision` (for a change of title or text) and an activity row.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from documents import text as textlib
from documents.models import MAX_ID, Document, Tag, role_in
from documents.services.activity import log
from projects.models import Action, Project, may

from .models import MAX_TEXT, MAX_TITLE, MAX_VERSION, About, Memo, MemoRevision


class StaleMemo(ValidationError):
    """The memo changed since the caller read it (optimistic locking)."""

    def __init__(self, memo_id: int, current_version: int | None) -> None:
        now = f" (it is now at version {current_version})" if current_version else ""
        super().__init__(
            f"Memo #{memo_id} was changed by someone else since you opened it{now}. Your "
            "text is kept here: compare it with the memo's history before you save it again.",
            code="stale",
        )
        self.current_version = current_version


def _require_user(user: Any) -> None:
    if not (user is not None and user.is_authenticated and user.is_active):
        raise PermissionDenied("Log in to write memos.")


def _id(value: Any, field: str, what: str) -> int:
    """An id from the caller; a number out of the columns' range names nothing."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise ValidationError({field: [f"Give the id of a {what} of this project."]})
    return value


def clean_title(title: Any) -> str:
    """The title on one line, spaces collapsed; refused when too long."""
    if not isinstance(title, str):
        raise ValidationError({"title": ["Must be text."]})
    title = " ".join(textlib.normalize_text(title).split())
    if len(title) > MAX_TITLE:
        raise ValidationError(
            {"title": [f"At most {MAX_TITLE} characters: this one has {len(title)}."]}
        )
    return title


def clean_text(text: Any) -> str:
    """The text normalised as documents are (NFC, \\n line ends, no control characters)
    and without blank space around it; refused when empty or too long."""
    if not isinstance(text, str):
        raise ValidationError({"text": ["Must be text."]})
    text = textlib.normalize_text(text).strip()
    if not text:
        raise ValidationError({"text": ["Write the memo's text: it is empty."]})
    if len(text) > MAX_TEXT:
        raise ValidationError(
            {
                "text": [
                    f"At most {MAX_TEXT:,} characters: this text has {len(text):,}. Split it "
                    "into several memos."
                ]
            }
        )
    return text


def _clean(title: Any, text: Any) -> tuple[str, str]:
    """Both checked, every problem reported at once."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, str] = {}
    for name, value, clean in (("title", title, clean_title), ("text", text, clean_text)):
        try:
            cleaned[name] = clean(value)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    return cleaned["title"], cleaned["text"]


def _writer_role(user: Any, project_id: int) -> str:
    """`user`'s role in the project, which must let them write memos."""
    role = role_in(user, project_id)
    if role is None:
        raise ValidationError(
            {"project": [f"There is no project #{project_id} that you are a member of."]},
            code="unknown_project",
        )
    if not may(role, Action.ANNOTATE):
        raise PermissionDenied("Readers read the memos; coders, reviewers and owners write them.")
    return role


def _target(project_id: int, code: Any, document: Any) -> tuple[str, Tag | None, Document | None]:
    """What the memo is about: the project (neither given), a code or a document of it."""
    if code is not None and document is not None:
        raise ValidationError(
            "A memo is about the project, one code or one document: not a code and a "
            "document at once. Write one memo for each."
        )
    if code is not None:
        tag = Tag.objects.filter(pk=_id(code, "code", "code"), project_id=project_id).first()
        if tag is None:
            raise ValidationError({"code": [f"There is no code #{code} in this project."]})
        return About.CODE, tag, None
    if document is not None:
        found = (
            Document.objects.filter(pk=_id(document, "document", "document"), project_id=project_id)
            .only("pk", "project_id", "title")
            .first()
        )
        if found is None:
            raise ValidationError(
                {"document": [f"There is no document #{document} in this project."]}
            )
        return About.DOCUMENT, None, found
    return About.PROJECT, None, None


@transaction.atomic
def memo_create(
    *,
    user: Any,
    project: Project | int,
    text: Any,
    title: Any = "",
    code: Tag | int | None = None,
    document: Document | int | None = None,
) -> Memo:
    """A memo by `user` about the project, one of its codes (`code`) or one of its
    documents (`document`): its version 1, written as its first revision too."""
    _require_user(user)
    project_id = _id(project.pk if isinstance(project, Project) else project, "project", "project")
    _writer_role(user, project_id)
    about, tag, found = _target(
        project_id,
        code.pk if isinstance(code, Tag) else code,
        document.pk if isinstance(document, Document) else document,
    )
    title, text = _clean(title, text)
    now = timezone.now()
    memo = Memo(
        project_id=project_id,
        about=about,
        tag=tag,
        document=found,
        title=title,
        text=text,
        author=user,
        created=now,
        updated=now,
        version=1,
    )
    memo.save(force_insert=True)
    MemoRevision(memo=memo, version=1, title=title, text=text, author=user, created=now).save(
        force_insert=True
    )
    log(
        actor=user,
        action="memo.create",
        obj=memo,
        document_id=memo.document_id,
        after=memo.snapshot(),
    )
    return memo


def _require_change_right(user: Any, memo: Memo) -> None:
    """Checked before anything else. The role comes with a memo that memos.selectors read,
    else from the memberships."""
    _require_user(user)
    role = getattr(memo, "role", None)
    if role is None:
        role = role_in(user, memo.project_id)
    if not memo.can_change(user, role):
        raise PermissionDenied(
            "You can change only your own memos (reviewers and owners change anyone's)."
        )


def _check_version(memo: Memo, expected_version: Any) -> int:
    """The version the change applies to: the one the caller read, if it is still current."""
    if expected_version is None:
        return memo.version
    if isinstance(expected_version, bool) or not isinstance(expected_version, int):
        raise ValidationError({"version": ["Give the version of the memo you read, a number."]})
    if expected_version != memo.version:
        raise StaleMemo(memo.pk, memo.version)
    return expected_version


def _new_revision(
    *,
    user: Any,
    memo: Memo,
    title: str,
    text: str,
    version: int,
    action: str,
    restored_from: int | None = None,
) -> Memo:
    """Write `title` and `text` as the memo's next version, if it is still at `version` and
    not deleted, with its revision and an activity row (which names the versions; the texts
    are in the revisions)."""
    before = memo.snapshot()
    now = timezone.now()
    changed = Memo.objects.filter(pk=memo.pk, version=version, deleted_at__isnull=True).update(
        title=title, text=text, updated=now, version=F("version") + 1
    )
    if not changed:
        current = Memo.objects.filter(pk=memo.pk).values_list("version", "deleted_at").first()
        if current is not None and current[1] is not None:
            raise ValidationError("This memo was deleted meanwhile: restore it to change it.")
        raise StaleMemo(memo.pk, current[0] if current else None)
    memo.title, memo.text, memo.updated, memo.version = title, text, now, version + 1
    MemoRevision(
        memo=memo,
        version=memo.version,
        title=title,
        text=text,
        author=user,
        created=now,
        restored_from=restored_from,
    ).save(force_insert=True)
    log(
        actor=user,
        action=action,
        obj=memo,
        document_id=memo.document_id,
        before=before,
        after={**memo.snapshot(), "restored_from": restored_from},
    )
    return memo


def _require_alive(memo: Memo) -> None:
    if memo.is_deleted:
        raise ValidationError("This memo is deleted: restore it before changing it.")


@transaction.atomic
def memo_update(
    *,
    user: Any,
    memo: Memo,
    title: Any = None,
    text: Any = None,
    expected_version: Any = None,
) -> Memo:
    """Change a memo's title or text (None: keep it), as a new version; refused if the memo
    changed since `expected_version` (the version the caller read), when that is given.
    Saving the same title and text again changes nothing."""
    _require_change_right(user, memo)
    _require_alive(memo)
    version = _check_version(memo, expected_version)
    title, text = _clean(
        memo.title if title is None else title, memo.text if text is None else text
    )
    if (title, text) == (memo.title, memo.text):
        return memo
    return _new_revision(
        user=user, memo=memo, title=title, text=text, version=version, action="memo.update"
    )


@transaction.atomic
def memo_revert(*, user: Any, memo: Memo, version: Any, expected_version: Any = None) -> Memo:
    """Bring back the title and text of an earlier `version`, as a new version (the ones
    between stay in the history)."""
    _require_change_right(user, memo)
    _require_alive(memo)
    current = _check_version(memo, expected_version)
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValidationError({"version": ["Give the number of the version to restore."]})
    if version == memo.version:
        raise ValidationError(
            {"version": [f"Version {version} is the current one: there is nothing to restore."]}
        )
    earlier = (
        MemoRevision.objects.filter(memo=memo, version=version).first()
        if 0 < version <= MAX_VERSION
        else None
    )
    if earlier is None:
        raise ValidationError({"version": [f"This memo has no version {version}."]})
    if (earlier.title, earlier.text) == (memo.title, memo.text):
        raise ValidationError(
            {
                "version": [
                    f"Version {version} has the same title and text as the current one: "
                    "there is nothing to restore."
                ]
            }
        )
    return _new_revision(
        user=user,
        memo=memo,
        title=earlier.title,
        text=earlier.text,
        version=current,
        action="memo.revert",
        restored_from=version,
    )


@transaction.atomic
def memo_delete(*, user: Any, memo: Memo, expected_version: Any = None) -> Memo:
    """Soft-delete: the memo and its history stay, marked with who deleted it and when, and
    can be restored. Deleting a deleted memo changes nothing."""
    _require_change_right(user, memo)
    if memo.is_deleted:
        return memo
    _check_version(memo, expected_version)
    before = memo.snapshot()
    now = timezone.now()
    changed = Memo.objects.filter(pk=memo.pk, version=memo.version, deleted_at__isnull=True).update(
        deleted_at=now, deleted_by=user
    )
    if not changed:
        current = Memo.objects.filter(pk=memo.pk).values_list("version", flat=True).first()
        raise StaleMemo(memo.pk, current)
    memo.deleted_at, memo.deleted_by = now, user
    log(
        actor=user,
        action="memo.delete",
        obj=memo,
        document_id=memo.document_id,
        before=before,
        after=memo.snapshot(),
    )
    return memo


@transaction.atomic
def memo_restore(*, user: Any, memo: Memo) -> Memo:
    """Undo a delete. Restoring a memo that is not deleted changes nothing."""
    _require_change_right(user, memo)
    if not memo.is_deleted:
        return memo
    before = memo.snapshot()
    changed = Memo.objects.filter(pk=memo.pk, deleted_at__isnull=False).update(
        deleted_at=None, deleted_by=None
    )
    memo.deleted_at, memo.deleted_by = None, None
    if changed:  # else restored meanwhile by someone else, who logged it
        log(
            actor=user,
            action="memo.restore",
            obj=memo,
            document_id=memo.document_id,
            before=before,
            after=memo.snapshot(),
        )
    return memo
