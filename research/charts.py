"""Charts drawn by the app as SVG: a matrix as a grid of counts, a timeline as one row of
bars per code. Every count is written as a number, and shading only repeats it, so the
charts read without colour (and in greyscale print). Pure functions, no Django."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

#: A presentation attribute, not a style: the pages' CSP allows no inline styles.
FONT = 'font-family="system-ui, sans-serif"'
#: Shades of one blue, light to dark: a darker cell holds more passages.
_SHADES = ("#f4f7fb", "#dbe6f3", "#b5cde6", "#86acd4", "#4f81b8", "#24558f")


def _shade(count: int, most: int) -> tuple[str, str]:
    """Fill and text colour of a cell."""
    if count == 0 or most == 0:
        return "#ffffff", "#5f6b76"
    level = 1 + min(len(_SHADES) - 2, (count * (len(_SHADES) - 1) - 1) // most)
    return _SHADES[level], "#ffffff" if level >= 4 else "#1a1a1a"


def _text(value: str, limit: int) -> str:
    return escape(value if len(value) <= limit else value[: limit - 1] + "…")


def grid_svg(
    *,
    title: str,
    rows: Sequence[tuple[str, int, Sequence[int]]],
    columns: Sequence[str],
    most: int,
) -> str:
    """A grid: `rows` of (label, depth, counts), one count per column."""
    cell, label_width, head = 44, 230, 150
    width = max(640, label_width + cell * len(columns) + 10)
    row_height = 22
    height = 40 + head + row_height * len(rows) + 10
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="chart-title" {FONT}>',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="4" y="20" font-size="15" font-weight="bold">{_text(title, width // 9)}</text>',
    ]
    top = 40 + head
    for c, name in enumerate(columns):
        x = label_width + c * cell + cell / 2
        out.append(
            f'<text x="{x}" y="{top - 6}" font-size="11" transform="rotate(-50 {x} {top - 6})">'
            f"{_text(name, 28)}</text>"
        )
    for r, (label, depth, counts) in enumerate(rows):
        y = top + r * row_height
        out.append(
            f'<text x="{4 + 12 * depth}" y="{y + 15}" font-size="12">{_text(label, 32 - 2 * depth)}'
            "</text>"
        )
        for c, count in enumerate(counts):
            fill, ink = _shade(count, most)
            x = label_width + c * cell
            out.append(
                f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{row_height - 2}" '
                f'fill="{fill}" stroke="#d5dbe1"/>'
                f'<text x="{x + cell / 2 - 1}" y="{y + 15}" font-size="12" text-anchor="middle" '
                f'fill="{ink}">{count}</text>'
            )
    out.append("</svg>")
    return "\n".join(out)


def timeline_svg(
    *, title: str, years: Sequence[int], rows: Sequence[tuple[str, int, Sequence[int]]], most: int
) -> str:
    """One row of bars per code, a bar per year, every bar's count written above it; the
    same scale for every row, so that rows compare."""
    # Bars as wide as fits in about 640 points: a few years get wide bars, decades narrow.
    label_width, row_height = 230, 46
    bar = max(8, min(40, 560 // max(1, len(years))))
    width = max(640, label_width + bar * len(years) + 20)
    height = 40 + row_height * len(rows) + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="chart-title" {FONT}>',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="4" y="20" font-size="15" font-weight="bold">{_text(title, width // 9)}</text>',
    ]
    for r, (label, depth, counts) in enumerate(rows):
        base = 40 + (r + 1) * row_height - 8
        out.append(
            f'<text x="{4 + 12 * depth}" y="{base - 4}" font-size="12">'
            f"{_text(label, 32 - 2 * depth)} ({sum(counts)})</text>"
            f'<line x1="{label_width}" x2="{label_width + bar * len(years)}" y1="{base}" '
            f'y2="{base}" stroke="#8a949e"/>'
        )
        for c, count in enumerate(counts):
            if not count:
                continue
            tall = max(2, round((row_height - 20) * count / most)) if most else 0
            x = label_width + c * bar
            size = 9 if bar >= 14 else 7
            out.append(
                f'<rect x="{x + 1}" y="{base - tall}" width="{bar - 2}" height="{tall}" '
                f'fill="#24558f"><title>{years[c]}: {count}</title></rect>'
                f'<text x="{x + bar / 2}" y="{base - tall - 2}" font-size="{size}" '
                f'text-anchor="middle">{count}</text>'
            )
    axis = 40 + row_height * len(rows) + 14
    step = max(1, (len(years) + 11) // 12)
    for c, year in enumerate(years):
        if c % step == 0 or c == len(years) - 1:
            middle = label_width + c * bar + bar / 2
            out.append(
                f'<text x="{middle}" y="{axis}" font-size="10" text-anchor="middle">{year}</text>'
            )
    out.append("</svg>")
    return "\n".join(out)
