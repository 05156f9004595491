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
from documents.models import Activity, Annotation, Document
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
    # Shift+click chooses several codes; a plain click saves the first at once.
    for name in names:
        chooser.get_by_role("button", name=name, exact=True).click(modifiers=["Shift"])
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
    # Someone else's annotation cannot be changed from here; its history can be read.
    theirs_card = page.locator(f"#card-{theirs.pk}")
    expect(theirs_card.get_by_role("button")).to_have_text(["History"])


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


# ---------------------------------------------------------------------------------------
# The tag chooser, keyboard selection, overlaps, extents, history and deleted annotations

# The code the chooser shows first (recent and matching codes are moved up by CSS `order`).
FIRST_SHOWN_JS = """(form) => [...form.querySelectorAll('.tag-choice:not([hidden])')]
  .sort((a, b) => (+a.style.order || 0) - (+b.style.order || 0))[0].dataset.tag"""

LONG_TEXT = "".join(
    f"Paragraph {line}: the SCO treaty on extradition of persons, clause {line}.\n"
    for line in range(120)
)


def _screenshot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _in_viewport(page, locator):
    box = locator.bounding_box()
    size = page.viewport_size
    return (
        box is not None
        and box["y"] >= 0
        and box["x"] >= 0
        and box["y"] + box["height"] <= size["height"]
        and box["x"] + box["width"] <= size["width"]
    )


def test_chooser_at_the_bottom_of_the_viewport_fits_and_saves(page, log_in, user, project, tags):
    document = services.document_create(
        user=None, project=project, text=LONG_TEXT, metadata=services.DocumentMetadata(title="Long")
    )
    page.set_viewport_size({"width": 1200, "height": 560})
    log_in(user)
    page.goto(document.get_absolute_url())
    # The last line in view: the chooser cannot fit below it.
    page.evaluate(
        """(start) => {
          document.getElementById('p' + start).scrollIntoView({block: 'end'});
          // Not at the very edge, where a drag scrolls the page.
          window.scrollBy(0, 40);
        }""",
        document.text.index("Paragraph 60:"),
    )
    drag_points = page.evaluate(
        """(start) => {
          const paragraph = document.getElementById('p' + start);
          const text = paragraph.firstChild;
          const range = document.createRange();
          range.setStart(text, 0);
          range.setEnd(text, 12);
          const r = range.getBoundingClientRect();
          return [r.left + 1, r.top + r.height / 2, r.right - 1, r.top + r.height / 2];
        }""",
        document.text.index("Paragraph 60:"),
    )
    x1, y1, x2, y2 = drag_points
    assert y1 > 560 - 100  # the selection is at the bottom of the viewport
    page.mouse.move(x1, y1)
    page.mouse.down()
    page.mouse.move(x2, y2, steps=5)
    page.mouse.up()
    chooser = page.locator("#highlight-form")
    expect(chooser).to_be_visible()
    _screenshot(page, "workspace-chooser-at-the-bottom")
    assert _in_viewport(page, chooser)
    save = chooser.get_by_role("button", name="Save", exact=True)
    assert _in_viewport(page, save)
    # Flipped above the selection.
    assert chooser.bounding_box()["y"] + chooser.bounding_box()["height"] <= y1

    # The filter narrows the codes, by name or parent's name, and by shortcut key.
    chooser.get_by_label("Find a code by name or shortcut").fill("separ")
    shown = chooser.locator(".tag-choice:not([hidden]) .tag-name")
    expect(shown).to_have_text(["Definition of separatism"])
    chooser.get_by_label("Find a code by name or shortcut").fill("three")
    expect(shown).to_have_count(4)  # Three evils and its three children
    expect(chooser.locator(".tag-choice:not([hidden]).depth-1")).to_have_count(3)
    chooser.get_by_label("Find a code by name or shortcut").fill("o")
    assert chooser.evaluate(FIRST_SHOWN_JS) == "oversight-gap"  # its shortcut comes first
    page.keyboard.press("Enter")
    expect(page.locator("#workspace-status")).to_have_text(re.compile(r"Saved annotation #\d+"))
    made = Annotation.objects.get()
    assert made.quote == "Paragraph 60"
    assert list(made.tags.values_list("slug", flat=True)) == ["oversight-gap"]

    # The next time, the code used last comes first, under "Recently used".
    select(page, "Paragraph 61")
    expect(chooser).to_be_visible()
    expect(chooser.locator("#recent-heading")).to_be_visible()
    assert chooser.evaluate(FIRST_SHOWN_JS) == "oversight-gap"
    page.keyboard.press("Escape")
    expect(chooser).to_be_hidden()


