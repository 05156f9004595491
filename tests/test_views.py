"""The analysts' pages: login, document list, document page, and the htmx annotation writes."""

from __future__ import annotations

import lxml.html
import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from documents import services
from documents.models import Activity, Annotation, Document
from documents.selectors import document_paragraphs
from documents.views import _Span, paragraphs_html
from sco_annotate.lru import BoundedCache
from tests.helpers import annotate

HTMX = {"HTTP_HX_REQUEST": "true"}


def text_of(html, element_id="document-text"):
    tree = lxml.html.fromstring(html)
    (element,) = tree.xpath(f'//*[@id="{element_id}"]')
    return element.text_content()


def count_queries(call):
    with CaptureQueriesContext(connection) as context:
        call()
    return len(context.captured_queries)


def post_create(client, document, needle, tags=("extradition",), note="", **extra):
    start = document.text.index(needle)
    data = {
        "start": start,
        "end": start + len(needle),
        "quote": needle,
        "tags": list(tags),
        "note": note,
        **extra,
    }
    return client.post(reverse("documents:annotation_create", args=[document.pk]), data, **HTMX)


@pytest.fixture
def logged_in(client, user, tags):
    client.force_login(user)
    return client


# ---------------------------------------------------------------------------------------
# Login


def test_every_page_needs_a_login(client, annotation):
    urls = [
        reverse("documents:list"),
        reverse("documents:detail", args=[annotation.document_id]),
        reverse("documents:annotation_card", args=[annotation.pk]),
        reverse("documents:annotation_edit", args=[annotation.pk]),
        reverse("documents:annotation_panel", args=[annotation.document_id]),
        reverse("documents:annotation_summaries", args=[annotation.document_id]),
        reverse("documents:tag_styles"),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login") + "?next="), url


def test_every_write_needs_a_login(client, annotation):
    urls = [
        reverse("documents:annotation_create", args=[annotation.document_id]),
        reverse("documents:annotation_edit", args=[annotation.pk]),
        reverse("documents:annotation_delete", args=[annotation.pk]),
        reverse("documents:annotation_restore", args=[annotation.pk]),
    ]
    for url in urls:
        response = client.post(url, {"version": 1, "tags": ["extradition"]}, **HTMX)
        # htmx is told to load the login page (HX-Redirect), not to swap it into the page.
        assert response.status_code == 200, url
        assert response["HX-Redirect"].startswith(reverse("login")), url
    annotation.refresh_from_db()
    assert annotation.version == 1
    assert not annotation.is_deleted


def test_login_page_has_username_and_password_fields(client, db):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    tree = lxml.html.fromstring(response.content)
    assert tree.xpath('//input[@name="username"]')
    assert tree.xpath('//input[@name="password" and @type="password"]')


def test_login_then_logout(client, user):
    response = client.post(
        reverse("login"), {"username": "analyst", "password": "analyst-pass-1"}, follow=True
    )
    assert response.status_code == 200
    assert response.context["user"] == user
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("documents:list")).status_code == 302


def test_wrong_password_is_refused_with_a_message(client, user):
    response = client.post(reverse("login"), {"username": "analyst", "password": "wrong"})
    assert response.status_code == 200
    assert b"correct username and password" in response.content


def test_logout_needs_post(logged_in):
    assert logged_in.get(reverse("logout")).status_code == 405


# ---------------------------------------------------------------------------------------
# Document list


def test_document_list_shows_metadata_and_tag_counts(logged_in, sample_corpus, user):
    hric = next(d for d in sample_corpus if d.organisation.startswith("Human Rights in China"))
    annotate(user, hric, "Three Evil Forces", tags=["three-evils"])
    annotate(user, hric, "extremism", tags=["three-evils", "definition-of-extremism"])
    response = logged_in.get(reverse("documents:list"))
    assert response.status_code == 200
    tree = lxml.html.fromstring(response.content)
    rows = tree.xpath("//table[@class='documents']/tbody/tr")
    assert len(rows) == len(sample_corpus)
    (row,) = [r for r in rows if r.xpath(f".//a[@href='{hric.get_absolute_url()}']")]
    cells = [cell.text_content().strip() for cell in row.xpath("td")]
    assert cells[0] == hric.title
    assert cells[2] == hric.published_display
    assert cells[3] == hric.language
    assert "Three evils 2" in " ".join(cells[5].split())
    assert "Definition of extremism 1" in " ".join(cells[5].split())


