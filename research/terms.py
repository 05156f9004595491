"""Search terms: how a text and a query are cut into the terms that the search index holds.

Pure functions, no Django. The same terms go into PostgreSQL's tsvector column and into
SQLite's FTS5 table, and the same functions find a hit's exact offsets in a paragraph
afterwards, so that both databases find the same passages and every hit can be highlighted
and coded where it is.

- Words in Latin script are stemmed with the English Snowball stemmer ("extradited",
  "extradition" → "extradit"), words in Cyrillic with the Russian one ("выдачи",
  "выдаче" → "выдач"); other scripts (Uyghur in Arabic script, Greek, ...) are case-folded
  and stripped of vowel marks and tatweel, not stemmed.
- Chinese and Japanese have no spaces between words: a run of ideographs (or kana) becomes
  its overlapping pairs of characters, plus its last character alone ("引渡条约" →
  引渡 渡条 条约 约). A query of two or more characters is the phrase of its pairs, so any
  substring of a run is found; a single character is looked for as the start of a term.
"""

from __future__ import annotations

import functools
import itertools
import os
import re
import unicodedata
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import snowballstemmer

_CJK_RANGES = (
    (0x3040, 0x30FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x3134F),
)
_CJK_CHARS = "".join(f"{chr(low)}-{chr(high)}" for low, high in _CJK_RANGES)
_MARKS = (
    "\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670"
    "\u06d6-\u06ed\u0900-\u0903\u093a-\u094f\u200c\u200d"
)
# A run of ideographs and kana (no spaces between their words), or a word: letters and
# digits with their combining marks and joiners (Arabic-script vowel marks, Devanagari
# signs, zero-width joiners), so that a mark never splits a word.
_WORD_CHAR = f"(?:[^\\W_{_CJK_CHARS}]|[{_MARKS}])"
_PIECE = re.compile(f"([{_CJK_CHARS}]+)|([^\\W_{_CJK_CHARS}]{_WORD_CHAR}*)")
_CJK = re.compile(f"[{_CJK_CHARS}]+")
#: _PIECE's words, as the one group of a pattern that re.split keeps: in a text without
#: ideographs, the pieces are these words.
_WORD_SPLIT = re.compile(f"([^\\W_{_CJK_CHARS}]{_WORD_CHAR}*)")
_LATIN = re.compile("[a-zß-ÿā-ɏ]")
_CYRILLIC = re.compile("[\u0400-\u04ff]")
# Removed from words outside Latin script: Arabic-script vowel marks and tatweel, which
# writers add or leave out freely.
_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")

_ENGLISH = snowballstemmer.stemmer("english")
_RUSSIAN = snowballstemmer.stemmer("russian")

#: Positions PostgreSQL keeps in a tsvector: a paragraph's terms are numbered below this.
MAX_POSITION = 16383


class Token(NamedTuple):
    term: str
    #: Offsets of the text it came from (code points), start included, end excluded.
    start: int
    end: int


#: The longest term kept, in characters: PostgreSQL refuses a lexeme of 2 KB or more, and
#: a "word" that long (a PDF's text without spaces) is never searched for whole anyway.
MAX_TERM = 200


@functools.lru_cache(maxsize=200_000)
def word_term(word: str) -> str:
    """The term of one word (no ideographs in it): its case-folded, stemmed form.

    Kept in a cache: words follow Zipf's law, so most of a text's words were seen before.
    """
    folded = unicodedata.normalize("NFKC", word).casefold()
    if _LATIN.match(folded):
        # Accents vary with keyboards and transliteration: "Übereinkommen" = "ubereinkommen".
        stripped = "".join(
            c for c in unicodedata.normalize("NFD", folded) if not unicodedata.combining(c)
        )
        return _ENGLISH.stemWord(stripped)
    if _CYRILLIC.match(folded):
        # ё is written as е in most Russian text; й is a letter of its own and stays.
        return _RUSSIAN.stemWord(folded.replace("ё", "е"))
    return _ARABIC_MARKS.sub("", folded) or folded


def _prefix_term(word: str) -> str:
    """A word typed as a prefix ("extradi*", "treaty*"): folded like word_term, and cut
    where it and its stem part ("treaty" and "treati" give "treat"), so that the stems in
    the index that start like the word are found."""
    folded = unicodedata.normalize("NFKC", word).casefold()
    if _LATIN.match(folded):
        folded = "".join(
            c for c in unicodedata.normalize("NFD", folded) if not unicodedata.combining(c)
        )
    else:
        folded = _ARABIC_MARKS.sub("", folded.replace("ё", "е"))
    return os.path.commonprefix([folded, word_term(word)])


