"""What the pages and the API share around the selectors, as django.shortcuts does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404

T = TypeVar("T")


def found_or_404(read: Callable[..., T], **kwargs: Any) -> T:
    """What a selector reads, or a 404 if there is no such object the user may read (DRF
    answers the Http404 as a JSON 404)."""
    try:
        return read(**kwargs)
    except ObjectDoesNotExist:
        raise Http404("No such object, or not one you can read.") from None
