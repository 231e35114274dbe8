"""The agent through its doors: ttom generate / chat, the LangChain tool, the MCP server."""

from __future__ import annotations

import json

import anyio
import numpy as np
import pytest
from typer.testing import CliRunner

from ttom.cli import app

from .conftest import PROMPT

runner = CliRunner()
FAST_ARGS = ["--model", "tiny-cogvideox", "--device", "cpu", "--steps", "3", "--tto-steps", "1", "--tto-iterations", "2"]


def test_generate_runs_the_graph_and_a_second_similar_request_hits_memory(tmp_path):
    # the default critic (auto) has no detector weights offline for a car and a dog: it says so and
    # the run goes on (critic part "skipped", with the reason)
    first = runner.invoke(app, ["generate", PROMPT, *FAST_ARGS, "--out", str(tmp_path / "a"), "--thread", "cli-1"])
    assert first.exit_code == 0, first.output
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    assert report["memory"]["action"] == "insert" and report["thread_id"] == "cli-1"
    assert report["critic"]["decision"] in ("skipped", "accept", "reoptimize")
    second = runner.invoke(app, ["generate", PROMPT, *FAST_ARGS, "--out", str(tmp_path / "b")])
    assert second.exit_code == 0, second.output
    report = json.loads((tmp_path / "b" / "report.json").read_text())
    assert report["memory"]["hit"] is True and report["tto"]["mode"] == "skip"
    assert "memory hit" in second.output
    nomem = runner.invoke(app, ["generate", PROMPT, *FAST_ARGS, "--out", str(tmp_path / "c"), "--no-memory",
                                "--critic", "off", "--checkpointing", "1"])
    assert nomem.exit_code == 0, nomem.output
    report = json.loads((tmp_path / "c" / "report.json").read_text())
    assert report["memory"]["hit"] is False and report["tto"]["mode"] == "fresh"
    bad = runner.invoke(app, ["generate", "", *FAST_ARGS])
    assert bad.exit_code != 0 and "prompt is empty" in str(bad.exception)
    bad = runner.invoke(app, ["generate", PROMPT, *FAST_ARGS, "--checkpointing", "most"])
    assert bad.exit_code != 0 and "--checkpointing takes 'all' or a number" in str(bad.exception)


def test_chat_edits_on_one_thread(tmp_path):
    lines = "a dog sits on the right while a red car drives to the left\nmake the dog bigger\nnow two dogs\nquit\n"
    result = runner.invoke(app, ["chat", "--model", "tiny-cogvideox", "--device", "cpu", "--steps", "2",
                                 "--tto-steps", "1", "--tto-iterations", "1", "--critic", "off", "--out", str(tmp_path),
                                 "--json"], input=lines)
    assert result.exit_code == 0, result.output
    turns = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    assert [t["turn"] for t in turns] == [1, 2, 3]
    assert sorted(turns[2]["objects"]) == ["a dog", "a dog", "a red car"]
    assert (tmp_path / "turn-3" / "video.mp4").exists()
    # the edit ("bigger") keeps the memory key and the structure but not the geometry: the remembered layout is
    # similar, not near-identical, so φ from memory is only a warm start, and the edited video differs from the
    # first (issue 15); "now two dogs" has another structure: a miss
    second = json.loads((tmp_path / "turn-2" / "report.json").read_text())
    assert second["memory"]["hit"] and second["tto"]["mode"] == "warm" == second["memory"]["mode"]
    assert 0.13 <= second["memory"]["geometry"] < 0.66  # the dog's boxes x 1.3: IoU 1/1.69
    assert second["memory"]["action"] == "insert"  # the similar layout's entry keeps its φ
    assert any("similar, not near-identical" in n for n in second["memory"].get("notes", []))
    third = json.loads((tmp_path / "turn-3" / "report.json").read_text())
    assert not third["memory"]["hit"] and third["tto"]["mode"] == "fresh"
    from ttom.video import read_video

    assert not np.array_equal(read_video(tmp_path / "turn-1" / "video.mp4"), read_video(tmp_path / "turn-2" / "video.mp4"))