def tokens(text: str, base: int = 0, *, query: bool = False) -> Iterator[Token]:
    """The terms of `text` in order, with their offsets (plus `base`). For a `query`, a
    run of ideographs gives only its pairs: the text's run may go on past the query's."""
    for match in _PIECE.finditer(text):
        run, word = match.groups()
        start = base + match.start()
        if word is not None:
            yield Token(word_term(word[:MAX_TERM]), start, start + len(word))
        else:
            yield from _cjk_tokens(run, start, query)


def index_terms(text: str) -> list[str]:
    """The terms of `text` in order, as `tokens` gives them, without their offsets: what
    the index stores. A third of the time of `tokens` (no object per term), which an
    import of a long document pays for each of its words."""
    found: list[str] = []
    for run, word in _PIECE.findall(text):
        if word:
            found.append(word_term(word[:MAX_TERM]))
            continue
        folded = unicodedata.normalize("NFKC", run)
        if len(folded) != len(run):
            folded = run
        found.extend(folded[i : i + 2] for i in range(len(folded) - 1))
        found.append(folded[-1])
    return found


def _cjk_tokens(run: str, start: int, query: bool = False) -> Iterator[Token]:
    folded = unicodedata.normalize("NFKC", run)
    if len(folded) != len(run):  # compatibility ideographs: keep the offsets of the text
        folded = run
    for i in range(len(run) - 1):
        yield Token(folded[i : i + 2], start + i, start + i + 2)
    if not query or len(run) == 1:
        yield Token(folded[-1], start + len(run) - 1, start + len(run))


def _columns(text: str, base: int = 0) -> tuple[list[str], list[int], list[int]]:
    """What `tokens` gives, as three lists: the terms, their starts and their ends."""
    if not _CJK.search(text):
        # Words only (most text): cut by the regular expression in one call, which keeps
        # the text between words, so that the words' offsets are sums of lengths. A fifth
        # of the time of a match object per word.
        parts = _WORD_SPLIT.split(text)
        bounds = list(itertools.accumulate(map(len, parts), initial=base))
        words = parts[1::2]
        return [word_term(word[:MAX_TERM]) for word in words], bounds[1:-1:2], bounds[2::2]
    terms: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    # Most text holds no ideograph that NFKC changes: checked once, not normalised run by run.
    normalized = not _cjk_unstable().search(text)
    for match in _PIECE.finditer(text):
        run, word = match.groups()
        start = base + match.start()
        if word is not None:
            terms.append(word_term(word[:MAX_TERM]))
            starts.append(start)
            ends.append(start + len(word))
        else:
            # As _cjk_tokens: each pair of ideographs, then the last one alone.
            folded = run if normalized else unicodedata.normalize("NFKC", run)
            if len(folded) != len(run):
                folded = run
            length = len(run)
            terms.extend([folded[i : i + 2] for i in range(length - 1)])
            terms.append(folded[-1])
            starts.extend(range(start, start + length))
            ends.extend(range(start + 2, start + length + 1))
            ends.append(start + length)
    return terms, starts, ends


@functools.cache
def _cjk_unstable() -> re.Pattern[str]:
    """The characters of runs of ideographs (and kana) that NFKC changes, alone (compatibility
    ideographs) or with the character before them (the kana's combining sound marks); made
    once, from every code point of those ranges."""
    ranges: list[list[int]] = []
    for low, high in _CJK_RANGES:
        for code in range(low, high + 1):
            char = chr(code)
            if unicodedata.combining(char) or unicodedata.normalize("NFKC", char) != char:
                if ranges and ranges[-1][1] == code - 1:
                    ranges[-1][1] = code
                else:
                    ranges.append([code, code])
    return re.compile("[" + "".join(f"{chr(low)}-{chr(high)}" for low, high in ranges) + "]")


