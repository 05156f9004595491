"""The workspace's extent changes, histories, activity and deleted annotations: services,
pages and fragments (the browser side is in test_browser.py)."""

from __future__ import annotations

import lxml.html
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from documents import selectors, services
from documents.models import Activity, Annotation
from documents.views import _Span, paragraphs_html
from tests.helpers import annotate
from tests.test_views import HTMX, count_queries


@pytest.fixture
def logged_in(client, user, tags):
    client.force_login(user)
    return client


def _extent(annotation, needle, **extra):
    start = annotation.document.text.index(needle)
    return {"start": start, "end": start + len(needle), "quote": needle, **extra}


# ---------------------------------------------------------------------------------------
# The service


def test_annotation_change_extent_keeps_id_codes_and_note(user, annotation):
    before_version = selectors.document_list_version(user=user, pk=annotation.document_id).key
    changed = services.annotation_change_extent(
        user=user, annotation=annotation, **_extent(annotation, "the Shanghai Convention")
    )
    stored = Annotation.objects.get(pk=annotation.pk)
    assert (stored.quote, stored.version) == ("the Shanghai Convention", 2)
    assert stored.start == annotation.document.text.index("the Shanghai")
    assert stored.prefix == "Extradition under "
    assert list(stored.tags.values_list("slug", flat=True)) == ["extradition"]
    assert stored.note == "Treaty basis."
    assert changed.pk == annotation.pk
    row = Activity.objects.get(action="annotation.extent")
    assert (row.actor, row.object_id, row.document_id) == (user, annotation.pk, stored.document_id)
    assert row.before["quote"] == "Shanghai Convention"
    assert row.after["quote"] == "the Shanghai Convention"
    assert row.after["tags"] == ["extradition"]
    # The document's list shows the new extent: its version moved on.
    after_version = selectors.document_list_version(user=user, pk=annotation.document_id).key
    assert after_version != before_version


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"start": 22, "end": 41, "quote": "Shanghai convention"}, "quote", "Does not match"),
        ({"start": 30, "end": 20, "quote": None}, "end", "greater than start"),
        ({"start": 0, "end": 10_000, "quote": None}, "end", "at most 225"),
        ({"start": "a", "end": 3, "quote": None}, "start", "whole number"),
        ({"start": 22, "end": 41, "quote": "Shanghai Convention"}, "end", "same as the current"),
    ],
)
def test_annotation_change_extent_refuses_bad_spans_and_changes_nothing(
    user, annotation, values, field, message
):
    with pytest.raises(ValidationError) as refused:
        services.annotation_change_extent(user=user, annotation=annotation, **values)
    assert message in " ".join(refused.value.message_dict[field])
    stored = Annotation.objects.get(pk=annotation.pk)
    assert (stored.quote, stored.version) == ("Shanghai Convention", 1)
    assert not Activity.objects.filter(action="annotation.extent").exists()


def test_annotation_change_extent_is_refused_to_another_coder_when_stale_or_deleted(
    user, other_user, annotation
):
    span = _extent(annotation, "the Shanghai Convention")
    with pytest.raises(PermissionDenied):
        services.annotation_change_extent(user=other_user, annotation=annotation, **span)
    with pytest.raises(services.StaleAnnotation):
        services.annotation_change_extent(
            user=user, annotation=annotation, expected_version=7, **span
        )
    services.annotation_delete(user=user, annotation=annotation)
    with pytest.raises(ValidationError, match="restore it"):
        services.annotation_change_extent(user=user, annotation=annotation, **span)
    assert Annotation.objects.get(pk=annotation.pk).quote == "Shanghai Convention"


# ---------------------------------------------------------------------------------------
# The card's extent form


def test_extent_form_saves_a_new_extent_and_redraws_its_paragraphs(logged_in, annotation):
    url = reverse("documents:annotation_extent", args=[annotation.pk])
    form = logged_in.get(url, **HTMX)
    assert form.status_code == 200
    assert b"Save extent" in form.content
    response = logged_in.post(
        url, _extent(annotation, "Extradition under the Shanghai Convention", version=1), **HTMX
    )
    assert response.status_code == 200
    tree = lxml.html.fromstring(response.content)
    assert tree.xpath(f'//li[@id="card-{annotation.pk}"]//button[text()="Change extent"]')
    (mark,) = tree.xpath(f'//div[@id="p0"]//mark[@data-a="{annotation.pk}"]')
    assert mark.text_content() == "Extradition under the Shanghai Convention"
    assert Annotation.objects.get(pk=annotation.pk).start == 0


