"""The analyst workspace in Chromium, driven by Playwright against a live server.

`make test` sets CHROMIUM_EXECUTABLE to the system's Chromium (/usr/bin/chromium); when it is
empty, Playwright's own installed browser is used. The tests never skip: without a browser
they fail. On failure a screenshot is saved in test-artifacts/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from playwright.sync_api import expect

from documents import services
from documents.models import Annotation, Document
from tests.browser import launched_chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

# Selects the `occurrence`-th `needle` in #document-text, by dragging the mouse across it
# (`drag`: returns the points to drag between) or by setting the selection directly.
LOCATE_JS = """
([needle, occurrence]) => {
  const root = document.getElementById("document-text");
  const full = root.textContent;
  let at = -1;
  for (let i = 0; i <= occurrence; i++) {
    at = full.indexOf(needle, at + 1);
    if (at < 0) throw new Error(`not found: ${needle}`);
  }
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const nodes = [];
  let seen = 0;
  while (walker.nextNode()) {
    nodes.push([walker.currentNode, seen]);
    seen += walker.currentNode.data.length;
  }
  // The start in the node where the passage's first character is, the end in the node of
  // its last character.
  const first = nodes.find(([node, from]) => from <= at && at < from + node.data.length);
  const end = at + needle.length;
  const last = nodes.find(([node, from]) => from < end && end <= from + node.data.length);
  const points = [[first[0], at - first[1]], [last[0], end - last[1]]];
  return points;
}
"""

SELECT_JS = (
    """
([needle, occurrence]) => {
  const points = ("""
    + LOCATE_JS
    + """)([needle, occurrence]);
  document.getSelection().setBaseAndExtent(points[0][0], points[0][1], points[1][0], points[1][1]);
}
"""
)

DRAG_POINTS_JS = (
    """
