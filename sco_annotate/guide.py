"""The analyst guide as a page of the app: docs/analyst-guide.md is its one text, shown
here so that the guide in the repository and the one in the app never differ.

The guide is written in a small part of Markdown, which `markdown_html` renders: `#` and
`##` headings, paragraphs, `- ` lists, fenced code blocks, and inline `code`, **bold**
and *emphasis*. Everything else is shown as written (escaped), never as HTML.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET

GUIDE = Path(settings.BASE_DIR) / "docs" / "analyst-guide.md"

_INLINE = re.compile(r"`([^`]+)`|\*\*(.+?)\*\*|\*(.+?)\*")


def _inline(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        code, strong, emphasis = match.groups()
        if code is not None:
            return f"<code>{html.escape(code)}</code>"
        if strong is not None:
            return f"<strong>{_inline(strong)}</strong>"
        return f"<em>{_inline(emphasis)}</em>"

    parts, position = [], 0
    for match in _INLINE.finditer(text):
        parts.append(html.escape(text[position : match.start()]))
        parts.append(replace(match))
        position = match.end()
    parts.append(html.escape(text[position:]))
    return "".join(parts)


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def markdown_html(text: str) -> str:
    """HTML of a text in the guide's part of Markdown (see the module's docstring)."""
    out: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    code: list[str] | None = None

    def flush() -> None:
        if paragraph:
            out.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in items) + "</ul>")
            items.clear()

    for line in text.splitlines():
        if code is not None:
            if line.startswith("```"):
                out.append(f"<pre><code>{html.escape(chr(10).join(code))}</code></pre>")
                code = None
            else:
                code.append(line)
        elif line.startswith("```"):
            flush()
            code = []
        elif match := re.match(r"(#{1,3}) (.+)", line):
            flush()
            level, title = len(match[1]), match[2].strip()
            out.append(f'<h{level} id="{_slug(title)}">{_inline(title)}</h{level}>')
        elif line.startswith("- "):
            if paragraph:
                flush()
            items.append(line[2:].strip())
        elif line.startswith("  ") and items:
            items[-1] += " " + line.strip()  # a list item's continuation line
        elif not line.strip():
            flush()
        else:
            if items:
                flush()
            paragraph.append(line.strip())
    flush()
    if code is not None:  # an unclosed fence: show what it held
        out.append(f"<pre><code>{html.escape(chr(10).join(code))}</code></pre>")
    return "\n".join(out)


@lru_cache(maxsize=2)
def _guide_html(modified: float) -> SafeString:
    # Keyed by the file's modification time: an edited guide shows without a restart.
    return mark_safe(markdown_html(GUIDE.read_text(encoding="utf-8")))  # noqa: S308 (escaped)


@require_GET
def guide(request: HttpRequest) -> HttpResponse:
    """The analyst guide (every logged-in user)."""
    return render(request, "guide.html", {"guide": _guide_html(GUIDE.stat().st_mtime)})
