"""``langgraph dev`` (langgraph-cli[inmem], the ``ttom[studio]`` extra) serves the repository's langgraph.json,
and a chat turn sent the way LangGraph Studio and agent-chat-ui send it comes back as an AI message."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("langgraph") is None and not (Path(sys.executable).parent / "langgraph").exists(),
                       reason="langgraph-cli is not installed: pip install 'ttom[studio]'"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dev_server(tmp_path):
    port = _free_port()
    exe = shutil.which("langgraph") or str(Path(sys.executable).parent / "langgraph")
    env = {**os.environ, "LANGSMITH_TRACING": "false", "LANGGRAPH_CLI_NO_ANALYTICS": "1",
           "TTOM_CACHE_DIR": os.environ["TTOM_CACHE_DIR"], "PYTHONPATH": str(ROOT)}
    log = open(tmp_path / "langgraph-dev.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen([exe, "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(port),
                             "--config", str(ROOT / "langgraph.json")], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    import httpx

    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"langgraph dev exited {proc.returncode}: {(tmp_path / 'langgraph-dev.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/ok", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("langgraph dev did not answer within 90 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_langgraph_dev_drives_ttom_with_chat_messages(dev_server):
    from langgraph_sdk import get_sync_client

    client = get_sync_client(url=dev_server)
    thread = client.threads.create()
    options = {"model": "tiny-cogvideox", "device": "cpu", "steps": 2, "critic": "off", "tto": {"mode": "off"}}
    out = client.runs.wait(thread["thread_id"], "ttom", input={
        "messages": [{"role": "human", "content": "a dog sits on the right"}], "options": options})
    msgs = out["messages"]
    assert [m["type"] for m in msgs] == ["human", "ai"]
    links = msgs[-1]["additional_kwargs"]["ttom"]["links"]
    video = Path(links["video"].removeprefix("file://"))
    assert video.is_file() and video.stat().st_size > 0
    assert str(video).startswith(os.environ["TTOM_CACHE_DIR"])  # the run wrote into the test's cache
    # a follow-up on the same thread is an edit of the first layout, with its own answer
    out = client.runs.wait(thread["thread_id"], "ttom", input={
        "messages": [{"role": "human", "content": "make the dog bigger"}], "options": options})
    assert [m["type"] for m in out["messages"]] == ["human", "ai", "human", "ai"]
    assert "Edit applied" in out["messages"][-1]["content"]
