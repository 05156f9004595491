from __future__ import annotations

from django.apps import AppConfig


class ResearchConfig(AppConfig):
    """What analysts do with the tagged passages: search the corpus, retrieve a code's
    passages with their citations, code search hits, export what they see."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "research"
