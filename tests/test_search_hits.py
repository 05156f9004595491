"""Finding a query's hits in a chunk by reading only the lines that may hold them
(`Query.hits`) finds exactly what reading every word does (`Query.hits_everywhere`).

What makes it exact: every word whose term is a phrase's first term holds that phrase's key
(`Phrase.key`), folded as `_fold` folds it. That is checked for words of every script the
corpus holds, for the stemmer's own exceptions and for generated words ending in each suffix
the English and Russian stemmers replace; then both ways of finding hits are compared on
generated texts and queries.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from research.terms import (
    _PIECE,
    Phrase,
    QueryError,
    _columns,
    _fold,
    parse_query,
    tokens,
    word_term,
)

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "corpus"


def _listed(words: str) -> list[str]:
    return words.split()


#: Words of the scripts analysts bring, with what their folding removes or changes.
WORDS = [
    *_listed(
        "extradited extraditions happy happiness ability capability relational organization "
        "sensitivity hopping hoping generously skies dying lying tying idly gently ugly early "
        "only singly news howe atlas cosmos bias andes innings outings cannings herrings "
        "earrings proceed exceed succeed Übereinkommen façade naïve STRASSE Straße ﬁnance "
        "ﬂights Œuvre ÆTHER"
    ),
    *_listed(
        "выдача выдачи Выдаче ёлка Ёлки йод йогурт обвиняемых подозреваемых длинный "
        "длинного сильнейший экстремизма"
    ),
    *_listed("ǯemmy Ǯemmies ǯ ǅa ǈubljana ɏes ĳssel ŀl ſtraße"),
    *_listed("ئۇيغۇر عَرَبِيّ عـــربي ئۇيـغۇرلار مُسْلِم ـйод"),
    *_listed("上海合作组织 引渡条约 豈 ｆｕｌｌｗｉｄｔｈ ２０２３ ١٢٣ e-mail 3rd"),
]

ENGLISH_SUFFIXES = _listed(
    "s ies ied ed edly ing ingly eed eedly y ly li ility ilities ational tional ation "
    "ator ator enci anci abli entli izer ization alism aliti alli fulness ousli ousness "
    "iveness iviti biliti bli ogi fulli lessli alize icate iciti ical ful ness ative ement "
    "ment ent ism ate iti ous ive ize ion al er ic able ible ant ance ence e"
)
RUSSIAN_SUFFIXES = _listed(
    "а я ов ев ей ами ями ах ях ой ий ый ое ые ому ему ого его ешь ет ем ете ют ут ила "
    "ыла ена ейте уйте ите или ыли ей уй ил ыл им ым ен ло но ет ют ны ть ешь нно ость "
    "ост ейше ейш ь нн"
)


def _words_of(text: str) -> list[str]:
    return [word for _, word in _PIECE.findall(text) if word]


def _corpus_words() -> list[str]:
    words: set[str] = set(WORDS)
    for path in SAMPLE.glob("*.txt"):
        words.update(_words_of(path.read_text(encoding="utf-8")))
    return sorted(words)


def test_every_word_holds_its_terms_key():
    for word in _corpus_words():
        key = Phrase((word_term(word),)).key
        assert key in _fold(word), (word, word_term(word), key)


#: Letters of the Latin ranges (with accents and the extended letters that fold into others,
#: as ǯ into ʒ) that English words are stemmed in.
LATIN = "abcdefghijklmnopqrstuvwxyzéüyçßàÿāăčđėğıĳķłŉŋőœřśšţŧůűŵžſƀƒǅǈǌǯǰǳȁȑȩɇɏ"


@given(
    root=st.text(alphabet=LATIN, min_size=1, max_size=9),
    suffix=st.sampled_from(ENGLISH_SUFFIXES),
    upper=st.booleans(),
)
@settings(max_examples=3000, deadline=None)
def test_generated_english_words_hold_their_terms_key(root, suffix, upper):
    word = root + suffix
    word = word.upper() if upper else word
    assert Phrase((word_term(word),)).key in _fold(word), (word, word_term(word))


@given(
    root=st.text(alphabet="абвгдеёжзийклмнопрстуфхцчшщъыьэюя", min_size=1, max_size=8),
    suffix=st.sampled_from(RUSSIAN_SUFFIXES),
)
@settings(max_examples=3000, deadline=None)
def test_generated_russian_words_hold_their_terms_key(root, suffix):
    word = root + suffix
    assert Phrase((word_term(word),)).key in _fold(word), (word, word_term(word))


# ---------------------------------------------------------------------------------------
# Both ways of finding hits, on generated texts

_VOCABULARY = [*WORDS, "human", "rights", "the", "of", "law", "war", "UN", "SCO", "a", "I"]
_SEPARATORS = [" ", " ", " ", ", ", ". ", "\n", "\n\n", "\r\n", " — ", "\u0301", "ـ", "‍", ""]
# ASCII text has a way of its own (words found where a phrase's key is).
_ASCII_VOCABULARY = [
    word for word in [*_VOCABULARY, "Human", "RIGHTS", "x2", "2024", "Rights'"] if word.isascii()
]
_ASCII_SEPARATORS = [" ", " ", ", ", ".\n", "\n\n", "\r\n", "_", "-", "'", "\t", "0", ""]


@st.composite
def texts_and_queries(draw: st.DrawFn, ascii: bool = False) -> tuple[str, str]:
    vocabulary = _ASCII_VOCABULARY if ascii else _VOCABULARY
    separators = _ASCII_SEPARATORS if ascii else _SEPARATORS
    pieces = draw(
        st.lists(
            st.tuples(st.sampled_from(vocabulary), st.sampled_from(separators)),
            min_size=1,
            max_size=60,
        )
    )
    text = "".join(word + separator for word, separator in pieces)
    words = _words_of(text) or ["human"]
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["word", "phrase", "prefix", "or", "other", "odd"]))
        at = draw(st.integers(0, len(words) - 1))
        if kind == "word":
            parts.append(words[at])
        elif kind == "phrase":
            parts.append('"' + " ".join(words[at : at + draw(st.integers(2, 4))]) + '"')
        elif kind == "prefix":
            word = words[at]
            parts.append(word[: draw(st.integers(1, len(word)))] + "*")
        elif kind == "or":
            parts.append(f"{words[at]} OR {draw(st.sampled_from(vocabulary))}")
        elif kind == "odd":
            # Words whose terms fold to punctuation or a space first ("⑴" is "(1)"), or
            # to what is in ASCII words ("ﬁnal", "½"), typed in any text.
            parts.append(draw(st.sampled_from(_ODD_QUERY_WORDS)))
        else:
            parts.append(draw(st.sampled_from(vocabulary)))
    return text, " ".join(parts)


_ODD_QUERY_WORDS = ["⑴", "⒇", "㈠", "ͺa", "ﹰabcd", "ﬁnal", "½", "x²", "Ⅻ", '"⑴ of"']


@given(texts_and_queries(), st.integers(0, 10_000))
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_hits_read_from_some_lines_are_the_hits_of_every_word(text_and_query, base):
    text, typed = text_and_query
    try:
        query = parse_query(typed)
    except QueryError:  # nothing left to look for ("ـ*", a tatweel as a prefix)
        reject()
    assert query.hits(text, base) == query.hits_everywhere(text, base), (typed, text)


@given(texts_and_queries(ascii=True), st.integers(0, 10_000))
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_hits_in_ascii_text_read_at_the_keys_are_the_hits_of_every_word(text_and_query, base):
    text, typed = text_and_query
    assert text.isascii()
    query = parse_query(typed)
    assert query.hits(text, base) == query.hits_everywhere(text, base), (typed, text)
    # An ASCII line among others: read the same way, within the lines' path.
    mixed = "Выдача.\n" + text
    assert query.hits(mixed, base) == query.hits_everywhere(mixed, base), typed


@given(texts_and_queries(), st.integers(0, 10_000))
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_terms_of_a_text_and_their_offsets_are_those_of_its_tokens(text_and_query, base):
    """`_columns`, which `Query.hits` reads, cuts words its own way when a text holds no
    ideographs: the same terms at the same places as `tokens`, which the index is made
    from."""
    text = text_and_query[0]
    found = list(tokens(text, base))
    expected = ([t.term for t in found], [t.start for t in found], [t.end for t in found])
    assert _columns(text, base) == expected


@pytest.mark.parametrize(
    ("typed", "text"),
    [
        ("⑴", "x(1)"),
        ("⑴ OR treaty", "Under Article 5(1) of the treaty"),
        ("ͺa", "a b"),
        ("ﹰabcd", "x abcd"),
        ("act", "An act, acted, exact ACTS: fact."),
        ('"' + " ".join(["abcd"] * 20) + '"', "abcd " * 100),
        ('"abcd abcd" OR ab*', "abcd abcd abcd ab"),
    ],
)
def test_ascii_text_odd_keys_short_keys_and_long_phrases(typed, text):
    query = parse_query(typed)
    assert query.hits(text) == query.hits_everywhere(text)


def test_a_long_run_of_letters_is_read_once_for_a_key_found_all_along_it():
    # 100,000 places holding the key "aa" in one "word": read once, not once for each.
    text = "a" * 100_000 + " aaaa aaaab\n"
    query = parse_query("aaaa")
    assert query.hits(text) == query.hits_everywhere(text) == [(100_001, 100_005)]


def test_a_phrase_over_a_line_end_and_a_blank_line_is_found():
    text = "ends with human\n\n\nrights begins. Another line.\nhuman\nrights"
    query = parse_query('"human rights"')
    found = [text[start:end] for start, end in query.hits(text)]
    assert found == ["human\n\n\nrights", "human\nrights"]
    assert query.hits(text) == query.hits_everywhere(text)


def test_the_sample_corpus_gives_the_same_hits_both_ways():
    queries = [
        "extradition",
        "extradit*",
        '"human rights"',
        "SCO OR Shanghai",
        "terrorism separatism extremism",
        "上海合作组织",
        "组",
        '"Shanghai Cooperation Organization"',
        "law",
    ]
    for path in SAMPLE.glob("*.txt"):
        text = path.read_text(encoding="utf-8")
        for typed in queries:
            query = parse_query(typed)
            assert query.hits(text, 7) == query.hits_everywhere(text, 7), (path.name, typed)


def test_a_hit_is_rendered_with_every_text_of_its_document_escaped():
    from research.selectors import Hit
    from research.templatetags.search_hits import search_hit

    source = 'Before <img src=x onerror="alert(1)"> the <b>words</b> & "after" \'it\'.'
    start = source.index("<b>")
    hit = Hit(7, start, start + len("<b>words</b>"), True, 3, source)
    html = str(search_hit(hit, '/documents/7/?a="b"', may_code=True))
    assert "<img" not in html and "<b>" not in html and 'onerror="' not in html
    assert '<mark class="found">&lt;b&gt;words&lt;/b&gt;</mark>' in html
    assert "&amp; &quot;after&quot; &#x27;it&#x27;." in html
    assert 'href="/documents/7/?a=&quot;b&quot;#t' in html
    assert f'value="7:{start}:{hit.end}"' in html and "(p. 3)" in html
    assert html.startswith('<li class="hit coded">') and 'class="badge">coded<' in html
    assert "checkbox" not in str(search_hit(hit, "/documents/7/", may_code=False))
