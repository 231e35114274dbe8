"""The chat page's tests: a real headless Chromium (Debian's package) driven by Playwright, against a live
server (uvicorn on loopback).

Playwright's own browser download needs the internet, so the tests launch the system browser
(``executable_path``): ``chromium`` on PATH, or ``TTOM_TEST_CHROMIUM``. ``.ci/run`` installs it with
apt-get when it is missing; where neither works the tests skip, saying so.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time

import pytest


def chromium_path() -> str | None:
    given = os.environ.get("TTOM_TEST_CHROMIUM")
    if given:
        return given
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    exe = chromium_path()
    if exe is None:
        pytest.skip("no Chromium to drive: apt-get install chromium (as .ci/run does), or set TTOM_TEST_CHROMIUM")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--autoplay-policy=no-user-gesture-required"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.js_errors = errors  # a test checks the page threw nothing
    yield pg
    ctx.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """uvicorn serving ``app`` on loopback in a thread of the test process."""

    def __init__(self, app) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def live_api():
    """``ttom serve api`` in the test process: the job API (in-process worker, SQLite jobs in the test's cache)
    with the page mounted, served by uvicorn on a free loopback port."""
    from ttom.serve.app import create_app
    from ttom.serve.config import ServeConfig

    server = LiveServer(create_app(ServeConfig(defaults={"device": "cpu"}, poll_s=0.2, flush_s=0.2)))
    with server as s:
        yield s


@pytest.fixture
def live_api_with_key():
    """The same, with an API key required on every /v1 call."""
    from ttom.serve.app import create_app
    from ttom.serve.config import ServeConfig

    app = create_app(ServeConfig(defaults={"device": "cpu"}, poll_s=0.2, flush_s=0.2, api_key="sesame-123"))
    with LiveServer(app) as s:
        yield s
