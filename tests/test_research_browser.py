"""Search, coding hits, passages and the Word report, in Chromium against a live server, on
the sample corpus (and a Russian text imported beside it)."""

from __future__ import annotations

import re
from pathlib import Path

import docx
import pytest
from playwright.sync_api import expect

from documents import services
from documents.models import Annotation
from research.models import CodingBatch
from tests.test_browser import ARTIFACTS, browser, log_in, page  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RUSSIAN = (
    "Доклад о выдаче беженцев.\n"
    "Государства ШОС договорились о выдаче лиц без суда. Правозащитники осуждают выдачи.\n"
)


def shot(page, name):  # noqa: F811 (the page fixture)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"research-{name}.png"), full_page=True)


def search_for(page, words):  # noqa: F811
    page.get_by_label("Search", exact=True).fill(words)
    page.get_by_role("button", name="Search", exact=True).click()


def test_an_analyst_finds_codes_undoes_and_reports_passages(
    page,  # noqa: F811
    log_in,  # noqa: F811
    user,
    staff_user,
    project,
    sample_corpus,
    tags,
    tmp_path: Path,
):
    russian = services.document_create(
        user=staff_user,
        project=project,
        text=RUSSIAN,
        metadata=services.DocumentMetadata(title="Доклад о выдаче", language="ru"),
    )
    log_in(user)
    page.goto(project.get_absolute_url())
    page.get_by_role("link", name="Search the documents").click()

    # An English word in another inflection: every document discussing extradition.
    search_for(page, "extradited")
    results = page.locator("article.hit-document")
    expect(results.first).to_be_visible()
    assert results.count() == 2
    found = page.locator("mark.found").all_inner_texts()
    assert {word.lower() for word in found} <= {"extradition", "extraditions", "extradited"}
    assert "extradition" in {word.lower() for word in found}
    shot(page, "search")

    # A Chinese phrase, inside a run without spaces.
    search_for(page, "极端主义")
    expect(page.locator("mark.found").first).to_have_text("极端主义")
    # A Russian word in another case, in the imported text.
    search_for(page, "выдача")
    expect(page.locator("article.hit-document h2")).to_have_text(["Доклад о выдаче"])
    assert page.locator("mark.found").all_inner_texts() == ["выдаче", "выдаче", "выдачи"]

    # A hit opens its document with the hit selected.
    page.locator("li.hit a", has_text="open").nth(1).click()
    expect(page).to_have_url(re.compile(rf"/documents/{russian.pk}/#t\d+-\d+$"))
    expect(page.locator("#highlight-form")).to_be_visible()
    assert page.evaluate("() => document.getSelection().toString()") == "выдаче"
    page.go_back()

    # Code every uncoded hit of "extradition" in one step, then undo it.
    search_for(page, "extradition")
    page.get_by_label("Hits").select_option("no")
    page.get_by_role("button", name="Search", exact=True).click()
    hits = page.locator("li.hit").count()
    assert hits > 3
    page.get_by_label("Code", exact=True).select_option(label="Extradition")
    page.get_by_label("covering").select_option("sentence")
    page.get_by_label("Every hit of the search").check()
    page.get_by_role("button", name="Preview the coding").click()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(re.compile(r"Code \d+ passages Extradition\?"))
    planned = int(re.search(r"\d+", heading.inner_text()).group())
    assert not Annotation.objects.exists()
    shot(page, "preview")
    page.get_by_role("button", name=re.compile(r"Code \d+ passages")).click()
    expect(page.get_by_text(f"{planned} passages coded Extradition")).to_be_visible()
    assert Annotation.objects.alive().count() == planned
    # Now that they are coded, the filter "not yet coded" leaves none.
    expect(page.locator("li.hit")).to_have_count(0)
    page.get_by_role("button", name="Undo").click()
    expect(page.get_by_text(f"Undone: {planned} passages uncoded.")).to_be_visible()
    assert Annotation.objects.alive().count() == 0
    assert CodingBatch.objects.get().undone_at is not None

    # Code them again, then list the code's passages from a click on the code.
    page.get_by_label("Code", exact=True).select_option(label="Extradition")
    page.get_by_label("Every hit of the search").check()
    page.get_by_role("button", name="Preview the coding").click()
    page.get_by_role("button", name=re.compile(r"Code \d+ passages")).click()
    expect(page.get_by_text(f"{planned} passages coded Extradition")).to_be_visible()
    page.goto(project.get_absolute_url())
    page.locator("a.chip", has_text="Extradition").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Passages coded Extradition")
    passages = page.locator("li.passage")
    expect(passages).to_have_count(planned)
    citation = passages.first.locator(".citation")
    expect(citation.locator("cite")).not_to_be_empty()
    expect(citation.get_by_role("link", name="Open at the passage")).to_have_attribute(
        "href", re.compile(r"/documents/\d+/#a\d+$")
    )
    shot(page, "passages")

    # The Word report of what is shown: one section per code, each quote with its citation.
    with page.expect_download() as download:
        page.get_by_role("link", name="Word report").click()
    saved = tmp_path / "report.docx"
    download.value.save_as(saved)
    report = docx.Document(str(saved))
    text = "\n".join(paragraph.text for paragraph in report.paragraphs)
    headings = [p.text for p in report.paragraphs if p.style.name.startswith("Heading 1")]
    assert headings[0] == "Extradition"
    first = Annotation.objects.alive().order_by("document__title", "start").first()
    assert first.quote in text
    assert first.document.title in text
    links = [rel.target_ref for rel in report.part.rels.values() if "hyperlink" in rel.reltype]
    assert any(link.endswith(f"#a{first.pk}") for link in links)