def tsvector(terms: Sequence[Token | str]) -> str:
    """The terms (or tokens) as PostgreSQL's tsvector input ('term':1,4 'other':2),
    numbered from 1.

    Given to PostgreSQL as is, this is parsed without a text search configuration, so no
    database locale or dictionary changes what was indexed.
    """
    positions: dict[str, list[str]] = {}
    for position, token in enumerate(terms, start=1):
        term = token if isinstance(token, str) else token.term
        positions.setdefault(term, []).append(str(min(position, MAX_POSITION)))
    return " ".join(f"'{_quoted(term)}':{','.join(places)}" for term, places in positions.items())


#: The most characters of lexemes in one row of a document's terms: PostgreSQL refuses a
#: tsvector of 1 MB or more.
LEXEMES_PER_ROW = 400_000

#: A document's terms are spread over this many rows by a hash of the term (term_bucket),
#: so that a word is read from its bucket's row of each document, about a sixteenth of its
#: terms: for a document of up to a few thousand distinct terms, small enough for
#: PostgreSQL to keep in the table uncompressed, where a whole document's terms are
#: compressed out of it and must be decompressed to be read. The table has a partition
#: for each bucket (research 0007): changing this needs a migration that makes them anew
#: and writes the rows again (tests check that the two agree).
TERM_BUCKETS = 16


def term_bucket(term: str) -> int:
    """The row of a document's terms that holds `term` (the same in every process: not
    Python's hash(), which changes with each)."""
    return zlib.crc32(term.encode("utf-8", "surrogatepass")) % TERM_BUCKETS


def document_terms(text: str) -> set[str]:
    """Every term of a text once, as the search index holds them: those of its chunks
    (chunk_spans), which may cut a long line inside a word."""
    terms: set[str] = set()
    for start, end in chunk_spans(text):
        terms.update(index_terms(text[start:end]))
    return terms


def lexeme_rows(terms: Iterable[str]) -> list[tuple[int, int, str]]:
    """A document's rows of terms: (bucket, part, tsvector input), every distinct term
    once, in the row of its bucket (term_bucket), cut into parts within PostgreSQL's
    limit when one bucket holds very many."""
    buckets: dict[int, list[str]] = {}
    for term in set(terms):
        buckets.setdefault(term_bucket(term), []).append(term)
    return [
        (bucket, part, value)
        for bucket, held in sorted(buckets.items())
        for part, value in enumerate(lexeme_parts(held))
    ]


def lexeme_parts(terms: Iterable[str]) -> list[str]:
    """Every distinct term once, without positions, as tsvector input ('a' 'b'), cut into
    parts that PostgreSQL takes (a text of many distinct terms needs several)."""
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for term in sorted(set(terms)):
        lexeme = f"'{_quoted(term)}'"
        if current and size + len(lexeme) > LEXEMES_PER_ROW:
            parts.append(" ".join(current))
            current, size = [], 0
        current.append(lexeme)
        size += len(lexeme) + 1
    if current:
        parts.append(" ".join(current))
    return parts


def _quoted(term: str) -> str:
    # Words hold no quote or backslash, but a term must never end the literal early.
    return term.replace("\\", "\\\\").replace("'", "''")


# ---------------------------------------------------------------------------------------
# Queries


class QueryError(ValueError):
    """A query that cannot be searched, with what to change."""


@dataclass(frozen=True)
class Phrase:
    """Terms that must follow each other; the last is a prefix when `prefix` is set."""

    terms: tuple[str, ...]
    prefix: bool = False

    @property
    def ideographs(self) -> bool:
        """Whether the phrase is ideographs (or kana) only: pairs of them, or one."""
        return all(_CJK.fullmatch(term) for term in self.terms)

    @functools.cached_property
    def key(self) -> str:
        """What every word whose term is the phrase's first one holds, folded (_fold):
        the term itself (the Russian stemmer only takes endings off; ideographs are not
        changed), but an English stem without its last two letters: it may end in letters
        the word does not have there ("happi" from "happy", "abl" from "ability", "gentl"
        from "gently"), at most two (tests/test_search_hits.py checks this on generated
        words of every suffix the stemmer changes). Empty when nothing is left to look
        for."""
        first = self.terms[0]
        # Cut from every term but a Russian stem or an ideograph pair, for which the whole
        # term is safe: a shorter key is always safe, and the term alone cannot tell
        # whether its word was stemmed as English ("ǯemmy" gives "ʒemmi", whose first letter
        # is no longer in the Latin ranges).
        if not (_CYRILLIC.match(first) or _CJK.match(first)):
            first = first[: len(first) - 2]
        return _fold(first)

    def positions(self, terms: Sequence[str]) -> list[int]:
        """Where the phrase starts among a text's terms (in text order): at each of them
        its terms follow each other, the last one as a prefix if `prefix` is set."""
        first, last = self.terms[0], len(self.terms) - 1
        if last == 0:
            if self.prefix:
                return [i for i, term in enumerate(terms) if term.startswith(first)]
            return [i for i, term in enumerate(terms) if term == first]
        return [i for i, term in enumerate(terms) if term == first and self._follows(terms, i)]

    def _follows(self, terms: Sequence[str], i: int) -> bool:
        last = len(self.terms) - 1
        if i + last >= len(terms):
            return False
        for j in range(1, last + 1):
            have = terms[i + j]
            if have != self.terms[j] and not (
                j == last and self.prefix and have.startswith(self.terms[j])
            ):
                return False
        return True


