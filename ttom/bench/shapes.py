"""``ttom bench shapes``: does TTOM work end to end on the bundled shapes model?

A fixed set of prompts per category (the shapes world's caption grammar, a fixed seed), each
planned by the offline planner and generated three ways:

- ``plain``: the model alone (TTO off);
- ``tto``: fresh φ optimised for the prompt's layout;
- memory streams: the prompts in order through an empty parameter memory keyed by the scene
  abstraction, recalled by structure and geometry (``ttom.memory.match``); a miss optimises fresh φ and
  inserts it, a hit either loads φ* and skips optimisation (``skip``, for a near-identical layout;
  a similar one's φ is a warm start) or continues from it (``warm``). (``ttom bench memory --stream``
  is the longer stream against fresh TTO.)

Each video is judged by the critic's analytic shapes detector. Success is the category's own
constraint: spatial → the relation holds (T2V-CompBench's rule); motion → every object moves
the planned way; numeracy → every phrase is found as often as the prompt counts it; binding →
every colour-shape pair is found as often as the prompt says; several objects (two objects
moving apart) → counts right and every direction right. mIoU is the critic's layout mIoU.

Movement: each sample keeps each object's centre error (the critic's mean distance between the
found and the planned box centres); ``movement`` compares two conditions object by object: how
far TTO brought each object's centre towards its boxes, and how many objects it lost.

``conditioning="objects"`` conditions the model on the caption without its compositional words
(``ttom.shapes.world.object_caption``: "a red circle to the left of a blue square" → "a red circle
and a blue square", through the layout's ``enriched_prompt``) while the layout is still planned
from the full caption and judged against it: does TTO impose what the text leaves out?
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

CATEGORIES = {  # bench category → shapes-world caption category
    "spatial": "relation",
    "motion": "motion",
    "numeracy": "count",
    "binding": "binding",
    "several": "motion2",
}


@dataclass
class Sample:
    category: str
    prompt: str
    condition: str
    success: bool
    miou: float
    seconds: float
    tto_iterations: int = 0
    memory: str = ""  # hit / miss (streams)
    similarity: float | None = None
    centre_errors: list[float | None] = field(default_factory=list)  # per layout object; None = never found
    conditioning: str = "full"  # full | objects (the caption without its compositional words)
    seed: int = 0  # the noise seed: a caption drawn twice is two prompts of the paired comparison


@dataclass
class ShapesBench:
    samples: list[Sample] = field(default_factory=list)

    def rate(self, cond: str, cat: str | None = None) -> tuple[float, float, float, int]:
        xs = [s for s in self.samples if s.condition == cond and (cat is None or s.category == cat)]
        if not xs:
            return float("nan"), float("nan"), float("nan"), 0
        return (float(np.mean([s.success for s in xs])), float(np.mean([s.miou for s in xs])),
                float(np.mean([s.seconds for s in xs])), len(xs))


SPLITS = ("dev", "test", "all")
SPLIT_SEED = 7919  # fixes which captions are dev and which test, whatever ``seed`` samples


def split_captions(category: str, split: str = "all") -> list[str]:
    """The category's captions in ``split``: half of them (every caption in exactly one half) are ``dev``
    (for tuning the recipe), the other half ``test`` (for reporting), by a fixed shuffle; ``all`` is both."""
    from ttom.shapes import world

    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    caps = world.all_captions([CATEGORIES[category]])
    if split == "all":
        return caps
    order = np.random.default_rng(SPLIT_SEED + list(CATEGORIES).index(category)).permutation(len(caps))
    half = order[: len(caps) // 2] if split == "dev" else order[len(caps) // 2:]
    return [caps[int(j)] for j in sorted(half)]


def prompts(per_category: int, seed: int = 0, split: str = "all") -> list[tuple[str, str]]:
    """(category, caption) pairs: ``per_category`` captions per category from ``split``, fixed by ``seed``:
    distinct while the category has enough; beyond that the shuffled captions come round again (each
    repeat is another video: the noise seed follows the pair's place in the whole list)."""
    out = []
    for i, cat in enumerate(CATEGORIES):
        caps = split_captions(cat, split)
        rng = np.random.default_rng(seed * 1000 + i)
        order = list(rng.choice(len(caps), size=min(per_category, len(caps)), replace=False))
        while len(order) < per_category:
            order += list(rng.permutation(len(caps)))[: per_category - len(order)]
        out += [(cat, caps[int(j)]) for j in order]
    return out


def numbered_prompts(per_category: int, seed: int, split: str, categories: tuple[str, ...] | None = None,
                     limit: int | None = None) -> list[tuple[int, tuple[str, str]]]:
    """``prompts`` with each pair's place in the whole list (its noise seed is ``seed`` + place), kept to
    ``categories`` when given (an unknown one is a ValueError) and to the first ``limit`` places."""
    if categories and set(categories) - set(CATEGORIES):
        raise ValueError(f"unknown categories {sorted(set(categories) - set(CATEGORIES))}; "
                         f"known: {', '.join(CATEGORIES)}")
    return [(k, p) for k, p in enumerate(prompts(per_category, seed, split)[:limit])
            if not categories or p[0] in categories]


CONDITIONINGS = ("full", "objects")


def shard(items: list, spec: str | None) -> list:
    """The ``K/N`` shard of ``items`` (every N-th from the K-th, K in 0..N-1): N processes split one
    prompt set between them, and their samples files together are the whole run."""
    if not spec:
        return items
    try:
        k, n = (int(x) for x in spec.split("/"))
    except ValueError:
        raise ValueError(f"a shard is K/N with 0 <= K < N, got {spec!r}") from None
    if not 0 <= k < n:
        raise ValueError(f"a shard is K/N with 0 <= K < N, got {spec!r}")
    return items[k::n]


def condition_layout(layout, caption: str, conditioning: str):
    """The layout the model is conditioned through: ``objects`` sets its ``enriched_prompt`` to the
    object caption (the layout itself, and so the critic's judgement, stay the full caption's)."""
    from ttom.shapes import world

    if conditioning not in CONDITIONINGS:
        raise ValueError(f"conditioning must be one of {CONDITIONINGS}, got {conditioning!r}")
    if conditioning == "full":
        return layout
    return layout.model_copy(update={"enriched_prompt": world.object_caption(caption)})


def movement(bench: ShapesBench, base: str, cond: str, cat: str | None = None) -> dict:
    """Object by object on the prompts both ran: the mean reduction of the centre error from ``base``
    to ``cond`` over objects found in both (positive = moved towards the boxes), how many objects got
    closer and how many farther (with the sign-test p), and objects found in ``base`` but lost in ``cond``."""
    def errs(c):
        return {(s.category, s.prompt, s.seed): s.centre_errors for s in bench.samples
                if s.condition == c and cat in (None, s.category)}

    a, b = errs(base), errs(cond)
    gains, lost = [], 0
    for k in a.keys() & b.keys():
        for ea, eb in zip(a[k], b[k]):
            if ea is not None and eb is None:
                lost += 1
            elif ea is not None and eb is not None:
                gains.append(ea - eb)
    closer = sum(g > 1e-9 for g in gains)
    farther = sum(g < -1e-9 for g in gains)
    return {"objects": len(gains), "mean_gain": float(np.mean(gains)) if gains else float("nan"),
            "closer": closer, "farther": farther, "p": sign_test(closer, farther), "lost": lost}


def success(category: str, report: dict) -> bool:
    dirs = [o.get("direction_ok") for o in report["objects"]]
    if category == "spatial":
        return bool(report["relations_ok"])
    if category == "motion":
        return all(d is True for d in dirs)
    if category in ("numeracy", "binding"):
        return bool(report["counts_ok"])
    return bool(report["counts_ok"]) and all(d is True for d in dirs)


def run(per_category: int = 4, seed: int = 0, conditions=("plain", "tto", "skip", "warm"), tto_overrides=None,
        device: str = "cpu", progress=print, split: str = "all", conditioning: str = "full",
        shard_spec: str | None = None, categories: tuple[str, ...] | None = None,
        steps: int | None = None) -> ShapesBench:
    """``steps``: denoising steps (default: the model's); ``shard_spec`` ``K/N``: only this process's share
    of the prompts (plain and tto; the memory streams need the whole ordered stream in one process);
    ``categories``: only these categories' prompts (for both, the seeds stay those of the whole set)."""
    from ttom.critic.critique import critique
    from ttom.engine.backends import load_backend
    from ttom.engine.tto import expected_signature, generate, recipe_config
    from ttom.memory import MemoryStore
    from ttom.planning.abstraction import abstract
    from ttom.planning.plan import plan

    if shard_spec and ({"skip", "warm"} & set(conditions)):
        raise ValueError("the memory streams (skip, warm) cannot be sharded: run them in one process")
    # seeds follow the prompt's place in the whole set, so a sharded run makes the same videos
    chosen = shard(numbered_prompts(per_category, seed, split, categories), shard_spec)
    backend = load_backend("shapes", device)
    overrides = tto_overrides or {}
    bench = ShapesBench()
    items = [(k, cat, cap, plan(cap, planner="offline", frame_aspect=backend.defaults.video.aspect).layout)
             for k, (cat, cap) in chosen]

    def judge(k, cat, cap, layout, cond, result, seconds, **extra):
        report = critique(result.frames, layout, backend="shapes")
        rep = report.summary()
        s = Sample(cat, cap, cond, success(cat, rep), float(rep["miou"]), seconds,
                   sum(len(x) for x in result.losses), **extra,
                   centre_errors=[o.centre_error for o in report.objects], conditioning=conditioning, seed=seed + k)
        bench.samples.append(s)
        progress(f"{cond:5s} {cat:9s} {'ok ' if s.success else 'bad'} miou {s.miou:.2f} {seconds:5.1f}s "
                 f"{extra.get('memory', '')} | {cap}")

    for k, cat, cap, layout in items:
        model_layout = condition_layout(layout, cap, conditioning)
        for cond in ("plain", "tto"):
            if cond in conditions:
                t0 = time.perf_counter()
                r = generate(backend, model_layout, recipe_config(backend, mode="off" if cond == "plain" else "fresh",
                                                                  **overrides), seed=seed + k, steps=steps)
                judge(k, cat, cap, layout, cond, r, time.perf_counter() - t0)

    for cond in ("skip", "warm"):
        if cond not in conditions:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            store = MemoryStore(f"sqlite:///{Path(tmp) / 'memory.sqlite'}")
            for k, cat, cap, layout in items:
                t0 = time.perf_counter()
                key = abstract(layout, cap).key
                cfg = recipe_config(backend, mode="fresh", **overrides)
                spec_sig = expected_signature(backend, cfg)
                got = store.recall_phi(key, spec_sig, layout=layout, prompt=cap)  # structure, then geometry
                hit = got.hit
                if hit is not None:  # "skip" skips only a near-identical layout's φ; a similar one's is a warm start
                    cfg = recipe_config(backend, mode="skip" if cond == "skip" and hit.mode == "skip" else "warm",
                                        **overrides)
                r = generate(backend, condition_layout(layout, cap, conditioning), cfg, seed=seed + k, phi=got.phi,
                             steps=steps)
                seconds = time.perf_counter() - t0
                if cfg.mode != "skip":  # skip leaves φ* as it was: nothing new to write
                    store.memorize(key, r.phi, r.signature, hit=hit, layout=layout)
                judge(k, cat, cap, layout, cond, r, seconds, memory="hit" if hit else "miss",
                      similarity=hit.similarity if hit else None)
    return bench


def plots(bench: ShapesBench, folder: Path) -> list[Path]:
    try:
        import matplotlib
    except ImportError:
        from ttom.errors import ConfigError

        raise ConfigError("the plots need matplotlib: pip install 'ttom[bench]'") from None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    conds = [c for c in ("plain", "tto", "skip", "warm") if any(s.condition == c for s in bench.samples)]
    cats = list(CATEGORIES)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    width = 0.8 / len(conds)
    for i, c in enumerate(conds):
        ax.bar(np.arange(len(cats)) + i * width, [bench.rate(c, k)[0] for k in cats], width, label=c)
    ax.set_xticks(np.arange(len(cats)) + 0.4 - width / 2, cats)
    ax.set_ylabel("success rate")
    ax.set_ylim(0, 1)
    ax.legend()
    ax.set_title("shapes model: success per category")
    fig.tight_layout()
    p1 = folder / "shapes_success.png"
    fig.savefig(p1, dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(1, 2, figsize=(9, 3.4))
    for c in ("skip", "warm"):
        xs = [s for s in bench.samples if s.condition == c]
        if not xs:
            continue
        n = np.arange(1, len(xs) + 1)
        ax[0].plot(n, np.cumsum([s.seconds for s in xs]) / n, label=c)
        ax[1].plot(n, np.cumsum([s.memory == "hit" for s in xs]) / n, label=c)
    for c in ("plain", "tto"):
        if any(s.condition == c for s in bench.samples):
            ax[0].axhline(bench.rate(c)[2], ls="--", lw=1, color="gray" if c == "plain" else "black", label=c)
    ax[0].set_xlabel("requests so far")
    ax[0].set_ylabel("mean seconds per video")
    ax[1].set_xlabel("requests so far")
    ax[1].set_ylabel("memory hit rate")
    ax[0].legend()
    fig.suptitle("memory stream: cost falls as the memory fills")
    fig.tight_layout()
    p2 = folder / "shapes_memory_stream.png"
    fig.savefig(p2, dpi=110)
    plt.close(fig)
    return [p1, p2]


def table(bench: ShapesBench) -> tuple[list[str], list[list]]:
    conds = [c for c in ("plain", "tto", "skip", "warm") if any(s.condition == c for s in bench.samples)]
    headers = ["category", "n"] + [f"{c} success" for c in conds] + [f"{c} mIoU" for c in conds] + [f"{c} s/video" for c in conds]
    rows = []
    for cat in [*CATEGORIES, None]:
        r = [cat or "**all**", bench.rate(conds[0], cat)[3]]
        for c in conds:
            ok = [s.success for s in bench.samples if s.condition == c and cat in (None, s.category)]
            r.append(f"{sum(ok)}/{len(ok)} ({np.mean(ok):.0%})" if ok else "–")
        r += [round(bench.rate(c, cat)[1], 3) for c in conds]
        r += [round(bench.rate(c, cat)[2], 1) for c in conds]
        rows.append(r)
    return headers, rows


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact sign test: the chance of a split at least this uneven among ``wins + losses``
    discordant pairs if either side were equally likely to win each (ties are left out beforehand)."""
    from scipy.stats import binomtest

    n = wins + losses
    return 1.0 if n == 0 else float(binomtest(wins, n, 0.5).pvalue)


def paired(bench: ShapesBench, base: str, cond: str, cat: str | None = None,
           measure: str = "success") -> tuple[int, int, float]:
    """Paired comparison on the prompts both conditions ran: (prompts where ``cond`` did better than
    ``base``, the reverse, the sign-test p-value of that split). ``measure``: ``success`` (succeeded
    where the other failed) or ``miou`` (a higher layout mIoU); ties are left out."""
    if measure not in ("success", "miou"):
        raise ValueError(f"measure must be 'success' or 'miou', got {measure!r}")

    def outcomes(c):
        return {(s.category, s.prompt, s.seed): float(s.success if measure == "success" else s.miou)
                for s in bench.samples
                if s.condition == c and cat in (None, s.category)}

    a, b = outcomes(base), outcomes(cond)
    both = a.keys() & b.keys()
    wins = sum(b[k] > a[k] for k in both)
    losses = sum(a[k] > b[k] for k in both)
    return wins, losses, sign_test(wins, losses)


def paired_table(bench: ShapesBench, base: str = "plain") -> tuple[list[str], list[list]]:
    """Per category and overall: each condition against ``base`` on success and on layout mIoU, as
    ``+wins −losses (p)``."""
    conds = [c for c in ("plain", "tto", "skip", "warm") if c != base and any(s.condition == c for s in bench.samples)]
    rows = []
    for cat in [*CATEGORIES, None]:
        row = [cat or "**all**"]
        for c in conds:
            for measure in ("success", "miou"):
                won, lost, p = paired(bench, base, c, cat, measure)
                row.append(f"+{won} −{lost} (p = {p:.2g})")
            m = movement(bench, base, c, cat)
            row.append(f"{m['mean_gain']:+.3f}: {m['closer']} closer, {m['farther']} farther (p = {m['p']:.2g}), "
                       f"{m['lost']} lost" if m["objects"] else "–")
        rows.append(row)
    return (["category"] + [f"{c} vs {base}: {m}" for c in conds for m in ("success", "mIoU", "movement")], rows)


def merge_baseline(bench: ShapesBench, baseline: ShapesBench) -> ShapesBench:
    """``bench`` plus ``baseline``'s samples of the conditions ``bench`` did not run (e.g. plain, run once
    per prompt set); the two must have run the same prompts."""
    ran = {s.condition for s in bench.samples}
    prompts_of = lambda b: {(s.category, s.prompt, s.seed) for s in b.samples}  # noqa: E731
    if prompts_of(bench) != prompts_of(baseline):
        raise ValueError("the baseline ran a different prompt set (check -n, --seed and --split)")
    return ShapesBench([s for s in baseline.samples if s.condition not in ran] + bench.samples)


def save(bench: ShapesBench, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(s) for s in bench.samples], indent=1))


def load(path: Path) -> ShapesBench:
    return ShapesBench([Sample(**d) for d in json.loads(Path(path).read_text())])
