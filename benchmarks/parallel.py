"""Run several ``ttom bench shapes`` / ``ttom bench loop`` jobs at once, each split into shards.

The shapes model is far too small to keep a GPU busy from one process: on the H200 a run is bound
by Python and kernel launches, so the benchmarks run as many processes side by side (``--shard
K/N``; each prompt keeps the seed it has in the whole set, so the shards together make exactly the
videos one process would). This script starts every shard of every job, waits, and writes one
JSON file ``{job: [samples]}`` (the joined ``--samples`` files) plus one log per job, so that what a
GPU machine sends back stays a few files.

    python benchmarks/parallel.py --jobs jobs.txt --shards 4 --out results/ [--device cuda]

On the CPU (``--device cpu``) each shard runs one thread (``OMP_NUM_THREADS=1`` unless set).

``jobs.txt``: one job a line, ``NAME: bench-command arguments`` (the arguments of ``ttom bench``
after the command name, without --shard, --samples, --device and --no-record), e.g.

    plain: shapes -n 10 --split dev --conditions plain
    r1: shapes -n 10 --split dev --conditions tto --layers 4 --adapter-blocks 0,1,2,3,4

Tabulate a job afterwards with ``ttom bench shapes --from-samples`` on its part of the JSON
(``--split-json`` writes one samples file per job).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path


def read_jobs(path: Path) -> list[tuple[str, list[str]]]:
    jobs = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, args = line.partition(":")
        jobs.append((name.strip(), shlex.split(args)))
    names = [n for n, _ in jobs]
    if len(set(names)) != len(names):
        raise SystemExit(f"job names repeat in {path}: {names}")
    return jobs


def shard_env(device: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """The shards' environment: on the CPU one thread each (N processes share the cores; torch's default of
    one thread per core in every process oversubscribes them), unless OMP_NUM_THREADS is set already."""
    env = {**(os.environ if base is None else base), "PYTHONUNBUFFERED": "1"}
    if device == "cpu":
        env.setdefault("OMP_NUM_THREADS", "1")
    return env


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=Path, help="the jobs file (not needed with --split-json)")
    ap.add_argument("--shards", type=int, default=4, help="processes per job")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--work", type=Path, help="folder for the shards' own files (default OUT/shards)")
    ap.add_argument("--deadline", type=float, help="seconds: stop the shards still running then, and collect the rest")
    ap.add_argument("--split-json", type=Path, help="instead of running: split a results JSON into one samples file a job")
    args = ap.parse_args(argv)
    if args.split_json:
        args.out.mkdir(parents=True, exist_ok=True)
        for name, samples in json.loads(args.split_json.read_text()).items():
            (args.out / f"{name}.json").write_text(json.dumps(samples, indent=1))
        return
    if args.jobs is None:
        ap.error("--jobs is required")
    jobs = read_jobs(args.jobs)
    work = args.work or args.out / "shards"
    work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    env = shard_env(args.device)
    procs = []
    t0 = time.time()
    for name, bench_args in jobs:
        for k in range(args.shards):
            cmd = [sys.executable, "-m", "ttom.cli", "bench", *bench_args, "--device", args.device,
                   "--shard", f"{k}/{args.shards}", "--samples", str(work / f"{name}.{k}.json"), "--no-record"]
            if bench_args[0] == "shapes":
                cmd += ["--plots", str(work / "plots")]
            log = open(work / f"{name}.{k}.log", "w")
            procs.append((name, k, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), log))
    print(f"started {len(procs)} processes for {len(jobs)} jobs", flush=True)
    failed = []
    for name, k, p, log in procs:
        left = None if args.deadline is None else max(1.0, args.deadline - (time.time() - t0))
        try:
            code = p.wait(timeout=left)
        except subprocess.TimeoutExpired:
            p.kill()
            code = "killed at the deadline"
        if code != 0:
            failed.append(f"{name}.{k} ({code})")
        log.close()
    results, logs = {}, []
    for name, _ in jobs:
        samples = []
        for k in range(args.shards):
            f = work / f"{name}.{k}.json"
            if f.is_file():
                samples += json.loads(f.read_text())
            logs.append(f"### {name}.{k}\n" + (work / f"{name}.{k}.log").read_text()[-20000:])
        results[name] = samples
    (args.out / "results.json").write_text(json.dumps(results))
    (args.out / "logs.txt").write_text("\n".join(logs))
    print(f"{sum(map(len, results.values()))} samples in {time.time() - t0:.0f} s; failed shards: {failed or 'none'}")


if __name__ == "__main__":
    main()