@dataclass(frozen=True)
class Query:
    """What to look for: every group (any of its phrases) and none of `excluded`."""

    groups: tuple[tuple[Phrase, ...], ...]
    excluded: tuple[Phrase, ...] = ()
    text: str = ""

    @property
    def phrases(self) -> list[Phrase]:
        """Every phrase looked for, which the hits are made of."""
        return [phrase for group in self.groups for phrase in group]

    def hits(self, text: str, base: int = 0) -> list[tuple[int, int]]:
        """Where any phrase of the query occurs in `text` (offsets plus `base`), in text
        order, overlapping hits joined: what `hits_everywhere` finds, reading only the
        lines that may hold a phrase's first term, and in ASCII text only the words that
        may be it (_ascii_spans).

        A page of results runs this over every matching chunk of twenty documents, and
        cutting all of their words into terms took most of the page's time. Words never
        run over a line end, so a line's terms are those of the whole text there, and a
        run of whole lines holds every phrase that starts in it and ends in it.
        """
        if not all(phrase.key for phrase in self.phrases):
            return self.hits_everywhere(text, base)
        if text.isascii():
            return _joined(self._ascii_spans(text, base))
        lines = _lines(text)
        if self._ideographs_only and not _cjk_unstable().search(text):
            # Keys of ideographs only, and none in the text that NFKC changes: the text's
            # pairs of ideographs are its own characters, no need to fold it.
            folded = [text[start:end] for start, end in lines]
        else:
            folded = _folded_lines(text, lines)
        needed = [False] * len(lines)
        for phrase in self.phrases:
            key = phrase.key
            more = len(phrase.terms) - 1
            for i, line in enumerate(folded):
                if key not in line or needed[i] and not more:
                    continue
                needed[i] = True
                # The lines after it that may hold the phrase's other terms: as many as
                # it has other terms, not counting lines without a word (a blank line).
                j, following = i + 1, 0
                while following < more and j < len(lines):
                    needed[j] = True
                    if _WORDY.search(text, *lines[j]):
                        following += 1
                    j += 1
        spans: list[tuple[int, int]] = []
        i = 0
        while i < len(lines):
            if not needed[i]:
                i += 1
                continue
            j = i
            while j + 1 < len(lines) and needed[j + 1]:
                j += 1
            start, end = lines[i][0], lines[j][1]
            run = text[start:end]
            if run.isascii():
                spans.extend(self._ascii_spans(run, base + start))
            else:
                spans.extend(self._spans(run, base + start))
            i = j + 1
        return _joined(spans)

    def _ascii_spans(self, text: str, base: int) -> list[tuple[int, int]]:
        """`_spans` of an ASCII text, which folds to its lower case offset for offset: a
        phrase is looked for only at the words holding its key, each word's term made
        there alone (for a common phrase, a fifth of the words of the lines holding its
        key). Unless a key is short (a letter or two is in most words: cutting every word
        is quicker) or a phrase long (a text of one word repeated would be read once for
        each of its words at each place): then every word, as `_spans`."""
        if not self._read_at_keys:
            return self._spans(text, base)
        lowered = text.lower()
        spans: list[tuple[int, int]] = []
        for phrase in self.phrases:
            key, first, count = phrase.key, phrase.terms[0], len(phrase.terms)
            if not _ASCII_KEY.fullmatch(key):
                continue  # in no ASCII word: ⑴ folds to "(1)", ͺ to " ι"
            at = lowered.find(key)
            while at != -1:
                start = at
                while start and lowered[start - 1] in _ASCII_ALNUM:
                    start -= 1
                word = _ASCII_WORD.match(text, start)
                assert word is not None  # the key is letters and digits: a word's
                term = word_term(word.group()[:MAX_TERM])
                if term == first or (count == 1 and phrase.prefix and term.startswith(first)):
                    words = list(itertools.islice(_ASCII_WORD.finditer(text, start), count))
                    terms = [word_term(found.group()[:MAX_TERM]) for found in words]
                    if phrase.positions(terms)[:1] == [0]:
                        spans.append((base + start, base + words[-1].end()))
                # On after this word: its other places holding the key are the same word
                # (and a long run of letters is read once, not once for each of them).
                at = lowered.find(key, word.end())
        return spans

    @functools.cached_property
    def _read_at_keys(self) -> bool:
        """Whether _ascii_spans looks for the phrases at their keys' places: keys of
        three characters or more, phrases of up to 8 terms."""
        return all(len(p.key) >= 3 and len(p.terms) <= 8 for p in self.phrases)

    @functools.cached_property
    def _ideographs_only(self) -> bool:
        """Whether every phrase's key is ideographs (or kana)."""
        return all(_CJK.fullmatch(phrase.key) for phrase in self.phrases)

    def hits_everywhere(self, text: str, base: int = 0) -> list[tuple[int, int]]:
        """Where any phrase of the query occurs in `text` (offsets plus `base`), in text
        order, overlapping hits joined, from the terms of the whole text."""
        return _joined(self._spans(text, base))

    def _spans(self, text: str, base: int) -> list[tuple[int, int]]:
        # The terms in three lists, not as Tokens: making a tuple per term took most of
        # the time.
        terms, starts, ends = _columns(text, base)
        spans: list[tuple[int, int]] = []
        for phrase in self.phrases:
            last = len(phrase.terms) - 1
            # A lone ideograph matched the first of a pair: the hit is that one.
            lone = phrase.prefix and _CJK.match(phrase.terms[-1])
            for i in phrase.positions(terms):
                end = starts[i + last] + len(phrase.terms[-1]) if lone else ends[i + last]
                spans.append((starts[i], end))
        return spans