def test_document_list_filters(logged_in, sample_corpus):
    hric = next(d for d in sample_corpus if d.organisation.startswith("Human Rights in China"))
    url = reverse("documents:list")

    def titles(**params):
        response = logged_in.get(url, params)
        assert response.status_code == 200
        tree = lxml.html.fromstring(response.content)
        return {a.text_content() for a in tree.xpath("//table[@class='documents']//td[1]/a")}

    assert titles(q=hric.title[5:20].upper()) == {hric.title}
    assert titles(organisation=hric.organisation) == {
        d.title for d in sample_corpus if d.organisation == hric.organisation
    }
    assert titles(year=hric.published.year) == {
        d.title for d in sample_corpus if d.published and d.published.year == hric.published.year
    }
    assert titles(document_type=hric.document_type) == {
        d.title for d in sample_corpus if d.document_type == hric.document_type
    }
    assert titles(language=hric.language) == {
        d.title for d in sample_corpus if d.language == hric.language
    }


def test_document_list_explains_a_bad_filter(logged_in, sample_corpus):
    response = logged_in.get(reverse("documents:list"), {"year": "last year"})
    assert response.status_code == 200
    assert b"Year: Enter a whole number." in response.content


def test_document_list_htmx_returns_only_the_results(logged_in, sample_corpus):
    response = logged_in.get(reverse("documents:list"), {"q": "SCO"}, **HTMX)
    assert response.status_code == 200
    assert response.content.lstrip().startswith(b'<section id="results"')


def test_document_list_query_count_does_not_grow(logged_in, sample_corpus, user, other_user):
    url = reverse("documents:list")
    before = count_queries(lambda: logged_in.get(url))
    for document in sample_corpus:
        annotate(user, document, document.text.strip()[:5], tags=["extradition", "three-evils"])
        annotate(other_user, document, document.text.strip()[:5], tags=["oversight-gap"])
    assert count_queries(lambda: logged_in.get(url)) == before


# ---------------------------------------------------------------------------------------
# Document page


def test_document_page_text_content_is_the_stored_text(logged_in, document, user):
    annotate(user, document, "Shanghai Convention")
    annotate(user, document, "Shanghai", tags=["three-evils"])  # nested
    annotate(user, document, "𠀀 before this", tags=["oversight-gap"])
    annotate(user, document, "Россия и Китай", tags=["asylum-refugee-protection"])
    response = logged_in.get(document.get_absolute_url())
    assert response.status_code == 200
    assert text_of(response.content) == document.text


def test_document_page_keeps_a_leading_newline_and_blank_lines(logged_in, user, tags):
    document = services.document_create(
        user=None,
        text="\n\nFirst paragraph.\n\n\nSecond one\n",
        metadata=services.DocumentMetadata(title="Blank lines"),
    )
    annotate(user, document, "paragraph.\n\n\nSecond")
    response = logged_in.get(document.get_absolute_url())
    assert text_of(response.content) == document.text


def test_document_page_escapes_text_title_note_and_tag_names(logged_in, document, user, tags):
    tags["extradition"].name = "<b>Extradition</b>"
    services.tag_save(user=None, tag=tags["extradition"])
    annotate(user, document, "<script>alert(1)</script>", note="<img src=x onerror=alert(3)>")
    services.document_update(user=None, document=document, title="<script>alert(4)</script>")
    response = logged_in.get(document.get_absolute_url())
    content = response.content.decode()
    assert "<script>alert" not in content
    assert "<img src=x" not in content
    assert "<b>Extradition" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content
    assert "&lt;img src=x onerror=alert(3)&gt;" in content
    tree = lxml.html.fromstring(response.content)
    # The only scripts are the page's own files.
    assert all(script.get("src") for script in tree.xpath("//script"))
    assert not tree.xpath("//img")
    assert text_of(response.content) == document.text


def test_document_page_sends_a_strict_content_security_policy(logged_in, document):
    response = logged_in.get(document.get_absolute_url())
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_document_page_highlights_nested_and_overlapping_annotations(logged_in, document, user):
    outer = annotate(user, document, "Extradition under the Shanghai Convention")
    inner = annotate(user, document, "Shanghai", tags=["three-evils"])
    crossing = annotate(user, document, "Convention.\n上海", tags=["oversight-gap"])
    response = logged_in.get(document.get_absolute_url())
    tree = lxml.html.fromstring(response.content)
    marks = tree.xpath("//*[@id='document-text']//mark")
    by_text = {mark.text_content(): mark for mark in marks}
    assert by_text["Shanghai"].get("data-a") == f"{outer.pk} {inner.pk}"
    assert "d2" in by_text["Shanghai"].get("class").split()
    assert by_text["Convention"].get("data-a") == f"{outer.pk} {crossing.pk}"
    # The crossing annotation is split at the paragraph break, starting only once.
    assert by_text[".\n"].get("data-a") == str(crossing.pk)
    assert "s" not in by_text["上海"].get("class").split()
    assert by_text["上海"].getparent().get("dir") == "auto"


def test_document_page_shows_each_paragraph_with_dir_auto(logged_in, document):
    response = logged_in.get(document.get_absolute_url())
    tree = lxml.html.fromstring(response.content)
    paragraphs = tree.xpath("//*[@id='document-text']/div")
    assert len(paragraphs) == document.text.count("\n")
    assert {p.get("dir") for p in paragraphs} == {"auto"}
    uyghur = next(p for p in paragraphs if p.text_content().startswith("ئۇيغۇر"))
    assert uyghur.get("id") == f"p{document.text.index('ئۇيغۇر')}"


