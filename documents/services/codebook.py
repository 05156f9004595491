"""The codebook: its entries (tags) as the services write and apply them."""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from documents.models import Tag
from projects.models import Action
from projects.selectors import project_for

from .activity import log

#: The fields of a tag whose changes are logged.
_TAG_FIELDS = [
    "project",
    "name",
    "slug",
    "definition",
    "colour",
    "parent",
    "shortcut",
    "is_active",
    "sort_order",
]


def tag_save(*, user: User | None, tag: Tag) -> Tag:
    """Create or change a codebook entry after validating it: the project's owners (None is
    the operator running a command)."""
    if user is not None:
        project_for(user=user, project=tag.project_id, action=Action.CODEBOOK)
    tag.full_clean()
    adding = tag._state.adding
    before = None
    if not adding:
        before = Tag.objects.filter(pk=tag.pk).values(*_TAG_FIELDS).first()
        if before is not None and before["project"] != tag.project_id:
            raise ValidationError({"project": ["A code stays in the project it was made in."]})
    with transaction.atomic():
        tag.save()
        after = {
            name: getattr(tag, f"{name}_id" if name in ("parent", "project") else name)
            for name in _TAG_FIELDS
        }
        if before is not None:
            before = {name: before[name] for name in _TAG_FIELDS}
        if before != after:
            log(
                actor=user,
                action="tag.create" if adding else "tag.update",
                obj=tag,
                document_id=None,
                before=before,
                after=after,
            )
    return tag


def requested_slugs(tags: Sequence[Tag | str], project_id: int) -> list[str]:
    """The slugs of the tags asked for (Tag objects or slugs), checked in form: at least
    one, each text, Tag objects of the project only."""
    if isinstance(tags, str) or not isinstance(tags, Sequence):
        raise ValidationError({"tags": ["Give a list of tag slugs."]})
    if not tags:
        raise ValidationError({"tags": ["Choose at least one tag."]})
    if any(isinstance(tag, Tag) and tag.project_id != project_id for tag in tags):
        raise ValidationError({"tags": ["Choose codes of the document's project."]})
    slugs = [tag.slug if isinstance(tag, Tag) else tag for tag in tags]
    if not all(isinstance(slug, str) for slug in slugs):
        raise ValidationError({"tags": ["Each tag is given by its slug, as text."]})
    return slugs


def applicable_tags(slugs: Sequence[str], found: Sequence[Tag]) -> list[Tag]:
    """`found` (the project's tags with these slugs, in codebook order), once every slug
    asked for is known and active."""
    by_slug = {tag.slug: tag for tag in found}
    unknown = [slug for slug in dict.fromkeys(slugs) if slug not in by_slug]
    if unknown:
        raise ValidationError(
            {
                "tags": [
                    f"Unknown tag: {', '.join(unknown)}. The project's codebook lists the "
                    "known slugs."
                ]
            },
            code="unknown_tag",
        )
    inactive = [slug for slug in dict.fromkeys(slugs) if not by_slug[slug].is_active]
    if inactive:
        raise ValidationError(
            {"tags": [f"Retired tag, no longer applied: {', '.join(inactive)}."]},
            code="inactive_tag",
        )
    return list(by_slug.values())


def resolve_tags(tags: Sequence[Tag | str], project_id: int) -> list[Tag]:
    """Tags of the project's codebook from Tag objects or slugs; at least one, all known
    and active. They come in codebook order, as the database sorts them (its collation
    orders the names)."""
    slugs = requested_slugs(tags, project_id)
    return applicable_tags(slugs, _tags_by_slug(slugs, project_id))


def _tags_by_slug(slugs: list[str], project_id: int) -> list[Tag]:
    """The project's tags with these slugs, in codebook order: id, slug, name, whether
    active and codebook position (other fields load on first use). Every create and edit
    reads them."""
    return list(
        Tag.objects.filter(project_id=project_id, slug__in=dict.fromkeys(slugs))
        .only("id", "slug", "name", "is_active", "sort_order")
        .order_by("sort_order", "name")
    )
