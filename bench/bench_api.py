"""API speed: one document's annotations, cursor pages at any depth, JSONL export, create.

    .venv/bin/python -m bench.bench_api [--annotations 1000000] [--documents 10000] [--only PART]

Builds a PostgreSQL database of 10,000 documents and 1,000,000 annotations (one long
document holds 2,000 of them), bulk-loaded with COPY, serves the app with gunicorn on
loopback and measures from an HTTP client with a bearer token (the standard library's on a
kept-alive connection, common.LeanClient, parsing the JSON it receives; httpx streams the
export, and its figures for the create and the long document are printed too for
comparison). Targets (issue 5): all 2,000
annotations of one document < 25 ms; a page of 500 < 30 ms median at any cursor depth;
JSONL export >= 50,000 annotations/s with the server's memory flat; create < 5 ms median.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import random
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench import common

LONG_DOCUMENT_ANNOTATIONS = 2000
SENTENCE = (
    "The parties shall extradite persons accused of terrorism, separatism or extremism, "
    "and shall deny asylum to them; human-rights bodies report returns without due process. "
)


def _text(number: int, sentences: int) -> str:
    return f"Document {number}. " + SENTENCE * sentences


def seed(*, documents: int, annotations: int) -> dict[str, Any]:
    """Documents through the ORM in bulk, annotations and their tags with COPY."""
    from django.db import connection

    from documents import sample, text
    from documents.models import Annotation, Document, Tag

    started = time.perf_counter()
    user = common.bench_user()
    project = common.bench_project()
    sample.load_codebook(project)
    tag_ids = list(Tag.objects.order_by("pk").values_list("pk", flat=True))
    now = datetime.datetime.now(datetime.UTC)
    texts = [_text(0, 600)] + [_text(n, 30) for n in range(1, documents)]
    batch = []
    for number, body in enumerate(texts):
        batch.append(
            Document(
                project=project,
                title=f"Benchmark document {number}",
                organisation=("Human Rights Watch", "SCO Secretariat", "Amnesty")[number % 3],
                language="en",
                document_type="report",
                text=body,
                length=len(body),
                sha256=text.text_sha256(body),
                imported_by=user,
            )
        )
    Document.objects.bulk_create(batch, batch_size=500)
    document_ids = list(Document.objects.order_by("pk").values_list("pk", flat=True))

    # Annotations: the long document gets LONG_DOCUMENT_ANNOTATIONS, the rest share the
    # remainder. Timestamps are distinct and increasing, as real edits would be.
    per_document = [LONG_DOCUMENT_ANNOTATIONS] + [0] * (documents - 1)
    for index in range(annotations - LONG_DOCUMENT_ANNOTATIONS):
        per_document[1 + index % (documents - 1)] += 1
    rng = random.Random(5)
    buffer = io.StringIO()
    step = datetime.timedelta(milliseconds=10)
    created = now - step * annotations
    count = 0
    for document_id, body, n in zip(document_ids, texts, per_document, strict=True):
        length = len(body)
        for _ in range(n):
            start = rng.randrange(0, length - 60)
            end = start + rng.randrange(5, 60)
            quote = body[start:end]
            prefix, suffix = text.context(body, start, end)
            stamp = (created + step * count).isoformat()
            buffer.write(
                f"{document_id}\t{start}\t{end}\t{quote}\t{prefix}\t{suffix}\t\t{user.pk}\t"
                f"{stamp}\t{stamp}\t1\n"
            )
            count += 1
    buffer.seek(0)
    columns = (
        "document_id",
        "start",
        '"end"',
        "quote",
        "prefix",
        "suffix",
        "note",
        "author_id",
        "created",
        "updated",
        "version",
    )
    table = Annotation._meta.db_table
    tags_table = Annotation.tags.through._meta.db_table
    raw = connection.connection
    with connection.cursor() as cursor:
        assert raw is not None
        with raw.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            copy.write(buffer.getvalue())
        # One tag each, a second one on every third annotation.
        ids = ",".join(str(pk) for pk in tag_ids)
        cursor.execute(
            f"INSERT INTO {tags_table} (annotation_id, tag_id) "
            f"SELECT id, (ARRAY[{ids}])[1 + id % {len(tag_ids)}] FROM {table}"
        )
        cursor.execute(
            f"INSERT INTO {tags_table} (annotation_id, tag_id) "
            f"SELECT id, (ARRAY[{ids}])[1 + (id / 3 + 1) % {len(tag_ids)}] FROM {table} "
            f"WHERE id % 3 = 0 AND (id / 3 + 1) % {len(tag_ids)} <> id % {len(tag_ids)}"
        )
        cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute(f"VACUUM ANALYZE {tags_table}")
        cursor.execute(f"VACUUM ANALYZE {Document._meta.db_table}")
        # Every read joins through these; a server analyses them as they change (projects
        # migration 0002), a fresh benchmark database now.
        cursor.execute("ANALYZE projects_membership")
        cursor.execute("ANALYZE projects_project")
    print(
        f"seeded {len(document_ids)} documents and {count} annotations "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return {
        "long_document": document_ids[0],
        "long_annotation": _first_annotation(document_ids[0]),
        "texts": texts,
        "document_ids": document_ids,
    }


def _first_annotation(document_id: int) -> int:
    from documents.models import Annotation

    pk: int = (
        Annotation.objects.filter(document_id=document_id)
        .order_by("pk")
        .values_list("pk", flat=True)[0]
    )
    return pk


def seeded() -> dict[str, Any]:
    """What `seed` returns, read back from a database it seeded before."""
    from documents.models import Document

    documents = list(Document.objects.order_by("pk").values_list("pk", "text"))
    return {
        "long_document": documents[0][0],
        "long_annotation": _first_annotation(documents[0][0]),
        "texts": [text for _, text in documents],
        "document_ids": [pk for pk, _ in documents],
    }


def cursor_at(position: int) -> str:
    """The API's cursor for the page that starts after `position` in (updated, id) order."""
    from documents.api import encode_cursor
    from documents.models import Annotation

    key = (
        Annotation.objects.order_by("updated", "id")
        .values_list("updated", "id")[position : position + 1]
        .get()
    )
    return encode_cursor(list(key))


