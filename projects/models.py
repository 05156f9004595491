"""Projects: who may read and change which documents, annotations and codebook.

Every document and every codebook entry belongs to one project. What anyone may do with a
project's research data follows their role in it (`Role`, `may`): site administrators
manage users and projects, but read a project's data only as its members.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    REVIEWER = "reviewer", "Reviewer"
    CODER = "coder", "Coder"
    READER = "reader", "Reader"


class Action(models.TextChoices):
    """What a member may be allowed to do in a project."""

    READ = "read", "read and export the documents, the codebook and the annotations"
    ANNOTATE = "annotate", "create annotations and change their own"
    CHANGE_OTHERS = "change_others", "change and delete others' annotations"
    CODEBOOK = "codebook", "change the codebook"
    IMPORT = "import", "import documents and change their metadata"
    MANAGE = "manage", "manage the members and the project's settings"


#: The roles' rights: the rule, written here only.
RIGHTS: dict[str, frozenset[str]] = {
    Role.READER: frozenset({Action.READ}),
    Role.CODER: frozenset({Action.READ, Action.ANNOTATE}),
    Role.REVIEWER: frozenset({Action.READ, Action.ANNOTATE, Action.CHANGE_OTHERS}),
    Role.OWNER: frozenset(Action.values),
}


#: The roles that hold an action, as stored in Membership.role.
def roles_with(action: str) -> list[str]:
    return [str(role) for role, rights in RIGHTS.items() if action in rights]


def may(role: str | None, action: str) -> bool:
    """Whether a member with `role` (None: not a member) may do `action`."""
    return role is not None and action in RIGHTS.get(role, frozenset())


class ProjectQuerySet(models.QuerySet["Project"]):
    def of_member(self, user: Any, *, unlocked: bool = True) -> ProjectQuerySet:
        """The projects `user` is a member of (within the projects an API token is limited
        to, when the request came with one; see MembershipQuerySet.of for `unlocked`)."""
        memberships = Membership.objects.of(user, unlocked=unlocked)
        return self.filter(pk__in=memberships.values("project_id"))


class Project(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    require_mfa = models.BooleanField(
        "require two-factor authentication",
        default=False,
        help_text="Members must set up two-factor authentication before they see anything.",
    )
    created = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    codebook_source = models.CharField(
        max_length=300,
        blank=True,
        help_text="Where the codebook was copied from when the project began.",
    )
    members: models.ManyToManyField[Any, Any] = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="projects"
    )

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("projects:detail", args=[self.pk])


class MembershipQuerySet(models.QuerySet["Membership"]):
    def of(self, user: Any, *, unlocked: bool = True) -> MembershipQuerySet:
        """`user`'s memberships: none for an anonymous or inactive user; with an API token
        limited to some projects (`user.project_scope`, set by the token's authentication),
        those only; and, for a session that has not given a second factor or a token that
        may not stand in for one (`user.mfa_verified`, set by accounts.middleware and by the
        token's authentication), not those of projects that require one, unless `unlocked`
        is False (the project list shows them, locked)."""
        if not (user.is_authenticated and user.is_active):
            return self.none()
        memberships = self.filter(user_id=user.pk)
        scope = getattr(user, "project_scope", None)
        if scope is not None:
            memberships = memberships.filter(project_id__in=scope)
        if unlocked and getattr(user, "mfa_verified", True) is False:
            memberships = memberships.exclude(project__require_mfa=True)
        return memberships

    def allowed(self, user: Any, action: str) -> MembershipQuerySet:
        """`user`'s memberships whose role allows `action`."""
        return self.of(user).filter(role__in=roles_with(action))


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.CODER)
    created = models.DateTimeField(default=timezone.now, editable=False)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["project", "user__username"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_once"),
        ]
        # Every access check reads a user's memberships.
        indexes: ClassVar = [models.Index(fields=["user", "project"])]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.project}"
