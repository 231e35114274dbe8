"""benchmarks/parallel.py: jobs split into shards run side by side, their samples joined into one file."""

import json

from tests.helpers.scripts import load_script


def test_cpu_shards_run_one_thread_each_unless_told_otherwise():
    par = load_script("parallel.py")
    assert par.shard_env("cpu", {})["OMP_NUM_THREADS"] == "1"
    assert par.shard_env("cpu", {"OMP_NUM_THREADS": "2"})["OMP_NUM_THREADS"] == "2"
    assert "OMP_NUM_THREADS" not in par.shard_env("cuda", {})


def test_two_shards_make_the_videos_one_process_would(tmp_path):
    from ttom.bench.shapes import numbered_prompts

    par = load_script("parallel.py")
    jobs = tmp_path / "jobs.txt"
    jobs.write_text("# a comment line\nplain: shapes -n 2 --split dev --conditions plain --categories binding --steps 2\n")
    par.main(["--jobs", str(jobs), "--shards", "2", "--device", "cpu", "--out", str(tmp_path / "out")])
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    want = [(cat, cap, k) for k, (cat, cap) in numbered_prompts(2, 0, "dev", ("binding",))]
    assert sorted((s["category"], s["prompt"], s["seed"]) for s in results["plain"]) == sorted(want)
    assert "### plain.0" in (tmp_path / "out" / "logs.txt").read_text()
