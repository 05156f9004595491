"""A memo's history as the memo page shows it: each version with what changed from the one
before, as a line diff. Pure functions (difflib), no Django: the page escapes the lines."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

#: Unchanged lines shown around each change.
CONTEXT_LINES = 2


@dataclass(frozen=True)
class Line:
    kind: Literal["same", "added", "removed", "gap"]
    text: str


def line_diff(old: str, new: str, context: int = CONTEXT_LINES) -> list[Line]:
    """What changed from `old` to `new`, line by line: removed and added lines with
    `context` unchanged lines around them, and a "gap" where unchanged lines are left out.
    Empty when the two are the same."""
    if old == new:
        return []
    before, after = old.split("\n"), new.split("\n")
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    lines: list[Line] = []
    for group in matcher.get_grouped_opcodes(context):
        if lines or group[0][1] > 0:
            lines.append(Line("gap", "…"))
        for operation, i1, i2, j1, j2 in group:
            if operation == "equal":
                lines.extend(Line("same", line) for line in before[i1:i2])
                continue
            lines.extend(Line("removed", line) for line in before[i1:i2])
            lines.extend(Line("added", line) for line in after[j1:j2])
    last = matcher.get_opcodes()[-1]
    if last[0] == "equal" and last[2] - last[1] > context:
        lines.append(Line("gap", "…"))
    return lines


@dataclass(frozen=True)
class Version:
    """One revision with what changed from the previous one."""

    version: int
    title: str
    text: str
    author: str
    created: Any
    restored_from: int | None
    #: The title before this version, when this version changed it (else None).
    title_before: str | None
    #: The line diff from the previous version's text (empty for the first version).
    lines: list[Line]

    @property
    def first(self) -> bool:
        return self.version == 1


def history(revisions: Sequence[Any]) -> list[Version]:
    """`revisions` (with version, title, text, author, created, restored_from; in version
    order) as versions with their changes, newest first."""
    versions: list[Version] = []
    previous: Any = None
    for revision in revisions:
        title_before, lines = None, []
        if previous is not None:
            if previous.title != revision.title:
                title_before = previous.title
            lines = line_diff(previous.text, revision.text)
        versions.append(
            Version(
                version=revision.version,
                title=revision.title,
                text=revision.text,
                author=str(revision.author),
                created=revision.created,
                restored_from=revision.restored_from,
                title_before=title_before,
                lines=lines,
            )
        )
        previous = revision
    return versions[::-1]
