"""Writes of projects and memberships. Each change is an activity row, in the same
transaction; a project always keeps at least one owner."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from .models import Action, Membership, Project, Role, may
from .selectors import last_owner_memberships, project_for


def _log(*, actor: Any, action: str, obj: Any, before: Any = None, after: Any = None) -> None:
    from documents.services.activity import log

    log(actor=actor, action=action, obj=obj, document_id=None, before=before, after=after)


def _require_site_admin(
    user: Any, refusal: str = "Only site administrators create projects."
) -> None:
    from documents.models import is_site_admin

    if user is not None and not is_site_admin(user):
        raise PermissionDenied(refusal)


def _managed(user: Any, project: Project, as_site_admin: bool) -> Project:
    """The project whose members `user` manages: as one of its owners (the project pages),
    or with `as_site_admin` (the Django admin) as a site administrator, who manages every
    project's members there."""
    if not as_site_admin:
        return project_for(user=user, project=project, action=Action.MANAGE)
    if user is None:
        raise PermissionDenied("Say which site administrator manages the members.")
    _require_site_admin(user, "Only site administrators manage members in the admin.")
    return project_for(user=None, project=project, action=Action.MANAGE)


def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError({"name": ["Give the project a name."]})
    name = " ".join(name.split())
    if len(name) > 200:
        raise ValidationError({"name": ["At most 200 characters."]})
    return name


def project_create(*, user: Any, name: str, description: str = "", owner: Any = None) -> Project:
    """A new project (site administrators, or a command run without a user), with `owner`
    (by default the user who creates it) as its first owner."""
    _require_site_admin(user)
    owner = owner if owner is not None else user
    if owner is None:
        raise ValidationError({"owner": ["Name the project's first owner."]})
    name = _clean_name(name)
    if not isinstance(description, str):
        raise ValidationError({"description": ["Must be text."]})
    try:
        with transaction.atomic():
            project = Project.objects.create(
                name=name, description=description.strip(), created_by=user
            )
            membership = Membership.objects.create(project=project, user=owner, role=Role.OWNER)
            _log(actor=user, action="project.create", obj=project, after={"name": name})
            _log(
                actor=user,
                action="membership.add",
                obj=membership,
                after={"project": project.pk, "user": owner.username, "role": Role.OWNER},
            )
    except IntegrityError:
        raise ValidationError({"name": [f"There is a project named {name!r} already."]}) from None
    return project


def project_update(
    *,
    user: Any,
    project: Project,
    name: str | None = None,
    description: str | None = None,
    require_mfa: bool | None = None,
) -> Project:
    """Change a project's settings (its owners)."""
    project = project_for(user=user, project=project, action=Action.MANAGE)
    before = {"name": project.name, "description": project.description, "mfa": project.require_mfa}
    if name is not None:
        project.name = _clean_name(name)
    if description is not None:
        if not isinstance(description, str):
            raise ValidationError({"description": ["Must be text."]})
        project.description = description.strip()
    if require_mfa is not None:
        project.require_mfa = bool(require_mfa)
    after = {"name": project.name, "description": project.description, "mfa": project.require_mfa}
    if after == before:
        return project
    try:
        with transaction.atomic():
            project.save()
            _log(actor=user, action="project.update", obj=project, before=before, after=after)
    except IntegrityError:
        raise ValidationError(
            {"name": [f"There is a project named {project.name!r} already."]}
        ) from None
    return project


def _role(value: Any) -> str:
    if value not in Role.values:
        raise ValidationError(
            {"role": [f"Choose a role: {', '.join(Role.values)} (not {value!r})."]}
        )
    return str(value)


def membership_add(
    *, user: Any, project: Project, username: str, role: str, as_site_admin: bool = False
) -> Membership:
    """Make the user named `username` a member of `project` with `role` (its owners, or a
    site administrator `as_site_admin`)."""
    project = _managed(user, project, as_site_admin)
    role = _role(role)
    member = get_user_model().objects.filter(username=username, is_active=True).first()
    if member is None:
        raise ValidationError({"username": [f"There is no active user named {username!r}."]})
    with transaction.atomic():
        membership, created = Membership.objects.get_or_create(
            project=project, user=member, defaults={"role": role}
        )
        if not created:
            raise ValidationError(
                {"username": [f"{username} is a member already, as {membership.role}."]}
            )
        _log(
            actor=user,
            action="membership.add",
            obj=membership,
            after={"project": project.pk, "user": member.username, "role": role},
        )
    return membership


def _locked_membership(user: Any, project: Project, pk: int, as_site_admin: bool) -> Membership:
    project = _managed(user, project, as_site_admin)
    membership = (
        Membership.objects.select_for_update()
        .select_related("user")
        .filter(project=project, pk=pk)
        .first()
    )
    if membership is None:
        raise ValidationError({"membership": [f"{project.name} has no member #{pk}."]})
    return membership