def test_document_page_lists_annotations_in_text_order(logged_in, document, user, other_user):
    late = annotate(user, document, "Россия", note="Second")
    early = annotate(other_user, document, "Extradition", tags=["three-evils"])
    response = logged_in.get(document.get_absolute_url())
    tree = lxml.html.fromstring(response.content)
    cards = tree.xpath("//ol[@id='annotation-list']/li")
    assert [card.get("id") for card in cards] == [f"card-{early.pk}", f"card-{late.pk}"]
    assert "colleague" in cards[0].xpath(".//p[@class='card-meta']")[0].text
    assert "own" not in cards[0].get("class").split()
    assert "own" in cards[1].get("class").split()
    assert (cards[1].get("data-start"), cards[1].get("data-end")) == (
        str(late.start),
        str(late.end),
    )
    # Only the author (or an admin) gets the buttons to change an annotation; everyone
    # reads its history.
    assert [b.text for b in cards[0].xpath(".//button")] == ["History"]
    assert [b.text for b in cards[1].xpath(".//button")] == [
        "Edit",
        "Change extent",
        "Delete",
        "History",
    ]
    link = cards[1].xpath(".//a[@class='card-link']")[0]
    assert (
        link.get("href") == late.get_absolute_url() == f"{document.get_absolute_url()}#a{late.pk}"
    )


def test_document_page_hides_deleted_annotations(logged_in, document, user, annotation):
    services.annotation_delete(user=user, annotation=annotation)
    response = logged_in.get(document.get_absolute_url())
    tree = lxml.html.fromstring(response.content)
    assert not tree.xpath("//mark")
    assert not tree.xpath("//ol[@id='annotation-list']/li[contains(@class, 'card')]")
    assert tree.xpath("//ol[@id='annotation-list']/li")[0].text == (
        "No annotations yet. Select text in the document to tag it."
    )


def test_document_page_offers_every_active_tag_with_its_definition(logged_in, document, tags):
    tags["oversight-gap"].is_active = False
    services.tag_save(user=None, tag=tags["oversight-gap"])
    response = logged_in.get(document.get_absolute_url())
    tree = lxml.html.fromstring(response.content)
    buttons = tree.xpath(
        "//form[@id='highlight-form']//button[@class and contains(@class, 'tag-button')]"
    )
    # A code's parents are named in its button, shown when it comes up among recent codes.
    names = [button.xpath(".//span[@class='tag-name']")[0].text for button in buttons]
    assert names == [tag.name for tag in tags.values() if tag.is_active]
    assert "Oversight gap" not in names
    definition = tree.xpath("//p[@id='definition-extradition']")[0]
    assert definition.text_content() == tags["extradition"].definition


def test_document_page_of_an_unknown_document_is_404(logged_in, db):
    assert logged_in.get(reverse("documents:detail", args=[999999])).status_code == 404


def test_document_page_query_count_does_not_grow(logged_in, document, user, other_user, tags):
    url = document.get_absolute_url()
    annotate(user, document, "Shanghai")
    logged_in.get(url)  # The text is then in the process's cache, as it is after one view.
    kept = count_queries(lambda: logged_in.get(url))  # the highlighted text kept too
    cache.clear()
    queries = count_queries(lambda: logged_in.get(url))
    for index, word in enumerate(["Extradition", "Convention", "Emoji", "Россия", "договор"]):
        annotate(user, document, word, tags=["three-evils", "extradition"], note=f"n{index}")
        annotate(other_user, document, word, tags=["oversight-gap"])
    assert count_queries(lambda: logged_in.get(url)) == queries
    # Kept, the page does without the highlights' query.
    assert kept == queries - 1


def test_tag_styles_give_each_tag_its_colour_and_a_readable_ink(logged_in, tags):
    tag = tags["extradition"]
    tag.colour = "#1a237e"  # dark blue: white text over it
    services.tag_save(user=None, tag=tag)
    response = logged_in.get(reverse("documents:tag_styles"))
    assert response["Content-Type"].startswith("text/css")
    assert f".t{tag.pk}{{--tag:#1a237e;--tag-ink:#ffffff}}" in response.text
    light = tags["definition-of-extremism"]  # #fff176, yellow: black text
    assert f".t{light.pk}{{--tag:{light.colour};--tag-ink:#000000}}" in response.text
    # Highlights: the colour mixed with white at each overlap depth, each with its ink.
    assert (
        f"mark.t{tag.pk}{{--hl1:#989cc5;--hl1-ink:#000000;--hl2:#767bb2;--hl2-ink:#000000;"
        "--hl3:#5f65a5;--hl3-ink:#ffffff}" in response.text
    )


# ---------------------------------------------------------------------------------------
# Highlight rendering


