"""bin/serve, the web container's command, run outside Docker against the local PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import psycopg
import pytest

ROOT = Path(__file__).resolve().parent.parent
POSTGRES = os.environ.get("SERVE_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432")
DATABASE = "sco_annotate_serve_test"


@pytest.fixture
def fresh_database():
    try:
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"This test needs the local PostgreSQL at {POSTGRES}: {exc}")
    yield f"{POSTGRES}/{DATABASE}"
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_script_migrates_and_serves_the_app_with_static_files(fresh_database, tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": fresh_database,
        "SECRET_KEY": "serve-test-key-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "STATIC_ROOT": str(tmp_path / "static"),
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(ROOT / "bin" / "serve")],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90
        response = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        assert response is not None, log.read_text()
        assert response.status_code == 200
        assert "Content-Security-Policy" in response.headers
        css = httpx.get(f"http://127.0.0.1:{port}/static/css/app.css", timeout=5)
        assert css.status_code == 200
        assert (tmp_path / "static" / "staticfiles.json").exists()
        with psycopg.connect(fresh_database) as conn:
            tables = conn.execute(
                "select count(*) from information_schema.tables where table_name = %s",
                ["documents_annotation"],
            ).fetchone()
        assert tables == (1,)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