def _keep_an_owner(membership: Membership) -> None:
    """Refuse to leave the project without an owner: nobody could manage it then."""
    owners = Membership.objects.select_for_update().filter(
        project_id=membership.project_id, role=Role.OWNER
    )
    if membership.role == Role.OWNER and owners.count() <= 1:
        raise ValidationError(
            {"role": ["A project needs an owner: make someone else owner first."]},
            code="last_owner",
        )


@transaction.atomic
def membership_change(
    *, user: Any, project: Project, pk: int, role: str, as_site_admin: bool = False
) -> Membership:
    """Give member `pk` of `project` another role (its owners, or a site administrator
    `as_site_admin`); refused when that leaves the project without an owner."""
    role = _role(role)
    membership = _locked_membership(user, project, pk, as_site_admin)
    if membership.role == role:
        return membership
    if role != Role.OWNER:
        _keep_an_owner(membership)
    before = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    _log(
        actor=user,
        action="membership.change",
        obj=membership,
        before={"project": membership.project_id, "user": membership.user.username, "role": before},
        after={"project": membership.project_id, "user": membership.user.username, "role": role},
    )
    return membership


@transaction.atomic
def membership_remove(
    *, user: Any, project: Project, pk: int, as_site_admin: bool = False
) -> Membership:
    """Remove member `pk` from `project` (its owners, or a site administrator
    `as_site_admin`), returning the removed membership; refused when it is the project's
    last owner. Their annotations stay."""
    membership = _locked_membership(user, project, pk, as_site_admin)
    _keep_an_owner(membership)
    _log(
        actor=user,
        action="membership.remove",
        obj=membership,
        before={
            "project": membership.project_id,
            "user": membership.user.username,
            "role": membership.role,
        },
    )
    membership.delete()
    return membership


@transaction.atomic
def users_leave_projects(*, user: Any, users: Sequence[Any]) -> int:
    """Before `users` are deleted (by a site administrator, in the Django admin): refuse,
    changing nothing, when that would leave a project without an owner; otherwise log the
    end of each of their memberships (the deletion takes the rows along) and return how
    many there were. Call it in the transaction that deletes them."""
    _require_site_admin(user, "Only site administrators delete users.")
    leaving = sorted({member.pk for member in users})
    # The owners of their projects, locked as a removal locks them (_keep_an_owner).
    their_projects = Membership.objects.filter(user_id__in=leaving).values("project_id")
    list(
        Membership.objects.select_for_update()
        .filter(project_id__in=their_projects, role=Role.OWNER)
        .order_by("pk")
    )
    sole = last_owner_memberships(users=leaving)
    if sole:
        raise ValidationError(last_owner_refusal(sole), code="last_owner")
    memberships = list(
        Membership.objects.filter(user_id__in=leaving)
        .select_related("user")
        .order_by("project_id", "user__username")
    )
    for membership in memberships:
        _log(
            actor=user,
            action="membership.remove",
            obj=membership,
            before={
                "project": membership.project_id,
                "user": membership.user.username,
                "role": membership.role,
            },
            after={"user_deleted": True},
        )
    return len(memberships)


def last_owner_refusal(sole: Sequence[Membership]) -> str:
    """Why users who are the last owners of projects (selectors.last_owner_memberships)
    cannot go, and what to do."""
    projects = ", ".join(sorted({membership.project.name for membership in sole}))
    names = ", ".join(sorted({membership.user.username for membership in sole}))
    return (
        f"{projects} would have no owner left without {names}: make someone else owner of it first."
    )


