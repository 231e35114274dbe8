"""``ttom bench memory --stream`` (issue 15): the stream, its figures, its samples and its precomputed keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from scipy.stats import binomtest

from tests.helpers.memhelpers import one_error_line, ttom_cli
from ttom.bench import memory_stream as ms


def test_the_stream_is_fixed_and_its_scene_types_recur():
    a, b = ms.requests(), ms.requests()
    assert a == b and len(a) == ms.REQUESTS == 200 and [r.index for r in a] == list(range(200))
    from ttom.bench.shapes import CATEGORIES, split_captions

    assert {r.category for r in a} == set(CATEGORIES)
    assert all(r.prompt in split_captions(r.category, "test") for r in a)
    keys = ms.key_texts(a)
    assert len(keys) < 40  # scene types recur: 200 requests, few memory keys
    assert ms.requests(5, seed=1) != a[:5]


def _sample(i, cond, ok, seconds, mode="fresh"):
    return ms.StreamSample(i, "spatial", f"p{i}", cond, ok, 0.1, seconds, mode)


def test_the_figures_from_samples():
    samples = []
    for i in range(100):
        tto_ok = i % 3 == 0
        mem_ok = tto_ok if i % 10 else not tto_ok  # 10 discordant requests
        mode = "fresh" if i < 10 else ("skip" if i % 2 else "warm")
        samples += [_sample(i, "tto", tto_ok, 10.0), _sample(i, "memory", mem_ok, 4.0 if mode == "skip" else 10.0, mode)]
    s = ms.summary(samples)
    wins = sum(1 for i in range(0, 100, 10) if not i % 3 == 0)
    losses = 10 - wins
    assert (s["requests"], s["wins"], s["losses"]) == (100, wins, losses)
    assert s["p_two_sided"] == pytest.approx(binomtest(wins, 10, 0.5).pvalue)
    assert s["p_worse"] == pytest.approx(binomtest(losses, 10, 0.5, alternative="greater").pvalue)
    assert s["modes"] == {"skip": 45, "warm": 45, "fresh": 10} and s["hit_rate"] == pytest.approx(0.9)
    assert s["time_share"] == pytest.approx((45 * 4 + 55 * 10) / 100 / 10)
    assert (s["window"], s["first_hits"], s["last_hits"]) == (50, 40, 50)
    # amortized at real model size, from the GPU benchmark's runs: a skip costs a memory hit, else TTO
    rows = {r[0]: r for r in ms.amortized(s)}
    assert set(rows) == {"wan2.1-1.3b", "cogvideox-5b"}
    assert rows["wan2.1-1.3b"][3].startswith("+5.0 s")  # 0.55 × 9.0 s + 0.45 × 0.1 s
    titles = [t for t, _, _ in ms.tables(samples)]
    assert len(titles) == 3 and "amortized" in titles[2]


def test_samples_round_trip_and_the_tables_are_rebuilt_from_them(tmp_path, monkeypatch):
    samples = [_sample(i, c, i % 2 == 0, 3.0, "skip" if c == "memory" and i > 2 else "fresh")
               for i in range(8) for c in ("tto", "memory")]
    path = tmp_path / "s.json"
    ms.save(samples, path)
    assert ms.load(path) == samples
    out = ttom_cli("bench", "memory", "--stream", "--from-samples", str(path), "--no-record", "--plots",
                   str(tmp_path / "img"), cache_dir=str(tmp_path / "c"))
    assert out.returncode == 0, out.stderr
    assert "fresh TTO every time vs the memory on" in out.stdout and "amortized" in out.stdout
    assert (tmp_path / "img" / "memory_stream.png").stat().st_size > 1000
    # --no-record without --plots draws nothing (it used to overwrite docs/img's plot from any folder)
    from typer.testing import CliRunner

    from ttom.cli import app

    monkeypatch.chdir(tmp_path)
    quiet = CliRunner().invoke(app, ["bench", "memory", "--stream", "--from-samples", str(path), "--no-record"])
    assert quiet.exit_code == 0, quiet.output
    assert "amortized" in quiet.output and not (tmp_path / "docs").exists()
    (tmp_path / "bad.json").write_text('{"not": "samples"}')
    bad = ttom_cli("bench", "memory", "--stream", "--from-samples", str(tmp_path / "bad.json"), "--no-record",
                   cache_dir=str(tmp_path / "c"))
    assert "not a samples file" in one_error_line(bad)
    dev = ttom_cli("bench", "memory", "--stream", "--device", "tpu", "--no-record", cache_dir=str(tmp_path / "c"))
    assert "--device 'tpu'" in one_error_line(dev)
    both = ttom_cli("bench", "memory", "--stream", "--pairs", cache_dir=str(tmp_path / "c"))
    assert "one at a time" in one_error_line(both)


def test_keys_for_the_stream_are_precomputed_and_a_missing_one_is_one_line(tmp_path):
    import subprocess
    import sys

    from ttom.memory.embedder import PrecomputedEmbedder

    out = tmp_path / "keys.safetensors"
    done = subprocess.run([sys.executable, "-m", "ttom.bench.memory", "keys", "--out", str(out), "--requests", "6"],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    pre = PrecomputedEmbedder(out)
    assert len(pre) == len(ms.key_texts(ms.requests(6))) and pre.name == "sentence-transformers/all-MiniLM-L6-v2"
    missing = ttom_cli("bench", "memory", "--stream", "--limit", "7", "--keys", str(out), "--no-record",
                       cache_dir=str(tmp_path / "c"))
    assert "no precomputed key embedding for" in one_error_line(missing)


def test_a_short_stream_runs_a_recurring_scene_skips_and_a_stopped_run_resumes(tmp_path):
    """Two requests of one scene type (other colours): the first optimises and is memorized; the run stops.
    Resumed, it keeps the first request and its memory: the second, a near-identical layout, loads φ and
    skips optimisation. The samples are on disk after each request, the memory beside them."""
    from ttom.errors import ConfigError

    stream = [ms.Request(0, "spatial", "a red circle to the left of a blue square"),
              ms.Request(1, "spatial", "a green triangle to the left of a yellow circle")]
    path = tmp_path / "s.json"
    said: list[str] = []
    kw = {"conditions": ("memory",), "memorize": "all", "samples": path, "stream": stream, "steps": 4,
          "progress": said.append}
    got = ms.run(limit=1, **kw)
    assert [(s.index, s.mode, s.action) for s in got] == [(0, "fresh", "insert")] and got[0].tto_iterations > 0
    assert ms.memory_file(path).is_file() and ms.load(path) == got
    said.clear()
    more = ms.run(resume=True, **kw)
    assert len(said) == 1 and [(s.index, s.mode, s.action) for s in more] == [(0, "fresh", "insert"), (1, "skip", "none")]
    assert more[1].tto_iterations == 0 and more[1].geometry == 1.0 and ms.load(path) == more
    with pytest.raises(ConfigError, match="not this stream's"):
        ms.run(**{**kw, "stream": stream[1:]}, resume=True)
    with pytest.raises(ConfigError, match="give its --samples"):
        ms.run(**{**kw, "samples": None}, resume=True)
