from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from documents import services
from documents.models import Activity, Annotation, Document, Tag
from tests.helpers import annotate

# --- Spans in every script -----------------------------------------------------------


def test_annotation_inside_chinese_quotation_of_hric_sample(user, sample_corpus):
    hric = Document.objects.get(title__startswith="How Will")
    annotation = annotate(user, hric, "极端主义思潮泛滥")
    assert hric.text[annotation.start : annotation.end] == "极端主义思潮泛滥"
    assert annotation.prefix.endswith("建立阻止")
    assert annotation.suffix.startswith("和宣扬恐怖主义")


def test_annotation_after_chinese_quotation_uses_code_point_offsets(user, sample_corpus):
    hric = Document.objects.get(title__startswith="How Will")
    quote = "This is a critical juncture in the evolution of the SCO."
    annotation = annotate(user, hric, quote)
    assert annotation.start == hric.text.index(quote) > hric.text.index("条件。")
    assert annotation.quote == quote


def test_annotation_after_emoji_and_astral_characters(user, document, tags):
    annotation = annotate(user, document, "before this passage")
    # 👩🏽‍⚖️ is 5 code points (7 UTF-16 units) and 𠀀 is 1 code point (2 units).
    assert annotation.start == document.text.index("before this passage")
    assert annotation.quote == "before this passage"
    astral = annotate(user, document, "𠀀")
    assert astral.end - astral.start == 1


def test_annotation_in_right_to_left_text(user, document, tags):
    annotation = annotate(user, document, "بۇ بىر جۈملە")
    assert annotation.quote == "بۇ بىر جۈملە"


def test_annotation_at_offset_zero_and_at_end_of_text(user, document, tags):
    first = services.annotation_create(
        user=user, document=document, start=0, end=11, quote="Extradition", tags=["extradition"]
    )
    assert first.prefix == ""
    end = document.length
    last = services.annotation_create(
        user=user, document=document, start=end - 2, end=end, tags=["extradition"]
    )
    assert last.quote == document.text[-2:]
    assert last.suffix == ""


def test_annotation_create_without_quote_fills_it_from_the_text(user, document, tags):
    annotation = services.annotation_create(
        user=user, document=document, start=0, end=4, tags=["due-process"]
    )
    assert annotation.quote == "Extr"


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (-1, 3, "start"),
        (5, 5, "end"),
        (6, 5, "end"),
        (0, 10_000, "end"),
        ("0", 3, "start"),
        (0, 2.5, "end"),
        (True, 3, "start"),
    ],
)
def test_annotation_create_rejects_bad_offsets(user, document, tags, start, end, field):
    with pytest.raises(ValidationError) as exc:
        services.annotation_create(
            user=user, document=document, start=start, end=end, tags=["extradition"]
        )
    assert field in exc.value.message_dict
    assert not Annotation.objects.exists()
    assert not Activity.objects.filter(action="annotation.create").exists()


def test_annotation_create_rejects_quote_mismatch(user, document, tags):
    with pytest.raises(ValidationError) as exc:
        services.annotation_create(
            user=user, document=document, start=0, end=11, quote="Extraditio", tags=["extradition"]
        )
    assert "reads 'Extradition'" in exc.value.message_dict["quote"][0]
    assert not Annotation.objects.exists()


def test_annotation_create_rejects_utf16_offsets_from_naive_javascript(user, document, tags):
    # A client that counts UTF-16 units is off by the astral characters before the span.
    text = document.text
    start = text.index("before this passage")
    utf16_start = len(text[:start].encode("utf-16-le")) // 2
    with pytest.raises(ValidationError) as exc:
        services.annotation_create(
            user=user,
            document=document,
            start=utf16_start,
            end=utf16_start + len("before"),
            quote="before",
            tags=["extradition"],
        )
    assert "code points" in exc.value.message_dict["quote"][0]


def test_annotation_create_rejects_unknown_empty_and_retired_tags(user, document, tags):
    for bad, message in [([], "at least one"), (["nope"], "Unknown tag: nope"), ("x", "list")]:
        with pytest.raises(ValidationError) as exc:
            services.annotation_create(user=user, document=document, start=0, end=3, tags=bad)
        assert message in exc.value.message_dict["tags"][0]
    retired = tags["un-sco-cooperation"]
    retired.is_active = False
    services.tag_save(user=None, tag=retired)
    with pytest.raises(ValidationError, match="Retired"):
        services.annotation_create(
            user=user, document=document, start=0, end=3, tags=["un-sco-cooperation"]
        )
    assert not Annotation.objects.exists()


def test_annotation_create_rejects_unknown_document(user, tags):
    with pytest.raises(ValidationError) as exc:
        services.annotation_create(user=user, document=999, start=0, end=3, tags=["extradition"])
    assert "no document #999" in exc.value.message_dict["document"][0]


def test_annotation_create_refuses_anonymous_and_inactive_users(document, tags, user):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(PermissionDenied):
        services.annotation_create(
            user=AnonymousUser(), document=document, start=0, end=3, tags=["extradition"]
        )
    user.is_active = False
    with pytest.raises(PermissionDenied):
        services.annotation_create(
            user=user, document=document, start=0, end=3, tags=["extradition"]
        )