def test_one_click_on_a_code_saves_and_retired_codes_are_not_offered(
    page, log_in, user, document, tags
):
    retired = tags["due-process"]
    retired.is_active = False
    services.tag_save(user=None, tag=retired)
    log_in(user)
    page.goto(document.get_absolute_url())
    drag_select(page, "Россия и Китай")
    chooser = page.locator("#highlight-form")
    expect(chooser).to_be_visible()
    expect(chooser.get_by_role("button", name="Due process and fair trial")).to_have_count(0)
    chooser.get_by_role("button", name="Three evils", exact=True).click()
    expect(page.locator("#workspace-status")).to_have_text(re.compile(r"Saved annotation #\d+"))
    expect(chooser).to_be_hidden()
    made = Annotation.objects.get()
    assert made.quote == "Россия и Китай"
    assert list(made.tags.values_list("slug", flat=True)) == ["three-evils"]


def test_drag_starting_on_the_first_character_of_a_highlight(page, log_in, user, annotation):
    """The highlight's first character is focusable (for the keyboard): a press on it must
    still start a selection."""
    document = annotation.document
    log_in(user)
    page.goto(document.get_absolute_url())
    expect(mark_of(page, annotation).first).to_have_attribute("tabindex", "0")
    for _attempt in range(3):
        drag_select(page, "Shanghai Convention.")
        made = save_with_tags(page, "Oversight gap")
        assert made.quote == "Shanghai Convention."
        assert made.start == annotation.start
        made.delete()
        page.reload()
    # The highlight can still be focused from the keyboard afterwards.
    expect(mark_of(page, annotation).first).to_have_attribute("tabindex", "0")


def test_keyboard_only_tagging(page, log_in, user, document, tags):
    log_in(user)
    page.goto(document.get_absolute_url())
    toggle = page.get_by_role("button", name="Select with keys")
    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    status = page.locator("#key-select-status")
    expect(status).to_contain_text("Selecting with keys")
    # The caret is at the start of the text: one word right, then select two words.
    page.keyboard.press("ArrowRight")
    expect(status).to_contain_text("Caret before")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    expect(status).to_contain_text("Selected")
    expect(status).to_contain_text("under the")
    page.keyboard.press("Enter")
    chooser = page.locator("#highlight-form")
    expect(chooser).to_be_visible()
    expect(chooser.get_by_label("Find a code by name or shortcut")).to_be_focused()
    # A code's key in the search box puts that code first; arrows, Space and Enter do the rest.
    page.keyboard.type("t")
    page.keyboard.press("ArrowDown")
    expect(chooser.get_by_role("button", name="Three evils", exact=True)).to_be_focused()
    page.keyboard.press("Space")
    page.keyboard.press("Enter")
    expect(page.locator("#workspace-status")).to_have_text(re.compile(r"Saved annotation #\d+"))
    expect(chooser).to_be_hidden()
    made = Annotation.objects.get()
    assert made.quote == "under the"
    assert list(made.tags.values_list("slug", flat=True)) == ["three-evils"]
    # Still selecting with keys: the focus is back in the text.
    expect(page.locator("#document-text")).to_be_focused()
    page.keyboard.press("Escape")
    expect(toggle).to_have_attribute("aria-pressed", "false")


