from __future__ import annotations

from django.apps import AppConfig


class MemosConfig(AppConfig):
    """Memos: what researchers write about the project, a code or a document, each kept
    with every earlier version of its text."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "memos"
