"""Contrast of text over a code's colour, by WCAG 2's formulas: pure functions, no Django.

Wherever a code's colour is a background (chips, pressed tag buttons), the text drawn over
it is black or white, whichever contrasts more. One of the two always reaches WCAG AA's
4.5:1 (the worse case, a mid grey, still gives about 4.6:1), so any colour an owner picks
stays readable.
"""

from __future__ import annotations

BLACK = "#000000"
WHITE = "#ffffff"

#: WCAG AA for normal text.
AA_CONTRAST = 4.5


def _channel(value: int) -> float:
    """One sRGB channel (0–255) as linear light, WCAG 2's formula."""
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(colour: str) -> float:
    """The relative luminance (0 black – 1 white) of a #rrggbb colour."""
    digits = colour.lstrip("#")
    if len(digits) != 6:
        raise ValueError(f"Give the colour as #rrggbb, not {colour!r}.")
    red, green, blue = (int(digits[i : i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _channel(red) + 0.7152 * _channel(green) + 0.0722 * _channel(blue)


def contrast_ratio(first: str, second: str) -> float:
    """The contrast ratio of two #rrggbb colours, from 1 (none) to 21 (black on white)."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def ink_for(background: str) -> str:
    """Black or white: the text colour that contrasts more with `background`."""
    return (
        BLACK if contrast_ratio(BLACK, background) >= contrast_ratio(WHITE, background) else WHITE
    )


#: How much of its code's colour a highlight's fill takes, over the page's white, by how many
#: annotations overlap there (1, 2, 3 or more): deeper overlaps read darker.
HIGHLIGHT_SHARES = (0.45, 0.60, 0.70)


def mix(colour: str, share: float, over: str = WHITE) -> str:
    """`share` of `colour` over `over`, channel by channel in sRGB (as CSS's
    `color-mix(in srgb, …)` mixes): the #rrggbb actually seen under a highlight's text."""
    top, bottom = (colour.lstrip("#"), over.lstrip("#"))
    channels = (
        round(int(top[i : i + 2], 16) * share + int(bottom[i : i + 2], 16) * (1 - share))
        for i in (0, 2, 4)
    )
    return "#" + "".join(f"{channel:02x}" for channel in channels)


def highlight_fills(colour: str) -> list[tuple[str, str]]:
    """(fill, ink) of a highlight in `colour` at each overlap depth: the text over a
    highlight takes the ink that meets WCAG AA over that fill, as over a chip."""
    fills = [mix(colour, share) for share in HIGHLIGHT_SHARES]
    return [(fill, ink_for(fill)) for fill in fills]
