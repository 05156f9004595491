"""The PostgreSQL statements (documents/postgresql.py) against the ORM versions: the same
token read, the same rows written, the same refusals."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from documents import postgresql, services
from documents.authentication import _live_token
from documents.models import Activity, Annotation, Document, Tag
from projects.models import Membership, Role
from tests.conftest import MIXED_TEXT


@pytest.fixture
def twin(project, document):
    """A second document with the same text (the same project refuses a repeated text, so
    a character differs at the end)."""
    return services.document_create(
        user=None,
        project=project,
        text=MIXED_TEXT + "!",
        metadata=services.DocumentMetadata(title="Twin"),
    )


def _both(monkeypatch, **kwargs):
    """Run annotation_create once through the ORM (on `document`) and once as it runs here
    (on `twin`): the outcome of each, an annotation or the exception raised."""
    outcomes = []
    for which, use_sql in (("document", False), ("twin", True)):
        with monkeypatch.context() as patched:
            if not use_sql:
                patched.setattr(postgresql, "applies", lambda user, tags: False)
            call = {name: value for name, value in kwargs.items() if name != "twin"}
            try:
                outcomes.append(services.annotation_create(**{**call, "document": kwargs[which]}))
            except (ValidationError, PermissionDenied) as exc:
                outcomes.append(exc)
    return outcomes


def _written(annotation):
    row = {
        field.name: getattr(annotation, field.attname)
        for field in Annotation._meta.concrete_fields
        if field.name not in ("id", "document", "created", "updated")
    }
    stored = Annotation.objects.get(pk=annotation.pk)
    links = list(
        Annotation.tags.through.objects.filter(annotation_id=annotation.pk)
        .order_by("pk")
        .values_list("tag_id", flat=True)
    )
    activity = Activity.objects.get(action="annotation.create", object_id=annotation.pk)
    after = dict(activity.after)
    after.pop("document")
    return {
        "row": row,
        "stored": {
            field.name: getattr(stored, field.attname)
            for field in Annotation._meta.concrete_fields
            if field.name not in ("id", "document", "created", "updated")
        },
        "same_time": stored.created == stored.updated == annotation.created,
        "links": links,
        "tag_list": [tag.slug for tag in annotation.tag_list],
        "activity": (activity.actor_id, activity.object_type, after, activity.document_id),
    }


def test_the_create_is_the_orms_on_sqlite_and_the_statements_on_postgresql(user, tags):
    assert postgresql.applies(user, ["extradition"]) == (connection.vendor == "postgresql")
    assert not postgresql.applies(user, [tags["extradition"]])
    user.project_scope = Membership.objects.none().values("project_id")
    assert not postgresql.applies(user, ["extradition"])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's own statements")
def test_both_ways_write_the_same_rows(monkeypatch, user, tags, document, twin):
    start = document.text.index("Россия")
    versions = dict(Document.objects.values_list("pk", "annotations_version"))
    by_orm, by_sql = _both(
        monkeypatch,
        user=user,
        document=document,
        twin=twin,
        start=start,
        end=start + 6,
        quote="Россия",
        tags=["three-evils", "extradition", "due-process"],
        note="  A note\r\n",
    )
    orm, sql = _written(by_orm), _written(by_sql)
    assert orm["activity"][3] == document.pk and sql["activity"][3] == twin.pk
    orm["activity"] = orm["activity"][:3]
    sql["activity"] = sql["activity"][:3]
    assert orm == sql
    assert orm["same_time"] and orm["tag_list"] == ["extradition", "three-evils", "due-process"]
    changed = dict(Document.objects.values_list("pk", "annotations_version"))
    assert changed[document.pk] != versions[document.pk]
    assert changed[twin.pk] != versions[twin.pk]
    assert by_sql.document.pk == twin.pk and by_sql.author == user
    # What the pages read from the returned annotation, the same both ways: the user's role
    # on its document, and a field neither read (loaded on use).
    assert by_sql.document.role == by_orm.document.role == "coder"
    assert by_sql.document.title == "Twin" and by_orm.document.title == "Mixed scripts"
    assert [(tag.slug, tag.name) for tag in by_sql.tag_list] == [
        (tag.slug, tag.name) for tag in by_orm.tag_list
    ]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's own statements")
@pytest.mark.parametrize(
    "case",
    ["unknown document", "reader", "unknown tag", "retired tag", "quote", "past the end"],
)
def test_both_ways_refuse_alike(monkeypatch, user, tags, document, twin, case):
    start = document.text.index("Китай")
    kwargs = {
        "user": user,
        "document": document.pk,
        "twin": twin.pk,
        "start": start,
        "end": start + 5,
        "quote": "Китай",
        "tags": ["extradition"],
    }
    if case == "unknown document":
        kwargs["document"], kwargs["twin"] = 10**9, 10**9 + 1
    elif case == "reader":
        Membership.objects.filter(user=user).update(role=Role.READER)
    elif case == "unknown tag":
        kwargs["tags"] = ["extradition", "no-such-code"]
    elif case == "retired tag":
        Tag.objects.filter(slug="due-process").update(is_active=False)
        kwargs["tags"] = ["due-process"]
    elif case == "quote":
        kwargs["quote"] = "Китаи"
    else:
        kwargs["end"] = len(twin.text) + 10
    by_orm, by_sql = _both(monkeypatch, **kwargs)
    assert type(by_orm) is type(by_sql)
    assert isinstance(by_orm, ValidationError | PermissionDenied)
    said_orm, said_sql = str(by_orm), str(by_sql)
    if case == "unknown document":
        said_orm = said_orm.replace(f"#{kwargs['document']} ", "#N ")
        said_sql = said_sql.replace(f"#{kwargs['twin']} ", "#N ")
    if case == "past the end":
        said_orm = said_orm.replace(f"most {len(document.text)}, ", "most L, ")
        said_sql = said_sql.replace(f"most {len(twin.text)}, ", "most L, ")
    assert said_orm == said_sql
    assert not Annotation.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's own statements")
def test_the_token_is_read_alike(monkeypatch, user, staff_user, django_user_model):
    from django.contrib.auth.models import User

    from documents.models import ApiToken
    from tests.helpers import enable_mfa

    _, live = services.api_token_create(actor=None, user=user, read_only=True)
    enable_mfa(staff_user)
    _, with_mfa = services.api_token_create(actor=None, user=staff_user, issued_with_mfa=True)
    _, revoked = services.api_token_create(actor=None, user=staff_user)
    services.api_token_revoke(
        actor=None, token=ApiToken.objects.get(user=staff_user, issued_with_mfa=False)
    )
    inactive_user = django_user_model.objects.create_user(username="gone", is_active=False)
    inactive = ApiToken.objects.create(
        user=inactive_user, prefix="sco_x", key_hash="f" * 64, read_only=False
    )
    seen_mfa = []
    for plain in (live, with_mfa, revoked, "not-a-token"):
        key = services.api_token_hash(plain)
        by_sql = postgresql.live_token(key)
        with monkeypatch.context() as patched:
            patched.setattr(connection, "vendor", "sqlite")
            by_orm = _live_token(key)
        if by_orm is None:
            assert by_sql is None
            continue
        assert by_sql is not None
        fields = [field.attname for field in ApiToken._meta.concrete_fields]
        assert [getattr(by_sql, name) for name in fields] == [
            getattr(by_orm, name) for name in fields
        ]
        user_fields = [field.attname for field in User._meta.concrete_fields]
        assert [getattr(by_sql.user, name) for name in user_fields] == [
            getattr(by_orm.user, name) for name in user_fields
        ]
        assert by_sql.user.is_authenticated and not by_sql._state.adding
        assert by_sql.user_has_mfa is by_orm.user_has_mfa
        seen_mfa.append(by_sql.user_has_mfa)
    assert seen_mfa == [False, True]  # the analyst has no two-factor, the editor has
    assert postgresql.live_token(inactive.key_hash) is None


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's own statements")
def test_a_project_that_requires_two_factor_is_not_there_for_a_session_without_it(
    monkeypatch, project, user, tags, document, twin
):
    project.require_mfa = True
    project.save()
    user.mfa_verified = False  # as accounts.middleware marks such a session
    start = document.text.index("Китай")
    by_orm, by_sql = _both(
        monkeypatch,
        user=user,
        document=document.pk,
        twin=twin.pk,
        start=start,
        end=start + 5,
        quote="Китай",
        tags=["extradition"],
    )
    assert isinstance(by_orm, ValidationError) and isinstance(by_sql, ValidationError)
    assert by_orm.error_dict["document"][0].code == by_sql.error_dict["document"][0].code
    assert by_sql.error_dict["document"][0].code == "unknown_document"
    user.mfa_verified = True
    assert services.annotation_create(
        user=user, document=twin, start=start, end=start + 5, tags=["extradition"]
    ).pk


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's lock statements")
def test_the_code_locks_hold_the_codes_the_orm_reads(project, tags, document):
    """hold_tags and share_tags take FOR KEY SHARE, which the ORM cannot ask for (its
    weakest row lock conflicts with itself): they hold the rows the ORM's read finds, in
    id order, and no others. (What the lock keeps out: tests/test_codebook_races.py.)"""
    from django.db import transaction

    slugs = ["oversight-gap", "extradition", "no-such-code"]
    orm = list(
        Tag.objects.filter(project=project, slug__in=slugs)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    with transaction.atomic():
        assert postgresql.hold_tags(document.pk, slugs) == orm
        assert postgresql.share_tags([*reversed(orm), -1]) == orm
        assert postgresql.hold_tags(document.pk, []) == []