def test_paragraphs_html_keeps_text_and_escapes_it():
    text = "a<b>&c\n\nd😀e\n"
    spans = [_Span(1, 1, 9, 7, True), _Span(2, 3, 4, 8, False)]
    html = paragraphs_html(text, 100, spans)
    assert lxml.html.fromstring(f"<div>{html}</div>").text_content() == text
    assert "&lt;b&gt;&amp;c" in html
    assert html.startswith('<div id="p100" dir="auto">')
    assert '<div id="p107" dir="auto">' in html
    assert '<div id="p108" dir="auto">' in html


# ---------------------------------------------------------------------------------------
# Creating annotations


def test_create_annotation_returns_fragments_and_stores_the_exact_quote(logged_in, document, user):
    needle = "𠀀 before this passage"
    response = post_create(
        logged_in, document, needle, tags=["extradition", "three-evils"], note="N"
    )
    assert response.status_code == 200
    annotation = Annotation.objects.get()
    assert annotation.quote == needle
    assert annotation.author == user
    assert annotation.note == "N"
    assert sorted(annotation.tags.values_list("slug", flat=True)) == ["extradition", "three-evils"]
    content = response.content.decode()
    # Only the paragraph of the span and the new card, not the document.
    tree = lxml.html.fromstring(f"<div>{content}</div>")
    paragraphs = tree.xpath("//div[starts-with(@id, 'p') and @hx-swap-oob='true']")
    line = document.text.index("Emoji")
    assert [p.get("id") for p in paragraphs] == [f"p{line}"]
    assert paragraphs[0].text_content() == document.text[line : document.text.index("\n", line) + 1]
    # The card is the main content (for #new-card-slot); the rest are out-of-band swaps.
    (card,) = tree.xpath(f"//li[@id='card-{annotation.pk}']")
    assert card.getparent().get("hx-swap-oob") is None
    assert card.get("data-start") == str(annotation.start)
    assert "Russia" not in content and "Россия" not in content
    assert Activity.objects.filter(action="annotation.create", object_id=annotation.pk).exists()


def test_create_annotation_leaves_out_the_card_when_the_panel_filters_exclude_it(
    logged_in, document
):
    response = post_create(logged_in, document, "Shanghai", tag="oversight-gap")
    assert response.status_code == 200
    assert "<li" not in response.text
    response = post_create(logged_in, document, "Emoji", tag="extradition", hide_others="1")
    assert f'id="card-{Annotation.objects.latest("pk").pk}"' in response.text
    response = post_create(logged_in, document, "Россия", author="colleague")
    assert "<li" not in response.text
    assert Annotation.objects.count() == 3


def test_create_annotation_across_paragraphs_returns_both(logged_in, document):
    needle = "Convention.\n上海合作组织"
    response = post_create(logged_in, document, needle)
    assert response.status_code == 200
    tree = lxml.html.fromstring(f"<div>{response.text}</div>")
    ids = [p.get("id") for p in tree.xpath("//div[@hx-swap-oob='true' and @dir='auto']")]
    assert ids == ["p0", f"p{document.text.index('上海')}"]
    assert Annotation.objects.get().quote == needle


def test_create_annotation_refuses_a_quote_mismatch_with_a_message(logged_in, document):
    start = document.text.index("Emoji")
    data = {"start": start, "end": start + 5, "quote": "Emojj", "tags": ["extradition"]}
    url = reverse("documents:annotation_create", args=[document.pk])
    response = logged_in.post(url, data, **HTMX)
    assert response.status_code == 422
    assert "Does not match the text" in response.text
    assert 'id="chooser-errors"' in response.text
    assert not Annotation.objects.exists()


def test_create_annotation_counted_in_utf16_units_is_refused(logged_in, document):
    # What a browser would send if it forgot to convert UTF-16 offsets to code points.
    start = document.text.index("before")
    utf16_start = len(document.text[:start].encode("utf-16-le")) // 2
    data = {
        "start": utf16_start,
        "end": utf16_start + 6,
        "quote": "before",
        "tags": ["extradition"],
    }
    url = reverse("documents:annotation_create", args=[document.pk])
    response = logged_in.post(url, data, **HTMX)
    assert response.status_code == 422
    assert "code points" in response.text


def test_create_annotation_needs_a_tag(logged_in, document):
    response = post_create(logged_in, document, "Shanghai", tags=[])
    assert response.status_code == 422
    assert "Choose at least one tag." in response.text
    assert not Annotation.objects.exists()


def test_create_annotation_refuses_an_unknown_tag_and_bad_offsets(logged_in, document):
    response = post_create(logged_in, document, "Shanghai", tags=["no-such-tag"])
    assert response.status_code == 422
    assert "Unknown tag: no-such-tag" in response.text
    response = post_create(logged_in, document, "Shanghai", start="x")
    assert response.status_code == 422
    assert "Start: Enter a whole number." in response.text
    url = reverse("documents:annotation_create", args=[document.pk])
    response = logged_in.post(
        url, {"start": 5, "end": 10**6, "quote": "x", "tags": ["extradition"]}, **HTMX
    )
    assert response.status_code == 422
    assert "Must be at most" in response.text
    assert not Annotation.objects.exists()


