"""A caller's ids and names never reach the file system as paths (issue 18, item 1)."""

from __future__ import annotations

import anyio
import pytest

from ttom.config import Settings
from ttom.errors import ConfigError
from ttom.paths import check_id, inside

from .conftest import PROMPT


@pytest.mark.parametrize("bad", ["/tmp/x", "../../../x", "a/b", "..", ".hidden", "-rf", "a..b", "", "x" * 101,
                                 "tab\tid", "ü"])
def test_unsafe_ids_are_refused(bad):
    with pytest.raises(ConfigError, match="is not allowed"):
        check_id(bad)


@pytest.mark.parametrize("good", ["demo", "a1b2c3", "job-7", "thread_2.v1", "0" * 100])
def test_safe_ids_pass(good):
    assert check_id(good) == good


def test_inside_refuses_an_escape(tmp_path):
    assert inside(tmp_path, tmp_path / "runs" / "a") == (tmp_path / "runs" / "a").resolve()
    with pytest.raises(ConfigError, match="outside"):
        inside(tmp_path / "runs", tmp_path / "runs" / ".." / "elsewhere")


def test_run_agent_refuses_a_path_as_thread_id(tmp_path):
    from ttom.agents.run import run_agent

    target = tmp_path / "victim"
    target.mkdir()
    (target / "report.json").write_text("keep me")
    settings = Settings(cache_dir=tmp_path / "cache")
    for bad in (str(target), "../../victim"):
        with pytest.raises(ConfigError, match="is not allowed"):
            run_agent(PROMPT, options={"model": "tiny-cogvideox", "device": "cpu"}, thread_id=bad, settings=settings)
    assert (target / "report.json").read_text() == "keep me"
    assert not (tmp_path / "cache" / "runs").exists()


def test_mcp_refuses_path_thread_ids_and_model_folders(tmp_path):
    from mcp.client.client import Client

    from ttom.tools.mcp_server import build_server

    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "critic.png").write_bytes(b"png")
    server = build_server({"device": "cpu"}, settings=Settings(cache_dir=tmp_path / "cache"))

    async def main():
        async with Client(server) as c:
            for tid in (str(victim), "../../../x"):
                r = await c.call_tool("submit_video", {"prompt": PROMPT, "thread_id": tid})
                assert r.is_error and "is not allowed" in r.content[0].text
            r = await c.call_tool("submit_video", {"prompt": PROMPT, "model": str(tmp_path)})
            assert r.is_error and "TTOM_ALLOW_REMOTE_PATHS" in r.content[0].text

    anyio.run(main)
    assert (victim / "critic.png").read_bytes() == b"png" and server.jobs.job_ids() == []


def test_operator_may_allow_remote_model_folders(tmp_path):
    from ttom.serve.service import VideoService

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model_index.json").write_text('{"_class_name": "CogVideoXPipeline"}')
    allowed = VideoService(settings=Settings(cache_dir=tmp_path, allow_remote_paths=True))
    try:
        assert allowed.check_options({"model": str(folder)})["model"] == str(folder)  # the operator allowed it
    finally:
        allowed.close()
    refused = VideoService(settings=Settings(cache_dir=tmp_path))
    try:
        with pytest.raises(ConfigError, match="TTOM_ALLOW_REMOTE_PATHS"):
            refused.check_options({"model": str(folder)})
    finally:
        refused.close()