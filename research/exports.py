"""Passages as files: CSV, Markdown, XLSX and DOCX."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Citation:
    title: str
    organisation: str
    published: str
    page: int | None
    url: str


@dataclass(frozen=True)
class Passage:
    id: int
    document_id: int
    start: int
    end: int
    quote: str
    before: str
    after: str
    codes: tuple[str, ...]
    note: str
    coder: str
    created: str
    citation: Citation


@dataclass(frozen=True)
class CodeGroup:
    code: str
    definition: str
    passages: Iterable[Passage]
