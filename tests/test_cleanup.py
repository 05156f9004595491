"""Noise detection on extracted text, and applying a chosen subset of suggestions."""

from __future__ import annotations

from pathlib import Path

import pytest

from documents import cleanup
from documents.text import normalize_text

CORPUS = Path(__file__).resolve().parent.parent / "sample_data" / "corpus"


def sample(name: str) -> str:
    return normalize_text((CORPUS / name).read_text(encoding="utf-8"))


def kinds(suggestions):
    return [suggestion.kind for suggestion in suggestions]


def test_hric_sample_navigation_and_server_error_page_detected():
    text = sample("hric-2011-sco-harmonize-central-asia.txt")
    suggestions = cleanup.suggest(text)
    assert kinds(suggestions) == [cleanup.NAVIGATION, cleanup.SERVER_ERROR]
    navigation, server = suggestions
    assert navigation.paragraphs(text) == ["Skip to content Skip to navigation"]
    removed = server.paragraphs(text)
    assert len(removed) == 6
    assert all(line.startswith("Warning: Cannot modify header information") for line in removed[:4])
    assert removed[4].startswith("Error | Human Rights in China")
    assert removed[5] == "The website encountered an unexpected error. Please try again later."
    cleaned = cleanup.apply(text, suggestions)
    assert cleaned.text.startswith("How Will the Shanghai Cooperation Organization")
    assert cleaned.text.endswith("For more information on the human rights impact of the SCO, see:")
    assert "Warning" not in cleaned.text


def test_hrw_sample_navigation_and_donation_appeal_detected():
    text = sample("hrw-2002-open-letter-sco-foreign-ministers.txt")
    suggestions = cleanup.suggest(text)
    assert kinds(suggestions) == [cleanup.NAVIGATION, cleanup.FOOTER]
    assert suggestions[0].paragraphs(text) == ["Skip to main content"]
    assert suggestions[1].paragraphs(text) == [
        "Your tax deductible gift can help stop human rights violations and save lives around "
        "the world."
    ]
    cleaned = cleanup.apply(text, suggestions)
    assert cleaned.text.startswith("Open Letter to Foreign Ministers")
    assert cleaned.text.endswith("Europe and Central Asia Division")


def test_rferl_sample_repeated_article_detected():
    text = sample("rferl-2012-fidh-report-sco-vehicle-for-violations.txt")
    suggestions = cleanup.suggest(text)
    assert kinds(suggestions) == [cleanup.REPEATED]
    repeated = suggestions[0]
    assert repeated.paragraph_count == 18
    assert "paragraphs 2–19" in repeated.reason
    cleaned = cleanup.apply(text, suggestions)
    lines = cleaned.text.split("\n")
    assert len(lines) == 19
    assert len(set(lines)) == 19
    assert lines[-1].startswith("Others deal with Russia's")


def test_sco_sample_markdown_markers_removed_not_the_words():
    text = sample("sco-2023-new-delhi-statement-countering-radicalization.txt")
    suggestions = cleanup.suggest(text)
    assert kinds(suggestions) == [cleanup.MARKDOWN, cleanup.MARKDOWN]
    cleaned = cleanup.apply(text, suggestions)
    assert "**" not in cleaned.text
    assert cleaned.text.endswith("New Delhi, 4 July 2023")
    assert "Statement\nof the Council of SCO Heads of State" in cleaned.text
    # Only the markers (and the Markdown line-break spaces inside them) went.
    assert len(text) - len(cleaned.text) == 8 + 4


def test_usun_sample_has_no_noise():
    assert cleanup.suggest(sample("usun-2023-explanation-of-vote-sco-resolution.txt")) == []


@pytest.mark.parametrize(
    "line",
    [
        "Skip to content",
        "Skip to main content",
        "Skip to content Skip to navigation",
        "Home | About us | News | Contact",
        "Toggle navigation",
    ],
)
def test_navigation_lines_detected(line):
    text = f"{line}\n\nThe body of the article, long enough to be a paragraph of text."
    assert kinds(cleanup.suggest(text)) == [cleanup.NAVIGATION]


def test_sentence_mentioning_navigation_is_not_navigation():
    text = "The delegates could not skip to content of the treaty without a vote on procedure."
    assert cleanup.suggest(text) == []


def test_donation_mentioned_in_the_body_is_not_a_footer():
    body = "\n".join(f"Paragraph {index} of the report." for index in range(20))
    text = "Donations from abroad funded the group, the court said today.\n" + body
    assert cleanup.suggest(text) == []


def test_single_repeated_short_line_is_not_a_repeated_block():
    text = "Summary\nFirst point.\nSummary\nSecond point."
    assert cleanup.suggest(text) == []


def test_apply_only_the_chosen_suggestions_and_record_them():
    text = "Skip to content\n\nBody paragraph one.\n\nBody paragraph **two**.\n"
    suggestions = cleanup.suggest(text)
    assert [s.id for s in suggestions] == ["navigation-1", "markdown-3-53"]
    chosen = cleanup.select(suggestions, ["markdown-3-53"])
    cleaned = cleanup.apply(text, chosen)
    assert cleaned.text == "Skip to content\n\nBody paragraph one.\n\nBody paragraph two.\n"
    assert [entry["id"] for entry in cleaned.stripped] == ["markdown-3-53"]
    assert cleaned.stripped[0]["removed"] == [[53, 55], [58, 60]]


def test_select_by_kind_all_or_none():
    text = "Skip to content\n\nBody **bold** and **more**.\n"
    suggestions = cleanup.suggest(text)
    assert cleanup.select(suggestions, None) == []
    assert cleanup.select(suggestions, True) == suggestions
    assert kinds(cleanup.select(suggestions, ["markdown"])) == ["markdown", "markdown"]
    with pytest.raises(ValueError):
        cleanup.select(suggestions, ["navigation-7"])


def test_map_offset_follows_removals():
    text = "Skip to content\nAAA\nBBB"
    cleaned = cleanup.apply(text, cleanup.suggest(text))
    assert cleaned.text == "AAA\nBBB"
    assert cleaned.map_offset(text.index("BBB")) == cleaned.text.index("BBB")
    assert cleaned.map_offset(0) == 0


@pytest.mark.parametrize(
    "line",
    [
        "Warning: Cannot modify header information - headers already sent by (output started "
        "at /var/www/ in /var/www/ on line 1501",
        "Error | Human Rights in China",
        "404 Not Found",
        "HTTP/1.1 503 Service Unavailable",
        "The website encountered an unexpected error. Please try again later.",
    ],
)
def test_server_warnings_and_error_pages_detected(line):
    text = "The body of the article about the SCO.\n\n" + line
    assert kinds(cleanup.suggest(text)) == [cleanup.SERVER_ERROR]


@pytest.mark.parametrize(
    "line",
    [
        "500 people were detained after the protest.",
        "Error in the translation of article 2 led to a dispute between the states.",
        "Kazakhstan | Kyrgyzstan | Tajikistan",
    ],
)
def test_ordinary_body_lines_are_not_noise(line):
    body = [f"Paragraph {index} of the report on extradition." for index in range(12)]
    text = "\n".join(body[:6] + [line] + body[6:])
    assert cleanup.suggest(text) == []