def test_annotation_create_records_activity(annotation, user):
    activity = Activity.objects.get(action="annotation.create")
    assert activity.actor == user
    assert activity.object_id == annotation.pk
    assert activity.document_id == annotation.document_id
    assert activity.before is None
    assert activity.after["quote"] == "Shanghai Convention"
    assert activity.after["tags"] == ["extradition"]


# --- Database constraints --------------------------------------------------------------


@pytest.mark.parametrize(("start", "end", "quote"), [(5, 5, ""), (6, 5, "x"), (0, 3, "ab")])
def test_database_refuses_spans_that_bypass_the_service(user, document, start, end, quote):
    with pytest.raises(IntegrityError), transaction.atomic():
        Annotation.objects.create(document=document, start=start, end=end, quote=quote, author=user)


# --- Changing annotations --------------------------------------------------------------


def test_annotation_update_changes_tags_and_note_and_raises_version(annotation, user):
    updated = services.annotation_update(
        user=user, annotation=annotation, tags=["due-process", "oversight-gap"], note=" New. "
    )
    assert updated.version == 2
    annotation.refresh_from_db()
    assert annotation.note == "New."
    assert sorted(annotation.tags.values_list("slug", flat=True)) == [
        "due-process",
        "oversight-gap",
    ]
    activity = Activity.objects.get(action="annotation.update")
    assert activity.before["tags"] == ["extradition"]
    assert activity.after["tags"] == ["due-process", "oversight-gap"]
    assert activity.before["version"] == 1 and activity.after["version"] == 2


def test_annotation_update_can_move_the_span_with_the_quote_checked(annotation, user):
    text = annotation.document.text
    start = text.index("Convention")
    services.annotation_update(user=user, annotation=annotation, start=start, end=start + 10)
    annotation.refresh_from_db()
    assert annotation.quote == "Convention"
    with pytest.raises(ValidationError):
        services.annotation_update(user=user, annotation=annotation, end=start, start=start)


def test_annotation_update_refuses_stale_version(annotation, user):
    stale = Annotation.objects.get(pk=annotation.pk)
    services.annotation_update(user=user, annotation=annotation, note="first")
    with pytest.raises(services.StaleAnnotation) as exc:
        services.annotation_update(user=user, annotation=stale, note="second")
    assert exc.value.current_version == 2
    annotation.refresh_from_db()
    assert annotation.note == "first"
    with pytest.raises(services.StaleAnnotation):
        services.annotation_update(user=user, annotation=annotation, note="x", expected_version=1)


def test_annotation_update_only_by_author_or_admin(annotation, other_user, staff_user):
    with pytest.raises(PermissionDenied):
        services.annotation_update(user=other_user, annotation=annotation, note="not mine")
    services.annotation_update(user=staff_user, annotation=annotation, note="admin fix")
    annotation.refresh_from_db()
    assert annotation.note == "admin fix"


