"""gunicorn's hooks for bin/serve: the background worker (`manage.py db_worker`, which
indexes long imports for search) starts with the server and stops with it, so that one
command, and one process to signal, runs the whole app."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent

_worker: subprocess.Popen[bytes] | None = None


def _on(name: str, default: str) -> bool:
    # As settings.envbool reads it (this module runs before Django's settings are read).
    return os.environ.get(name, default).strip().lower() in ("1", "true", "yes", "on")


def on_starting(server: Any) -> None:
    global _worker
    if not (_on("BACKGROUND_TASKS", "0") and _on("RUN_WORKER", "1")):
        return
    _worker = subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--no-reload", "--queue-name", "*"],
        cwd=BASE_DIR,
    )
    server.log.info("Started the background worker (pid %s)", _worker.pid)


def on_exit(server: Any) -> None:
    if _worker is None or _worker.poll() is not None:
        return
    # db_worker finishes the task in hand on SIGTERM, then exits.
    _worker.terminate()
    try:
        _worker.wait(timeout=60)
    except subprocess.TimeoutExpired:
        _worker.kill()