def test_create_annotation_accepts_crlf_from_the_form(logged_in, document):
    needle = "Convention.\n上海"
    start = document.text.index(needle)
    data = {
        "start": start,
        "end": start + len(needle),
        "quote": needle.replace("\n", "\r\n"),
        "tags": ["extradition"],
    }
    url = reverse("documents:annotation_create", args=[document.pk])
    assert logged_in.post(url, data, **HTMX).status_code == 200
    assert Annotation.objects.get().quote == needle


def test_create_annotation_on_an_unknown_document_is_not_found(logged_in, db, tags):
    url = reverse("documents:annotation_create", args=[999999])
    data = {"start": 0, "end": 1, "quote": "x", "tags": ["extradition"]}
    response = logged_in.post(url, data, **HTMX)
    assert response.status_code == 404


def test_create_annotation_without_htmx_redirects_to_the_permalink(logged_in, document):
    start = document.text.index("Shanghai")
    data = {"start": start, "end": start + 8, "quote": "Shanghai", "tags": ["extradition"]}
    response = logged_in.post(reverse("documents:annotation_create", args=[document.pk]), data)
    assert response.status_code == 302
    assert response["Location"] == Annotation.objects.get().get_absolute_url()


def test_create_annotation_needs_the_csrf_token(client, user, document):
    client = type(client)(enforce_csrf_checks=True)
    client.force_login(user)
    response = post_create(client, document, "Shanghai")
    assert response.status_code == 403
    assert not Annotation.objects.exists()


def test_create_annotation_query_count_does_not_grow(logged_in, document, user, other_user):
    post_create(logged_in, document, "Shanghai")
    Annotation.objects.all().delete()
    queries = count_queries(lambda: post_create(logged_in, document, "Extradition"))
    if connection.vendor == "postgresql":
        # Session, user; in a transaction (a savepoint inside the test's): the document
        # (its row locked) with the user's role and the tags, then the annotation with its
        # tag links, its list's new version and its activity row (documents/postgresql.py);
        # then the highlights of the touched paragraphs.
        assert queries == 7
    for word in ["Shanghai", "Convention", "Emoji", "Россия", "под", "договор", "alert"]:
        annotate(user, document, word, tags=["three-evils", "extradition"])
        annotate(other_user, document, word, tags=["oversight-gap"])
    assert count_queries(lambda: post_create(logged_in, document, "under")) == queries


def test_create_annotation_response_does_not_grow_with_the_document(logged_in, user, tags):
    paragraph = "A line of a long report about the SCO and its members.\n"
    short = services.document_create(
        user=None, text=paragraph * 3, metadata=services.DocumentMetadata(title="Short")
    )
    long = services.document_create(
        user=None, text=paragraph * 20000, metadata=services.DocumentMetadata(title="Long")
    )
    for index in range(0, 200):
        annotate(user, long, "SCO", occurrence=index * 50)
    sizes = []
    for document in (short, long):
        start = len(paragraph) + paragraph.index("report")
        data = {"start": start, "end": start + 6, "quote": "report", "tags": ["extradition"]}
        url = reverse("documents:annotation_create", args=[document.pk])
        response = logged_in.post(url, data, **HTMX)
        assert response.status_code == 200
        sizes.append(len(response.content))
    assert sizes[1] < 4000
    assert abs(sizes[1] - sizes[0]) < 100


# ---------------------------------------------------------------------------------------
# Editing, deleting, undoing


def edit(client, annotation, version=None, tags=("three-evils",), note="Changed"):
    url = reverse("documents:annotation_edit", args=[annotation.pk])
    data = {"version": version or annotation.version, "tags": list(tags), "note": note}
    return client.post(url, data, **HTMX)


def test_edit_form_shows_tags_note_and_version(logged_in, annotation):
    response = logged_in.get(reverse("documents:annotation_edit", args=[annotation.pk]), **HTMX)
    assert response.status_code == 200
    tree = lxml.html.fromstring(response.content)
    assert tree.xpath("//input[@name='version']")[0].get("value") == "1"
    checked = tree.xpath("//input[@name='tags' and @checked]")
    assert [box.get("value") for box in checked] == ["extradition"]
    assert tree.xpath("//textarea[@name='note']")[0].text == "Treaty basis."