def codebook_copy(*, user: Any, project: Project, source: Project | None) -> int:
    """Start `project`'s codebook from another project's (one `user` may read) or, with
    no source, from the default codebook: the codes it lacks (by slug) are added, with
    their definitions, colours, shortcuts and hierarchy. Returns how many were added."""
    from documents import sample
    from documents.models import Tag
    from documents.services.codebook import tag_save

    project = project_for(user=user, project=project, action=Action.CODEBOOK)
    if source is None:
        entries = sample.codebook_entries()
        origin = "the default codebook"
    else:
        if source.pk == project.pk:
            raise ValidationError({"source": ["Choose another project than this one."]})
        source = project_for(user=user, project=source, action=Action.READ)
        entries = [
            {
                "name": tag.name,
                "slug": tag.slug,
                "definition": tag.definition,
                "inclusion": tag.inclusion,
                "exclusion": tag.exclusion,
                "colour": tag.colour,
                "shortcut": tag.shortcut,
                "parent": tag.parent.slug if tag.parent is not None else "",
                "is_active": tag.is_active,
            }
            for tag in Tag.objects.filter(project=source).select_related("parent")
        ]
        origin = f"project {source.name!r} (#{source.pk})"
    with transaction.atomic():
        existing = {tag.slug: tag for tag in Tag.objects.filter(project=project)}
        taken_shortcuts = {tag.shortcut for tag in existing.values() if tag.shortcut}
        last = max((tag.sort_order for tag in existing.values()), default=0)
        added = 0
        # Parents before children: the entries of one codebook may come in any order.
        pending = [entry for entry in entries if entry["slug"] not in existing]
        while pending:
            ready = [e for e in pending if not e.get("parent") or e["parent"] in existing]
            if not ready:  # a parent that is not in the source: add them at the top
                ready = pending
            for entry in ready:
                shortcut = entry.get("shortcut", "")
                last += 10
                tag = Tag(
                    project=project,
                    name=entry["name"],
                    slug=entry["slug"],
                    definition=entry.get("definition", ""),
                    inclusion=entry.get("inclusion", ""),
                    exclusion=entry.get("exclusion", ""),
                    colour=entry.get("colour", "#ffd54f"),
                    shortcut="" if shortcut in taken_shortcuts else shortcut,
                    parent=existing.get(entry.get("parent", "")),
                    is_active=entry.get("is_active", True),
                    sort_order=last,
                )
                if tag.shortcut:
                    taken_shortcuts.add(tag.shortcut)
                try:
                    existing[tag.slug] = tag_save(user=user, tag=tag)
                except ValidationError as exc:
                    raise ValidationError(
                        {"source": [f"Code {entry['slug']!r} cannot be copied: {exc.messages[0]}"]}
                    ) from None
                added += 1
            pending = [entry for entry in pending if entry["slug"] not in existing]
        if added:
            before = project.codebook_source
            project.codebook_source = f"{added} codes copied from {origin}"
            project.save(update_fields=["codebook_source"])
            _log(
                actor=user,
                action="codebook.copy",
                obj=project,
                before={"codebook_source": before},
                after={"codebook_source": project.codebook_source, "added": added},
            )
    return added


def require_role(user: Any, role: str | None, action: str) -> None:
    """PermissionDenied unless `role` allows `action` (for a check on an object already
    read with the user's role)."""
    if not may(role, action):
        raise PermissionDenied(
            f"Your role in this project does not let you {Action(action).label}."
        )


#: The code of the refusal of a change made on a page opened before someone else's change.
STALE = "stale"


def code_save(
    *,
    user: Any,
    project: Project,
    values: dict[str, Any],
    pk: int | None = None,
    seen: str | None = None,
) -> Any:
    """Add a code to the project's codebook (`pk` None) or change code `pk` of it (its
    owners): name, slug (set once; made from the name when left empty), definition,
    inclusion and exclusion criteria, colour, parent (a code of the same project),
    shortcut, whether active. A change sets only the fields in `values`, on the code as it
    is now (read locked, so that a merge or retirement meanwhile is not undone); `seen`, the
    code's `updated` time as the page that sent the change showed it, refuses the change
    if someone else changed the code since."""
    from django.utils.text import slugify

    from documents.models import Tag
    from documents.services.codebook import tag_save
    from documents.services.versions import codebook_lock

    project = project_for(user=user, project=project, action=Action.CODEBOOK)
    with transaction.atomic():
        codebook_lock()
        if pk is None:
            tag = Tag(project=project)
            tag.slug = values.get("slug") or slugify(values.get("name", ""))[:100]
            if not tag.slug:
                raise ValidationError({"slug": ["Give a slug of letters, digits and hyphens."]})
            last = Tag.objects.filter(project=project).order_by("-sort_order").first()
            tag.sort_order = (last.sort_order + 10) if last else 0
        else:
            found = Tag.objects.select_for_update().filter(project=project, pk=pk).first()
            if found is None:
                raise ValidationError({"code": [f"{project.name}'s codebook has no code #{pk}."]})
            tag = found
            if seen is not None and seen != tag.updated.isoformat():
                raise ValidationError(
                    {
                        "code": [
                            ValidationError(
                                f"{tag.name} was changed by someone else since this page was "
                                "opened, so nothing was saved. Its history shows what "
                                "changed; save again to make your change over it.",
                                code=STALE,
                            )
                        ]
                    }
                )
        if "parent" in values:
            parent_id = values["parent"]
            if (
                parent_id is not None
                and not Tag.objects.filter(project=project, pk=parent_id).exists()
            ):
                raise ValidationError({"parent": ["Choose a code of this project's codebook."]})
            tag.parent_id = parent_id
        for name in ("name", "definition", "inclusion", "exclusion", "colour", "shortcut"):
            if name in values:
                setattr(tag, name, values[name])
        if "is_active" in values:
            active = bool(values["is_active"])
            if active and not tag.is_active and tag.merged_into_id is not None:
                raise ValidationError(
                    {
                        "is_active": [
                            f"{tag.name} was merged into another code: restore it with "
                            "its page's Restore button to use it again."
                        ]
                    }
                )
            tag.is_active = active
        if "example" in values:
            tag.example_id = values["example"]
        return tag_save(user=user, tag=tag)