def test_annotation_delete_is_soft_and_restore_undoes_it(annotation, user):
    services.annotation_delete(user=user, annotation=annotation)
    annotation.refresh_from_db()
    assert annotation.deleted_by == user
    assert annotation.deleted_at is not None
    assert annotation.version == 2
    assert not Annotation.objects.alive().exists()
    with pytest.raises(ValidationError, match="restore"):
        services.annotation_update(user=user, annotation=annotation, note="x")
    services.annotation_restore(user=user, annotation=annotation)
    annotation.refresh_from_db()
    assert annotation.deleted_at is None and annotation.version == 3
    assert list(
        Activity.objects.filter(object_type="annotation", object_id=annotation.pk)
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["annotation.create", "annotation.delete", "annotation.restore"]


def test_annotation_delete_by_other_analyst_is_refused(annotation, other_user):
    with pytest.raises(PermissionDenied):
        services.annotation_delete(user=other_user, annotation=annotation)
    annotation.refresh_from_db()
    assert annotation.deleted_at is None


def test_tagged_includes_child_tags(user, document, tags):
    child = annotate(user, document, "Extradition", tags=["forced-return"])
    annotate(user, document, "Россия", tags=["due-process"])
    assert list(Annotation.objects.tagged("extradition")) == [child]
    assert list(Annotation.objects.tagged("forced-return")) == [child]
    assert Annotation.objects.tagged("extradition", "due-process").count() == 2


# --- Documents ---------------------------------------------------------------------------


def test_document_create_normalises_and_hashes(user):
    document = services.document_create(
        user=None,
        text="Line one\r\nLine\x00 two\r",
        metadata=services.DocumentMetadata(title="T"),
    )
    assert document.text == "Line one\nLine two\n"
    assert document.length == len(document.text)
    assert document.import_report["normalization"]["crlf_to_lf"] == 1
    assert Activity.objects.get(action="document.import").after["sha256"] == document.sha256


def test_document_create_refuses_duplicate_text(user, document):
    with pytest.raises(services.DuplicateDocument) as exc:
        services.document_create(
            user=None,
            text=document.text.replace("\n", "\r\n"),
            metadata=services.DocumentMetadata(title="Same text, other line ends"),
        )
    assert exc.value.document.pk == document.pk
    assert Document.objects.count() == 1


def test_document_create_refuses_empty_text_and_missing_title(user):
    with pytest.raises(ValidationError, match="empty"):
        services.document_create(
            user=None, text=" \n\x00", metadata=services.DocumentMetadata(title="T")
        )
    with pytest.raises(ValidationError, match="title"):
        services.document_create(user=None, text="text", metadata=services.DocumentMetadata())
    assert not Document.objects.exists()


def test_document_text_is_immutable_once_annotated(annotation, user):
    document = Document.objects.get(pk=annotation.document_id)
    with pytest.raises(ValidationError, match="cannot change"):
        services.document_update(user=None, document=document, text="Something else")
    document.refresh_from_db()
    with pytest.raises(ValidationError):
        document.text = "Changed behind the service's back"
        document.save()
    document.refresh_from_db()
    assert document.text.startswith("Extradition under")


def test_document_text_is_immutable_even_when_only_deleted_annotations_remain(annotation, user):
    services.annotation_delete(user=user, annotation=annotation)
    document = Document.objects.get(pk=annotation.document_id)
    with pytest.raises(ValidationError):
        services.document_update(user=None, document=document, text="Other")


def test_document_text_can_change_before_annotation(document, user):
    services.document_update(user=None, document=document, text="Corrected\r\ntext")
    document.refresh_from_db()
    assert document.text == "Corrected\ntext"
    assert document.length == 14
    activity = Activity.objects.get(action="document.update")
    assert activity.after["text"]["length"] == 14


def test_document_update_logs_metadata_changes(document, user):
    services.document_update(
        user=None, document=document, organisation="HRW", title="Mixed scripts"
    )
    activity = Activity.objects.get(action="document.update")
    assert activity.before == {"organisation": ""}
    assert activity.after == {"organisation": "HRW"}


def test_metadata_from_manifest_row_parses_partial_dates_and_types():
    metadata = services.DocumentMetadata.from_mapping(
        {"title": "T", "published": "2002-01", "document_type": "open letter", "file": "x.txt"}
    )
    assert metadata.published == datetime.date(2002, 1, 1)
    assert metadata.date_precision == "month"
    assert metadata.document_type == "letter"
    year = services.DocumentMetadata.from_mapping(
        {"published": "2012", "document_type": "news article"}
    )
    assert (year.published, year.date_precision, year.document_type) == (
        datetime.date(2012, 1, 1),
        "year",
        "news_article",
    )


def test_metadata_from_mapping_reports_each_bad_field():
    with pytest.raises(ValidationError) as exc:
        services.DocumentMetadata.from_mapping(
            {
                "published": "2011-13-45",
                "document_type": "poem",
                "language": "english!",
                "title": 5,
                "date_precision": "week",
            }
        )
    errors = exc.value.message_dict
    assert set(errors) == {"published", "document_type", "language", "title", "date_precision"}
    assert "YYYY-MM-DD" in errors["published"][0]


def test_activity_log_cannot_be_edited_or_deleted(annotation):
    activity = Activity.objects.first()
    with pytest.raises(TypeError):
        activity.save()
    with pytest.raises(TypeError):
        activity.delete()
    with pytest.raises(TypeError):
        Activity.objects.all().delete()
    with pytest.raises(TypeError):
        Activity.objects.update(action="x")


def test_tag_save_validates_colour_and_cycles(tags):
    tag = tags["extradition"]
    tag.colour = "red"
    with pytest.raises(ValidationError):
        services.tag_save(user=None, tag=tag)
    tag = Tag.objects.get(slug="extradition")
    tag.parent = tags["forced-return"]
    with pytest.raises(ValidationError, match="is below Extradition already"):
        services.tag_save(user=None, tag=tag)


def test_only_admins_add_or_change_documents(user, staff_user, document):
    with pytest.raises(PermissionDenied):
        services.document_create(
            user=user, text="New text", metadata=services.DocumentMetadata(title="T")
        )
    with pytest.raises(PermissionDenied):
        services.document_update(user=user, document=document, title="Renamed")
    services.document_update(user=staff_user, document=document, title="Renamed")
    document.refresh_from_db()
    assert document.title == "Renamed"
    assert Document.objects.count() == 1


def test_other_analyst_gets_permission_denied_before_any_validation(annotation, other_user):
    with pytest.raises(PermissionDenied):
        services.annotation_update(user=other_user, annotation=annotation, start=-5, end=10**9)
    services.annotation_delete(user=annotation.author, annotation=annotation)
    with pytest.raises(PermissionDenied):
        services.annotation_restore(user=other_user, annotation=annotation)
    with pytest.raises(PermissionDenied):
        services.annotation_delete(user=other_user, annotation=annotation)


@pytest.mark.parametrize(("value", "expected"), [("false", False), ("0", False), ("True", True)])
def test_metadata_reads_language_detected_from_text(value, expected):
    metadata = services.DocumentMetadata.from_mapping({"language_detected": value})
    assert metadata.language_detected is expected