def test_langchain_tool_wraps_the_whole_graph(tmp_path):
    from ttom.tools.agent_tool import make_video_tool

    tool = make_video_tool({"model": "tiny-cogvideox", "device": "cpu", "steps": 2, "tto": {"steps": 1, "iterations": 1},
                            "critic": "off", "out_dir": str(tmp_path)})
    assert tool.name == "generate_video" and "prompt" in tool.args
    msg = tool.invoke({"type": "tool_call", "id": "call-1", "name": "generate_video", "args": {"prompt": PROMPT}})
    assert "Video written to" in msg.content and msg.artifact["video"].endswith("video.mp4")
    assert msg.artifact["memory"]["action"] == "insert" and msg.artifact["thread_id"]


def test_mcp_server_submit_status_result(tmp_path):
    from mcp.client.client import Client

    from ttom.tools.mcp_server import build_server

    server = build_server({"model": "tiny-cogvideox", "device": "cpu", "steps": 2, "tto": {"steps": 1, "iterations": 1},
                           "critic": "off", "out_dir": str(tmp_path)})

    async def main():
        async with Client(server) as c:
            names = {t.name for t in (await c.list_tools()).tools}
            assert {"submit_video", "job_status", "job_result", "resume_job", "generate_video"} <= names
            sub = (await c.call_tool("submit_video", {"prompt": PROMPT})).structured_content
            job = sub["job_id"]
            for _ in range(600):
                st = (await c.call_tool("job_status", {"job_id": job})).structured_content
                if st["status"] not in ("queued", "running"):
                    break
                await anyio.sleep(0.1)
            assert st["status"] == "done", st
            assert st["progress"] == 1.0
            res = (await c.call_tool("job_result", {"job_id": job})).structured_content
            assert res["video"].endswith("video.mp4") and res["memory"]["action"] == "insert"
            assert res["accepted"] is None and "Not judged" in res["summary"]  # critic off
            missing = await c.call_tool("job_status", {"job_id": "nope"})
            assert missing.is_error and "no job 'nope'" in missing.content[0].text
            seen = []

            async def progress(p, total, message):
                seen.append((p, message))

            one = await c.call_tool("generate_video", {"prompt": PROMPT}, progress_callback=progress)
            assert not one.is_error and one.structured_content["memory"]["hit"] is True
            assert seen and any("denoising" in (m or "") for _, m in seen)

    anyio.run(main)


def test_langchain_tool_errors_reach_the_calling_model(tmp_path):
    """ttom's errors become the tool's answer (status error), not an exception out of the host agent."""
    from ttom.config import Settings
    from ttom.tools.agent_tool import make_video_tool

    tool = make_video_tool({"model": "cogvideox-5b", "device": "cpu", "critic": "off", "out_dir": str(tmp_path)},
                           settings=Settings(cache_dir=tmp_path / "cache"))
    msg = tool.invoke({"type": "tool_call", "id": "c1", "name": "generate_video", "args": {"prompt": PROMPT}})
    assert msg.status == "error" and "THUDM/CogVideoX-5b" in msg.content and "--model PATH" in msg.content
    msg = tool.invoke({"type": "tool_call", "id": "c2", "name": "generate_video",
                       "args": {"prompt": PROMPT, "thread_id": "../../etc"}})
    assert msg.status == "error" and "is not allowed" in msg.content


def test_mcp_server_says_its_version_and_help_lists_every_tool():
    import os
    import subprocess
    import sys

    from mcp.client.client import Client

    from ttom import __version__
    from ttom.tools.mcp_server import build_server

    server = build_server()

    async def main():
        async with Client(server) as c:
            assert c.server_info.version == __version__
            return {t.name for t in (await c.list_tools()).tools}

    names = anyio.run(main)
    r = subprocess.run([sys.executable, "-m", "ttom.cli", "serve", "mcp", "--help"], capture_output=True, text=True,
                       env={**os.environ, "COLUMNS": "300"}, timeout=60)
    assert names and all(n in r.stdout for n in names), (names, r.stdout)


