"""Memos in Chromium against a live server: an analyst opens a code's passages from the
project's codebook, writes a memo on the code, changes it in place, reads its history and
brings the first version back."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from memos.models import Memo, MemoRevision
from tests.test_browser import ARTIFACTS, browser, log_in, page  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shot(page, name):  # noqa: F811 (the page fixture)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"memos-{name}.png"), full_page=True)


def test_an_analyst_writes_a_memo_on_a_code_changes_it_and_reads_its_history(
    page,  # noqa: F811
    log_in,  # noqa: F811
    user,
    project,
    sample_corpus,
    tags,
):
    code = tags["extradition"]
    log_in(user)
    page.goto(project.get_absolute_url())
    page.locator("table.codebook").get_by_role("link", name=code.name, exact=True).first.click()
    expect(page).to_have_url(re.compile(rf"/projects/{project.pk}/passages/\?code={code.pk}$"))
    panel = page.locator(f"#memos-code-{code.pk}")
    expect(panel.get_by_role("heading", name=f"Memos on the code {code.name}")).to_be_visible()
    expect(panel).to_contain_text("No memos yet.")

    # Write the memo in place: the panel comes back with it, the page stays.
    panel.get_by_text("Write a memo").click()
    panel.get_by_label("Title (optional)").fill("What extradition covers")
    panel.get_by_label("Memo", exact=True).fill(
        "Formal extradition between SCO states.\nNot yet: informal renditions."
    )
    panel.get_by_role("button", name="Save the memo").click()
    card = page.locator(f"#memos-code-{code.pk} li.memo-card")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("Not yet: informal renditions.")
    memo = Memo.objects.get()
    assert (memo.tag_id, memo.author_id, memo.version) == (code.pk, user.pk, 1)
    expect(page).to_have_url(re.compile(rf"\?code={code.pk}$"))
    shot(page, "written")

    # Change it in place: the card turns into its form, and back into the card.
    card.get_by_role("link", name=re.compile("^Edit")).click()
    form = page.get_by_role("form", name="Change the memo What extradition covers")
    expect(form).to_be_visible()
    text = form.get_by_label("Memo", exact=True)
    expect(text).to_have_value(
        "Formal extradition between SCO states.\nNot yet: informal renditions."
    )
    text.fill("Formal extradition between SCO states.\nAlso informal renditions, since 2019.")
    form.get_by_role("button", name="Save").click()
    card = page.locator(f"#memo-{memo.pk}")
    expect(card).to_contain_text("Also informal renditions, since 2019.")
    expect(card).to_contain_text("version 2")
    assert MemoRevision.objects.filter(memo=memo).count() == 2
    shot(page, "changed")

    # The history: both versions, and what changed between them.
    card.get_by_role("link", name="History").click()
    expect(page).to_have_url(re.compile(rf"/memos/{memo.pk}/#history$"))
    expect(page.get_by_role("heading", name="Version 2 (current)")).to_be_visible()
    expect(page.get_by_role("heading", name="Version 1", exact=True)).to_be_visible()
    changes = page.locator("#version-2 ol.diff")
    expect(changes.locator("li.same")).to_have_text(["  Formal extradition between SCO states."])
    expect(changes.locator("del")).to_have_text("Not yet: informal renditions.")
    expect(changes.locator("ins")).to_have_text("Also informal renditions, since 2019.")
    shot(page, "history")

    # The first version brought back, as version 3.
    page.get_by_role("button", name="Restore version 1").click()
    expect(page.get_by_role("heading", name="Version 3 (current)")).to_be_visible()
    expect(page.locator("#version-3")).to_contain_text("Version 1 brought back by analyst")
    expect(page.locator(".memo-full")).to_have_text(
        "Formal extradition between SCO states.\nNot yet: informal renditions."
    )
    assert Memo.objects.get(pk=memo.pk).version == 3
    shot(page, "restored")


def test_memos_work_without_javascript_on_the_document_and_project_pages(
    browser,  # noqa: F811
    live_server,
    user,
    other_user,
    project,
    sample_corpus,
    tags,
):
    from django.conf import settings
    from django.test import Client

    from memos import services

    document = sample_corpus[0]
    services.memo_create(
        user=other_user, project=project, code=tags["extradition"], text="A colleague's memo."
    )
    services.memo_create(user=other_user, project=project, title="Plan", text="Code in pairs.")
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1400, "height": 900}, java_script_enabled=False
    )
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )
    page = context.new_page()  # noqa: F811
    try:
        page.goto(document.get_absolute_url())
        panel = page.locator(f"#memos-document-{document.pk}")
        expect(panel).to_contain_text("No memos yet.")
        panel.get_by_text("Write a memo").click()
        panel.get_by_label("Memo", exact=True).fill("")
        panel.get_by_role("button", name="Save the memo").click()
        # Refused: the form on a page of its own, with the reason.
        expect(page.get_by_role("alert")).to_contain_text("Write the memo's text: it is empty.")
        page.get_by_label("Memo", exact=True).fill(
            "The organisation's own account: read against NGOs'."
        )
        page.get_by_role("button", name="Save the memo").click()
        expect(page).to_have_url(re.compile(rf"/documents/{document.pk}/#memo-\d+$"))
        expect(panel).to_contain_text("The organisation's own account")
        expect(page.locator("#document-text")).to_be_visible()
        shot(page, "document")

        page.goto(project.get_absolute_url())
        section = page.locator("section.memos-section")
        expect(section).to_contain_text("Code in pairs.")
        expect(section.locator(".memo-rows")).to_contain_text("A colleague's memo.")
        expect(section.locator(".memo-rows")).to_contain_text("The organisation's own account")
        shot(page, "project")

        section.get_by_role("link", name="All memos (3)").click()
        page.get_by_label("About").select_option("code")
        page.get_by_role("button", name="Show").click()
        expect(page.locator("p.count")).to_have_text("1 memo.")
        shot(page, "list")
    finally:
        context.close()


def test_memos_are_written_in_place_on_the_project_and_document_pages(
    page,  # noqa: F811
    log_in,  # noqa: F811
    user,
    project,
    sample_corpus,
    tags,
):
    log_in(user)
    page.goto(project.get_absolute_url())
    panel = page.locator("#memos-project")
    panel.get_by_text("Write a memo").click()
    panel.get_by_label("Memo", exact=True).fill("Code the 2011 statements first.")
    panel.get_by_role("button", name="Save the memo").click()
    expect(panel.locator("li.memo-card")).to_contain_text("Code the 2011 statements first.")
    expect(page.locator(".messages")).to_have_count(0)  # in place: no page load

    document = sample_corpus[1]
    page.goto(document.get_absolute_url())
    panel = page.locator(f"#memos-document-{document.pk}")
    panel.get_by_text("Write a memo").click()
    panel.get_by_label("Memo", exact=True).fill("")
    panel.get_by_role("button", name="Save the memo").click()
    expect(panel.get_by_role("alert")).to_contain_text("Write the memo's text: it is empty.")
    panel.get_by_label("Memo", exact=True).fill("A second-hand account.")
    panel.get_by_role("button", name="Save the memo").click()
    card = panel.locator("li.memo-card")
    expect(card).to_contain_text("A second-hand account.")
    card.get_by_role("link", name=re.compile("^Edit")).click()
    form = panel.get_by_role("form", name=re.compile("^Change the memo"))
    form.get_by_label("Memo", exact=True).fill("A first-hand account.")
    form.get_by_role("link", name="Cancel").click()
    expect(card).to_contain_text("A second-hand account.")
    expect(page.locator("#document-text")).to_be_visible()
    shot(page, "document-in-place")
    assert Memo.objects.filter(document=document).count() == 1
    assert Memo.objects.get(document=document).version == 1