def test_edit_annotation_changes_tags_and_note(logged_in, annotation):
    response = edit(logged_in, annotation)
    assert response.status_code == 200
    annotation.refresh_from_db()
    assert annotation.note == "Changed"
    assert annotation.version == 2
    assert list(annotation.tags.values_list("slug", flat=True)) == ["three-evils"]
    tree = lxml.html.fromstring(f"<div>{response.text}</div>")
    assert (
        tree.xpath(f"//li[@id='card-{annotation.pk}']//p[@class='card-note']")[0].text == "Changed"
    )
    assert tree.xpath("//div[@id='p0' and @hx-swap-oob='true']")


def test_edit_from_a_stale_page_is_refused_with_a_message(logged_in, annotation, user):
    services.annotation_update(user=user, annotation=annotation, note="Someone else's change")
    response = edit(logged_in, annotation, version=1, note="Mine")
    assert response.status_code == 422
    assert "was changed by someone else since you loaded it" in response.text
    # The form comes back with what the analyst typed.
    assert "Mine" in response.text
    annotation.refresh_from_db()
    assert annotation.note == "Someone else's change"


def test_edit_needs_a_tag(logged_in, annotation):
    response = edit(logged_in, annotation, tags=[])
    assert response.status_code == 422
    assert "Choose at least one tag." in response.text


def test_analyst_cannot_edit_or_delete_someone_elses_annotation(client, other_user, annotation):
    client.force_login(other_user)
    assert client.get(reverse("documents:annotation_edit", args=[annotation.pk])).status_code == 403
    assert edit(client, annotation).status_code == 403
    url = reverse("documents:annotation_delete", args=[annotation.pk])
    assert client.post(url, {"version": 1}, **HTMX).status_code == 403
    annotation.refresh_from_db()
    assert annotation.version == 1
    assert not annotation.is_deleted


def test_admin_can_edit_and_delete_anyones_annotation(client, staff_user, annotation):
    client.force_login(staff_user)
    assert edit(client, annotation).status_code == 200
    url = reverse("documents:annotation_delete", args=[annotation.pk])
    assert client.post(url, {"version": 2}, **HTMX).status_code == 200
    annotation.refresh_from_db()
    assert annotation.is_deleted
    assert annotation.deleted_by == staff_user


