"""Finding the noise that scraping leaves in a text, and stripping what the admin chose.

Nothing here removes anything on its own: `suggest` lists what looks like noise, paragraph by
paragraph, with a reason; `apply` strips only the suggestions it is given and returns a
record of exactly what went. A "paragraph" is a line of text that is not blank: scraped
pages separate paragraphs with one newline as often as with two.

Pure functions, no Django imports.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

NAVIGATION = "navigation"
SERVER_ERROR = "server_error"
FOOTER = "footer"
MARKDOWN = "markdown"
REPEATED = "repeated"
KINDS = {
    NAVIGATION: "Navigation",
    SERVER_ERROR: "Server warning or error page",
    FOOTER: "Site footer or donation appeal",
    MARKDOWN: "Markdown markers",
    REPEATED: "Repeated paragraphs",
}


@dataclass(frozen=True)
class Paragraph:
    index: int
    start: int
    end: int
    #: Where the next paragraph starts (the blank lines after this one are in between).
    next_start: int
    text: str


@dataclass(frozen=True)
class Suggestion:
    """One piece of likely noise: what would be removed and why."""

    id: str
    kind: str
    #: Index (0-based) of the first paragraph concerned, and how many there are.
    paragraph: int
    paragraph_count: int
    #: The stretch of text concerned.
    start: int
    end: int
    reason: str
    #: The ranges [start, end) that applying the suggestion removes.
    removals: tuple[tuple[int, int], ...]

    @property
    def label(self) -> str:
        return KINDS[self.kind]

    def removed_text(self, text: str) -> str:
        return "".join(text[start:end] for start, end in self.removals)

    def paragraphs(self, text: str) -> list[str]:
        """The paragraphs concerned, as they read before clean-up."""
        return [line for line in text[self.start : self.end].split("\n") if line.strip()]

    def as_dict(self, text: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "paragraph": self.paragraph + 1,
            "paragraphs": self.paragraph_count,
            "start": self.start,
            "end": self.end,
            "reason": self.reason,
            "text": text[self.start : self.end],
            "removed": [[start, end] for start, end in self.removals],
        }


def paragraphs(text: str) -> list[Paragraph]:
    """The non-blank lines of a text, with their offsets."""
    found: list[tuple[int, int, str]] = []
    position = 0
    for line in text.split("\n"):
        if line.strip():
            found.append((position, position + len(line), line))
        position += len(line) + 1
    result = []
    for index, (start, end, line) in enumerate(found):
        next_start = found[index + 1][0] if index + 1 < len(found) else len(text)
        result.append(Paragraph(index, start, end, next_start, line))
    return result


# ---------------------------------------------------------------------------------------
# Detectors

_NAV_PHRASES = re.compile(
    r"skip to (?:the )?(?:main )?(?:content|navigation|search|footer)|skip navigation"
    r"|jump to (?:main )?(?:content|navigation)|toggle navigation|main menu|open menu"
    r"|close menu|back to top|you are here:?|breadcrumb",
    re.I,
)
_NAV_SEPARATORS = re.compile(r"[\s|·•»>/›–-]*")
_MENU_SEPARATOR = re.compile(r"\s+[|·•]\s+")
_NAV_MAX_LENGTH = 200
#: Menus are looked for in this many paragraphs at each end of the text.
_MENU_EDGE = 5

_SERVER_LINES = [
    # PHP diagnostics printed into the page.
    re.compile(
        r"^\s*(?:PHP )?(?:Warning|Notice|Deprecated|Fatal error|Parse error|Strict Standards)"
        r"\s*:.*(?:on line \d+|headers already sent|in /\S+)",
        re.I,
    ),
    # The title line of an error page ("Error | Site", "Page not found - Site"): short.
    re.compile(
        r"^\s*(?:Error|Page not found|Not Found|Access denied|Forbidden|Server error)"
        r"\s*(?:[|:–-].{0,100})?$",
        re.I,
    ),
    # "404 Not Found", "HTTP 503 Service Unavailable" (not "500 people were detained").
    re.compile(
        r"^\s*(?:HTTP(?:/\d\.\d)? )?[45]\d\d\s*[-–:|]?\s*(?:Not Found|Forbidden|Bad Request"
        r"|Unauthori[sz]ed|Internal Server Error|Bad Gateway|Service Unavailable"
        r"|Gateway Time-?out|Error)\b",
        re.I,
    ),
    re.compile(
        r"(?:the website|the server|this site|the page) encountered an (?:unexpected )?error"
        r"|please try again later|service (?:temporarily )?unavailable|internal server error"
        r"|the requested url .* was not found|an error occurred while processing",
        re.I,
    ),
]
_SERVER_MAX_LENGTH = 400

_FOOTER_PATTERNS = [
    re.compile(r"tax[- ]deductible|\bdonat(?:e|ion)s?\b.*\b(?:now|today|us|here)\b", re.I),
    re.compile(r"\byour (?:gift|donation|support) (?:can|will|helps?)\b", re.I),
    re.compile(r"\b(?:support|fund) our work\b|\bgive now\b|\bmake a (?:gift|donation)\b", re.I),
    re.compile(r"^\s*(?:©|\(c\)|copyright\b)|\ball rights reserved\b", re.I),
    re.compile(
        r"\bsubscribe to (?:our|the) newsletter\b|\bsign up for (?:our|the) newsletter\b", re.I
    ),
    re.compile(r"\bfollow us on\b|\bshare (?:this|on) (?:facebook|twitter|x)\b", re.I),
    re.compile(r"\bprivacy policy\b.*\bterms\b|\bterms of (?:use|service)\b.*\bprivacy\b", re.I),
]
_FOOTER_MAX_LENGTH = 300
#: Footers are only looked for in the last part of the text.
_FOOTER_TAIL_SHARE = 0.3
_FOOTER_TAIL_MIN = 5

_EMPHASIS = re.compile(
    r"(?<![\w*_\\])(\*\*|__)(?=\S)((?:(?!\n[ \t]*\n).)+?)(?<=\S)\1(?![\w*_])", re.S
)
_HARD_BREAK = re.compile(r" {2,}$", re.M)

_REPEAT_MIN_PARAGRAPHS = 2
_REPEAT_MIN_CHARS = 200


def _is_navigation(line: str, at_edge: bool) -> bool:
    """A line made only of "skip to" phrases, or (at the start or end of the text) a menu:
    three or more short items separated by | or ·."""
    if len(line) > _NAV_MAX_LENGTH:
        return False
    if _NAV_PHRASES.search(line) and not _NAV_SEPARATORS.sub("", _NAV_PHRASES.sub("", line)):
        return True
    if not at_edge:
        # In the body, "Kazakhstan | Kyrgyzstan | Tajikistan" is more likely a table row.
        return False
    items = _MENU_SEPARATOR.split(line.strip())
    return (
        len(items) >= 3 and len(line) <= 150 and all(0 < len(item.split()) <= 3 for item in items)
    )


def _is_server_error(line: str) -> bool:
    return len(line) <= _SERVER_MAX_LENGTH and any(p.search(line) for p in _SERVER_LINES)


def _is_footer(line: str) -> bool:
    return len(line) <= _FOOTER_MAX_LENGTH and any(p.search(line) for p in _FOOTER_PATTERNS)


def _runs(flags: Sequence[bool]) -> list[tuple[int, int]]:
    """(first, count) of each run of consecutive True values."""
    runs: list[tuple[int, int]] = []
    index = 0
    while index < len(flags):
        if flags[index]:
            first = index
            while index < len(flags) and flags[index]:
                index += 1
            runs.append((first, index - first))
        else:
            index += 1
    return runs


def _paragraph_suggestion(
    kind: str, paras: Sequence[Paragraph], first: int, count: int, reason: str
) -> Suggestion:
    last = paras[first + count - 1]
    return Suggestion(
        id=f"{kind}-{first + 1}",
        kind=kind,
        paragraph=first,
        paragraph_count=count,
        start=paras[first].start,
        end=last.end,
        reason=reason,
        removals=((paras[first].start, last.next_start),),
    )


def _repeated_blocks(paras: Sequence[Paragraph], claimed: set[int]) -> list[Suggestion]:
    """Blocks of paragraphs that repeat an earlier block verbatim: the later copy goes."""
    seen: dict[str, list[int]] = {}
    keys = [" ".join(para.text.split()) for para in paras]
    suggestions: list[Suggestion] = []
    index = 0
    while index < len(paras):
        best_first, best_length = -1, 0
        if index not in claimed:
            for earlier in seen.get(keys[index], ()):
                length = 0
                while (
                    index + length < len(paras)
                    and earlier + length < index
                    and index + length not in claimed
                    and keys[earlier + length] == keys[index + length]
                ):
                    length += 1
                if length > best_length:
                    best_first, best_length = earlier, length
        chars = sum(len(keys[index + offset]) for offset in range(best_length))
        if best_length >= _REPEAT_MIN_PARAGRAPHS or (
            best_length == 1 and chars >= _REPEAT_MIN_CHARS
        ):
            suggestions.append(
                _paragraph_suggestion(
                    REPEATED,
                    paras,
                    index,
                    best_length,
                    f"Repeats paragraphs {best_first + 1}–{best_first + best_length} word for "
                    f"word ({best_length} paragraph{'s' if best_length > 1 else ''}): the page "
                    "was scraped twice.",
                )
            )
            for offset in range(best_length):
                seen.setdefault(keys[index + offset], []).append(index + offset)
            index += best_length
            continue
        seen.setdefault(keys[index], []).append(index)
        index += 1
    return suggestions


def _markdown(text: str, paras: Sequence[Paragraph]) -> list[Suggestion]:
    """Emphasis markers (** and __) left by a conversion from Markdown: the markers go, the
    words stay. Markers are paired within one paragraph block."""
    suggestions: list[Suggestion] = []
    starts = [para.start for para in paras]
    for match in _EMPHASIS.finditer(text):
        marker = match.group(1)
        open_at, close_at = match.start(), match.end() - len(marker)
        first = _paragraph_at(starts, open_at)
        last = _paragraph_at(starts, close_at)
        removals = [(open_at, open_at + len(marker))]
        # Markdown's hard line breaks (two spaces at a line's end) inside the emphasis.
        inner_start = match.start(2)
        for hard in _HARD_BREAK.finditer(text, inner_start, close_at):
            removals.append((hard.start(), hard.end()))
        removals.append((close_at, match.end()))
        suggestions.append(
            Suggestion(
                id=f"{MARKDOWN}-{first + 1}-{open_at}",
                kind=MARKDOWN,
                paragraph=first,
                paragraph_count=last - first + 1,
                start=paras[first].start,
                end=paras[last].end,
                reason=f"Markdown emphasis markers {marker}…{marker} (the words are kept).",
                removals=tuple(removals),
            )
        )
    return suggestions


def _paragraph_at(starts: Sequence[int], offset: int) -> int:
    low, high = 0, len(starts)
    while low < high:
        middle = (low + high) // 2
        if starts[middle] <= offset:
            low = middle + 1
        else:
            high = middle
    return max(0, low - 1)


def suggest(text: str, *, markdown: bool = True) -> list[Suggestion]:
    """What looks like noise in `text`, in text order. Each suggestion has a stable id."""
    paras = paragraphs(text)
    if not paras:
        return []
    tail_from = min(len(paras) - _FOOTER_TAIL_MIN, int(len(paras) * (1 - _FOOTER_TAIL_SHARE)))
    detectors = [
        (
            NAVIGATION,
            [
                _is_navigation(para.text, index < _MENU_EDGE or index >= len(paras) - _MENU_EDGE)
                for index, para in enumerate(paras)
            ],
            "A site's navigation line, not part of the document.",
        ),
        (
            SERVER_ERROR,
            [_is_server_error(para.text) for para in paras],
            "A server warning or error page captured with the document.",
        ),
        (
            FOOTER,
            [index >= tail_from and _is_footer(para.text) for index, para in enumerate(paras)],
            "A site footer or donation appeal after the document.",
        ),
    ]
    claimed: set[int] = set()
    suggestions: list[Suggestion] = []
    for kind, flags, reason in detectors:
        flags = [flag and index not in claimed for index, flag in enumerate(flags)]
        for first, count in _runs(flags):
            suggestions.append(_paragraph_suggestion(kind, paras, first, count, reason))
            claimed.update(range(first, first + count))
    suggestions += _repeated_blocks(paras, claimed)
    if markdown:
        suggestions += _markdown(text, paras)
    suggestions.sort(key=lambda suggestion: (suggestion.start, suggestion.kind))
    return suggestions


# ---------------------------------------------------------------------------------------
# Applying


@dataclass(frozen=True)
class Cleaned:
    text: str
    #: The applied suggestions as recorded in the import report (offsets in the text before).
    stripped: list[dict[str, Any]]
    #: Merged ranges [start, end) of the text before that were removed.
    removed: tuple[tuple[int, int], ...]

    def map_offset(self, offset: int) -> int:
        """Where an offset of the text before falls in the cleaned text."""
        shift = 0
        for start, end in self.removed:
            if offset <= start:
                break
            shift += min(offset, end) - start
        return offset - shift


def select(
    suggestions: Iterable[Suggestion], chosen: bool | Collection[str] | None
) -> list[Suggestion]:
    """The suggestions to apply: all (True), none (None/False) or those with the given ids.

    Unknown ids are an error: a choice made on an earlier preview of a different text must
    not be applied to this one.
    """
    suggestions = list(suggestions)
    if not chosen:
        return []
    if chosen is True:
        return suggestions
    by_id = {suggestion.id: suggestion for suggestion in suggestions}
    kinds = {suggestion.kind for suggestion in suggestions}
    picked: list[Suggestion] = []
    for choice in chosen:
        if choice in by_id:
            picked.append(by_id[choice])
        elif choice in KINDS:
            # A whole kind: "strip all the repeated blocks".
            picked += [s for s in suggestions if s.kind == choice and choice in kinds]
        else:
            raise ValueError(choice)
    return list(dict.fromkeys(picked))


def apply(text: str, chosen: Iterable[Suggestion]) -> Cleaned:
    """Strip the chosen suggestions from `text` and record what went."""
    chosen = sorted(chosen, key=lambda suggestion: suggestion.start)
    ranges = sorted(r for suggestion in chosen for r in suggestion.removals)
    merged: list[list[int]] = []
    for start, end in ranges:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    kept: list[str] = []
    position = 0
    for start, end in merged:
        kept.append(text[position:start])
        position = end
    kept.append(text[position:])
    cleaned = "".join(kept)
    if merged and merged[-1][1] >= len(text.rstrip()):
        # The end was stripped: do not leave the blank lines that led up to it.
        cleaned = cleaned.rstrip()
    return Cleaned(
        text=cleaned,
        stripped=[suggestion.as_dict(text) for suggestion in chosen],
        removed=tuple((start, end) for start, end in merged),
    )


# ---------------------------------------------------------------------------------------
# Reading the record back


@dataclass(frozen=True)
class AppliedRow:
    """One applied clean-up as a document's page lists it."""

    rule: str
    reason: str
    paragraph: int
    paragraphs: int
    #: The stretch concerned, as it read before clean-up (Markdown markers: only the
    #: markers inside it went).
    text: str
    whole: bool


