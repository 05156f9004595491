"""Analyst workspace speed: creating annotations (the htmx request) and the long document's page.

    .venv/bin/python -m bench.bench_workspace

Builds a fresh PostgreSQL database (sco_annotate_bench_workspace): the codebook and 200
documents, one of them 1,000,000 characters long carrying 2,000 annotations (a fifth of them
overlapping or nested in another), the others 5-30 KB with about 10 annotations each. Serves
the app with gunicorn on loopback and measures from an HTTP client (the standard library's,
on a kept-alive connection: see common.LeanClient; httpx's figure for the create is printed
too):

- the median time of the htmx request that creates an annotation, on an ordinary document
  and on the 1 MB one, and its response size (targets: under 6 ms, the same on both, kB);
- the median time of the 1 MB document's page with its 2,000 highlights (target: < 100 ms);
- Chromium's time to show that page, text and every highlight painted (target: < 1.5 s).

For scale it also times the cheapest logged-in request (GET /tags.css: session, user, one
small query), the floor under every figure above.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
from typing import Any

import psycopg

from bench import common
from tests.browser import CHROMIUM_ARGS

DATABASE = "sco_annotate_bench_workspace"
LONG_LENGTH = 1_000_000
LONG_ANNOTATIONS = 2_000
DOCUMENTS = 200

WORDS = common.WORDS
# Some paragraphs in other scripts, as in the sample corpus: Chinese, emoji and a character
# outside the BMP, Russian, Uyghur (right to left).
OTHER_SCRIPTS = [
    "考虑到国际形势及各种威胁的发展态势,应该刻不容缓地建立阻止极端主义思潮泛滥的条件。",
    "Emoji 👩🏽‍⚖️ and 𠀀 in a witness statement.",
    "Россия и Китай подписали договор о выдаче.",
    "ئۇيغۇر تىلى: بۇ بىر جۈملە.",
]


def make_text(generator: random.Random, number: int, length: int) -> str:
    paragraphs = [f"Document {number}: report on the organisation and its member states."]
    size = len(paragraphs[0]) + 1
    while size < length:
        if generator.random() < 0.05:
            paragraph = generator.choice(OTHER_SCRIPTS)
        else:
            words = generator.choices(WORDS, k=generator.randint(30, 140))
            paragraph = " ".join(words).capitalize() + "."
        paragraphs.append(paragraph)
        size += len(paragraph) + 1
    return "\n".join(paragraphs)[:length]


def random_spans(generator: random.Random, length: int, count: int) -> list[tuple[int, int]]:
    """Spans of 10-400 characters; every fifth one overlaps or nests in the one before."""
    spans: list[tuple[int, int]] = []
    for index in range(count):
        if index % 5 == 4 and spans:
            previous_start, previous_end = spans[-1]
            start = generator.randint(previous_start, previous_end - 1)
        else:
            start = generator.randrange(0, length - 500)
        end = min(length, start + generator.randint(10, 400))
        spans.append((start, end))
    return spans


def seed() -> dict[str, Any]:
    """The corpus, in bulk; returns what the measurements need."""
    from documents import sample, services
    from documents import text as textlib
    from documents.models import Annotation, Tag

    user = common.bench_user()
    project = common.bench_project()
    sample.load_codebook(project)
    tags = list(Tag.objects.active())
    generator = random.Random(4)
    documents = []
    for number in range(DOCUMENTS):
        length = LONG_LENGTH if number == 0 else generator.randint(5_000, 30_000)
        documents.append(
            services.document_create(
                user=user,
                project=project,
                text=make_text(generator, number, length),
                metadata=services.DocumentMetadata.from_mapping(
                    {
                        "title": f"Report {number}",
                        "organisation": generator.choice(["HRIC", "HRW", "FIDH", "SCO", "UN"]),
                        "language": "en",
                        "published": f"{generator.randint(2001, 2024)}",
                    }
                ),
            )
        )
    annotations = []
    chosen_tags = []
    for document in documents:
        count = LONG_ANNOTATIONS if document.length == LONG_LENGTH else 10
        for start, end in random_spans(generator, document.length, count):
            prefix, suffix = textlib.context(document.text, start, end)
            annotations.append(
                Annotation(
                    document=document,
                    start=start,
                    end=end,
                    quote=document.text[start:end],
                    prefix=prefix,
                    suffix=suffix,
                    note="Seeded for the benchmark." if start % 3 == 0 else "",
                    author=user,
                )
            )
            chosen_tags.append(generator.sample(tags, generator.choice([1, 1, 2, 3])))
    Annotation.objects.bulk_create(annotations, batch_size=2000)
    through = Annotation.tags.through
    through.objects.bulk_create(
        [
            through(annotation_id=annotation.pk, tag_id=tag.pk)
            for annotation, annotation_tags in zip(annotations, chosen_tags, strict=True)
            for tag in annotation_tags
        ],
        batch_size=5000,
    )
    long = documents[0]
    ordinary = next(d for d in documents[1:] if 9_000 < d.length < 12_000)
    return {
        "long": (long.pk, long.text),
        "ordinary": (ordinary.pk, ordinary.text),
        "tags": [tag.slug for tag in tags],
        "long_annotations": long.annotations.count(),
    }


def creator(client: Any, document: tuple[int, str], tags: list[str], sizes: list[int]) -> Any:
    """A call that tags a new random passage of the document through the htmx endpoint."""
    pk, text = document
    generator = random.Random(pk)
    headers = {"HX-Request": "true", "HX-Current-URL": f"/documents/{pk}/"}

    def create() -> None:
        start = generator.randrange(0, len(text) - 200)
        end = start + generator.randint(5, 150)
        quote = text[start:end]
        if not quote.strip() or quote != quote.strip():
            end = start + 1 + len(text[start + 1 : end].rstrip())
            start = start + 1
            quote = text[start:end]
        if not quote.strip() or quote != quote.strip():
            start, end = 0, 8
            quote = text[:8]
        response = client.post(
            f"/documents/{pk}/annotations/",
            data={
                "start": str(start),
                "end": str(end),
                "quote": quote,
                "tags": generator.sample(tags, 2),
                "note": "",
            },
            headers=headers,
        )
        if response.status_code != 200:
            raise RuntimeError(f"create failed: {response.status_code} {response.text[:300]}")
        sizes.append(len(response.content))

    return create


CHROMIUM_PAINTED_JS = """
async () => {
  // Two animation frames after load: the text and its highlights have been painted.
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  return {
    painted: performance.now(),
    marks: document.querySelectorAll("#document-text mark").length,
    annotations: new Set([...document.querySelectorAll("#document-text mark")]
      .flatMap((mark) => mark.dataset.a.split(" "))).size,
    textLength: [...document.getElementById("document-text").textContent].length,
  };
}
"""


def chromium_times(base_url: str, client: Any, path: str, repeat: int) -> list[dict[str, Any]]:
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("CHROMIUM_EXECUTABLE") or (
        "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None
    )
    cookies = [
        {"name": name, "value": value, "url": base_url} for name, value in client.cookies.items()
    ]
    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
        )
        for _ in range(repeat + 1):
            # A fresh context each time: nothing cached, like a first visit.
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.add_cookies(cookies)  # type: ignore[arg-type]
            page = context.new_page()
            page.goto(base_url + path, wait_until="load", timeout=60_000)
            results.append(page.evaluate(CHROMIUM_PAINTED_JS))
            context.close()
        browser.close()
    return results[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="creates per document")
    parser.add_argument("--page-repeat", type=int, default=30, help="document page loads")
    arguments = parser.parse_args()

    url = common.bench_database(DATABASE)
    common.django_setup(url)
    data = seed()
    long_pk, long_text = data["long"]
    print(
        f"corpus: {DOCUMENTS} documents; the long one #{long_pk} has {len(long_text)} "
        f"characters and {data['long_annotations']} annotations"
    )
    with common.serve(url) as server:
        logged_in = common.login(server.base_url)
        client = common.lean(logged_in)

        # For scale: the cheapest logged-in request (session, user and one small query), and
        # one database round trip, which every query of a request pays.
        baseline = common.timed(lambda: client.get("/tags.css"), repeat=arguments.repeat)
        print(common.summary("baseline: logged-in GET /tags.css", baseline))
        with psycopg.connect(url, autocommit=True) as connection:
            round_trip = common.timed(
                lambda: connection.execute("SELECT 1").fetchall(), repeat=arguments.repeat
            )
        print(common.summary("baseline: one PostgreSQL round trip (SELECT 1)", round_trip))

        page_sizes: list[int] = []

        def long_page() -> None:
            response = client.get(f"/documents/{long_pk}/")
            response.raise_for_status()
            page_sizes.append(len(response.content))

        page_samples = common.timed(long_page, repeat=arguments.page_repeat)
        print(common.summary("document page, 1 MB, 2,000 highlights", page_samples))
        print(f"  page size: {statistics.median(page_sizes) / 1024:.0f} KiB")

        for label, document in (("ordinary", data["ordinary"]), ("1 MB", data["long"])):
            sizes: list[int] = []
            call = creator(client, document, data["tags"], sizes)
            samples = common.timed(call, repeat=arguments.repeat)
            print(
                common.summary(
                    f"create annotation (htmx), {label} document of {len(document[1])} chars",
                    samples,
                )
            )
            print(
                f"  response size: median {statistics.median(sizes) / 1024:.1f} KiB, "
                f"max {max(sizes) / 1024:.1f} KiB"
            )

        page_samples = common.timed(long_page, repeat=arguments.page_repeat)
        print(common.summary("document page again, after the creates", page_samples))

        call = creator(logged_in, data["ordinary"], data["tags"], [])
        samples = common.timed(call, repeat=arguments.repeat)
        print(common.summary("for comparison, the same create timed from httpx", samples))

        results = chromium_times(server.base_url, logged_in, f"/documents/{long_pk}/", repeat=5)
        painted = [result["painted"] / 1000 for result in results]
        print(common.summary("Chromium: page shown with every highlight", painted))
        last = results[-1]
        print(
            f"  {last['marks']} <mark> elements for {last['annotations']} annotations; "
            f"text of {last['textLength']} characters"
        )
        print(f"  server RSS: {common.server_rss_kib(server.pid) / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
