"""Code comparisons at a million passages: the matrix, the co-occurrence table, the timeline.

    .venv/bin/python -m bench.bench_research --seed-only     # once: the data set
    .venv/bin/python -m bench.bench_analysis [--repeat 10]

Reads the database `bench_research` seeds (10,000 documents, 1,000,000 passages, the sample
codebook of 13 codes, five coders), gives every document a choice attribute (for the code ×
attribute matrix) and measures, in this process, each comparison as its page computes it
(`research.analysis`, without the page's own cache):

1. after the documents' summaries are dropped (what a project meets once after an
   upgrade, and after its codebook's tree changes): (a) each comparison with a background
   worker, counted from the passages while the recount is queued; (b) the worker's recount
   of every document;
2. each with the summaries kept (median and p95 of --repeat);
3. each right after a passage is written to one document (that document summed up again);
4. the pages themselves (Django's test client, logged in), each after a write, so that the
   page's cache of its last answer does not answer for it.

Targets: the matrices and co-occurrence < 500 ms, the timeline < 300 ms.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench import common

DATABASE = "bench_research"
ATTRIBUTE = "legal-status"
STATUSES = ("treaty", "declaration", "report", "statement")


def load_average() -> str:
    with open("/proc/loadavg") as fp:
        return " ".join(fp.read().split()[:3])


def timed(call: Callable[[], Any], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):.0f} ms, p95 {p95:.0f} ms"


def ensure_attribute(project: Any) -> None:
    """A choice attribute with a value on every document (bulk, once)."""
    from documents.models import Attribute, AttributeKind, AttributeValue, Document

    attribute, created = Attribute.objects.get_or_create(
        project=project,
        slug=ATTRIBUTE,
        defaults={
            "name": "Legal status",
            "kind": AttributeKind.CHOICE,
            "choices": list(STATUSES),
        },
    )
    if not created and AttributeValue.objects.filter(attribute=attribute).exists():
        return
    ids = Document.objects.filter(project=project).order_by("pk").values_list("pk", flat=True)
    AttributeValue.objects.bulk_create(
        [
            AttributeValue(
                attribute=attribute, document_id=pk, value_text=STATUSES[pk % len(STATUSES)]
            )
            for pk in ids
        ],
        batch_size=2000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--repeat", type=int, default=10)
    options = parser.parse_args()
    common.django_setup(f"{common.SERVER_URL}/{options.database}")

    from django.conf import settings
    from django.test import Client
    from django.urls import reverse

    from documents import services
    from documents.models import Annotation, Document
    from research import analysis
    from research.models import DocumentCodes
    from research.selectors import PassageFilter

    settings.ALLOWED_HOSTS = ["testserver", *settings.ALLOWED_HOSTS]
    user = common.bench_user()
    project = common.bench_project()
    ensure_attribute(project)
    print(
        f"{Document.objects.filter(project=project).count():,} documents, "
        f"{Annotation.objects.alive().filter(document__project=project).count():,} passages; "
        f"load average {load_average()} at the start",
        flush=True,
    )
    filters = PassageFilter(project=project.pk)

    def matrix(dimension: str) -> Callable[[], Any]:
        return lambda: analysis.code_matrix(user=user, filters=filters, dimension=dimension)

    cases: list[tuple[str, Callable[[], Any], int]] = [
        (f"matrix × {dimension}", matrix(dimension), 500)
        for dimension in ("organisation", "document", f"attr.{ATTRIBUTE}", "coder")
    ]
    cases += [
        (
            "matrix × document, a page of 100 columns",
            lambda: analysis.code_matrix(
                user=user, filters=filters, dimension="document", window=slice(0, 100)
            ),
            500,
        ),
        (
            "matrix × organisation, one coder, published 2005-2010",
            lambda: analysis.code_matrix(
                user=user,
                filters=PassageFilter(
                    project=project.pk,
                    coders=("coder2",),
                    published_after=datetime.date(2005, 1, 1),
                    published_before=datetime.date(2010, 12, 31),
                ),
                dimension="organisation",
            ),
            500,
        ),
        ("co-occurrence", lambda: analysis.cooccurrence(user=user, filters=filters), 500),
        ("timeline", lambda: analysis.timeline(user=user, filters=filters), 300),
    ]

    DocumentCodes.objects.filter(document__project=project).delete()
    print("\n1a. summaries dropped, with a background worker: counted from the passages")
    import research.tasks

    queued: list[int] = []
    real_queue = research.tasks.queue_recount

    def no_worker(project_id: int) -> bool:
        """Keeps what the page queued: the worker's turn is timed on its own (1b)."""
        queued.append(project_id)
        return True

    settings.BACKGROUND_TASKS = True
    research.tasks.queue_recount = no_worker  # type: ignore[assignment]
    try:
        for label, call, _ in cases:
            samples = timed(call, 1)
            print(f"   {label}: {samples[0]:.0f} ms", flush=True)
    finally:
        research.tasks.queue_recount = real_queue
        settings.BACKGROUND_TASKS = False
    print(f"   pages that asked for a recount: {len(queued)} (the queue keeps one)", flush=True)
    started = time.perf_counter()
    made = research.tasks.recount.call(project.pk)
    print(
        f"\n1b. the worker's recount of every document ({made:,}): "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )

    print("\n2. summaries kept:")
    for label, call, target in cases:
        call()
        samples = timed(call, options.repeat)
        met = "met" if statistics.median(samples) < target else "NOT met"
        print(f"   {label}: {summary(samples)} (< {target} ms: {met})", flush=True)

    documents = list(
        Document.objects.filter(project=project).order_by("pk").values_list("pk", flat=True)
    )
    written = iter(range(10**9))

    def write() -> None:
        # One passage on the next document, as a coder's save makes it.
        document = Document.objects.get(pk=documents[next(written) % len(documents)])
        services.annotation_create(
            user=user, document=document, start=0, end=5, tags=["extradition"]
        )

    print("\n3. right after a passage is written to one document:")
    for label, call, target in cases:
        samples = []
        for _ in range(options.repeat):
            write()
            samples.extend(timed(call, 1))
        met = "met" if statistics.median(samples) < target else "NOT met"
        print(f"   {label}: {summary(samples)} (< {target} ms: {met})", flush=True)

    print("\n4. the pages, each after a write:")
    client = Client()
    client.force_login(user)
    pages = [
        ("matrix × organisation", "research:matrix", {"by": "organisation"}, 500),
        ("matrix × document", "research:matrix", {"by": "document"}, 500),
        ("matrix × attribute", "research:matrix", {"by": f"attr.{ATTRIBUTE}"}, 500),
        ("co-occurrence", "research:cooccurrence", {}, 500),
        ("timeline", "research:timeline", {}, 300),
    ]
    for label, name, params, target in pages:
        url = reverse(name, args=[project.pk])

        def page(url: str = url, params: dict[str, str] = params) -> None:
            answer = client.get(url, params)
            assert answer.status_code == 200, answer.status_code

        page()
        samples = []
        for _ in range(options.repeat):
            write()
            samples.extend(timed(page, 1))
        met = "met" if statistics.median(samples) < target else "NOT met"
        print(f"   {label}: {summary(samples)} (< {target} ms: {met})", flush=True)
    print(f"\nload average {load_average()} at the end; pid {os.getpid()}")


if __name__ == "__main__":
    main()
