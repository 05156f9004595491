"""Reads of projects and memberships: which projects a user is in, with what role."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from accounts import mfa

from .models import Action, Membership, Project, Role, may

#: The largest id a column holds.
MAX_ID = 2**63 - 1


def project_list(*, user: Any, counts: bool = True) -> QuerySet[Project]:
    """The projects `user` is a member of, each with `role` (theirs) and, with `counts`,
    the numbers of its documents and members."""
    from documents.models import Document

    mine = Membership.objects.of(user, unlocked=False).filter(project_id=OuterRef("pk"))
    locked = getattr(user, "mfa_verified", True) is False
    projects = Project.objects.of_member(user, unlocked=False).annotate(
        # Required two-factor not given in this session: listed, but nothing shown.
        locked=Case(
            When(require_mfa=True, then=Value(locked)),
            default=Value(False),
            output_field=BooleanField(),
        ),
        role=Subquery(mine.values("role")[:1]),
    )
    if counts:
        projects = projects.annotate(
            # Counted apart: one join of both would count documents × members rows.
            document_count=_count(Document.objects.all()),
            member_count=_count(Membership.objects.all()),
        )
    return projects.order_by("name", "pk")


def _count(rows: QuerySet[Any]) -> Coalesce:
    """The number of `rows` of the outer query's project (their `project` column)."""
    counted = (
        rows.filter(project_id=OuterRef("pk"))
        .order_by()
        .values("project_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted), 0)


def project_get(*, user: Any, pk: int, counts: bool = True) -> Project:
    """Project `pk` with `user`'s `role` in it (and its counts, as `project_list` gives
    them); Project.DoesNotExist when `user` is not a member (a project one is not in is not
    there, as far as one can tell). Pages inside a project leave the counts out: counting
    a large project's documents costs milliseconds on each of them."""
    if not 0 < pk <= MAX_ID:
        raise Project.DoesNotExist(f"No project #{pk}.")
    return project_list(user=user, counts=counts).get(pk=pk)


def member_list(*, project: Project) -> QuerySet[Membership]:
    return project.memberships.select_related("user").order_by("user__username")


def last_owner_memberships(*, users: Collection[int]) -> list[Membership]:
    """The owner memberships of `users` (ids) in the projects of which they are, together,
    every owner: without those users, such a project would have none. With the user and
    the project, by project name."""
    owners = Membership.objects.filter(role=Role.OWNER)
    others = owners.filter(project_id=OuterRef("project_id")).exclude(user_id__in=users)
    return list(
        owners.filter(user_id__in=users)
        .exclude(Exists(others))
        .select_related("user", "project")
        .order_by("project__name", "user__username")
    )


def project_for(*, user: Any, project: Project | int | None, action: str) -> Project:
    """The project in which `user` is to do `action`: the one given, or when none is given
    the only one in which they may do it (the only project at all for a command run
    without a user). Raises ValidationError (on "project") when none is given and that is
    ambiguous, PermissionDenied when their role does not allow it, and ValidationError
    when the project is not one they are in."""
    if project is None:
        candidates = (
            Project.objects.all()
            if user is None
            else Project.objects.filter(
                pk__in=Membership.objects.allowed(user, action).values("project_id")
            )
        )
        found = list(candidates.order_by("pk")[:2])
        if len(found) == 1:
            return found[0]
        if not found and user is not None and Membership.objects.of(user).exists():
            raise PermissionDenied(
                f"Your role in your projects does not let you {Action(action).label}."
            )
        where = "no project" if not found else "more than one project"
        raise ValidationError(
            {"project": [f"Say which project: you may {Action(action).label} in {where}."]},
            code="project_required",
        )
    pk = project.pk if isinstance(project, Project) else project
    if user is None:
        found_project = Project.objects.filter(pk=pk).first()
        if found_project is None:
            raise ValidationError({"project": [f"There is no project #{pk}."]})
        return found_project
    membership = (
        Membership.objects.of(user).filter(project_id=pk).select_related("project").first()
        if 0 < pk <= MAX_ID
        else None
    )
    if membership is None:
        _refuse_locked(user, pk)
        raise ValidationError(
            {"project": [f"There is no project #{pk} that you are a member of."]},
            code="unknown_project",
        )
    if not may(membership.role, action):
        raise PermissionDenied(
            f"As a {membership.get_role_display().lower()} of {membership.project.name} you "
            f"may not {Action(action).label}."
        )
    return membership.project


def _refuse_locked(user: Any, pk: int) -> None:
    """PermissionDenied, saying what to do, when `user` is a member of project `pk` but it
    requires a second factor that this session or API token has not given (a project one
    is not in stays unnamed)."""
    locked = (
        Membership.objects.of(user, unlocked=False)
        .filter(project_id=pk, project__require_mfa=True)
        .select_related("project")
        .first()
        if 0 < pk <= MAX_ID and getattr(user, "mfa_verified", True) is False
        else None
    )
    if locked is not None:
        raise PermissionDenied(mfa.locked_message(user, locked.project.name))