def test_overlapping_annotations_each_stay_visible(page, log_in, user, document, tags):
    start = document.text.index("Extradition")
    outer = services.annotation_create(
        user=user, document=document, start=start, end=start + 30, tags=["extradition"]
    )
    inner_start = document.text.index("Shanghai")
    inner = services.annotation_create(
        user=user,
        document=document,
        start=inner_start,
        end=inner_start + len("Shanghai Convention"),
        tags=["three-evils"],
    )
    log_in(user)
    page.goto(document.get_absolute_url())
    _screenshot(page, "workspace-overlap")
    style = """(el) => {
      const s = getComputedStyle(el);
      return {u1: s.getPropertyValue('--u1').trim(), u2: s.getPropertyValue('--u2').trim(),
              shadows: s.boxShadow.split(/,(?![^(]*\\))/).length};
    }"""
    only_outer = page.locator(f'#document-text mark[data-a="{outer.pk}"]')
    both = page.locator(f'#document-text mark[data-a="{outer.pk} {inner.pk}"]')
    only_inner = page.locator(f'#document-text mark[data-a="{inner.pk}"]')
    expect(only_outer).to_have_text("Extradition under the ")
    expect(both).to_have_text("Shanghai")
    outer_style, both_style, inner_style = (
        only_outer.evaluate(style),
        both.evaluate(style),
        only_inner.evaluate(style),
    )
    colour = {slug: tags[slug].colour.lower() for slug in ("extradition", "three-evils")}
    # The outer annotation's line runs under the whole of its extent, the overlap included,
    # where the inner one draws a second line.
    assert outer_style["u1"].lower() == colour["extradition"]
    assert both_style["u1"].lower() == colour["extradition"]
    assert both_style["u2"].lower() == colour["three-evils"]
    assert both_style["shadows"] == 2
    assert inner_style["u1"].lower() == colour["three-evils"]
    assert outer_style["shadows"] == 1
    # Not by colour alone: focusing the overlap names both codes.
    both.evaluate("(el) => el.removeAttribute('tabindex')")
    mark_of(page, outer).first.focus()
    expect(page.locator("#hover-card")).to_contain_text("Extradition")


def test_change_extent_keeps_id_codes_and_note(page, log_in, user, annotation, tags):
    document = annotation.document
    log_in(user)
    page.goto(document.get_absolute_url())
    card = page.locator(f"#card-{annotation.pk}")
    # The form comes from the server: wait for it rather than for the default 5 s, which a
    # loaded machine can overrun.
    with page.expect_response(lambda response: response.url.endswith("/extent/")):
        card.get_by_role("button", name="Change extent").click()
    save = card.get_by_role("button", name="Save extent")
    expect(save).to_be_disabled()
    # A selection now goes to the card, not to the tag chooser.
    drag_select(page, "Extradition under the Shanghai Convention")
    expect(save).to_be_enabled()
    expect(card.locator(".extent-new")).to_have_text("Extradition under the Shanghai Convention")
    expect(page.locator("#highlight-form")).to_be_hidden()
    _screenshot(page, "workspace-change-extent")
    save.click()
    expect(card.get_by_role("button", name="Change extent")).to_be_visible()
    expect(mark_of(page, annotation).first).to_contain_text("Extradition")
    changed = Annotation.objects.get(pk=annotation.pk)
    assert changed.quote == "Extradition under the Shanghai Convention"
    assert (changed.start, changed.end) == (0, len("Extradition under the Shanghai Convention"))
    assert list(changed.tags.values_list("slug", flat=True)) == ["extradition"]
    assert changed.note == "Treaty basis."
    assert changed.version == 2
    assert Activity.objects.filter(action="annotation.extent", object_id=annotation.pk).exists()
    assert text_content(page) == document.text
    # The card's history shows the change.
    card.get_by_role("button", name="History").click()
    expect(card.locator(".history-list")).to_contain_text("Extent changed")
    expect(card.locator(".history-list")).to_contain_text("Created")
    _screenshot(page, "workspace-history")


def test_delete_then_restore_from_the_deleted_annotations(page, log_in, user, annotation):
    document = annotation.document
    log_in(user)
    page.goto(document.get_absolute_url())
    page.locator(f"#card-{annotation.pk}").get_by_role("button", name="Delete").click()
    expect(mark_of(page, annotation)).to_have_count(0)
    page.get_by_role("link", name="Deleted annotations").click()
    row = page.locator(f"#trash-{annotation.pk}")
    expect(row).to_contain_text("Shanghai Convention")
    expect(row).to_contain_text("deleted by analyst")
    _screenshot(page, "workspace-trash")
    row.get_by_role("button", name=f"Restore annotation {annotation.pk}").click()
    expect(page).to_have_url(
        re.compile(re.escape(document.get_absolute_url()) + f"#a{annotation.pk}$")
    )
    expect(mark_of(page, annotation).first).to_be_visible()
    assert not Annotation.objects.get(pk=annotation.pk).is_deleted
    page.get_by_role("link", name="Activity").click()
    feed = page.locator(".activity-feed")
    expect(feed).to_contain_text("Restored")
    expect(feed).to_contain_text("Deleted")
    _screenshot(page, "workspace-activity")
