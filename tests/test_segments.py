"""Splitting a text at annotation boundaries (documents.text.segments), which the document
page uses to draw highlights."""

from __future__ import annotations

from documents.text import Segment, segments


def parts(text, spans):
    return [(s.start, s.end, s.text, s.keys) for s in segments(text, spans)]


def test_segments_without_spans_is_the_whole_text():
    assert parts("abc", []) == [(0, 3, "abc", ())]


def test_segments_of_an_empty_text_is_nothing():
    assert parts("", [(0, 1, "a")]) == []


def test_segments_join_back_to_the_text():
    text = "Extradition under the Shanghai Convention.\n上海合作组织 👩🏽‍⚖️ 𠀀"
    spans = [(0, 11, "a"), (5, 30, "b"), (20, 25, "c"), (40, len(text), "d")]
    assert "".join(segment.text for segment in segments(text, spans)) == text


def test_segments_split_overlapping_spans_in_three():
    assert parts("abcdef", [(0, 4, "x"), (2, 6, "y")]) == [
        (0, 2, "ab", ("x",)),
        (2, 4, "cd", ("x", "y")),
        (4, 6, "ef", ("y",)),
    ]


def test_segments_of_nested_spans_list_outer_key_first():
    assert parts("abcdefg", [(0, 7, "outer"), (2, 5, "inner")]) == [
        (0, 2, "ab", ("outer",)),
        (2, 5, "cde", ("outer", "inner")),
        (5, 7, "fg", ("outer",)),
    ]


def test_segments_keep_keys_in_the_order_spans_were_given():
    result = parts("abcd", [(1, 3, "late"), (0, 4, "early")])
    assert result[1] == (1, 3, "bc", ("late", "early"))


def test_segments_of_identical_spans_carry_both_keys():
    assert parts("abc", [(0, 3, 1), (0, 3, 2)]) == [(0, 3, "abc", (1, 2))]


def test_adjacent_spans_do_not_share_a_segment():
    assert parts("abcd", [(0, 2, "x"), (2, 4, "y")]) == [
        (0, 2, "ab", ("x",)),
        (2, 4, "cd", ("y",)),
    ]


def test_span_at_the_start_and_at_the_end_of_the_text():
    assert parts("abcde", [(0, 1, "first"), (4, 5, "last")]) == [
        (0, 1, "a", ("first",)),
        (1, 4, "bcd", ()),
        (4, 5, "e", ("last",)),
    ]


def test_span_covering_the_whole_text_is_one_segment():
    assert parts("abc", [(0, 3, "all")]) == [(0, 3, "abc", ("all",))]


def test_segments_count_astral_characters_as_one_code_point():
    text = "a😀b𠀀c"
    # Offsets are code points: the emoji and the CJK Extension B character are one each.
    assert parts(text, [(1, 2, "emoji"), (3, 4, "cjk")]) == [
        (0, 1, "a", ()),
        (1, 2, "😀", ("emoji",)),
        (2, 3, "b", ()),
        (3, 4, "𠀀", ("cjk",)),
        (4, 5, "c", ()),
    ]


def test_span_after_a_grapheme_cluster_of_several_code_points():
    text = "👩🏽‍⚖️ judge"
    start = text.index("judge")
    assert start == 6  # woman, skin tone, ZWJ, scales, variation selector, space
    assert parts(text, [(start, start + 5, "k")])[-1] == (6, 11, "judge", ("k",))


def test_spans_outside_the_text_are_clipped_and_empty_ones_ignored():
    assert parts("abc", [(-2, 1, "x"), (2, 10, "y"), (1, 1, "empty"), (5, 9, "beyond")]) == [
        (0, 1, "a", ("x",)),
        (1, 2, "b", ()),
        (2, 3, "c", ("y",)),
    ]


def test_segments_accept_a_generator_of_spans():
    spans = ((start, start + 1, start) for start in range(3))
    assert [segment.keys for segment in segments("abc", spans)] == [(0,), (1,), (2,)]


def test_segment_is_a_value():
    assert Segment(0, 1, "a", ("x",)) == Segment(0, 1, "a", ("x",))