def test_extent_form_without_a_selection_says_what_to_do(logged_in, annotation):
    url = reverse("documents:annotation_extent", args=[annotation.pk])
    response = logged_in.post(url, {"version": 1}, **HTMX)
    assert response.status_code == 422
    assert b"Select the new extent in the text first." in response.content
    stale = logged_in.post(url, _extent(annotation, "the Shanghai", version=5), **HTMX)
    assert stale.status_code == 422
    assert b"changed by someone else" in stale.content
    assert Annotation.objects.get(pk=annotation.pk).version == 1


def test_extent_form_refuses_another_coders_annotation(client, other_user, annotation):
    client.force_login(other_user)
    url = reverse("documents:annotation_extent", args=[annotation.pk])
    assert client.get(url, **HTMX).status_code == 403
    response = client.post(url, _extent(annotation, "the Shanghai", version=1), **HTMX)
    assert response.status_code == 403
    assert Annotation.objects.get(pk=annotation.pk).version == 1


# ---------------------------------------------------------------------------------------
# History and activity


def test_annotation_history_lists_its_changes_in_constant_queries(logged_in, user, annotation):
    url = reverse("documents:annotation_history", args=[annotation.pk])
    first = count_queries(lambda: logged_in.get(url, **HTMX))
    services.annotation_update(user=user, annotation=annotation, tags=["three-evils"], note="")
    services.annotation_change_extent(
        user=user, annotation=annotation, **_extent(annotation, "the Shanghai")
    )
    services.annotation_delete(user=user, annotation=annotation)
    services.annotation_restore(user=user, annotation=annotation)
    response = logged_in.get(url, **HTMX)
    text = lxml.html.fromstring(response.content).text_content()
    for said in (
        "Restored",
        "Deleted",
        "Extent changed",
        "Codes added: Three evils",
        "Codes removed: Extradition",
        "Note removed",
        "Created",
    ):
        assert said in text
    assert text.index("Restored") < text.index("Created")  # newest first
    assert count_queries(lambda: logged_in.get(url, **HTMX)) == first


def test_document_activity_pages_in_constant_queries(logged_in, user, document, tags):
    url = reverse("documents:activity", args=[document.pk])
    annotate(user, document, "Shanghai")
    few = count_queries(lambda: logged_in.get(url))
    for _ in range(60):
        annotate(user, document, "Россия")
    assert count_queries(lambda: logged_in.get(url)) == few
    response = logged_in.get(url)
    assert response.status_code == 200
    assert b"Page 1 of 2" in response.content
    second = logged_in.get(url, {"page": "2"})
    assert b"Page 2 of 2" in second.content
    assert b"Document imported" in second.content
    assert logged_in.get(url, {"page": "x"}).status_code == 200


def test_document_activity_is_hidden_from_other_projects(client, django_user_model, document):
    stranger = django_user_model.objects.create_user(username="stranger", password="s-pass-1")
    client.force_login(stranger)
    assert client.get(reverse("documents:activity", args=[document.pk])).status_code == 404


# ---------------------------------------------------------------------------------------
# Deleted annotations


def test_trash_lists_deleted_annotations_and_restore_brings_one_back(
    logged_in, user, other_user, document, tags
):
    mine = annotate(user, document, "Shanghai")
    theirs = annotate(other_user, document, "Россия")
    alive = annotate(user, document, "Emoji")
    services.annotation_delete(user=user, annotation=mine)
    services.annotation_delete(user=other_user, annotation=theirs)
    url = reverse("documents:trash", args=[document.pk])
    response = logged_in.get(url)
    tree = lxml.html.fromstring(response.content)
    assert {element.get("id") for element in tree.xpath('//li[starts-with(@id, "trash-")]')} == {
        f"trash-{mine.pk}",
        f"trash-{theirs.pk}",
    }
    assert not tree.xpath(f'//*[@id="trash-{alive.pk}"]')
    # A coder restores their own, not a colleague's.
    assert tree.xpath(f'//li[@id="trash-{mine.pk}"]//button[text()="Restore"]')
    assert not tree.xpath(f'//li[@id="trash-{theirs.pk}"]//button')
    restore = reverse("documents:annotation_restore", args=[mine.pk])
    response = logged_in.post(restore, {"version": 2})
    assert response.status_code == 302
    assert response["Location"].endswith(f"#a{mine.pk}")
    assert not Annotation.objects.get(pk=mine.pk).is_deleted
    assert Activity.objects.filter(action="annotation.restore", object_id=mine.pk).exists()
    assert f"trash-{mine.pk}".encode() not in logged_in.get(url).content


