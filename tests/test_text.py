from __future__ import annotations

import unicodedata

from documents.text import (
    context,
    has_unpaired_surrogate,
    normalize,
    normalize_text,
    text_sha256,
)


def test_normalize_turns_crlf_and_cr_into_lf():
    assert normalize_text("a\r\nb\rc\n") == "a\nb\nc\n"


def test_normalize_removes_nul_and_control_characters_but_keeps_tab_and_newline():
    assert normalize_text("a\x00b\x07c\td\ne\x1b\x7f\x85f") == "abc\td\nef"


def test_normalize_composes_to_nfc():
    decomposed = "Cafe\u0301 Ḳ"
    assert not unicodedata.is_normalized("NFC", decomposed)
    assert normalize_text(decomposed) == unicodedata.normalize("NFC", decomposed)


def test_normalize_drops_leading_byte_order_mark_and_lone_surrogates():
    assert normalize_text("\ufeffabc\ud800") == "abc"


def test_normalize_keeps_every_script_and_emoji():
    text = "上海 Россия ئۇيغۇر 👩🏽‍⚖️ 𠀀 \u2028"
    assert normalize_text(text) == text


def test_normalize_reports_what_changed():
    result = normalize("\ufeffa\r\nb\rc\x00")
    assert result.text == "a\nb\nc"
    assert result.changes == {
        "byte_order_mark": 1,
        "crlf_to_lf": 1,
        "cr_to_lf": 1,
        "control_characters_removed": 1,
    }
    assert normalize("clean\n").changes == {}


def test_text_sha256_is_of_utf8_bytes():
    assert text_sha256("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert text_sha256("𠀀") != text_sha256("𠀁")


def test_context_is_32_code_points_each_side_clipped_at_the_ends():
    text = "x" * 40 + "SPAN" + "𠀀" * 40
    prefix, suffix = context(text, 40, 44)
    assert prefix == "x" * 32
    assert suffix == "𠀀" * 32
    assert context("abc", 0, 3) == ("", "")


def _normalize_char_by_char(text):
    """What normalisation removes, stated one character at a time (as the regular
    expressions must keep doing)."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    kept = "".join(
        char
        for char in text
        if char in "\t\n"
        or not (char < " " or "\x7f" <= char <= "\x9f" or "\ud800" <= char <= "\udfff")
    )
    return unicodedata.normalize("NFC", kept)


def test_normalize_removes_exactly_what_a_character_by_character_check_would():
    every = "".join(map(chr, [*range(0x3000), *range(0xD700, 0xE100), 0xFEFF, 0x1F600]))
    for text in (every, "\ufeff" + every, "plain", "\x0b\x0c\x1f\x9f\xa0\u2028"):
        assert normalize_text(text) == _normalize_char_by_char(text)
    assert normalize_text("a\x0b\x0cb\x9f\xa0c") == "ab\xa0c"


def test_unpaired_surrogates_are_found_anywhere_and_astral_characters_are_not():
    assert has_unpaired_surrogate("x" * 10_000 + "\udfff")
    assert has_unpaired_surrogate("\ud800")
    assert not has_unpaired_surrogate("𠀀 👩🏽‍⚖️ \ue000 \ufffd")
