"""The codebook: its entries (tags) as the services write and apply them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from documents import postgresql, refiqda
from documents.models import Annotation, Document, Tag
from projects.models import Action, Project
from projects.selectors import project_for

from .activity import log
from .versions import codebook_lock, documents_list_changed, shared_list_changed

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
    "inclusion",
    "exclusion",
    "example",
    "merged_into",
]
#: Of those, the foreign keys: their ids are logged.
_TAG_KEYS = {"project", "parent", "example", "merged_into"}


def tag_save(*, user: User | None, tag: Tag, action: str = "") -> Tag:
    """Create or change a codebook entry after validating it: the project's owners (None is
    the operator running a command). `action` names the change in the activity log
    (tag.create or tag.update unless given)."""
    if user is not None:
        project_for(user=user, project=tag.project_id, action=Action.CODEBOOK)
    with transaction.atomic():
        codebook_lock()
        tag.full_clean()
        adding = tag._state.adding
        before = None
        if not adding:
            before = Tag.objects.filter(pk=tag.pk).values(*_TAG_FIELDS).first()
            if before is not None and before["project"] != tag.project_id:
                raise ValidationError({"project": ["A code stays in the project it was made in."]})
        _check_links(tag, before)
        try:
            with transaction.atomic():
                tag.save()
        except IntegrityError:
            # Another request took the same name, slug or shortcut between the check above
            # and this write: the check, made again, now sees it and says which.
            if adding:
                tag.pk = None
                tag._state.adding = True
            tag.full_clean()
            raise ValidationError(
                "The codebook changed while this was saved: nothing was saved. Try again."
            ) from None
        after = {
            name: getattr(tag, f"{name}_id" if name in _TAG_KEYS else name) for name in _TAG_FIELDS
        }
        if before is not None:
            before = {name: before[name] for name in _TAG_FIELDS}
        if before != after:
            log(
                actor=user,
                action=action or ("tag.create" if adding else "tag.update"),
                obj=tag,
                document_id=None,
                before=before,
                after=after,
            )
    return tag


def _check_links(tag: Tag, before: dict[str, Any] | None) -> None:
    """A new example passage or code merged into belongs to the code's project; the example
    carries the code. (An example chosen earlier may have been deleted since: the code's
    other changes are still saved, and the page leaves it out.)"""
    before = before or {}
    if tag.example_id is not None and tag.example_id != before.get("example"):
        example = (
            Annotation.objects.alive()
            .filter(pk=tag.example_id, document__project_id=tag.project_id)
            .values_list("pk", flat=True)
        )
        if not example.exists():
            raise ValidationError(
                {"example": [f"Passage #{tag.example_id} is not a live passage of this project."]}
            )
        if tag.pk is None or not example.filter(tags=tag.pk).exists():
            raise ValidationError(
                {"example": [f"Choose a passage coded {tag.name} as its example."]}
            )
    if (
        tag.merged_into_id is not None
        and tag.merged_into_id != before.get("merged_into")
        and not Tag.objects.filter(pk=tag.merged_into_id, project_id=tag.project_id).exists()
    ):
        raise ValidationError({"merged_into": ["A code merges into a code of its own project."]})


def _codebook_entry(*, user: User, tag: Tag) -> Tag:
    """`tag` read again, locked, from a project where `user` may change the codebook."""
    project_for(user=user, project=tag.project_id, action=Action.CODEBOOK)
    codebook_lock()
    found = Tag.objects.select_for_update().filter(pk=tag.pk, project_id=tag.project_id).first()
    if found is None:
        raise ValidationError({"code": ["This code is no longer in the codebook."]})
    return found


def tag_retire(*, user: User, tag: Tag) -> Tag:
    """Retire a code: no longer offered or applied, it stays on the passages that carry it."""
    with transaction.atomic():
        tag = _codebook_entry(user=user, tag=tag)
        if not tag.is_active:
            raise ValidationError({"code": [f"{tag.name} is retired already."]})
        tag.is_active = False
        return tag_save(user=user, tag=tag, action="tag.retire")


def tag_restore(*, user: User, tag: Tag) -> Tag:
    """Bring a retired code back into use (a merged one keeps none of the passages it gave
    away: it starts again from what it carries now)."""
    with transaction.atomic():
        tag = _codebook_entry(user=user, tag=tag)
        if tag.is_active:
            raise ValidationError({"code": [f"{tag.name} is in use, not retired."]})
        tag.is_active = True
        tag.merged_into = None
        return tag_save(user=user, tag=tag, action="tag.restore")


def tag_set_example(*, user: User, tag: Tag, annotation: int | None) -> Tag:
    """Make passage `annotation` (a live one of the project that carries the code) the
    code's example on the codebook page; None takes the example away."""
    with transaction.atomic():
        tag = _codebook_entry(user=user, tag=tag)
        tag.example_id = annotation
        return tag_save(user=user, tag=tag, action="tag.example")