def test_deleted_annotations_vanish_from_reads_exports_and_counts(logged_in, user, document, tags):
    deleted = annotate(user, document, "Shanghai", note="Gone now")
    services.annotation_delete(user=user, annotation=deleted)
    page = logged_in.get(reverse("documents:detail", args=[document.pk])).content
    assert f'data-a="{deleted.pk}"'.encode() not in page
    assert f'id="card-{deleted.pk}"'.encode() not in page
    assert selectors.tag_counts_by_document(user=user, document_ids=[document.pk]) == {}
    assert not selectors.annotation_list(user=user).filter(pk=deleted.pk).exists()
    csv = b"".join(logged_in.get(reverse("api:export-csv")).streaming_content)
    assert b"Gone now" not in csv


def test_trash_pages_in_constant_queries(logged_in, user, document, tags):
    url = reverse("documents:trash", args=[document.pk])
    services.annotation_delete(user=user, annotation=annotate(user, document, "Shanghai"))
    few = count_queries(lambda: logged_in.get(url))
    for _ in range(55):
        services.annotation_delete(user=user, annotation=annotate(user, document, "Emoji"))
    assert count_queries(lambda: logged_in.get(url)) == few
    assert b"Older" in logged_in.get(url).content
    assert logged_in.get(url, {"page": "2"}).status_code == 200
    assert logged_in.get(url, {"page": "99999999999999"}).status_code == 200


# ---------------------------------------------------------------------------------------
# Markup: overlapping highlights, the chooser's codes


def test_overlapping_highlights_carry_a_line_for_each_annotation():
    spans = [_Span(1, 0, 10, 5, True), _Span(2, 4, 8, 6, False)]
    html = paragraphs_html("abcdefghijkl", 0, spans)
    tree = lxml.html.fromstring(html)
    classes = {mark.get("data-a"): mark.get("class").split() for mark in tree.iter("mark")}
    assert "u1-5" in classes["1"] and "t5" in classes["1"]
    assert {"u1-5", "u2-6", "t6", "d2"} <= set(classes["1 2"])


def test_tag_styles_colour_each_underline_layer(logged_in, tags):
    css = logged_in.get(reverse("documents:tag_styles")).content.decode()
    tag = tags["extradition"]
    for layer in (1, 2, 3):
        assert f".u{layer}-{tag.pk}{{--u{layer}:{tag.colour}}}" in css


def test_chooser_offers_active_codes_in_tree_order_with_their_parents(logged_in, document, tags):
    retired = tags["due-process"]
    retired.is_active = False
    services.tag_save(user=None, tag=retired)
    page = logged_in.get(reverse("documents:detail", args=[document.pk])).content
    tree = lxml.html.fromstring(page)
    choices = tree.xpath('//form[@id="highlight-form"]//div[contains(@class, "tag-choice")]')
    slugs = [choice.get("data-tag") for choice in choices]
    assert "due-process" not in slugs
    assert slugs.index("three-evils") + 1 == slugs.index("definition-of-terrorism")
    (child,) = [c for c in choices if c.get("data-tag") == "definition-of-terrorism"]
    assert "depth-1" in child.get("class")
    assert child.get("data-name") == "definition of terrorism three evils"
    button = child.xpath('.//button[contains(@class, "tag-button")]')[0]
    assert button.get("aria-description") == "in Three evils"


def test_api_patch_of_the_offsets_changes_the_extent_and_the_w3c_selectors(
    client, bearer, user, annotation
):
    headers = bearer(user)
    url = f"/api/v1/annotations/{annotation.pk}/"
    needle = "Extradition under the Shanghai Convention"
    response = client.patch(
        url,
        {"start": 0, "end": len(needle), "quote": needle},
        content_type="application/json",
        headers={**headers, "If-Match": '"1"'},
    )
    assert response.status_code == 200
    assert (response.json()["id"], response.json()["tags"]) == (annotation.pk, ["extradition"])
    jsonld = client.get(url + "?format=jsonld", headers=headers).json()
    selectors_ = {s["type"]: s for s in jsonld["target"]["selector"]}
    assert selectors_["TextPositionSelector"] == {
        "type": "TextPositionSelector",
        "start": 0,
        "end": len(needle),
    }
    assert selectors_["TextQuoteSelector"]["exact"] == needle
    assert selectors_["TextQuoteSelector"]["prefix"] == ""
    # A quote from another text is refused, and nothing changes.
    refused = client.patch(
        url,
        {"start": 0, "end": 5, "quote": "Extra"[:4] + "X"},
        content_type="application/json",
        headers=headers,
    )
    assert refused.status_code == 400
    assert "quote" in refused.json()
    assert Annotation.objects.get(pk=annotation.pk).quote == needle
