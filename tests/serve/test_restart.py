"""A real server (uvicorn on loopback) killed mid-job, and a new one on the same folder: the job finishes,
and what the first finished is not done again."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import FAST, PROMPT

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_up(url: str, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited ({proc.returncode}): {proc.stderr.read()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not start")


@pytest.mark.slow
def test_a_server_killed_mid_job_is_restarted_and_the_job_finishes_without_redoing_its_round(tmp_path):
    import httpx

    env = {**os.environ, "PYTHONPATH": str(ROOT), "TTOM_CACHE_DIR": str(tmp_path / "cache")}
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    first = subprocess.Popen([sys.executable, str(ROOT / "tests" / "helpers" / "serve_kill.py"), str(port), "critic"],
                             env=env, stderr=subprocess.PIPE, text=True)
    try:
        _wait_up(url, first)
        job = httpx.post(f"{url}/v1/videos", json={"prompt": PROMPT, "options": FAST}).json()
        # the worker kills the server inside the critique node: the generate node is checkpointed by then
        assert first.wait(timeout=300) == -signal.SIGKILL
    finally:
        first.kill()
    round1 = tmp_path / "cache" / "runs" / job["thread_id"] / "1" / "rounds" / "1" / "video.mp4"
    assert round1.is_file() and not (round1.parent.parent.parent / "report.json").exists()
    mtime = round1.stat().st_mtime_ns

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    second = subprocess.Popen([sys.executable, "-m", "ttom.cli", "serve", "api", "--port", str(port), "--model",
                               "tiny-cogvideox", "--device", "cpu", "--no-preload", "--log-level", "warning"],
                              env=env, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        _wait_up(url, second)
        deadline = time.monotonic() + 300
        while (done := httpx.get(f"{url}/v1/videos/{job['id']}").json())["status"] not in ("completed", "failed"):
            assert time.monotonic() < deadline, done
            time.sleep(0.2)
        assert done["status"] == "completed" and done["attempts"] == 2, done
        assert done["result"]["rounds"] == 1 and done["result"]["memory"]["action"] == "insert"
        import json

        events = [json.loads(line[6:]) for line in httpx.get(f"{url}/v1/videos/{job['id']}/events").text.splitlines()
                  if line.startswith("data: ")]
        requeued = next(i for i, e in enumerate(events) if e.get("requeued"))
        assert "restarted" in events[requeued]["requeued"]
        second_attempt = [e["event"] for e in events[requeued + 1:]]
        # on from the last checkpoint: the critique node, or the memorize node when the critic's event reached
        # the kill hook only after that node's checkpoint was written (the event stream may trail the graph)
        assert second_attempt[0] == "status" and second_attempt[1] in ("critic", "memorize"), second_attempt
        assert not {"plan", "generate", "tto", "step"} & set(second_attempt)  # the round is not generated again
        assert round1.stat().st_mtime_ns == mtime
        video = httpx.get(f"{url}/v1/videos/{job['id']}/content")
        assert video.status_code == 200 and video.content == round1.read_bytes()
    finally:
        second.send_signal(signal.SIGINT)  # uvicorn's graceful stop
        try:
            second.wait(timeout=30)
        except subprocess.TimeoutExpired:
            second.kill()
