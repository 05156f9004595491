"""Chromium for the browser tests, driven by Playwright's sync API.

`make test` sets CHROMIUM_EXECUTABLE to the system's Chromium (/usr/bin/chromium); when it
is empty, Playwright's own installed browser is used. Without either, the tests fail: they
never skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, sync_playwright

#: Headless, and nothing that reaches for the network on its own (updates, sync, QUIC).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def launched_chromium() -> Iterator[Browser]:
    """A running Chromium. Playwright's sync API runs an event loop in this thread, next to
    which Django's ORM refuses to run unless told it may: the tests' queries run in this
    same thread while the browser waits."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=os.environ.get("CHROMIUM_EXECUTABLE") or None,
                headless=True,
                args=CHROMIUM_ARGS,
            )
            try:
                yield browser
            finally:
                browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
