"""Checkpoints: a killed run resumes without redoing finished GPU work; SQLite and PostgreSQL checkpointers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from ttom.agents.run import run_agent

from .conftest import LOOP_JUDGE, PROMPT, TWO_OBJECTS, ScriptedJudge

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
PG_URL = os.environ.get("TTOM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def test_a_killed_run_resumes_from_its_last_checkpoint_without_regenerating(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "helpers" / "killrun.py"), "t-kill", str(out)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    video = out / "rounds" / "1" / "video.mp4"
    assert video.exists() and not (out / "report.json").exists()  # killed after generate, before the report
    mtime = video.stat().st_mtime_ns

    run = run_agent(thread_id="t-kill", resume=True, keep_events=True)
    kinds = [e["event"] for e in run.events]
    assert "generate" not in kinds and "tto" not in kinds and "step" not in kinds  # no GPU work redone
    # the progress event reaches the callback while the critique node runs or just after its writes were
    # saved (the stream hands events over asynchronously): either way the run resumes there, not earlier
    assert kinds[0] in ("critic", "memorize") and kinds[-1] == "report", kinds
    assert video.stat().st_mtime_ns == mtime and not (out / "rounds" / "2").exists()
    report = run.report
    assert report["rounds"] == 1 and report["tto"]["mode"] == "fresh" and report["memory"]["action"] == "insert"
    assert (out / "video.mp4").exists()


def test_a_loop_killed_mid_way_resumes_and_delivers_the_best_round(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "helpers" / "killrun.py"), "t-loop", str(out), "loop"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    first = out / "rounds" / "1" / "video.mp4"
    assert first.exists() and not (out / "report.json").exists()
    mtime = first.stat().st_mtime_ns

    # the judge of the resumed process has judged one round already (round 1, before the kill)
    run = run_agent(thread_id="t-loop", resume=True, keep_events=True,
                    critic=ScriptedJudge(TWO_OBJECTS, **LOOP_JUDGE, first_call=1))
    gens = [e for e in run.events if e["event"] == "generate"]
    assert [g["round"] for g in gens] == [2, 3] and [g["seed"] for g in gens] == [1, 2]  # round 1 not redone
    assert gens[0]["object_weights"] == {"0": 2.0, "1": 2.0}  # round 1's reoptimize decision survived the kill
    assert first.stat().st_mtime_ns == mtime
    report = run.report
    assert [h["round"] for h in report["history"]] == [1, 2, 3] and [h["seed"] for h in report["history"]] == [0, 1, 2]
    assert report["delivered_round"] == 1 and report["accepted"] is False
    assert (out / "video.mp4").read_bytes() == first.read_bytes()


def _pg_reachable() -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    from ttom.agents.checkpoint import _psycopg_url

    try:
        psycopg.connect(_psycopg_url(PG_URL), connect_timeout=3).close()
    except Exception as e:
        return f"PostgreSQL at {PG_URL} unreachable: {str(e).strip().splitlines()[0]}"
    return None


@pytest.mark.postgres
def test_postgres_checkpointer_persists_and_resumes_an_approval(tmp_path, monkeypatch):
    reason = _pg_reachable()
    if reason:
        pytest.skip(reason)
    monkeypatch.setenv("TTOM_CHECKPOINT_URL", PG_URL)
    from ttom.config import get_settings

    get_settings.cache_clear()
    thread = f"pg-{uuid.uuid4().hex[:8]}"
    opts = {"model": "tiny-cogvideox", "device": "cpu", "steps": 2, "tto": {"mode": "off"}, "critic": "off",
            "approve": True, "out_dir": str(tmp_path)}
    first = run_agent(PROMPT, layout=TWO_OBJECTS, thread_id=thread, options=opts)
    assert first.interrupt is not None
    # a new connection (a new process would do the same) finds the paused thread in PostgreSQL
    done = run_agent(thread_id=thread, resume="approve")
    assert done.values["video"] and Path(done.values["video"]).exists()
    from ttom.agents.checkpoint import open_checkpointer
    from ttom.agents.graph import build_graph

    with open_checkpointer() as cp:
        assert type(cp).__name__ == "PostgresSaver"
        snap = build_graph(cp).get_state({"configurable": {"thread_id": thread}})
        assert snap.values["report_path"] == done.values["report_path"] and not snap.next
        cp.delete_thread(thread)


def test_a_bad_checkpoint_url_is_a_clear_error(monkeypatch):
    from ttom.config import get_settings
    from ttom.errors import ConfigError

    monkeypatch.setenv("TTOM_CHECKPOINT_URL", "mysql://x@y/z")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="TTOM_CHECKPOINT_URL"):
        run_agent(PROMPT)
