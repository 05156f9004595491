"""Pure text functions: normalisation and segmenting. No Django imports here.

Offsets everywhere in sco-annotate are Unicode code points, which is what Python's str
indexing counts, so `text[start:end]` is the quote of a span.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

#: How much context each annotation keeps on either side, for re-anchoring.
CONTEXT_LENGTH = 32

# What normalisation removes: C0 and C1 control characters (NUL included, which PostgreSQL
# text rejects) except tab and newline, and lone surrogates, which can arrive through JSON
# escapes and cannot be stored as UTF-8. Carriage returns are turned into newlines first.
_DROPPED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# Anything normalisation could change apart from composition (checked separately).
_NEEDS_WORK = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufeff]")
# UTF-16 surrogates: in a Python str they are always unpaired (a pair decodes to one code
# point), and UTF-8 cannot encode them. One scan at C speed, where a loop over the
# characters in Python takes twenty times as long on a long text.
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Normalized:
    text: str
    #: What normalisation changed, by kind, for the import's provenance record.
    changes: dict[str, int] = field(default_factory=dict)


def normalize(text: str) -> Normalized:
    """Normalise text for storage and report what changed.

    Line ends become `\\n` (as a browser's parser does, so stored text equals the page's
    textContent), a leading byte-order mark goes, control characters other than tab and
    newline go, and the result is in Unicode NFC.
    """
    # Most text needs nothing: two C-speed scans instead of the rewriting passes.
    if not _NEEDS_WORK.search(text) and unicodedata.is_normalized("NFC", text):
        return Normalized(text)
    changes: dict[str, int] = {}
    if text.startswith("\ufeff"):
        text = text[1:]
        changes["byte_order_mark"] = 1
    crlf = text.count("\r\n")
    if crlf:
        text = text.replace("\r\n", "\n")
        changes["crlf_to_lf"] = crlf
    lone_cr = text.count("\r")
    if lone_cr:
        text = text.replace("\r", "\n")
        changes["cr_to_lf"] = lone_cr
    text, dropped = _DROPPED.subn("", text)
    if dropped:
        changes["control_characters_removed"] = dropped
    nfc = unicodedata.normalize("NFC", text)
    if nfc != text:
        changes["nfc"] = 1
    return Normalized(nfc, changes)


def normalize_text(text: str) -> str:
    """The normalised form of `text` (see `normalize`)."""
    return normalize(text).text


def has_unpaired_surrogate(text: str) -> bool:
    """Whether `text` holds a lone UTF-16 surrogate (from a JSON escape such as \\ud800),
    which cannot be stored as UTF-8."""
    return _SURROGATE.search(text) is not None


def text_sha256(text: str) -> str:
    """Hex SHA-256 of the UTF-8 encoding of `text`: the identity of a document's text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def context(text: str, start: int, end: int) -> tuple[str, str]:
    """The prefix and suffix (up to CONTEXT_LENGTH code points) around text[start:end]."""
    return text[max(0, start - CONTEXT_LENGTH) : start], text[end : end + CONTEXT_LENGTH]


@dataclass(frozen=True)
class Segment:
    start: int
    end: int
    text: str
    #: Keys of the spans covering this segment, in the order the spans were given.
    keys: tuple[Hashable, ...]


def segments(text: str, spans: Iterable[tuple[int, int, Hashable]]) -> Iterator[Segment]:
    """Split `text` at every span boundary.

    `spans` are (start, end, key) with 0 <= start < end <= len(text). Each segment is a run
    of text covered by the same set of spans; segments cover the whole text in order, so
    joining their texts gives `text` back. Overlapping and nested spans give segments with
    several keys. Spans outside the text are clipped; empty ones are ignored.
    """
    length = len(text)
    opening: dict[int, list[tuple[int, Hashable]]] = {}
    closing: dict[int, list[Hashable]] = {}
    for index, (start, end, key) in enumerate(spans):
        start, end = max(0, start), min(length, end)
        if start >= end:
            continue
        opening.setdefault(start, []).append((index, key))
        closing.setdefault(end, []).append(key)
    boundaries: Sequence[int] = sorted({0, length, *opening, *closing})
    active: dict[Hashable, int] = {}
    for position, next_position in zip(boundaries, boundaries[1:], strict=False):
        for key in closing.get(position, ()):
            active.pop(key, None)
        for index, key in opening.get(position, ()):
            active[key] = index
        keys = tuple(sorted(active, key=active.__getitem__))
        yield Segment(position, next_position, text[position:next_position], keys)


#: The largest id or offset a query string may carry (a 64-bit signed column's maximum).
MAX_WHOLE_NUMBER = 2**63 - 1


def parse_whole_number(value: str) -> int | None:
    """An ASCII decimal string as an int from 0 to MAX_WHOLE_NUMBER, else None.

    str.isdigit() also accepts digits such as '²' that int() refuses, and an unbounded
    number overflows the database's columns: query strings are read with this instead.
    """
    if not (value.isascii() and value.isdecimal()):
        return None
    number = int(value)
    return number if number <= MAX_WHOLE_NUMBER else None