def test_delete_then_undo(logged_in, annotation, user):
    url = reverse("documents:annotation_delete", args=[annotation.pk])
    response = logged_in.post(url, {"version": 1}, **HTMX)
    assert response.status_code == 200
    annotation.refresh_from_db()
    assert annotation.is_deleted
    tree = lxml.html.fromstring(f"<div>{response.text}</div>")
    (card,) = tree.xpath(f"//li[@id='card-{annotation.pk}']")
    assert "deleted" in card.get("class")
    (undo,) = card.xpath(".//form")
    assert undo.xpath(".//button")[0].text == "Undo"
    assert undo.get("hx-post") == reverse("documents:annotation_restore", args=[annotation.pk])
    assert undo.get("action") == undo.get("hx-post")
    assert undo.xpath(".//input[@name='version']")[0].get("value") == "2"
    # The paragraph comes back without the highlight.
    (paragraph,) = tree.xpath("//div[@id='p0']")
    assert not paragraph.xpath(".//mark")

    response = logged_in.post(undo.get("hx-post"), {"version": 2}, **HTMX)
    assert response.status_code == 200
    annotation.refresh_from_db()
    assert not annotation.is_deleted
    tree = lxml.html.fromstring(f"<div>{response.text}</div>")
    assert tree.xpath(f"//div[@id='p0']//mark[@data-a='{annotation.pk}']")
    assert list(
        Activity.objects.filter(object_id=annotation.pk, object_type="annotation")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["annotation.create", "annotation.delete", "annotation.restore"]


def test_delete_from_a_stale_page_is_refused(logged_in, annotation, user):
    services.annotation_update(user=user, annotation=annotation, note="Changed meanwhile")
    url = reverse("documents:annotation_delete", args=[annotation.pk])
    response = logged_in.post(url, {"version": 1}, **HTMX)
    assert response.status_code == 422
    assert "changed by someone else" in response.text
    annotation.refresh_from_db()
    assert not annotation.is_deleted


def test_annotation_card_of_an_unknown_annotation_is_404(logged_in, db):
    assert (
        logged_in.get(reverse("documents:annotation_card", args=[999]), **HTMX).status_code == 404
    )


def test_edit_query_count_does_not_grow(logged_in, document, user, other_user):
    first = annotate(user, document, "Shanghai")
    logged_in.get(document.get_absolute_url())  # The text is then in the process's cache.
    queries = count_queries(lambda: edit(logged_in, first, version=1))
    second = annotate(user, document, "Extradition")
    for word in ["Convention", "under", "the"]:
        annotate(user, document, word, tags=["three-evils", "extradition"])
        annotate(other_user, document, word, tags=["oversight-gap"])
    assert count_queries(lambda: edit(logged_in, second, version=1)) == queries


def test_long_document_page_renders_every_highlight(logged_in, user, tags):
    paragraph = "Report text with Uyghur names and SCO lists.\n"
    document = services.document_create(
        user=None, text=paragraph * 500, metadata=services.DocumentMetadata(title="Long report")
    )
    spans = []
    for index in range(300):
        start = index * len(paragraph) + paragraph.index("Uyghur")
        spans.append((start, start + 40))  # crosses into the next paragraph
    for start, end in spans:
        services.annotation_create(
            user=user, document=document, start=start, end=end, tags=["extradition"]
        )
    response = logged_in.get(document.get_absolute_url())
    assert text_of(response.content) == document.text
    tree = lxml.html.fromstring(response.content)
    ids = {mark.get("data-a") for mark in tree.xpath("//mark")}
    assert ids == {str(pk) for pk in Annotation.objects.values_list("pk", flat=True)}
    assert Document.objects.count() == 1


# ---------------------------------------------------------------------------------------
# Side panel


def panel(client, document, **params):
    url = reverse("documents:annotation_panel", args=[document.pk])
    response = client.get(url, params, **HTMX)
    assert response.status_code == 200
    tree = lxml.html.fromstring(f"<ol>{response.text}</ol>")
    return [li.get("id") for li in tree.xpath("//li[contains(@class, 'card')]")], tree


def test_panel_filters_by_tag_with_narrower_tags_by_author_and_hides_others(
    logged_in, document, user, other_user
):
    broad = annotate(user, document, "Shanghai", tags=["three-evils"])
    narrow = annotate(other_user, document, "Россия", tags=["definition-of-extremism"])
    other = annotate(user, document, "Emoji", tags=["oversight-gap"])
    assert panel(logged_in, document)[0] == [f"card-{a.pk}" for a in (broad, other, narrow)]
    assert panel(logged_in, document, tag="three-evils")[0] == [
        f"card-{broad.pk}",
        f"card-{narrow.pk}",
    ]
    assert panel(logged_in, document, author="colleague")[0] == [f"card-{narrow.pk}"]
    assert panel(logged_in, document, hide_others="1")[0] == [
        f"card-{broad.pk}",
        f"card-{other.pk}",
    ]
    ids, tree = panel(logged_in, document, tag="due-process")
    assert ids == []
    assert "No annotations match these filters." in tree.text_content()


def test_panel_loads_in_pages_of_constant_cost(logged_in, user, tags, monkeypatch):
    monkeypatch.setattr("documents.views.PANEL_PAGE", 3)
    document = services.document_create(
        user=None, text="word " * 40, metadata=services.DocumentMetadata(title="Words")
    )
    made = [annotate(user, document, "word", occurrence=index) for index in range(8)]
    ids, tree = panel(logged_in, document)
    assert ids == [f"card-{a.pk}" for a in made[:3]]
    more = tree.xpath("//li[@id='more-cards']")[0].get("hx-get")
    queries = count_queries(lambda: logged_in.get(more, **HTMX))
    second = logged_in.get(more, **HTMX)
    tree = lxml.html.fromstring(f"<ol>{second.text}</ol>")
    assert [li.get("id") for li in tree.xpath("//li[contains(@class, 'card')]")] == [
        f"card-{a.pk}" for a in made[3:6]
    ]
    last = tree.xpath("//li[@id='more-cards']")[0].get("hx-get")
    assert count_queries(lambda: logged_in.get(last, **HTMX)) == queries
    third = lxml.html.fromstring(f"<ol>{logged_in.get(last, **HTMX).text}</ol>")
    assert [li.get("id") for li in third.xpath("//li[contains(@class, 'card')]")] == [
        f"card-{a.pk}" for a in made[6:]
    ]
    assert not third.xpath("//li[@id='more-cards']")


def test_document_page_shows_only_the_first_page_of_cards(logged_in, user, tags, monkeypatch):
    monkeypatch.setattr("documents.views.PANEL_PAGE", 2)
    document = services.document_create(
        user=None, text="word " * 10, metadata=services.DocumentMetadata(title="Words")
    )
    made = [annotate(user, document, "word", occurrence=index) for index in range(5)]
    tree = lxml.html.fromstring(logged_in.get(document.get_absolute_url()).content)
    cards = tree.xpath("//ol[@id='annotation-list']/li[contains(@class, 'card')]")
    assert [card.get("id") for card in cards] == [f"card-{a.pk}" for a in made[:2]]
    assert tree.xpath("//li[@id='more-cards']")
    # Every highlight is drawn all the same.
    assert len(tree.xpath("//mark")) == 5


def test_summaries_for_the_hover_card(logged_in, document, user, other_user):
    mine = annotate(user, document, "Shanghai", note="Mine <b>")
    theirs = annotate(other_user, document, "Россия", tags=["three-evils"])
    url = reverse("documents:annotation_summaries", args=[document.pk])
    response = logged_in.get(url, {"ids": f"{mine.pk},{theirs.pk},x"}, **HTMX)
    assert response.status_code == 200
    assert response.text.count('class="card-summary"') == 2
    assert "Mine &lt;b&gt;" in response.text
    assert "colleague" in response.text
    assert "Three evils" in response.text


def test_paragraphs_around_returns_whole_paragraphs(document):
    text = document.text
    emoji = text.index("Emoji")
    assert document_paragraphs(document, emoji + 2, emoji + 4) == (
        emoji,
        text[emoji : text.index("\n", emoji) + 1],
    )
    # From the first character to the last one.
    assert document_paragraphs(document, 0, len(text)) == (0, text)
    # A span that ends with a line break stays in its paragraph.
    first_break = text.index("\n")
    assert document_paragraphs(document, 3, first_break + 1) == (0, text[: first_break + 1])


def test_paragraphs_around_follows_a_changed_text(user, tags):
    document = services.document_create(
        user=None, text="One\nTwo\n", metadata=services.DocumentMetadata(title="Short")
    )
    assert document_paragraphs(document, 4, 5) == (4, "Two\n")
    services.document_update(user=None, document=document, text="One\nThree\n")
    stored = Document.objects.only("pk", "sha256").get(pk=document.pk)
    assert document_paragraphs(stored, 4, 5) == (4, "Three\n")


def test_paragraphs_html_draws_the_segments_of_text_segments():
    """The renderer's runs are text.segments() split at line breaks, with the same keys."""
    import random

    from documents.text import segments

    from .conftest import MIXED_TEXT

    generator = random.Random(7)
    for _ in range(30):
        spans = []
        for pk in range(1, generator.randint(1, 12)):
            start = generator.randrange(0, len(MIXED_TEXT) - 1)
            end = generator.randint(start + 1, min(len(MIXED_TEXT), start + 60))
            spans.append(_Span(pk, start, end, pk % 3, pk % 2 == 0))
        ordered = sorted(spans, key=lambda span: (span.start, -span.end, span.pk))
        expected = []
        for segment in segments(MIXED_TEXT, [(s.start, s.end, s.pk) for s in ordered]):
            ids = " ".join(map(str, segment.keys))
            for line in segment.text.splitlines(keepends=True):
                expected.append((line, ids))
        root = lxml.html.fromstring(f"<div>{paragraphs_html(MIXED_TEXT, 0, spans)}</div>")
        runs = []
        for paragraph in root:
            if paragraph.text:
                runs.append((paragraph.text, ""))
            for mark in paragraph:
                runs.append((mark.text, mark.get("data-a")))
                if mark.tail:
                    runs.append((mark.tail, ""))
        assert runs == expected
        assert root.text_content() == MIXED_TEXT


def test_delete_and_undo_work_without_javascript(logged_in, annotation):
    """Plain form posts (no htmx): redirected back to the annotation's permalink."""
    url = reverse("documents:annotation_delete", args=[annotation.pk])
    response = logged_in.post(url, {"version": 1})
    assert response.status_code == 302
    assert response["Location"] == annotation.get_absolute_url()
    annotation.refresh_from_db()
    assert annotation.is_deleted
    url = reverse("documents:annotation_restore", args=[annotation.pk])
    assert logged_in.post(url, {"version": 2}).status_code == 302
    annotation.refresh_from_db()
    assert not annotation.is_deleted


@pytest.mark.parametrize(
    "query",
    [
        {"after": "1.1.²"},
        {"after": "1.1.99999999999999999999999"},
        {"after": "a.b"},
    ],
)
def test_panel_cursor_that_is_not_whole_numbers_is_ignored(client, user, document, query):
    client.force_login(user)
    panel = reverse("documents:annotation_panel", args=[document.pk])
    assert client.get(panel, query, headers={"HX-Request": "true"}).status_code == 200
    assert client.get(document.get_absolute_url(), query).status_code == 200


@pytest.mark.parametrize("ids", ["²", "99999999999999999999999", "1,,x,2"])
def test_summaries_ignore_ids_that_are_not_whole_numbers(client, user, document, ids):
    client.force_login(user)
    url = reverse("documents:annotation_summaries", args=[document.pk])
    assert client.get(url, {"ids": ids}).status_code == 200


def test_text_cache_is_bounded_by_total_length(document, monkeypatch):
    from documents import selectors

    monkeypatch.setattr(selectors, "_texts", BoundedCache(len(document.text), len))
    assert selectors.document_text(document) == document.text
    other = services.document_create(
        user=None, text="Another text.", metadata=services.DocumentMetadata(title="Other")
    )
    assert selectors.document_text(other) == "Another text."
    # The first text was dropped to make room: the cache stays within its bound.
    assert selectors._texts.held() == [(other.pk, other.sha256)]
    assert selectors._texts.size == len("Another text.")


def test_navigation_links_to_import_for_admins_only(client, user, staff_user, db):
    client.force_login(user)
    assert 'href="/import/"' not in client.get("/").content.decode()
    client.force_login(staff_user)
    assert 'href="/import/"' in client.get("/").content.decode()