def tag_merge(*, user: User, tag: Tag, into: Tag) -> int:
    """Merge `tag` into `into`: every passage of `tag` (deleted ones too, should they come
    back) carries `into` instead, once; `tag`'s children move under `into`; `tag` is
    retired and remembers `into`. One activity row names both. Returns how many passages
    changed."""
    with transaction.atomic():
        if into.project_id != tag.project_id:
            raise ValidationError({"into": ["Merge into a code of the same project."]})
        # Both codes locked in one statement, in id order: two merges of the same pair the
        # other way round wait for each other instead of deadlocking.
        project_for(user=user, project=tag.project_id, action=Action.CODEBOOK)
        codebook_lock()
        locked = (
            Tag.objects.select_for_update()
            .filter(pk__in=[tag.pk, into.pk], project_id=tag.project_id)
            .order_by("pk")
            .in_bulk()
        )
        if tag.pk not in locked or into.pk not in locked:
            raise ValidationError({"code": ["This code is no longer in the codebook."]})
        tag, into = locked[tag.pk], locked[into.pk]
        _check_merge(tag, into)
        # The children are codes too: locked and moved now, before any document, in the
        # order every writer takes codes. Their `updated` moves as well: a page opened on
        # one of them before the merge cannot put it back under the retired code unseen
        # (projects.services.code_save).
        children = list(
            Tag.objects.select_for_update(no_key=True)
            .filter(parent_id=tag.pk)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        Tag.objects.filter(pk__in=children).update(parent_id=into.pk, updated=timezone.now())
        links = Annotation.tags.through.objects
        # Subqueries rather than lists of ids: a code may carry many thousands of passages.
        carrying = links.filter(tag_id=tag.pk).values("annotation_id")
        changed = Annotation.objects.filter(pk__in=carrying)
        # The documents before their passages, in id order, as every writer of a passage
        # takes them (hold_codes): a passage's delete or new extent meanwhile is waited for
        # rather than waiting for this in a circle.
        held = list(
            Document.objects.select_for_update(no_key=True)
            .filter(pk__in=changed.values("document_id"))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        documents_list_changed(held)
        # A client that syncs by `updated_after` sees each changed passage again.
        passages = changed.update(updated=timezone.now(), version=F("version") + 1)
        both = links.filter(
            tag_id=tag.pk,
            annotation_id__in=links.filter(tag_id=into.pk).values("annotation_id"),
        )
        with_both, _ = both.delete()
        links.filter(tag_id=tag.pk).update(tag_id=into.pk)
        before = {"is_active": tag.is_active, "merged_into": tag.merged_into_id}
        tag.is_active = False
        tag.merged_into = into
        tag.save(update_fields=["is_active", "merged_into", "updated"])
        shared_list_changed()
        log(
            actor=user,
            action="tag.merge",
            obj=tag,
            document_id=None,
            before=before,
            after={
                "is_active": False,
                "merged_into": into.pk,
                "from": {"id": tag.pk, "slug": tag.slug, "name": tag.name},
                "into": {"id": into.pk, "slug": into.slug, "name": into.name},
                "passages": passages,
                "passages_with_both": with_both,
                "children_moved": children,
            },
        )
    return passages


def _check_merge(tag: Tag, into: Tag) -> None:
    if into.pk == tag.pk:
        raise ValidationError({"into": [f"Choose another code than {tag.name} to merge into."]})
    if not into.is_active:
        raise ValidationError(
            {"into": [f"{into.name} is retired: restore it first, or merge into another code."]}
        )
    ancestor_id = into.parent_id
    parents = dict(Tag.objects.filter(project_id=tag.project_id).values_list("pk", "parent_id"))
    while ancestor_id is not None:
        if ancestor_id == tag.pk:
            raise ValidationError(
                {
                    "into": [
                        f"{into.name} is below {tag.name}: move it out first, or merge "
                        f"{tag.name} into a code that is not below it."
                    ]
                }
            )
        ancestor_id = parents.get(ancestor_id)


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


def hold_codes(tags: Any, document_id: int) -> None:
    """Before a passage of document `document_id` is given `tags` (Tag objects or slugs):
    hold the project's codes among them until the transaction ends, so that a merge or
    retirement waits for the passage, or the passage for it and then reads its outcome: a
    passage is never left on a code retired meanwhile.

    Every writer takes its locks in one order: the codebook's row (codebook changes only,
    versions.codebook_lock), codes by id, documents by id, then passages, as a merge does
    (tag_merge): no two writers wait for each other in a circle. Two writers holding the
    same code do not wait for each other (FOR KEY SHARE); a merge or retirement (FOR
    UPDATE) waits for them, and they for it. SQLite runs one writing transaction at a time
    and needs none of this. (PostgreSQL's create takes the same locks in its own statement:
    documents/postgresql.py.)
    """
    if connection.vendor == "sqlite" or not isinstance(tags, Sequence) or isinstance(tags, str):
        return
    slugs = [tag.slug if isinstance(tag, Tag) else tag for tag in tags]
    slugs = [slug for slug in slugs if isinstance(slug, str)]
    if not slugs:
        return
    postgresql.hold_tags(document_id, slugs)


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


def codebook_import(*, user: User, project: Project | int, data: bytes) -> int:
    """Add the codes of a REFI-QDA codebook file (`.qdc`) to the project's codebook, with
    their hierarchy, colours, descriptions and guids: all of them or, when anything is
    wrong, none (a ValidationError names what). Returns how many were added."""
    project = project_for(user=user, project=project, action=Action.CODEBOOK)
    entries = [entry for top in refiqda.parse_codebook(data) for entry in top.walk()]
    if not entries:
        raise ValidationError({"file": ["The file has no codes."]})
    existing = list(Tag.objects.filter(project=project).values_list("name", "slug", "uuid"))
    _check_import(entries, existing)
    slugs = {slug for _, slug, _ in existing}
    last = Tag.objects.filter(project=project).order_by("-sort_order").first()
    order = last.sort_order if last else 0
    with transaction.atomic():
        made: dict[uuid.UUID, Tag] = {}
        parents = {child.guid: entry.guid for entry in entries for child in entry.children}
        for entry in entries:  # a parent comes before its children: `walk` goes depth first
            order += 10
            tag = Tag(
                project=project,
                uuid=entry.guid,
                name=entry.name,
                slug=_free_slug(entry, slugs),
                definition=entry.definition,
                inclusion=entry.inclusion,
                exclusion=entry.exclusion,
                colour=entry.colour,
                parent=made.get(parents.get(entry.guid)),  # type: ignore[arg-type]
                is_active=entry.codable,
                sort_order=order,
            )
            try:
                made[entry.guid] = tag_save(user=user, tag=tag, action="tag.import")
            except ValidationError as exc:
                raise ValidationError(
                    {"file": [f"Code {entry.name!r} ({entry.guid}): {' '.join(exc.messages)}"]}
                ) from None
        log(
            actor=user,
            action="codebook.import",
            obj=project,
            document_id=None,
            after={"format": "REFI-QDA codebook", "added": len(made)},
        )
    return len(made)


def _check_import(
    entries: list[refiqda.CodeEntry], existing: list[tuple[str, str, uuid.UUID]]
) -> None:
    """Every problem of the file's codes against each other and the codebook, at once."""
    names = {name.casefold() for name, _, _ in existing}
    guids = {guid for _, _, guid in existing}
    problems: list[str] = []
    seen_names: set[str] = set()
    seen_guids: set[uuid.UUID] = set()
    for entry in entries:
        label = f"Code {entry.name!r} ({entry.guid})"
        if not entry.name:
            problems.append(f"A code ({entry.guid}) has no name.")
        elif len(entry.name) > Tag._meta.get_field("name").max_length:  # type: ignore[operator]
            problems.append(f"{label}: a name has at most 100 characters.")
        if entry.guid in guids:
            problems.append(f"{label} is in the codebook already (same guid).")
        elif entry.guid in seen_guids:
            problems.append(f"{label}: the guid comes twice in the file.")
        if entry.name.casefold() in names:
            problems.append(f"{label}: the codebook has a code of this name already.")
        elif entry.name.casefold() in seen_names:
            problems.append(f"{label}: the name comes twice in the file.")
        seen_names.add(entry.name.casefold())
        seen_guids.add(entry.guid)
    if problems:
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise ValidationError({"file": [f"Nothing was imported. {' '.join(problems[:10])}{more}"]})


def _free_slug(entry: refiqda.CodeEntry, taken: set[str]) -> str:
    """A slug made from the code's name (its guid's start if the name has no Latin letters
    or digits), not yet taken in the project."""
    base = slugify(entry.name)[:90] or f"code-{entry.guid.hex[:8]}"
    slug, number = base, 1
    while slug in taken:
        number += 1
        slug = f"{base}-{number}"
    taken.add(slug)
    return slug
