"""After a change made behind the app's back (SQL run by hand, a restored backup), clear what
the app keeps of one document's list of annotations."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.core.management.base import BaseCommand
from django.db import transaction

from documents import services


class Command(BaseCommand):
    help = (
        "Forget every kept list of annotations and give every list a new version (ETag): run "
        "it after changing annotations, tags or user names with SQL or restoring a backup."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            services.shared_list_changed()
        cache.clear()
        self.stdout.write("Cleared the kept lists; every list has a new version.")