def load_average() -> str:
    """The 1-minute load average: on 2 cores, above 1 means others compete for the CPU."""
    return Path("/proc/loadavg").read_text().split()[0]


class RssSampler(threading.Thread):
    """The server's resident memory every 0.2 s while a measurement runs."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[int] = []
        self.running = True

    def run(self) -> None:
        while self.running:
            self.samples.append(common.server_rss_kib(self.pid))
            time.sleep(0.2)


#: The parts of a run: one document's annotations, pages at depth, the export, creates.
PARTS = ("document", "pages", "export", "create")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--annotations", type=int, default=1_000_000)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument(
        "--reuse", action="store_true", help="Measure the database a previous run seeded."
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=PARTS,
        help="Measure this part only, after the baseline (repeat for several).",
    )
    options = parser.parse_args()
    parts = set(options.only or PARTS)

    if options.reuse:
        url = f"{common.SERVER_URL}/sco_annotate_bench_api"
        common.django_setup(url)
        data = seeded()
    else:
        url = common.bench_database("sco_annotate_bench_api")
        common.django_setup(url)
        data = seed(documents=options.documents, annotations=options.annotations)
    from documents import services

    _, token = services.api_token_create(
        actor=None, user=common.bench_user(), name="benchmark", read_only=False
    )
    from documents.models import Annotation

    total = Annotation.objects.alive().count()
    cursors = {
        "first": None,
        "middle": cursor_at(total // 2),
        "last": cursor_at(total - 501),
    }
    from django.db import connections

    connections.close_all()
    repeat = options.repeat
    # A sync worker that spends longer than gunicorn's --timeout (30 s) on one request is
    # killed, and a busy machine can take that long to stream a million annotations: a
    # server for big exports needs a longer timeout (or gthread workers) too.
    os.environ["GUNICORN_CMD_ARGS"] = "--timeout 300"
    # Other work on the machine moves these figures a lot: say how busy it was.
    print(f"load average before: {load_average()}")
    with common.serve(url) as server:
        streaming = httpx.Client(
            base_url=server.base_url,
            timeout=300,
            headers={"Authorization": f"Bearer {token}"},
        )
        client = common.lean(streaming)

        def baseline() -> None:
            client.get("/api/v1/tags/").raise_for_status()

        samples = common.timed(baseline, repeat=repeat)
        print(common.summary("baseline: GET /api/v1/tags/ (token, one query)", samples))

        if "document" in parts:
            long_list = f"/api/v1/documents/{data['long_document']}/annotations/"

            def one_document(http: Any) -> Callable[[], None]:
                def call() -> None:
                    response = http.get(long_list)
                    response.raise_for_status()
                    assert response.json()["count"] >= LONG_DOCUMENT_ANNOTATIONS

                return call

            samples = common.timed(one_document(client), repeat=repeat)
            print(
                common.summary(
                    f"all {LONG_DOCUMENT_ANNOTATIONS} annotations of one document "
                    "(GET /api/v1/documents/ID/annotations/, list kept)",
                    samples,
                )
            )

            # The same request right after a change to the list: formatted afresh by the worker
            # that answers (the change itself is not timed).
            changed = data["long_annotation"]
            notes = iter(range(10**9))

            def change() -> None:
                response = client.request(
                    "PATCH",
                    f"/api/v1/annotations/{changed}/",
                    json.dumps({"note": f"Note {next(notes)}"}).encode(),
                    {"Content-Type": "application/json"},
                )
                response.raise_for_status()

            afresh = []
            for _ in range(repeat + 10):
                change()
                started = time.perf_counter()
                one_document(client)()
                afresh.append(time.perf_counter() - started)
            print(
                common.summary(
                    f"all {LONG_DOCUMENT_ANNOTATIONS} annotations of one document, "
                    "right after a change (formatted afresh)",
                    afresh[10:],
                )
            )

            etag = client.get(long_list).headers["ETag"]

            def unchanged() -> None:
                response = client.get(long_list, headers={"If-None-Match": etag})
                assert response.status_code == 304, response.status_code

            samples = common.timed(unchanged, repeat=repeat)
            print(common.summary("the same with If-None-Match, unchanged (304)", samples))

            def one_document_paged() -> int:
                query = f"/api/v1/annotations/?document={data['long_document']}&page_size=1000"
                seen = 0
                next_url: str | None = query
                while next_url:
                    response = client.get(next_url)
                    response.raise_for_status()
                    body = response.json()
                    seen += len(body["results"])
                    next_url = body["next"]
                assert seen >= LONG_DOCUMENT_ANNOTATIONS, seen
                return seen

            samples = common.timed(one_document_paged, repeat=repeat)
            print(
                common.summary(
                    f"all {LONG_DOCUMENT_ANNOTATIONS} annotations of one document "
                    "(?document=ID, 2 pages of 1,000)",
                    samples,
                )
            )

        if "pages" in parts:
            for name, cursor in cursors.items():
                query = "/api/v1/annotations/?page_size=500" + (
                    f"&cursor={cursor}" if cursor else ""
                )

                def page(query: str = query) -> None:
                    response = client.get(query)
                    response.raise_for_status()
                    assert len(response.json()["results"]) == 500

                samples = common.timed(page, repeat=repeat)
                median = statistics.median(samples)
                print(
                    common.summary(f"page of 500, {name} cursor", samples)
                    + f" = {500 / median:,.0f} annotations/s"
                )

        if "export" in parts:
            rss_before = common.server_rss_kib(server.pid)
            sampler = RssSampler(server.pid)
            sampler.start()
            started = time.perf_counter()
            lines = 0
            with streaming.stream("GET", "/api/v1/export/annotations.jsonl") as response:
                response.raise_for_status()
                for chunk in response.iter_bytes():
                    lines += chunk.count(b"\n")
            elapsed = time.perf_counter() - started
            sampler.running = False
            sampler.join()
            assert lines == total, lines
            print(
                f"JSONL export: {lines:,} annotations in {elapsed:.1f} s = "
                f"{lines / elapsed:,.0f} annotations/s; server RSS {rss_before / 1024:.0f} MiB "
                f"before, {min(sampler.samples) / 1024:.0f}-{max(sampler.samples) / 1024:.0f} MiB "
                "during"
            )

        if "create" in parts:
            rng = random.Random(7)
            texts, ids = data["texts"], data["document_ids"]

            def creator(http: Any) -> Callable[[], None]:
                def create() -> None:
                    index = rng.randrange(len(ids))
                    start = rng.randrange(0, len(texts[index]) - 40)
                    response = http.post(
                        "/api/v1/annotations/",
                        json={
                            "document": ids[index],
                            "start": start,
                            "end": start + 30,
                            "tags": ["extradition"],
                            "quote": texts[index][start : start + 30],
                        },
                    )
                    if response.status_code != 201:
                        raise RuntimeError(response.text)

                return create

            samples = common.timed(creator(client), repeat=max(repeat, 200))
            print(common.summary("create annotation", samples))
            samples = common.timed(creator(streaming), repeat=max(repeat, 200))
            print(common.summary("for comparison, create timed from httpx", samples))
        if "document" in parts and "create" in parts:
            samples = common.timed(one_document(streaming), repeat=repeat)
            print(common.summary("for comparison, one document's annotations from httpx", samples))
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
