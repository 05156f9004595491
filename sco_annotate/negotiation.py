"""DRF's content negotiation, with an unknown ?format= answered as bad input.

Its own module: DRF's APIView reads this setting when rest_framework.views is imported, so
the class must not import the views.
"""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer


class ContentNegotiation(DefaultContentNegotiation):
    """An unknown ?format= is a 400 naming the formats there are (DRF answers 404)."""

    def filter_renderers(
        self, renderers: Iterable[BaseRenderer], format: str
    ) -> list[BaseRenderer]:
        renderers = list(renderers)
        matching = [renderer for renderer in renderers if renderer.format == format]
        if not matching:
            known = ", ".join(sorted({renderer.format for renderer in renderers}))
            raise exceptions.ValidationError(
                {"format": [f"Unknown format {format!r}; the formats here are: {known}."]}
            )
        return matching
