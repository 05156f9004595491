"""Import speed and memory: folders of 250, 500 and 1,000 plain-text files of 20 KB each.

    .venv/bin/python -m bench.bench_import

Each size is imported into a fresh PostgreSQL database (sco_annotate_bench_import, dropped
and created) by `manage.py import_documents` run in-process in a child process, so that each
run's peak memory (ru_maxrss) is its own. Target: 50 documents per second or more, and a
peak memory that does not grow with the number of files.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import common

DATABASE = "sco_annotate_bench_import"
FILE_BYTES = 20 * 1024
PARTS = (250, 250, 500)
SIZES = {250: 1, 500: 2, 1000: 3}  # files -> how many parts

WORDS = common.WORDS


def make_corpus(folder: Path) -> list[Path]:
    """Three folders of unique plain-text files of about 20 KB each."""
    generator = random.Random(2024)
    parts = []
    number = 0
    for index, count in enumerate(PARTS):
        part = folder / f"part{index + 1}"
        part.mkdir()
        for _ in range(count):
            number += 1
            paragraphs = [f"Document {number}: report on the organisation."]
            size = len(paragraphs[0])
            while size < FILE_BYTES:
                sentence = " ".join(generator.choices(WORDS, k=generator.randint(60, 120)))
                paragraph = sentence.capitalize() + "."
                paragraphs.append(paragraph)
                size += len(paragraph) + 2
            (part / f"doc-{number:04d}.txt").write_text("\n\n".join(paragraphs))
        parts.append(part)
    return parts


def _rss_kib() -> int:
    """This process's resident memory now (ru_maxrss only gives the peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def worker(database_url: str, folders: list[str]) -> None:
    """Child process: import the folders through the command, print seconds and peak KiB."""
    common.django_setup(database_url)
    from django.core.management import call_command

    from documents import extract

    # Load the language model first, so that the baseline includes it.
    extract.detect_language("The organisation and its member states met in the region.")
    project = common.bench_project()
    out = io.StringIO()
    rss_before = _rss_kib()
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    call_command(
        "import_documents", *folders, "--project", str(project.pk), stdout=out, stderr=io.StringIO()
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = out.getvalue().splitlines()[-1]
    print(f"{elapsed:.3f} {cpu:.3f} {rss_before} {_rss_kib()} {after.ru_maxrss} {summary}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1:])
        return
    with tempfile.TemporaryDirectory() as tmp:
        parts = make_corpus(Path(tmp))
        print(f"Corpus: {sum(PARTS)} files of about {FILE_BYTES // 1024} KB in {tmp}")
        for files, part_count in SIZES.items():
            url = common.bench_database(DATABASE)
            result = subprocess.run(
                [sys.executable, "-m", "bench.bench_import", "--worker", url]
                + [str(part) for part in parts[:part_count]],
                cwd=common.ROOT,
                env=common.server_env(url),
                capture_output=True,
                text=True,
                check=True,
            )
            line = result.stdout.strip().splitlines()[-1]
            seconds, cpu, rss_before, rss_after, peak_kib, summary = line.split(" ", 5)
            rate = files / float(seconds)
            print(
                f"{files:>5} files: {float(seconds):6.2f} s, {rate:6.1f} documents/s "
                f"({float(cpu) * 1000 / files:.1f} ms of importer CPU per document), "
                f"memory {int(rss_before) / 1024:.0f} MiB before, {int(rss_after) / 1024:.0f} MiB "
                f"after, peak {int(peak_kib) / 1024:.0f} MiB ({summary})"
            )
        print(f"Load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
