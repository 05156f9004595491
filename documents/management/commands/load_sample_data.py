"""Load the sample corpus and the default codebook. Running it again changes nothing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from documents import sample


class Command(BaseCommand):
    help = (
        "Load the five sample documents on the SCO and human rights (with the clean-up the "
        "importer proposes; the original files are kept as scraped) and the default codebook."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        project, tags, documents = sample.load_sample_data()
        self.stdout.write(
            f"Project {project.name!r}: {tags} codes added to its codebook, {documents} "
            "documents added."
        )
