"""Small helpers shared by the tests."""

from __future__ import annotations

from documents import services


def annotate(user, document, needle, *, tags=("extradition",), note="", occurrence=0):
    """Tag the `occurrence`-th (from 0) `needle` in the document's text through the service,
    sending the quote as every client does."""
    start = -1
    for _ in range(occurrence + 1):
        start = document.text.index(needle, start + 1)
    return services.annotation_create(
        user=user,
        document=document,
        start=start,
        end=start + len(needle),
        quote=needle,
        tags=list(tags),
        note=note,
    )
