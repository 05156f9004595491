"""API latency while the login form is flooded with wrong passwords.

    .venv/bin/python -m bench.bench_login_flood [--threads 8] [--repeat 200]

Builds a small PostgreSQL database (the benchmark's user, its project and codebook, an API
token), serves the app with gunicorn on loopback and times a simple authenticated GET
(`GET /api/v1/tags/` with a bearer token, one query beyond the token's): with nothing else
running, then while `--threads` clients (each a process of its own) post wrong passwords
to `/accounts/login/` as fast as the server answers. Twice: with the lockout as configured
by default, and with its limits set out of reach (LOGIN_FAILURE_LIMIT and
LOGIN_ADDRESS_FAILURE_LIMIT of a billion), which is how the app answered before the
lockout existed: every attempt ran the password hasher. The issue measured 5 ms → 376 ms
for that case. Each flooding client logs in as the benchmark's user (its CSRF token from
one GET of the login page) with a wrong password, over its own kept-alive connection. A
locked-out attempt is answered 429 without the password hasher; it still reads the
failures, writes the access log and logs a warning, as on a server (send stderr elsewhere
to keep those lines out of the figures: `2>flood.log`).
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from bench import common

LIMITS_OUT_OF_REACH = {
    "LOGIN_FAILURE_LIMIT": "1000000000",
    "LOGIN_ADDRESS_FAILURE_LIMIT": "1000000000",
}
_FORM_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def seed() -> str:
    """The benchmark's user, project and codebook, and a read-only token for its API."""
    from documents import sample, services

    user = common.bench_user(staff=False)
    project = common.bench_project()
    sample.load_codebook(project)
    _, token = services.api_token_create(
        actor=None, user=user, name="benchmark", read_only=True, issued_with_mfa=True
    )
    return token


def forget_failures() -> None:
    """Lift every lockout and forget every failure, as `manage.py axes_reset` does."""
    from axes.models import AccessAttempt

    AccessAttempt.objects.all().delete()


#: What the flood counts, by answer: wrong password, locked out, anything else.
STATUSES = (200, 429, 0)


def flood(base_url: str, counts: Any, stop: Any, ready: Any) -> None:
    """One flooding client (a process of its own, so that the timing client never waits for
    it): wrong passwords for the benchmark's user until `stop` is set, each answer counted
    in the shared `counts` (by STATUSES)."""
    page = httpx.get(base_url + "/accounts/login/", timeout=60)
    found = _FORM_TOKEN.search(page.text)
    assert found, "no CSRF token on the login page"
    body = urlencode(
        {
            "username": common.BENCH_USERNAME,
            "password": "wrong-password",
            "csrfmiddlewaretoken": found.group(1),
        }
    ).encode()
    client = common.LeanClient(
        base_url,
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={page.cookies['csrftoken']}",
        },
    )
    ready.release()
    while not stop.is_set():
        status = client.request("POST", "/accounts/login/", body).status_code
        slot = STATUSES.index(status) if status in STATUSES else len(STATUSES) - 1
        with counts.get_lock():
            counts[slot] += 1


def load_average() -> str:
    """The load averages over 1, 5 and 15 minutes, as `uptime` prints them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def measure(
    url: str, token: str, *, threads: int, repeat: int, settings: dict[str, str] | None
) -> dict[str, Any]:
    """Latency of the GET without a flood and during one; the flood's answers and rate."""
    forget_failures()
    from django.db import connections

    connections.close_all()
    with common.serve(url, settings=settings) as server:
        api = common.LeanClient(server.base_url, {"Authorization": f"Bearer {token}"})

        def get() -> None:
            api.get("/api/v1/tags/").raise_for_status()

        quiet = common.timed(get, repeat=repeat)
        processes = multiprocessing.get_context("fork")
        counts = processes.Array("q", len(STATUSES))
        stop, ready = processes.Event(), processes.Semaphore(0)
        floods = [
            processes.Process(target=flood, args=(server.base_url, counts, stop, ready))
            for _ in range(threads)
        ]
        for one in floods:
            one.start()
        for _ in floods:
            ready.acquire(timeout=60)
        time.sleep(2)  # past the first failures, to the flood's steady state
        counted_before = sum(counts[:])
        started = time.perf_counter()
        flooded = common.timed(get, repeat=repeat, warmup=5)
        elapsed = time.perf_counter() - started
        counted = sum(counts[:]) - counted_before
        stop.set()
        for one in floods:
            one.join(timeout=120)
    return {
        "quiet": quiet,
        "flooded": flooded,
        "attempts_per_second": counted / elapsed,
        "statuses": {
            ("other" if status == 0 else status): count
            for status, count in zip(STATUSES, counts[:], strict=True)
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=200)
    options = parser.parse_args()

    url = common.bench_database("sco_annotate_bench_login")
    common.django_setup(url)
    token = seed()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=common.ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    print(f"commit {commit}; load average before: {load_average()}")
    for label, settings in (
        ("lockout on (5 per username and address, 30 per address)", None),
        (
            "lockout limits out of reach (every attempt hashed, as before the lockout)",
            LIMITS_OUT_OF_REACH,
        ),
    ):
        result = measure(
            url, token, threads=options.threads, repeat=options.repeat, settings=settings
        )
        print(f"{label}:")
        print("  " + common.summary("GET /api/v1/tags/, no flood", result["quiet"]))
        print(
            "  "
            + common.summary(
                f"GET /api/v1/tags/, {options.threads} threads flooding", result["flooded"]
            )
        )
        print(
            f"  flood: {result['attempts_per_second']:,.0f} login attempts/s while timed; "
            f"answers {result['statuses']} (200: wrong password, 429: locked out)"
        )
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