([needle, occurrence]) => {
  const points = ("""
    + LOCATE_JS
    + """)([needle, occurrence]);
  const rect = (node, offset, last) => {
    // The box of the passage's first character, or of its last one (a surrogate pair is one).
    const r = document.createRange();
    if (last) {
      const pair = offset >= 2 && node.data.codePointAt(offset - 2) > 0xffff;
      r.setStart(node, offset - (pair ? 2 : 1));
      r.setEnd(node, offset);
    } else {
      r.setStart(node, offset);
      r.setEnd(node, offset + (node.data.codePointAt(offset) > 0xffff ? 2 : 1));
    }
    const rects = r.getClientRects();
    return rects[last ? rects.length - 1 : 0];
  };
  points[0][0].parentElement.scrollIntoView({block: "center"});
  const a = rect(points[0][0], points[0][1], false);
  const b = rect(points[1][0], points[1][1], true);
  return [a.left + 1, a.top + a.height / 2, b.right - 1, b.top + b.height / 2];
}
"""
)


@pytest.fixture(scope="module")
def browser():
    with launched_chromium() as chromium:
        yield chromium


def _console_error(message, errors):
    # A refused write answers 422 with its message, which Chromium also logs as an error.
    if message.type == "error" and "status of 422" not in message.text:
        errors.append(message.text)


@pytest.fixture
def page(browser, live_server, request):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: _console_error(message, errors))
    failed_before = request.session.testsfailed
    yield page
    if request.session.testsfailed > failed_before:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]", "_", request.node.name)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()
    # No script error and no refused resource (Content-Security-Policy included).
    assert errors == []


@pytest.fixture
def log_in(page, live_server):
    """Give the browser a logged-in session (the login form itself is tested once)."""

    def log_in(user):
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        page.context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
        )

    return log_in


def drag_select(page, needle, occurrence=0):
    x1, y1, x2, y2 = page.evaluate(DRAG_POINTS_JS, [needle, occurrence])
    page.mouse.move(x1, y1)
    page.mouse.down()
    page.mouse.move((x1 + x2) / 2, (y1 + y2) / 2, steps=4)
    page.mouse.move(x2, y2, steps=4)
    page.mouse.up()


def select(page, needle, occurrence=0):
    page.evaluate(SELECT_JS, [needle, occurrence])


def save_with_tags(page, *names, note=None):
    chooser = page.locator("#highlight-form")
    expect(chooser).to_be_visible()
    for name in names:
        chooser.get_by_role("button", name=name, exact=True).click()
    if note is not None:
        chooser.get_by_label("Note (optional)").fill(note)
    before = Annotation.objects.count()
    chooser.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#workspace-status")).to_have_text(re.compile(r"Saved annotation #\d+"))
    expect(chooser).to_be_hidden()
    assert Annotation.objects.count() == before + 1
    return Annotation.objects.latest("pk")


def mark_of(page, annotation):
    return page.locator(f'#document-text mark[data-a~="{annotation.pk}"]')


def text_content(page):
    return page.evaluate("() => document.getElementById('document-text').textContent")


def hric(sample_corpus):
    return next(d for d in sample_corpus if d.organisation.startswith("Human Rights in China"))


# ---------------------------------------------------------------------------------------


def test_login_form_leads_to_the_requested_document(page, user, sample_corpus):
    document = hric(sample_corpus)
    page.goto(document.get_absolute_url())
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
    page.get_by_label("Username").fill("analyst")
    page.get_by_label("Password").fill("analyst-pass-1")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(re.escape(document.get_absolute_url()) + "$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(document.title)
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))


def test_tag_passages_in_the_hric_sample_with_the_mouse(page, log_in, user, sample_corpus):
    document = hric(sample_corpus)
    log_in(user)
    page.goto(document.get_absolute_url())
    assert text_content(page) == Document.objects.get(pk=document.pk).text

    # Inside the Chinese quotation.
    chinese = "阻止极端主义思潮泛滥"
    drag_select(page, chinese)
    first = save_with_tags(page, "Definition of extremism", note="Thought, not action.")
    assert first.quote == chinese
    assert document.text[first.start : first.end] == chinese
    expect(mark_of(page, first)).to_have_text(chinese)

    # After it, in the next paragraph.
    after = "This is a critical juncture in the evolution of the SCO"
    drag_select(page, after)
    second = save_with_tags(page, "Oversight gap", "Three evils")
    assert second.quote == after
    assert sorted(second.tags.values_list("slug", flat=True)) == ["oversight-gap", "three-evils"]
    expect(page.locator(f"#card-{second.pk}")).to_contain_text("Oversight gap")
    # The page was not reloaded, and the text is still exactly the stored text.
    assert text_content(page) == document.text

    page.reload()
    expect(mark_of(page, first)).to_have_text(chinese)
    expect(mark_of(page, second)).to_have_text(after)
    assert text_content(page) == document.text


def test_passage_after_emoji_and_a_character_outside_the_bmp(page, log_in, user, document, tags):
    log_in(user)
    page.goto(document.get_absolute_url())
    needle = "before this passage"
    drag_select(page, needle)
    annotation = save_with_tags(page, "Extradition")
    assert annotation.quote == needle
    assert annotation.start == document.text.index(needle)
    # Just the astral character, then the emoji with its modifiers and joiner.
    select(page, "𠀀")
    astral = save_with_tags(page, "Three evils")
    assert astral.quote == "𠀀"
    assert astral.end - astral.start == 1
    select(page, "👩🏽‍⚖️")
    emoji = save_with_tags(page, "Oversight gap")
    assert emoji.quote == "👩🏽‍⚖️"
    assert (emoji.start, emoji.end) == (document.text.index("👩"), document.text.index("👩") + 5)


def test_selection_is_trimmed_crosses_paragraphs_and_works_in_rtl_text(
    page, log_in, user, document, tags
):
    log_in(user)
    page.goto(document.get_absolute_url())
    # Whitespace at both ends is dropped.
    select(page, "\nРоссия и Китай ")
    trimmed = save_with_tags(page, "Extradition")
    assert trimmed.quote == "Россия и Китай"
    # Across a paragraph break.
    select(page, "договор.\nئۇيغۇر")
    crossing = save_with_tags(page, "Three evils")
    assert crossing.quote == "договор.\nئۇيغۇر"
    # Inside right-to-left text, shown right to left.
    uyghur = page.locator(f"#p{document.text.index('ئۇيغۇر')}")
    assert uyghur.evaluate("(el) => getComputedStyle(el).direction") == "rtl"
    select(page, "بۇ بىر")
    rtl = save_with_tags(page, "Oversight gap")
    assert rtl.quote == "بۇ بىر"
    assert text_content(page) == document.text


def test_selection_partly_outside_the_text_is_refused(page, log_in, user, document, tags):
    log_in(user)
    page.goto(document.get_absolute_url())
    page.evaluate(
        """() => {
          const title = document.getElementById("document-title").firstChild;
          const text = document.querySelector("#document-text > div").firstChild;
          document.getSelection().setBaseAndExtent(title, 0, text, 5);
        }"""
    )
    expect(page.locator("#selection-message")).to_have_text(
        "Select text inside the document only: this selection reaches outside it."
    )
    expect(page.locator("#highlight-form")).to_be_hidden()
    assert not Annotation.objects.exists()


def test_keyboard_shortcut_and_definition_in_the_chooser(page, log_in, user, document, tags):
    log_in(user)
    page.goto(document.get_absolute_url())
    select(page, "Shanghai Convention")
    chooser = page.locator("#highlight-form")
    expect(chooser).to_be_visible()
    page.keyboard.press("e")
    expect(chooser.get_by_role("button", name="Extradition", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    chooser.get_by_role("button", name="Definition of Extradition").click()
    expect(chooser.locator("#definition-extradition")).to_have_text(tags["extradition"].definition)
    page.keyboard.press("Escape")
    expect(chooser).to_be_hidden()
    page.evaluate("() => document.getSelection().removeAllRanges()")
    select(page, "Shanghai Convention")
    expect(chooser).to_be_visible()
    chooser.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#chooser-errors")).to_have_text("Tags: Choose at least one tag.")
    page.keyboard.press("e")
    chooser.get_by_role("button", name="Save", exact=True).click()
    expect(chooser).to_be_hidden()
    assert Annotation.objects.get().quote == "Shanghai Convention"

    # Keyboard only: a selection, a shortcut, Tab into the chooser for the note, Enter.
    page.evaluate("() => document.activeElement.blur()")
    select(page, "Россия и Китай")
    expect(chooser).to_be_visible()
    page.keyboard.press("t")
    page.keyboard.press("Tab")
    expect(chooser.get_by_role("button", name="Extradition", exact=True)).to_be_focused()
    chooser.get_by_label("Note (optional)").focus()
    page.keyboard.type("Typed, not clicked.")
    chooser.get_by_label("Note (optional)").press("Tab")
    page.evaluate("() => document.activeElement.blur()")
    page.keyboard.press("Enter")
    expect(chooser).to_be_hidden()
    typed = Annotation.objects.latest("pk")
    assert typed.quote == "Россия и Китай"
    assert typed.note == "Typed, not clicked."
    assert list(typed.tags.values_list("slug", flat=True)) == ["three-evils"]


def test_overlapping_annotations_edit_delete_undo_and_reload(page, log_in, user, document, tags):
    log_in(user)
    page.goto(document.get_absolute_url())
    drag_select(page, "Extradition under the Shanghai")
    first = save_with_tags(page, "Extradition")
    drag_select(page, "Shanghai Convention")
    second = save_with_tags(page, "Three evils")
    # The overlap carries both annotations and looks different from either alone.
    overlap = page.locator(f'#document-text mark[data-a="{first.pk} {second.pk}"]')
    expect(overlap).to_have_text("Shanghai")
    expect(overlap).to_have_class(re.compile(r"\bd2\b"))
    assert overlap.evaluate("(el) => getComputedStyle(el).boxShadow") != "none"
    expect(mark_of(page, first)).to_have_count(2)

    # Hovering shows the tags, note, author and date of both.
    overlap.hover()
    tip = page.locator("#hover-card")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("Extradition")
    expect(tip).to_contain_text("Three evils")
    expect(tip).to_contain_text("analyst")
    page.mouse.move(5, 5)
    expect(tip).to_be_hidden()
    # Focusing a highlight (by keyboard) shows the same.
    mark_of(page, second).first.focus()
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("Three evils")
    page.locator("#document-title").click()

    # Edit the second one's note.
    card = page.locator(f"#card-{second.pk}")
    card.get_by_role("button", name="Edit").click()
    card.get_by_label("Note").fill("Named in the treaty title.")
    card.get_by_role("button", name="Save").click()
    expect(card.locator(".card-note")).to_have_text("Named in the treaty title.")
    second.refresh_from_db()
    assert second.note == "Named in the treaty title."
    assert second.version == 2

    # Delete the first, then undo.
    page.locator(f"#card-{first.pk}").get_by_role("button", name="Delete").click()
    expect(page.locator(f"#card-{first.pk}")).to_contain_text("Annotation deleted")
    expect(mark_of(page, first)).to_have_count(0)
    first.refresh_from_db()
    assert first.is_deleted
    page.locator(f"#card-{first.pk}").get_by_role("button", name="Undo").click()
    expect(mark_of(page, first)).to_have_count(2)
    expect(page.locator(f"#card-{first.pk}")).to_contain_text("Extradition")
    first.refresh_from_db()
    assert not first.is_deleted

    # Everything persisted, with the exact quotes.
    page.reload()
    expect(overlap).to_have_text("Shanghai")
    expect(page.locator(f"#card-{second.pk} .card-note")).to_have_text("Named in the treaty title.")
    assert text_content(page) == document.text
    stored = {a.pk: a.quote for a in Annotation.objects.alive()}
    assert stored == {first.pk: "Extradition under the Shanghai", second.pk: "Shanghai Convention"}


def test_stale_edit_is_refused_in_the_page(page, log_in, user, annotation):
    log_in(user)
    page.goto(annotation.document.get_absolute_url())
    card = page.locator(f"#card-{annotation.pk}")
    card.get_by_role("button", name="Edit").click()
    expect(card.get_by_label("Note")).to_be_visible()
    services.annotation_update(user=user, annotation=annotation, note="Changed elsewhere")
    card.get_by_label("Note").fill("Mine")
    card.get_by_role("button", name="Save").click()
    expect(card.get_by_role("alert")).to_contain_text("was changed by someone else")
    annotation.refresh_from_db()
    assert annotation.note == "Changed elsewhere"


def test_permalink_and_side_panel(page, log_in, user, other_user, document, tags):
    mine = services.annotation_create(
        user=user, document=document, start=0, end=11, tags=["extradition"]
    )
    start = document.text.index("Россия")
    theirs = services.annotation_create(
        user=other_user, document=document, start=start, end=start + 6, tags=["three-evils"]
    )
    log_in(user)
    page.goto(theirs.get_absolute_url())
    expect(mark_of(page, theirs)).to_have_class(re.compile(r"\bflash\b"))
    expect(mark_of(page, theirs)).to_be_in_viewport()

    cards = page.locator("#annotation-list > li")
    expect(cards).to_have_count(2)
    page.get_by_label("Hide others' annotations").check()
    expect(page.locator(f"#card-{theirs.pk}")).to_have_count(0)
    expect(page.locator(f"#card-{mine.pk}")).to_be_visible()
    page.wait_for_function("() => document.getAnimations().length === 0")
    assert mark_of(page, theirs).evaluate("(el) => getComputedStyle(el).backgroundColor") in (
        "rgba(0, 0, 0, 0)",
        "transparent",
    )
    page.get_by_label("Hide others' annotations").uncheck()
    expect(page.locator(f"#card-{theirs.pk}")).to_be_visible()
    page.get_by_label("Tag", exact=True).select_option("three-evils")
    expect(page.locator(f"#card-{mine.pk}")).to_have_count(0)
    expect(page.locator(f"#card-{theirs.pk}")).to_be_visible()
    page.get_by_label("Tag", exact=True).select_option("")
    page.get_by_label("Author", exact=True).select_option("analyst")
    expect(page.locator(f"#card-{theirs.pk}")).to_have_count(0)
    page.get_by_label("Author", exact=True).select_option("")
    expect(cards).to_have_count(2)

    page.locator(f"#card-{mine.pk} .card-link").click()
    expect(mark_of(page, mine)).to_have_class(re.compile(r"\bflash\b"))
    assert page.url.endswith(f"#a{mine.pk}")
    # Someone else's annotation cannot be changed from here.
    expect(page.locator(f"#card-{theirs.pk}").get_by_role("button")).to_have_count(0)


def test_side_panel_pages_hover_summary_and_new_card_in_text_order(
    page, log_in, user, tags, monkeypatch
):
    monkeypatch.setattr("documents.views.PANEL_PAGE", 10)
    document = services.document_create(
        user=None,
        text="".join(f"Line {line} about the SCO.\n" for line in range(40)),
        metadata=services.DocumentMetadata(title="Lines"),
    )
    made = []
    for line in range(30):
        start = document.text.index(f"Line {line} ") + len(f"Line {line} about the ")
        made.append(
            services.annotation_create(
                user=user,
                document=document,
                start=start,
                end=start + 3,
                tags=["extradition"],
                note=f"On line {line}",
            )
        )
    log_in(user)
    page.goto(document.get_absolute_url())
    cards = page.locator("#annotation-list > li.card")
    expect(cards).to_have_count(10)
    expect(page.locator("#document-text mark")).to_have_count(30)
    # A highlight whose card is not loaded yet still shows its summary (fetched).
    mark_of(page, made[25]).hover()
    expect(page.locator("#hover-card")).to_contain_text("On line 25")
    # Scrolling to the end of the panel loads the next page.
    page.locator("#more-cards").scroll_into_view_if_needed()
    expect(cards).to_have_count(20)
    # A new annotation's card takes its place in text order among the cards shown...
    select(page, "Line 0")
    first = save_with_tags(page, "Three evils")
    expect(cards).to_have_count(21)
    expect(cards.first).to_have_id(f"card-{first.pk}")
    select(page, "Line 5 about")
    middle = save_with_tags(page, "Three evils")
    expect(page.locator(f"#card-{made[4].pk} + li")).to_have_id(f"card-{middle.pk}")
    # ... and waits for its page when it comes after the cards loaded so far.
    select(page, "Line 35")
    late = save_with_tags(page, "Three evils")
    expect(cards).to_have_count(22)
    expect(page.locator(f"#card-{late.pk}")).to_have_count(0)
    page.locator("#more-cards").scroll_into_view_if_needed()
    expect(cards).to_have_count(32)
    page.locator("#more-cards").scroll_into_view_if_needed()
    expect(cards).to_have_count(33)
    expect(page.locator("#more-cards")).to_have_count(0)
    expect(cards.last).to_have_id(f"card-{late.pk}")


def test_document_list_filters_and_opens_a_document(page, log_in, user, sample_corpus):
    document = hric(sample_corpus)
    log_in(user)
    page.goto("/")
    rows = page.locator("table.documents tbody tr")
    expect(rows).to_have_count(len(sample_corpus))
    page.get_by_label("Organisation").select_option(document.organisation)
    expect(rows).to_have_count(1)
    expect(page).to_have_url(re.compile(r"organisation="))
    page.get_by_label("Organisation").select_option("")
    expect(rows).to_have_count(len(sample_corpus))
    page.get_by_label("Title").fill("harmonize")
    expect(rows).to_have_count(1)
    rows.first.get_by_role("link").click()
    expect(page).to_have_url(re.compile(re.escape(document.get_absolute_url()) + "$"))
    assert text_content(page) == document.text


def test_an_owner_runs_a_project_in_the_app(page, log_in, staff_user, user, project, tags):
    """Members, roles and codes without the Django admin; a reader then sees no chooser."""
    from projects.models import Membership

    other = get_user_model().objects.create_user(username="witness-team", password="w-pass-1")
    log_in(staff_user)
    page.goto("/projects/")
    page.get_by_role("link", name="Test project").click()
    page.get_by_label("Add the user").fill(other.username)
    page.locator("#id_role").select_option("reader")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("status")).to_contain_text("witness-team added as reader.")
    page.get_by_label("Role of analyst").select_option("reviewer")
    page.locator("form", has=page.get_by_label("Role of analyst")).get_by_role(
        "button", name="Change role"
    ).click()
    expect(page.get_by_role("status")).to_contain_text("analyst is now reviewer.")
    page.get_by_text("Add a code").click()
    page.locator("#code_name").fill("Secret detention")
    page.locator("#code_definition").fill("Held where no one is told.")
    page.get_by_role("button", name="Add the code").click()
    expect(page.get_by_role("status")).to_contain_text("Code Secret detention added.")
    expect(page.locator("table.codebook")).to_contain_text("secret-detention")
    assert Membership.objects.get(user=other).role == "reader"
    assert Membership.objects.get(user=user).role == "reviewer"
    # A removal asks nothing more and is logged like the rest.
    page.get_by_role("button", name="Remove witness-team").click()
    expect(page.get_by_role("status")).to_contain_text("Member removed.")
    assert not Membership.objects.filter(user=other).exists()


def test_an_original_file_is_downloaded_never_shown(page, log_in, staff_user, user, project):
    """An uploaded page with script, linked from its document: the browser saves it under
    its own name, and nothing of it runs in the app's origin."""
    hostile = (
        b"<html><body><p>Statement on extradition.</p>"
        b"<script>document.title = 'ran'; window.ran = true;</script></body></html>"
    )
    document = services.document_import(
        user=staff_user,
        project=project,
        upload=services.Upload(filename="Заявление «A».html", data=hostile),
        metadata=services.DocumentMetadata(title="Statement"),
    )
    log_in(user)
    page.goto(document.get_absolute_url())
    link = page.locator("#original-file")
    expect(link).to_have_text("Заявление «A».html")
    with page.expect_download() as started:
        link.click()
    download = started.value
    assert download.suggested_filename == "Заявление «A».html"
    assert Path(download.path()).read_bytes() == hostile
    expect(page).to_have_url(re.compile(re.escape(document.get_absolute_url()) + "$"))
    assert page.evaluate("() => window.ran") is None
    assert page.title() != "ran"