def test_an_analyst_compares_codes_in_a_matrix_cooccurrence_and_timeline(
    page,  # noqa: F811
    log_in,  # noqa: F811
    user,
    project,
    sample_corpus,
    tags,
    tmp_path: Path,
):
    from research import services as research_services
    from research.selectors import SearchFilter, search_hits
    from research.terms import parse_query

    for query, slug in (("extradition", "extradition"), ("extremism", "definition-of-extremism")):
        filters = SearchFilter(project=project.pk, query=parse_query(query))
        hits = [
            (h.document_id, h.start, h.end)
            for h in search_hits(user=user, filters=filters, limit=1000)
        ]
        research_services.code_hits(
            user=user,
            project=project.pk,
            tag=tags[slug],
            hits=hits,
            scope="sentence",
            query=query,
        )
    log_in(user)
    page.goto(project.get_absolute_url())
    page.get_by_role("link", name="matrix").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Codes by organisation")
    row = page.locator("tr", has=page.locator("th a", has_text="Extradition")).first
    cell = row.locator("td a").first
    count = int(cell.inner_text())
    shot(page, "matrix")

    # The data and the chart download as files.
    with page.expect_download() as data:
        page.get_by_role("link", name="data (CSV)").click()
    saved = tmp_path / "matrix.csv"
    data.value.save_as(saved)
    assert saved.read_text(encoding="utf-8-sig").startswith("code,")
    with page.expect_download() as chart:
        page.get_by_role("link", name="chart (SVG)").click()
    svg = tmp_path / "matrix.svg"
    chart.value.save_as(svg)
    assert svg.read_text().startswith("<svg")

    # A cell opens its passages: as many as it counts.
    cell.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Passages coded Extradition")
    expect(page.locator("li.passage")).to_have_count(count)

    page.get_by_role("link", name="Co-occurrence").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Codes that go together")
    shot(page, "cooccurrence")
    page.get_by_role("link", name="Timeline").click()
    chart_element = page.locator("figure.chart svg")
    expect(chart_element).to_be_visible()
    expect(chart_element.locator("text", has_text="Extradition (")).to_have_count(1)
    shot(page, "timeline")


def test_a_long_list_of_passages_is_shown_then_counted(
    page,  # noqa: F811
    log_in,  # noqa: F811
    user,
    project,
    sample_corpus,
    tags,
    monkeypatch,
):
    """A page with a next one is answered before its passages are counted: htmx asks for
    the count once the page is shown, and it replaces the placeholder."""
    from research import views as research_views
    from tests.helpers import annotate

    document = sample_corpus[0]
    words = sorted(set(re.findall(r"[A-Za-z]{6,}", document.text)))[:7]
    for word in words:
        annotate(user, document, word, tags=["extradition"])
    monkeypatch.setattr(research_views, "PASSAGES_PER_PAGE", 3)
    log_in(user)
    page.goto(f"/projects/{project.pk}/passages/")
    expect(page.locator("li.passage")).to_have_count(3)
    expect(page.locator("#passage-count")).to_have_text(f"{len(words)} passages on 3 pages.")
    expect(page.get_by_role("link", name="Next")).to_be_visible()
    shot(page, "passages-counted")