def _joined(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans in order, those that overlap joined."""
    spans.sort()
    joined: list[tuple[int, int]] = []
    for start, end in spans:
        if joined and start < joined[-1][1]:
            joined[-1] = (joined[-1][0], max(end, joined[-1][1]))
        else:
            joined.append((start, end))
    return joined


#: The words of an ASCII text (_PIECE's words there) and the characters they are made of.
_ASCII_WORD = re.compile("[A-Za-z0-9]+")
_ASCII_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_ASCII_KEY = re.compile("[a-z0-9]+")

#: A letter or digit of any script: a line without one holds no term.
_WORDY = re.compile(r"[^\W_]")


def _lines(text: str) -> list[tuple[int, int]]:
    """The offsets of the text's lines, each with its line end."""
    lines = []
    start, length = 0, len(text)
    while start < length:
        end = text.find("\n", start)
        end = length if end == -1 else end + 1
        lines.append((start, end))
        start = end
    return lines


@functools.cache
def _unmarked() -> dict[int, None]:
    """A str.translate table deleting every combining mark (what word_term strips from a
    word in Latin script) and the Arabic-script marks and tatweel (what it strips from
    words in other scripts). Made once, from the whole of Unicode."""
    table: dict[int, None] = {
        code: None for code in range(0x110000) if unicodedata.combining(chr(code))
    }
    for low, high in ((0x610, 0x61A), (0x64B, 0x65F), (0x670, 0x670), (0x6D6, 0x6ED)):
        table.update((code, None) for code in range(low, high + 1))
    table[0x640] = None
    return table


def _fold(text: str) -> str:
    """`text` as word_term folds a word before stemming it, for every script at once:
    compatibility forms, case, accents and marks (and ё, whose mark goes) folded away.
    What a term's key is looked for in: character by character, so that the key of every
    word's term is found in the word folded this way."""
    if text.isascii():  # nothing to normalise, no marks: most English text
        return text.lower()
    folded = unicodedata.normalize("NFKC", text).casefold()
    return unicodedata.normalize("NFD", folded).translate(_unmarked())


def _folded_lines(text: str, lines: list[tuple[int, int]]) -> list[str]:
    """Each line of `text`, folded (_fold): the text folded at once, then cut at its line
    ends, unless folding changed how many there are."""
    folded = _fold(text).split("\n")
    if text.endswith("\n"):
        folded.pop()
    if len(folded) == len(lines):
        return folded
    return [_fold(text[start:end]) for start, end in lines]


_QUERY_PART = re.compile(r'(-?)"([^"]*)"?|(\S+)')


def parse_query(text: str) -> Query:
    """A query as analysts type it into a search box.

    Words are all required ("extradition treaty"); "double quotes" make a phrase; a word
    or phrase preceded by a minus is excluded (-Kazakhstan); OR between two words or
    phrases lets either do (extradition OR выдача); a word ending in * is a prefix
    (extradi*). The match is on terms (see the module's docstring): other inflections of
    an English or Russian word are found, and Chinese is found without spaces.
    """
    if len(text) > 1000:
        raise QueryError("The search is too long: use at most 1,000 characters.")
    groups: list[list[Phrase]] = []
    excluded: list[Phrase] = []
    join_next = False
    for match in _QUERY_PART.finditer(text):
        negated, quoted, bare = match.group(1), match.group(2), match.group(3)
        if bare == "OR":
            join_next = bool(groups)
            continue
        if quoted is None:
            negated = "-" if bare.startswith("-") and len(bare) > 1 else ""
            bare = bare[1:] if negated else bare
        phrase = _phrase(quoted if quoted is not None else bare, quoted is None)
        if phrase is None:
            continue
        if negated:
            excluded.append(phrase)
            join_next = False
        elif join_next:
            groups[-1].append(phrase)
            join_next = False
        else:
            groups.append([phrase])
    if not groups:
        raise QueryError(
            "Give at least one word to look for: a search of only excluded words (-word) or "
            "of punctuation finds nothing."
        )
    if len(groups) + len(excluded) > 20:
        raise QueryError("The search has too many parts: use at most 20 words or phrases.")
    return Query(tuple(tuple(group) for group in groups), tuple(excluded), text.strip())


def _phrase(part: str, may_be_prefix: bool) -> Phrase | None:
    prefix = may_be_prefix and part.endswith("*") and len(part) > 1
    if prefix:
        part = part.rstrip("*")
    found = list(tokens(part, query=True))
    if not found:
        return None
    terms = tuple(token.term for token in found)
    if prefix and not _CJK.match(terms[-1]):
        last = _prefix_term(part[found[-1].start : found[-1].end][:MAX_TERM])
        if not last:  # nothing left to look for (a tatweel alone)
            return Phrase(terms[:-1]) if len(terms) > 1 else None
        return Phrase((*terms[:-1], last), True)
    # A lone ideograph at the end: the first of a pair in the text, or a run's last one.
    lone = len(terms[-1]) == 1 and bool(_CJK.match(terms[-1]))
    return Phrase(terms, prefix=prefix or lone)


# ---------------------------------------------------------------------------------------
# Chunks: the stretches of text the index holds

#: A chunk ends at the first line end past this many code points...
CHUNK_LENGTH = 1500
#: ...or, in a line longer than this, at a space (a PDF's text may have no line ends).
CHUNK_MAX = 3000


def chunk_spans(text: str) -> list[tuple[int, int]]:
    """The text cut into chunks of whole lines of about CHUNK_LENGTH code points.

    Whole lines, so that a phrase broken over a PDF's lines is still one phrase; several
    lines, so that the index has a tenth of the rows that paragraphs would give. A phrase
    that runs over a chunk's end is not found as a phrase (its words are).
    """
    spans: list[tuple[int, int]] = []
    start, length = 0, len(text)
    while start < length:
        end = text.find("\n", min(start + CHUNK_LENGTH, length - 1))
        end = length if end == -1 else end + 1
        if end - start > CHUNK_MAX:
            # At a space, else after a Chinese full stop, else anywhere.
            cut = max(
                text.rfind(" ", start + CHUNK_LENGTH, start + CHUNK_MAX),
                text.rfind("。", start + CHUNK_LENGTH, start + CHUNK_MAX),
            )
            end = cut + 1 if cut != -1 else start + CHUNK_MAX
        spans.append((start, end))
        start = end
    return spans
