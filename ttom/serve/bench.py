"""The service's benchmarks (``ttom bench serve load`` and ``ttom bench serve scale``), on loopback.

Both start a real ``ttom serve api`` in a child process (a fresh cache folder of their own), drive it
over HTTP from this one, and stop it after.

- ``run_load``: ``jobs`` submissions from ``clients`` concurrent clients, which then poll the status
  of their jobs until every one is final. A client answered 429 waits the ``Retry-After`` it was
  given and sends again. Measured: the latency of every submit and status call (p50 / p95 / p99 /
  max), how many submissions were refused for a full queue, and whether every job completed (a job
  lost: never accepted, failed, or not final at the deadline).
- ``run_scale``: the same job set on a local Ray cluster with 1, then 2 (...) worker actors: jobs per
  minute from the first submission to the last completion, after one warm-up job per worker (model
  and MiniLM loaded), and the ratio to one worker. Needs PostgreSQL (Ray's workers share it).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# A job with as little model work as the graph allows: the tiny model, one denoising step, no TTO, no critic,
# no memory; what remains is planning, the job store, the worker hand-off and writing the video.
LIGHT_JOB = {"model": "tiny-cogvideox", "steps": 1, "tto": {"mode": "off"}, "critic": "off", "memory": False}
# The scaling job: the tiny model with TTO (fresh each time: no memory), a few denoising steps
SCALE_JOB = {"model": "tiny-cogvideox", "steps": 12, "tto": {"mode": "fresh", "steps": 2, "iterations": 4},
             "critic": "off", "memory": False}
PROMPT = "a red car drives to the left while a dog sits on the right"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``ttom serve api ARGS`` in a child process on a free loopback port, with its own cache folder."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None, timeout: float = 300.0) -> None:
        import httpx

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cache = tempfile.TemporaryDirectory(prefix="ttom-bench-serve-")
        self.log = open(os.path.join(self.cache.name, "server.log"), "w+")  # noqa: SIM115 (closed in stop)
        full = {**os.environ, "TTOM_CACHE_DIR": self.cache.name, **(env or {})}
        self.proc = subprocess.Popen([sys.executable, "-m", "ttom.cli", "serve", "api", "--port", str(self.port),
                                      "--log-level", "warning", *args], env=full, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"the server exited ({self.proc.returncode}): {self.log.read()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the server did not start")
            time.sleep(0.25)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        self.cache.cleanup()


def percentiles(ms: list[float]) -> dict[str, float]:
    if not ms:
        return {"n": 0, "p50": float("nan"), "p95": float("nan"), "p99": float("nan"), "max": float("nan")}
    q = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else [ms[0]] * 99
    return {"n": len(ms), "p50": q[49], "p95": q[94], "p99": q[98], "max": max(ms)}


@dataclass
class LoadResult:
    jobs: int
    clients: int
    accepted: int = 0
    completed: int = 0
    failed: int = 0
    lost: int = 0
    refused_429: int = 0
    submit_ms: list[float] = field(default_factory=list)
    status_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    errors: list[str] = field(default_factory=list)


def run_load(jobs: int = 200, clients: int = 20, poll_s: float = 2.0, server_args: list[str] | None = None,
             options: dict[str, Any] | None = None, timeout_s: float = 3600.0,
             progress: Callable[[str], None] = print) -> LoadResult:
    """Submissions and status polls from concurrent clients against a fresh embedded server."""
    import httpx

    options = options or LIGHT_JOB
    res = LoadResult(jobs=jobs, clients=clients)
    lock = threading.Lock()
    server = Server(["--model", options["model"], "--device", "cpu", *(server_args or [])])
    progress(f"server up at {server.url}; {jobs} jobs from {clients} clients")
    deadline = time.monotonic() + timeout_s
    final: dict[str, str] = {}

    def client(k: int) -> None:
        mine: list[str] = []
        with httpx.Client(base_url=server.url, timeout=120) as http:
            for i in range(k, jobs, clients):
                while time.monotonic() < deadline:
                    t = time.perf_counter()
                    r = http.post("/v1/videos", json={"prompt": f"{PROMPT} ({i})", "options": options})
                    ms = (time.perf_counter() - t) * 1000
                    with lock:
                        res.submit_ms.append(ms)
                    if r.status_code == 429:  # wait as told, plus jitter: the clients do not come back all at once
                        with lock:
                            res.refused_429 += 1
                        wait = float(r.headers.get("Retry-After", "1"))
                        time.sleep(wait * (1 + random.random()))
                        continue
                    if r.status_code != 200:
                        with lock:
                            res.errors.append(f"submit {r.status_code}: {r.text[:200]}")
                    else:
                        mine.append(r.json()["id"])
                    break
            pending = set(mine)
            while pending and time.monotonic() < deadline:
                for job_id in sorted(pending):
                    t = time.perf_counter()
                    r = http.get(f"/v1/videos/{job_id}")
                    ms = (time.perf_counter() - t) * 1000
                    with lock:
                        res.status_ms.append(ms)
                    if r.status_code != 200:
                        with lock:
                            res.errors.append(f"status {r.status_code}: {r.text[:200]}")
                        continue
                    status = r.json()["status"]
                    if status in ("completed", "failed", "cancelled"):
                        pending.discard(job_id)
                        with lock:
                            final[job_id] = status
                time.sleep(poll_s)
            with lock:
                res.accepted += len(mine)

    start = time.monotonic()
    try:
        threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            time.sleep(5)
            with lock:
                progress(f"  {len(final)}/{jobs} final, {res.refused_429} refused (429), "
                         f"{len(res.submit_ms)} submits, {len(res.status_ms)} status calls")
        res.wall_s = time.monotonic() - start
    finally:
        server.stop()
    res.completed = sum(1 for s in final.values() if s == "completed")
    res.failed = sum(1 for s in final.values() if s != "completed")
    res.lost = jobs - res.completed
    return res


def load_table(r: LoadResult) -> tuple[list[str], list[list[Any]]]:
    headers = ["calls", "n", "p50 ms", "p95 ms", "p99 ms", "max ms"]
    rows = []
    for name, ms in (("submit (POST /v1/videos)", r.submit_ms), ("status (GET /v1/videos/{id})", r.status_ms)):
        p = percentiles(ms)
        rows.append([name, p["n"], round(p["p50"], 1), round(p["p95"], 1), round(p["p99"], 1), round(p["max"], 1)])
    return headers, rows


def load_summary(r: LoadResult) -> str:
    return (f"{r.jobs} jobs from {r.clients} clients: {r.accepted} accepted, {r.completed} completed, {r.failed} "
            f"failed, {r.lost} lost; {r.refused_429} submissions answered 429 (full queue) and sent again after "
            f"Retry-After; {r.wall_s:.0f} s in all ({60 * r.completed / max(r.wall_s, 1e-9):.1f} jobs/min)")


@dataclass
class ScaleResult:
    workers: int
    jobs: int
    completed: int
    seconds: float

    @property
    def per_minute(self) -> float:
        return 60 * self.completed / self.seconds if self.seconds else 0.0


def run_scale(workers: tuple[int, ...] = (1, 2), jobs: int = 16, database_url: str | None = None,
              num_cpus: int | None = None, options: dict[str, Any] | None = None, timeout_s: float = 3600.0,
              progress: Callable[[str], None] = print) -> list[ScaleResult]:
    """The same jobs on a local Ray cluster with each number of worker actors (num_gpus=0 on a CPU machine)."""
    import httpx

    options = options or SCALE_JOB
    url = database_url or os.environ.get("TTOM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    out = []
    for n in workers:
        with _schema(url) as db:
            server = Server(["--ray", "local", "--workers", str(n), "--num-cpus", str(num_cpus or max(workers)),
                             "--database-url", db, "--model", options["model"], "--preload", options["model"]])
            try:
                with httpx.Client(base_url=server.url, timeout=120) as http:
                    warm = [http.post("/v1/videos", json={"prompt": PROMPT, "options": options}).json()["id"]
                            for _ in range(n)]
                    _wait_all(http, warm, timeout_s)  # each actor has loaded what a job needs
                    progress(f"{n} worker(s): warmed up; {jobs} jobs")
                    start = time.monotonic()
                    ids = [http.post("/v1/videos", json={"prompt": PROMPT, "options": {**options, "seed": i}}).json()["id"]
                           for i in range(jobs)]
                    statuses = _wait_all(http, ids, timeout_s)
                    seconds = time.monotonic() - start
            finally:
                server.stop()
        r = ScaleResult(n, jobs, sum(1 for s in statuses if s == "completed"), seconds)
        progress(f"{n} worker(s): {r.completed}/{jobs} completed in {seconds:.1f} s ({r.per_minute:.1f} jobs/min)")
        out.append(r)
    return out


def _wait_all(http: Any, ids: list[str], timeout_s: float) -> list[str]:
    deadline = time.monotonic() + timeout_s
    final: dict[str, str] = {}
    while len(final) < len(ids) and time.monotonic() < deadline:
        for job_id in ids:
            if job_id not in final:
                status = http.get(f"/v1/videos/{job_id}").json()["status"]
                if status in ("completed", "failed", "cancelled"):
                    final[job_id] = status
        time.sleep(0.2)
    return [final.get(i, "timeout") for i in ids]


class _schema:
    """A PostgreSQL schema of its own for one run (dropped after), as a URL with that search_path."""

    def __init__(self, url: str) -> None:
        import uuid

        self.url, self.name = url, f"ttom_bench_{uuid.uuid4().hex[:10]}"

    def __enter__(self) -> str:
        from sqlalchemy import create_engine, text

        from ttom.errors import ConfigError

        self.engine = create_engine(self.url, connect_args={"connect_timeout": 5})
        try:
            with self.engine.begin() as c:
                c.execute(text(f'CREATE SCHEMA "{self.name}"'))
        except Exception as e:
            raise ConfigError(f"ttom bench serve scale needs PostgreSQL (Ray's workers share it): {e}") from None
        sep = "&" if "?" in self.url else "?"
        return f"{self.url}{sep}options=-csearch_path%3D{self.name}"

    def __exit__(self, *exc) -> None:
        from sqlalchemy import text

        with self.engine.begin() as c:
            c.execute(text(f'DROP SCHEMA "{self.name}" CASCADE'))
        self.engine.dispose()


def scale_table(results: list[ScaleResult]) -> tuple[list[str], list[list[Any]]]:
    base = results[0].per_minute if results else 0.0
    headers = ["Ray workers", "jobs", "completed", "seconds", "jobs/min", "vs 1 worker"]
    rows = [[r.workers, r.jobs, r.completed, round(r.seconds, 1), round(r.per_minute, 2),
             f"{r.per_minute / base:.2f}×" if base else ""] for r in results]
    return headers, rows
