"""The demo: the sample project, an admin who owns it and an analyst who has coded a few
of its passages, so that every page (passages, matrix, timeline, search) has something to
show from the first login. Each step adds only what is missing: loading it again changes
nothing and shows no password again."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import F

from accounts.models import AccessEvent
from accounts.services import access_event, user_create
from projects.models import Membership, Project
from projects.services import membership_add

from . import services
from .models import Annotation, Document
from .sample import SAMPLE_DIR

ADMIN = "admin"
ANALYST = "analyst"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    #: The password of an account made now; None when the account was there already.
    password: str | None


def demo_account(*, username: str, admin: bool = False) -> tuple[Any, DemoAccount]:
    """The account `username`, made with a random password unless it exists."""
    existing = get_user_model().objects.filter(username=username).first()
    if existing is not None:
        return existing, DemoAccount(username=username, password=None)
    user, password = user_create(username=username, admin=admin)
    return user, DemoAccount(username=username, password=password)


def demo_member(*, project: Project, user: Any, role: str) -> bool:
    """Make `user` a member of `project` with `role` unless they are one already (their
    role is then left as it is)."""
    if Membership.objects.filter(project=project, user=user).exists():
        return False
    membership_add(user=None, project=project, username=user.get_username(), role=role)
    access_event(
        kind=AccessEvent.Kind.MEMBERSHIP_CHANGED,
        request=None,
        detail={"change": "added", "member": user.get_username(), "role": role, "by": "demo"},
        project_id=project.pk,
    )
    return True


def annotation_entries() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(
        (SAMPLE_DIR / "annotations.json").read_text(encoding="utf-8")
    )
    return entries


def load_demo_annotations(*, project: Project, analyst: Any) -> int:
    """The example annotations `analyst` has not made yet (by document and span, deleted
    ones included: a demo annotation someone deleted stays deleted). Each quote is found
    in its document's stored text, so the offsets follow whatever clean-up was applied."""
    documents = {
        document.filename: document  # type: ignore[attr-defined]
        for document in Document.objects.filter(project=project).annotate(
            filename=F("source_file__filename")
        )
    }
    made = set(
        Annotation.objects.filter(document__project=project, author=analyst).values_list(
            "document_id", "start", "end"
        )
    )
    added = 0
    for entry in annotation_entries():
        document = documents.get(entry["file"])
        if document is None:
            continue
        start = document.text.find(entry["quote"])
        if start < 0:
            # The text was imported differently (another clean-up): leave this one out.
            continue
        end = start + len(entry["quote"])
        if (document.pk, start, end) in made:
            continue
        services.annotation_create(
            user=analyst,
            document=document,
            start=start,
            end=end,
            quote=entry["quote"],
            tags=entry["tags"],
            note=entry["note"],
        )
        added += 1
    return added
