"""Shared plumbing for the benchmark scripts.

A benchmark builds its own PostgreSQL database (never the one you work in), seeds it, serves
the app with gunicorn on loopback as a deployment would, and measures from an HTTP client.

    from bench import common
    url = common.bench_database("sco_annotate_bench_api")   # dropped and created afresh
    common.django_setup(url)                                 # to seed in-process with the ORM
    ... seed ...
    with common.serve(url) as server:
        client = common.login(server.base_url)
        samples = common.timed(lambda: client.get("/"), repeat=50)
        print(common.summary("list page", samples))
        print(common.server_rss_kib(server.pid))
"""

from __future__ import annotations

import http.client
import json as jsonlib
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
SERVER_URL = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
BENCH_USERNAME = "bench"
BENCH_PASSWORD = "bench-password-not-secret"
SECRET_KEY = "benchmark-only-key-not-secret-0123456789"


def bench_database(name: str) -> str:
    """Drop and create a PostgreSQL database, apply migrations, return its DATABASE_URL."""
    with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{SERVER_URL}/{name}"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=server_env(url),
        check=True,
    )
    return url


def server_env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY=SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DEBUG="0",
        LOG_LEVEL="WARNING",
        # The benchmark's admin logs in with its password alone, as the demo's does.
        MFA_REQUIRED_FOR_ADMINS="0",
    )
    return env


def django_setup(database_url: str) -> None:
    """Point this process's Django at the benchmark database, to seed it with the ORM."""
    os.environ.update(server_env(database_url))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sco_annotate.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def bench_user(*, staff: bool = True) -> Any:
    """The benchmark's user (created once), an admin unless staff=False."""
    from django.contrib.auth.models import User

    user, created = User.objects.get_or_create(
        username=BENCH_USERNAME, defaults={"is_staff": staff, "is_superuser": staff}
    )
    if created:
        user.set_password(BENCH_PASSWORD)
        user.save()
    return user


def bench_project() -> Any:
    """The benchmark's project (created once), owned by the benchmark's user."""
    from projects.models import Membership, Project, Role

    project, _ = Project.objects.get_or_create(name="Benchmark")
    Membership.objects.get_or_create(
        project=project, user=bench_user(), defaults={"role": Role.OWNER}
    )
    return project


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Server:
    base_url: str
    #: gunicorn's master process; its workers are its children.
    pid: int


@contextmanager
def serve(
    database_url: str,
    *,
    workers: int = 2,
    threads: int = 4,
    settings: dict[str, str] | None = None,
) -> Iterator[Server]:
    """Run the app under gunicorn on a free loopback port, configured as bin/serve does it
    (threaded workers, which keep connections alive), with one worker per core; `settings`
    are environment variables to set for it beyond server_env's."""
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "sco_annotate.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--timeout",
            "120",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**server_env(database_url), **(settings or {})},
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base_url + "/accounts/login/", timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.2)
        yield Server(base_url=base_url, pid=process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


def server_rss_kib(pid: int) -> int:
    """Resident memory of a process and its children (gunicorn's workers), in KiB."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(child) for child in children.read_text().split()]
    for one in pids:
        for line in Path(f"/proc/{one}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


@dataclass
class Response:
    status_code: int
    content: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.content.decode()

    def json(self) -> Any:
        return jsonlib.loads(self.content)

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise RuntimeError(f"HTTP {self.status_code}: {self.content[:300]!r}")


class LeanClient:
    """HTTP/1.1 over one kept-alive connection, with the standard library's http.client.

    The timings are the server's: httpx spends 2-3 ms of Python per form POST on the
    reference machine, as much as some of the requests it would be timing. The benchmarks
    time with this client and report httpx's figures beside them for comparison.
    """

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        self.connection = http.client.HTTPConnection(parts.hostname or "", parts.port or 80)
        self.headers = dict(headers or {})

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        for attempt in (1, 2):
            try:
                self.connection.request(
                    method, path, body=body, headers={**self.headers, **(headers or {})}
                )
                answer = self.connection.getresponse()
                return Response(answer.status, answer.read(), dict(answer.getheaders()))
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                # The server closed the idle connection (gunicorn keeps one alive for a few
                # seconds): open a new one, once.
                self.connection.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def get(self, path: str, headers: dict[str, str] | None = None) -> Response:
        return self.request("GET", path, headers=headers)

    def post(
        self,
        path: str,
        *,
        data: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """A form (data=) or a JSON body (json=), as httpx.Client.post takes them."""
        if json is not None:
            body = jsonlib.dumps(json).encode()
            kind = "application/json"
        else:
            body = urlencode(data or {}, doseq=True).encode()
            kind = "application/x-www-form-urlencoded"
        return self.request("POST", path, body, {"Content-Type": kind, **(headers or {})})


def lean(client: httpx.Client) -> LeanClient:
    """A LeanClient sending what `client` sends: its headers and cookies."""
    cookies = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    headers = {
        name: value
        for name, value in client.headers.items()
        if name.lower() not in {"host", "accept-encoding", "connection", "user-agent"}
    }
    if cookies:
        headers["Cookie"] = cookies
    return LeanClient(str(client.base_url), headers)


def login(
    base_url: str, username: str = BENCH_USERNAME, password: str = BENCH_PASSWORD
) -> httpx.Client:
    """An HTTP client with a logged-in session and the CSRF header htmx would send."""
    client = httpx.Client(base_url=base_url, timeout=60)
    client.get("/accounts/login/")
    token = client.cookies["csrftoken"]
    response = client.post(
        "/accounts/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": base_url + "/accounts/login/"},
    )
    if "sessionid" not in client.cookies:
        raise RuntimeError(f"login failed ({response.status_code})")
    client.headers["X-CSRFToken"] = client.cookies["csrftoken"]
    client.headers["Referer"] = base_url + "/"
    return client


def timed(call: Callable[[], Any], *, repeat: int, warmup: int = 30) -> list[float]:
    """Wall-clock seconds of `repeat` calls, after `warmup` untimed ones.

    The warm-up reaches the steady state a served app is in: each of gunicorn's threads has
    its own database connection, on which PostgreSQL prepares a statement at its fifth run.
    """
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def summary(label: str, samples: list[float]) -> str:
    """One line: median, 90th percentile, min and max in milliseconds."""
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return (
        f"{label}: median {statistics.median(ordered) * 1000:.2f} ms, "
        f"p90 {p90 * 1000:.2f} ms, min {ordered[0] * 1000:.2f} ms, "
        f"max {ordered[-1] * 1000:.2f} ms (n={len(ordered)})"
    )


# Words enough for the language detector to see English and for every generated text to
# differ: the benchmarks' filler.
VOCABULARY = (
    "the organisation member states cooperation security extradition asylum refugees "
    "human rights terrorism separatism extremism convention charter council report "
    "government court detention torture minority religious freedom expression assembly "
    "central asia region border police surveillance list database request evidence "
    "international law obligations treaty protection return deportation risk persecution "
    "was were has have been is are will would could should and or but with without for "
    "of in on at by from to under against between during after before about which that"
)
WORDS = VOCABULARY.split()
