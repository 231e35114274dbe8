"""``ttom bench memory --stream``: does the memory make a service better with use?

A stream of ``REQUESTS`` requests from the shapes test split (``ttom.bench.shapes.split_captions``),
in a fixed shuffled order: each request draws a category of the shapes benchmark, then one of its
test captions, with replacement, so scene types recur as they would in a real service. Each request
is planned by the offline planner and generated twice with the same seed:

- ``tto``: fresh TTO every time (φ optimised from scratch for the request's layout);
- ``memory``: the parameter memory on, as the agent runs it: recall by structure and geometry
  (``MemoryStore.recall_phi`` with the layout); ``skip`` loads φ and skips optimisation, ``warm``
  starts from it, a miss optimises fresh φ; then φ* is memorized (``memorize`` with the layout) when
  the ``--memorize`` policy says so: ``success`` (default) when the critic's findings meet the
  request's own constraint (the benchmark's success rule: relation holds, directions right, counts
  right), ``accepted`` when the critic accepts (its default thresholds: mIoU ≥ 0.4, which this small
  model's videos do not reach), ``all`` always. A skip writes nothing.

Every video is judged by the shapes critic as in ``ttom bench shapes``. Seconds per request count
the generation and the memory's own work (key embedding, recall, φ load, memorize); the critic's
time is left out of both conditions (a service runs it either way). Samples are written as JSON
after every request (``--samples``), so a long run that stops keeps what it did, and the tables and
plots can be rebuilt from them (``--from-samples``) on a machine that generated nothing.

The memory's key embeddings can come from a file made beforehand on a machine with MiniLM
(``python -m ttom.bench.memory keys --out keys.safetensors``; ``--keys`` here), for a GPU machine
without it.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

REQUESTS = 200
SEED = 0
POLICIES = ("success", "accepted", "all")
WINDOW = 20  # requests per point of the rolling success curve


@dataclass
class Request:
    index: int
    category: str
    prompt: str


@dataclass
class StreamSample:
    index: int
    category: str
    prompt: str
    condition: str  # tto | memory
    success: bool
    miou: float
    seconds: float  # generation + the memory's own work (critic excluded)
    mode: str  # fresh | warm | skip
    decision: str = ""  # the critic's
    tto_iterations: int = 0
    entry_id: str | None = None  # the memory entry recalled
    similarity: float | None = None  # its key's cosine
    geometry: float | None = None  # its layout's similarity
    action: str = "none"  # insert | update | none (what memorize wrote)
    memory_seconds: float = 0.0  # recall + memorize


def requests(n: int = REQUESTS, seed: int = SEED) -> list[Request]:
    """The stream: ``n`` requests, a category of ``ttom bench shapes`` uniformly, then one of its test-split
    captions uniformly, with replacement, in that fixed order."""
    from ttom.bench.shapes import CATEGORIES, split_captions

    rng = np.random.default_rng(seed)
    cats = list(CATEGORIES)
    pools = {c: split_captions(c, "test") for c in cats}
    out = []
    for i in range(n):
        cat = cats[int(rng.integers(len(cats)))]
        out.append(Request(i, cat, pools[cat][int(rng.integers(len(pools[cat])))]))
    return out


def plan_request(prompt: str):
    """The request's layout: the offline planner, boxes sized for the shapes model's frame (as ``ttom bench
    shapes`` plans them); no weights are loaded."""
    from ttom.engine.backends import describe
    from ttom.planning.plan import plan

    video = describe("shapes").defaults.video
    return plan(prompt, planner="offline", frame_aspect=video.width / video.height).layout


def key_texts(reqs: Sequence[Request]) -> list[str]:
    """The memory keys the stream will embed (recall and memorize use the same key per request)."""
    from ttom.planning.abstraction import abstract

    return list(dict.fromkeys(abstract(plan_request(r.prompt), r.prompt).key for r in reqs))


def write_keys(out: Path, n: int = REQUESTS, seed: int = SEED) -> tuple[Path, int]:
    """MiniLM's embeddings of the stream's keys, for ``PrecomputedEmbedder`` (``--keys``)."""
    from ttom.memory.embedder import MiniLMEmbedder, save_precomputed

    texts = key_texts(requests(n, seed))
    return save_precomputed(out, texts, MiniLMEmbedder()), len(texts)


def memory_file(samples: Path) -> Path:
    """Where a run with ``--samples`` keeps its memory (so that ``--resume`` continues with it)."""
    return samples.with_name(samples.stem + ".memory.sqlite")


def run(limit: int | None = None, device: str = "cpu", conditions: Sequence[str] = ("tto", "memory"),
        memorize: str = "success", keys: Path | None = None, samples: Path | None = None, seed: int = SEED,
        progress: Callable[[str], None] = print, stream: Sequence[Request] | None = None,
        resume: bool = False, steps: int | None = None) -> list[StreamSample]:
    """Run the stream (its first ``limit`` requests; ``stream``: other requests instead) and return the samples.

    With ``samples``, the samples are written after every request and the memory is kept beside them
    (``memory_file``); ``resume`` continues such a run: the requests it did are kept, not run again, and
    the memory is the one it left (a request cut short by a stop is run again; its memorize is written
    once, by its idempotency key). ``steps``: denoising steps (default: the model's; fewer only to check
    that the benchmark runs).
    """
    from ttom.bench.shapes import success
    from ttom.critic.critique import critique
    from ttom.engine.backends import load_backend
    from ttom.engine.tto import expected_signature, generate, recipe_config
    from ttom.errors import ConfigError
    from ttom.memory import MemoryStore
    from ttom.memory.embedder import PrecomputedEmbedder, default_embedder
    from ttom.planning.abstraction import abstract

    if memorize not in POLICIES:
        raise ConfigError(f"--memorize must be one of {', '.join(POLICIES)}, got {memorize!r}")
    bad = [c for c in conditions if c not in ("tto", "memory")]
    if bad or not conditions:
        raise ConfigError(f"unknown stream condition(s) {bad or list(conditions)}: use tto and/or memory")
    reqs = list(stream if stream is not None else requests(REQUESTS, seed))[: limit or None]
    out: list[StreamSample] = []
    db = memory_file(samples) if samples else None
    if resume:
        if samples is None or not samples.is_file():
            raise ConfigError("--resume continues an earlier run: give its --samples file")
        out = load(samples)
        wrong = [x.index for x in out if x.index < len(reqs) and reqs[x.index].prompt != x.prompt]
        if wrong:
            raise ConfigError(f"{samples}: request {wrong[0]} is not this stream's (another --seed?); not continued")
        if any(x.condition == "memory" for x in out) and not db.is_file():
            raise ConfigError(f"{samples}: the run's memory ({db}) is missing, so its memory condition cannot be "
                              "continued")
    elif db is not None:  # a new run: a new, empty memory
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    done = {(x.index, x.condition) for x in out}
    embedder = PrecomputedEmbedder(keys) if keys else default_embedder()
    # every key this run needs is there (a precomputed file), or one clear line before any generation; and
    # MiniLM is loaded now, not inside the first request's time
    embedder.embed(key_texts(reqs) if keys else ["warm-up"])
    backend = load_backend("shapes", device)
    with tempfile.TemporaryDirectory() as tmp:
        store = MemoryStore(f"sqlite:///{db or Path(tmp) / 'memory.sqlite'}", capacity=10_000, embedder=embedder)
        for r in reqs:
            layout = plan_request(r.prompt)
            key = abstract(layout, r.prompt).key
            for cond in conditions:
                if (r.index, cond) in done:
                    continue
                t0 = time.perf_counter()
                extra: dict[str, Any] = {}
                phi, mode, mem_s, got = None, "fresh", 0.0, None
                if cond == "memory":
                    m0 = time.perf_counter()
                    got = store.recall_phi(key, expected_signature(backend, recipe_config(backend)), layout=layout,
                                           prompt=r.prompt)
                    mem_s += time.perf_counter() - m0
                    if got.hit is not None:
                        phi, mode = got.phi, got.hit.mode or "warm"
                        extra = {"entry_id": got.hit.entry_id, "similarity": round(got.hit.similarity, 4),
                                 "geometry": None if got.hit.geometry is None else round(got.hit.geometry, 4)}
                res = generate(backend, layout, recipe_config(backend, mode=mode), seed=seed + r.index, phi=phi,
                               steps=steps)
                gen_s = time.perf_counter() - t0 - mem_s
                rep = critique(res.frames, layout, backend="shapes").summary()
                ok = success(r.category, rep)
                action = "none"
                if cond == "memory" and mode != "skip" and res.phi is not None and (
                        memorize == "all" or (memorize == "success" and ok)
                        or (memorize == "accepted" and rep["decision"] == "accept")):
                    m0 = time.perf_counter()
                    action = store.memorize(key, res.phi, res.signature, quality=float(rep["miou"]),
                                            hit=got.hit if got is not None else None, layout=layout,
                                            request_key=f"stream:{seed}:{r.index}").action
                    mem_s += time.perf_counter() - m0
                s = StreamSample(r.index, r.category, r.prompt, cond, bool(ok), float(rep["miou"]),
                                 round(gen_s + mem_s, 4), mode, str(rep["decision"]),
                                 sum(len(x) for x in res.losses), action=action, memory_seconds=round(mem_s, 4),
                                 **extra)
                out.append(s)
                progress(f"{r.index + 1:3d}/{len(reqs)} {cond:6s} {mode:5s} {'ok ' if ok else 'bad'} "
                         f"{s.seconds:6.2f}s {action:6s} | {r.prompt}")
            if samples:  # after every request: a run that stops keeps what it did
                save(out, samples)
        store.close()
    return sorted(out, key=lambda x: (x.index, x.condition != "tto"))


# --- results ------------------------------------------------------------------------------------------
def save(samples: Sequence[StreamSample], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps([asdict(s) for s in samples], indent=1), encoding="utf-8")
    tmp.replace(path)


def load(path: Path) -> list[StreamSample]:
    return [StreamSample(**d) for d in json.loads(Path(path).read_text(encoding="utf-8"))]


def _by(samples: Sequence[StreamSample], cond: str) -> dict[int, StreamSample]:
    return {s.index: s for s in samples if s.condition == cond}


def summary(samples: Sequence[StreamSample]) -> dict[str, Any]:
    """The stream's figures: paired success (scipy's exact binomial sign test), time, hit rate, first vs
    last 50 (Fisher's exact test), on the requests both conditions ran."""
    from scipy.stats import binomtest, fisher_exact

    tto, mem = _by(samples, "tto"), _by(samples, "memory")
    both = sorted(tto.keys() & mem.keys())
    out: dict[str, Any] = {"requests": len(both)}
    if not both:
        return out
    wins = sum(mem[i].success and not tto[i].success for i in both)
    losses = sum(tto[i].success and not mem[i].success for i in both)
    n = wins + losses
    out.update(
        tto_success=sum(tto[i].success for i in both), memory_success=sum(mem[i].success for i in both),
        wins=wins, losses=losses,
        p_two_sided=binomtest(wins, n, 0.5).pvalue if n else 1.0,
        p_worse=binomtest(losses, n, 0.5, alternative="greater").pvalue if n else 1.0,
        tto_seconds=float(np.mean([tto[i].seconds for i in both])),
        memory_seconds=float(np.mean([mem[i].seconds for i in both])),
        modes={m: sum(mem[i].mode == m for i in both) for m in ("skip", "warm", "fresh")},
    )
    out["time_share"] = out["memory_seconds"] / out["tto_seconds"]
    out["hit_rate"] = (out["modes"]["skip"] + out["modes"]["warm"]) / len(both)
    k = min(50, len(both) // 2)
    if k:
        first, last = both[:k], both[-k:]
        a, b = sum(mem[i].success for i in first), sum(mem[i].success for i in last)
        out.update(window=k, first_success=a, last_success=b,
                   first_hits=sum(mem[i].mode != "fresh" for i in first),
                   last_hits=sum(mem[i].mode != "fresh" for i in last),
                   first_tto_success=sum(tto[i].success for i in first),
                   last_tto_success=sum(tto[i].success for i in last),
                   p_first_last=fisher_exact([[a, k - a], [b, k - b]]).pvalue)
    return out


def amortized(s: dict[str, Any], results_dir: Path | None = None) -> list[list]:
    """The TTO overhead per request at real model size for a stream with these hit rates: a skip costs what a
    memory hit costs there, a warm start or a miss what TTO costs (worst case: the early stop is off in the
    GPU benchmark), from the GPU benchmark's recorded runs (benchmarks/results)."""
    from ttom.bench import gpu

    folder = results_dir or Path(__file__).resolve().parents[2] / "benchmarks" / "results"
    rows = []
    n = s.get("requests") or 0
    if not n:
        return rows
    p_skip = s["modes"]["skip"] / n
    for file in ("wan13.json", "cog5b.json"):
        path = folder / file
        if not path.is_file():
            continue
        for d in json.loads(path.read_text(encoding="utf-8")):
            r = gpu.ModelResult(**d)
            plain, tto, hit = r.run50_s("plain"), r.run50_s("TTO"), r.run50_s("memory hit (skip)")
            per_request = (1 - p_skip) * (tto - plain) + p_skip * (hit - plain)
            rows.append([r.arch, f"{plain:.1f} s", f"+{tto - plain:.1f} s ({tto / plain - 1:+.1%})",
                         f"+{per_request:.1f} s ({per_request / plain:+.1%})", f"{p_skip:.0%}"])
    return rows


def tables(samples: Sequence[StreamSample]) -> list[tuple[str, list[str], list[list]]]:
    s = summary(samples)
    out = []
    if not s.get("requests"):
        return out
    n = s["requests"]
    headers = ["requests", "fresh TTO success", "memory success", "paired: memory won / lost",
               "sign test p (two-sided)", "p (memory worse)", "TTO s/request", "memory s/request",
               "memory time / TTO's", "memory hits (skip + warm)"]
    rows = [[n, f"{s['tto_success']}/{n} ({s['tto_success'] / n:.0%})",
             f"{s['memory_success']}/{n} ({s['memory_success'] / n:.0%})", f"+{s['wins']} −{s['losses']}",
             f"{s['p_two_sided']:.2g}", f"{s['p_worse']:.2g}", f"{s['tto_seconds']:.2f}", f"{s['memory_seconds']:.2f}",
             f"{s['time_share']:.0%}",
             f"{s['modes']['skip'] + s['modes']['warm']}/{n} ({s['hit_rate']:.0%}: {s['modes']['skip']} skip, "
             f"{s['modes']['warm']} warm)"]]
    out.append(("the stream: fresh TTO every time vs the memory on", headers, rows))
    if "window" in s:
        k = s["window"]
        out.append((f"memory: first {k} vs last {k} requests", ["requests", "memory success", "memory hits",
                                                               "fresh TTO success (same requests)"],
                    [[f"first {k}", f"{s['first_success']}/{k}", f"{s['first_hits']}/{k}", f"{s['first_tto_success']}/{k}"],
                     [f"last {k}", f"{s['last_success']}/{k}", f"{s['last_hits']}/{k}", f"{s['last_tto_success']}/{k}"],
                     [f"Fisher's exact p (memory success, first vs last): {s['p_first_last']:.2g}", "", "", ""]]))
    am = amortized(s)
    if am:
        out.append(("amortized TTO overhead per request at real model size (H100, 50 steps, this stream's skip rate)",
                    ["model", "plain", "TTO adds", "with the memory, per request", "skips"], am))
    return out


def plots(samples: Sequence[StreamSample], folder: Path) -> list[Path]:
    try:
        import matplotlib
    except ImportError:
        from ttom.errors import ConfigError

        raise ConfigError("the plots need matplotlib: pip install 'ttom[bench]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    for cond, colour in (("tto", "black"), ("memory", "tab:blue")):
        xs = sorted(_by(samples, cond).values(), key=lambda s: s.index)
        if not xs:
            continue
        idx = np.array([s.index + 1 for s in xs])
        ok = np.array([s.success for s in xs], dtype=float)
        c = np.concatenate([[0.0], np.cumsum(ok)])
        lo = np.maximum(0, np.arange(1, len(ok) + 1) - WINDOW)
        rolling = (c[1:] - c[lo]) / (np.arange(1, len(ok) + 1) - lo)  # the last WINDOW requests (fewer at first)
        ax[0].plot(idx, rolling, color=colour, label=f"{'fresh TTO' if cond == 'tto' else 'memory on'}")
        ax[1].plot(idx, [s.seconds for s in xs], ".", ms=3, color=colour, alpha=0.6,
                   label=f"{'fresh TTO' if cond == 'tto' else 'memory on'}")
        if cond == "memory":
            for s in xs:
                if s.mode == "skip":
                    ax[1].plot(s.index + 1, s.seconds, "x", ms=3, color="tab:green")
    ax[0].set_xlabel("request")
    ax[0].set_ylabel(f"success (mean of the last {WINDOW})")
    ax[0].set_ylim(0, 1)
    ax[1].set_xlabel("request")
    ax[1].set_ylabel("seconds (green x: skip)")
    ax[0].legend()
    ax[1].legend()
    fig.suptitle("memory stream on the shapes test split")
    fig.tight_layout()
    p = folder / "memory_stream.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return [p]
