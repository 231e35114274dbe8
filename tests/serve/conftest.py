"""Fixtures for the service tests: the real FastAPI application on the real job store and agent graph.

``make_client()`` builds the application as ``ttom serve api`` does (tiny model on the CPU by
default, few steps) and opens it with FastAPI's TestClient; ``make_client(start=False)`` leaves
its lifespan closed, so no worker takes the jobs: for what the API says before any GPU work.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from tests.engine.conftest import TWO_OBJECTS  # noqa: F401 (the tests' layout)

PROMPT = TWO_OBJECTS["prompt"]
# the whole graph in a few seconds on a 2-core CPU
FAST = {"steps": 3, "tto": {"steps": 1, "iterations": 2}, "critic": "off"}
FINAL = ("completed", "failed", "cancelled")


@pytest.fixture
def make_client() -> Iterator[Callable]:
    from fastapi.testclient import TestClient

    from ttom.serve.app import create_app
    from ttom.serve.config import ServeConfig

    opened = []

    def make(start: bool = True, **config):
        defaults = config.pop("defaults", {"model": "tiny-cogvideox"})
        cfg = ServeConfig(**{"poll_s": 0.05, "flush_s": 0.1, "device": "cpu", "defaults": defaults, **config})
        app = create_app(cfg)
        client = TestClient(app)
        if start:
            client.__enter__()
        opened.append((client, start))
        return client

    yield make
    for client, started in reversed(opened):
        if started:
            client.__exit__(None, None, None)
        else:
            client.app.state.service.close()


def wait_for(client, job_id: str, until=FINAL, timeout: float = 180.0, **headers) -> dict:
    """Poll the job until its status is one of ``until``; its last view."""
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(f"/v1/videos/{job_id}", headers=headers)
        assert r.status_code == 200, r.text
        job = r.json()
        if job["status"] in until:
            return job
        assert time.monotonic() < deadline, f"job still {job['status']} after {timeout} s: {job['stage']}"
        time.sleep(0.1)


def sse_events(client, job_id: str, **kw) -> list[tuple[int, dict]]:
    """Every event of the job's stream, until it ends: (id, data)."""
    import json

    out, block = [], {}
    with client.stream("GET", f"/v1/videos/{job_id}/events", **kw) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if not line:  # an event ends with a blank line
                if "data" in block:
                    out.append((int(block["id"]), json.loads(block["data"])))
                block = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                block[name] = value
    return out