def test_chat_ctrl_c_cancels_the_turn_and_keeps_the_conversation(tmp_path):
    """A real SIGINT during a turn's generation: that turn ends, the next one runs on the same thread."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "TTOM_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "200"}
    # 1,000 steps (the most a request may ask) of the tiny model take several seconds, so the signal, sent a
    # second after the memory lookup is printed, falls inside the denoising (120 steps take under a second)
    p = subprocess.Popen([sys.executable, "-m", "ttom.cli", "chat", "--model", "tiny-cogvideox", "--device", "cpu",
                          "--steps", "1000", "--no-tto", "--critic", "off", "--out", str(tmp_path), "--json",
                          "--thread", "t1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env,
                         # as from a terminal: a suite started in the background (`cmd &`) ignores SIGINT, and
                         # children inherit that, so Ctrl-C would never reach the chat
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    p.stdin.write("a dog sits on the right\n")
    p.stdin.flush()
    seen = []
    while not seen or (seen[-1] and not seen[-1].startswith("memory")):  # the memory lookup, then denoising
        seen.append(p.stderr.readline())
    time.sleep(1)
    p.send_signal(signal.SIGINT)
    time.sleep(1)
    p.stdin.write("a cat sits on the left\nquit\n")
    p.stdin.flush()
    out, err = p.communicate(timeout=300)
    err = "".join(seen) + err
    assert p.returncode == 0, err
    assert "turn cancelled" in err
    turns = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    assert [t["turn"] for t in turns] == [2] and turns[0]["objects"] == ["a cat"]


def test_generate_exits_3_when_the_critic_accepts_no_round_and_says_so(tmp_path):
    # the tiny model draws noise: the shapes critic finds no red circle or blue square in it
    prompt = "a red circle to the left of a blue square"
    result = runner.invoke(app, ["generate", prompt, *FAST_ARGS, "--critic", "shapes", "--max-rounds", "1",
                                 "--memorize-rejected", "--out", str(tmp_path)])
    assert result.exit_code == 3, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["accepted"] is False and report["critic"]["decision"] in ("reoptimize", "repair")
    assert "NOT accepted" in result.output and "exit code 3" in result.output
    if report["critic"]["decision"] == "reoptimize":  # a sound layout's best effort, kept as asked
        assert report["memory"]["action"] == "insert" and report["memory"]["pool"] == "best_effort"
    assert "--memorize-rejected" in runner.invoke(app, ["generate", "--help"]).output
    assert "3 = no round was accepted" in " ".join(runner.invoke(app, ["generate", "--help"]).output.split())


def test_a_critic_that_cannot_run_is_refused_before_any_generation(tmp_path):
    from ttom.critic.grounders.hf import DEFAULT_DETECTOR
    from ttom.errors import ConfigError

    try:
        from huggingface_hub import try_to_load_from_cache

        if isinstance(try_to_load_from_cache(DEFAULT_DETECTOR, "config.json"), str):
            pytest.skip(f"{DEFAULT_DETECTOR} is in the local cache here")
    except ImportError:
        pass
    result = runner.invoke(app, ["generate", PROMPT, *FAST_ARGS, "--critic", "transformers", "--out", str(tmp_path)])
    assert isinstance(result.exception, ConfigError), result.output
    msg = str(result.exception)
    assert "--critic off" in msg and "--critic shapes" in msg and "--detector" not in msg  # options generate has
    assert not (tmp_path / "rounds").exists() and not (tmp_path / "video.mp4").exists()  # no GPU work done


def test_the_tool_tells_the_calling_model_whether_the_video_was_accepted(tmp_path):
    from ttom.tools.agent_tool import make_video_tool

    from .conftest import TWO_OBJECTS, ScriptedJudge, planned_layout

    base = {"model": "tiny-cogvideox", "device": "cpu", "steps": 2, "tto": {"steps": 1, "iterations": 1},
            "max_rounds": 1, "planner": "offline"}
    planned = planned_layout(PROMPT)
    no = make_video_tool({**base, "out_dir": str(tmp_path / "a")}, critic=ScriptedJudge(TWO_OBJECTS, found_in=set()))
    msg = no.invoke({"type": "tool_call", "id": "1", "name": "generate_video", "args": {"prompt": PROMPT}})
    assert "NOT ACCEPTED" in msg.content and "best attempt" in msg.content and msg.artifact["accepted"] is False
    yes = make_video_tool({**base, "out_dir": str(tmp_path / "b")}, critic=ScriptedJudge(planned))
    msg = yes.invoke({"type": "tool_call", "id": "2", "name": "generate_video", "args": {"prompt": PROMPT}})
    assert "ACCEPTED by the critic" in msg.content and "NOT" not in msg.content and msg.artifact["accepted"] is True
