"""The codebook page in Chromium against a live server: an owner merges two codes, and the
merged code's passages carry the target code."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from documents import services
from documents.models import Tag
from tests.helpers import annotate
from tests.test_browser import ARTIFACTS, browser, log_in, page  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shot(page, name):  # noqa: F811 (the page fixture)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"codebook-{name}.png"), full_page=True)


def test_an_owner_merges_two_codes_on_the_codebook_page(
    page,  # noqa: F811
    log_in,  # noqa: F811
    user,
    staff_user,
    project,
    sample_corpus,
    tags,
):
    document = sample_corpus[0]
    word = next(w for w in ("extradition", "Shanghai", "SCO") if w in document.text)
    passage = annotate(user, document, word, tags=["forced-return"])
    dark = tags["due-process"]
    dark.colour = "#1a237e"  # a dark blue: its name is drawn in white
    services.tag_save(user=None, tag=dark)
    log_in(staff_user)  # the project's owner
    page.goto(project.get_absolute_url())
    page.get_by_role("link", name="The codebook page").click()

    # The tree: Forced return is listed under Extradition, its name on its colour.
    extradition = page.locator(f"#code-{tags['extradition'].pk}")
    expect(extradition.locator(f"#code-{tags['forced-return'].pk}")).to_be_visible()
    expect(page.locator(f"#code-{tags['forced-return'].pk} .code-head")).to_contain_text(
        "1 passage"
    )
    shot(page, "tree")

    page.locator(f"#code-{tags['forced-return'].pk} a.chip").click()
    expect(page.get_by_role("heading", name="Code: Forced return")).to_be_visible()
    page.get_by_label("Merge Forced return into").select_option(label="Extradition")
    page.get_by_role("button", name="Merge", exact=True).click()
    expect(page.locator(".message.success")).to_contain_text(
        "Forced return merged into Extradition: 1 passage now carries Extradition."
    )
    expect(page.locator(".history")).to_contain_text("Forced return merged into Extradition")
    shot(page, "merged-code")

    # On the codebook page it is retired, apart from the tree.
    page.get_by_role("link", name="Codebook", exact=True).click()
    retired = page.locator("section", has=page.get_by_role("heading", name="Retired codes"))
    expect(retired).to_contain_text("Forced return")
    expect(retired).to_contain_text("merged into Extradition")
    chip = page.locator(f"#code-{dark.pk} a.chip")
    assert chip.evaluate("e => getComputedStyle(e).color") == "rgb(255, 255, 255)"
    shot(page, "retired")

    # Its passage now carries Extradition, on the passages page of that code.
    extradition.locator("a", has_text="passage").first.click()
    card = page.locator(".codes").first
    expect(card).to_contain_text("Extradition")
    expect(card).not_to_contain_text("Forced return")
    shot(page, "passages")
    assert list(passage.tags.values_list("slug", flat=True)) == ["extradition"]
    assert not Tag.objects.get(pk=tags["forced-return"].pk).is_active