def _whole(value: Any, default: int, least: int = 0) -> int:
    """A paragraph number (or count, at least `least`) of a report, or `default` where a
    hand edit left something else (text, a fraction, a number out of range, "²")."""
    if isinstance(value, bool):
        return default
    if isinstance(value, str):
        text = value.strip()
        # isdecimal, not isdigit: "²" is a digit that int() refuses; and a bounded length,
        # as int() refuses strings of thousands of digits.
        if not (text.isascii() and text.isdecimal() and len(text) <= 18):
            return default
        value = int(text)
    return value if isinstance(value, int) and value >= least else default


def applied_rows(report: Any) -> tuple[list[AppliedRow], int]:
    """What an import report (`Document.import_report`) says clean-up removed, in text
    order, and how many suggestions were left unapplied. Reports written before clean-up
    existed, or by hand in the admin, may lack any part: they read as nothing applied."""
    cleanup = report.get("cleanup") if isinstance(report, dict) else None
    if not isinstance(cleanup, dict):
        return [], 0
    rows = [
        AppliedRow(
            rule=KINDS.get(str(entry.get("kind")), str(entry.get("kind", "?"))),
            reason=str(entry.get("reason", "")),
            paragraph=_whole(entry.get("paragraph"), 0),
            paragraphs=_whole(entry.get("paragraphs"), 1, least=1),
            text=str(entry.get("text", "")),
            whole=entry.get("kind") != MARKDOWN,
        )
        for entry in cleanup.get("applied") or []
        if isinstance(entry, dict)
    ]
    not_applied = cleanup.get("not_applied") or []
    return rows, len(not_applied) if isinstance(not_applied, list) else 0
