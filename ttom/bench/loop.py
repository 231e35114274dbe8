"""``ttom bench loop``: does the critic loop beat sampling again?

The honest baseline for a critic loop is best-of-N reseeding judged by the same critic. On the
shapes model's prompts (``ttom.bench.shapes``: its prompt sets, success rules and sign test), each
prompt is planned offline and generated three ways:

- ``tto``: one round, fresh φ, the prompt's base seed;
- ``best3``: three rounds with fresh φ and seeds ``s, s+1, s+2``; the critic's best
  (``ttom.critic.policy.round_rank``) is delivered;
- ``loop``: the agent's loop (``ttom.critic.rounds``) with its default policy, up to
  ``max_rounds``: stop on accept; re-optimise with the next seed, fresh φ and the recipe
  (``reseed``); repair a layout the critic found wrong (offline fixes) and start it fresh;
  deliver the best round;
- ``escalate``: the same loop with the ``escalate`` policy: the flagged objects weighted up, an
  escalated optimisation and a warm start from the best φ* so far.

With ``conditioning="objects"`` the model reads the caption without its compositional words in
every round (``shapes.condition_layout``; a repaired layout too) while the critic judges the full
caption's layout: can the loop impose what the text leaves out?

Round 1 is the same generation in all of them (seed ``s``, fresh φ, the recipe), so it is run
once and counted in each condition's seconds; so is any later round that another condition
already generated with the same layout, knobs and seed (the reseeding loop's rounds are best3's
until it stops or repairs), judged again with its own condition's history. ``best3`` always spends three generations; the loop
spends at most ``max_rounds`` and stops early on accept: the table shows both the seconds and the
generations per prompt. Success is the category's own rule (``shapes.success``) on the delivered
round's critic report; mIoU is its layout mIoU.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ttom.bench.shapes import (
    CATEGORIES,
    CONDITIONINGS,
    Sample,
    ShapesBench,
    condition_layout,
    numbered_prompts,
    paired,
    shard,
    success,
)

CONDITIONS = ("tto", "best3", "loop", "escalate")
DEFAULT_CONDITIONS = ("tto", "best3", "loop")
POLICY = {"loop": "reseed", "escalate": "escalate"}  # the loop's re-optimisation policy per condition


@dataclass
class LoopSample(Sample):
    generations: int = 1  # videos generated for this condition (round 1 included)
    delivered: int = 1  # the delivered round
    accepted: bool = False  # the critic accepted the delivered round
    decisions: str = ""  # the rounds' decisions, e.g. "reoptimize,reoptimize,accept"
    facts: float | None = None  # the delivered round's share of the prompt's facts (critic.policy.prompt_facts)


def _judge(layout, frames, history):
    from ttom.critic.critique import critique

    return critique(frames, layout, backend="shapes", history=history).summary()


def run(per_category: int = 2, seed: int = 0, conditions=DEFAULT_CONDITIONS, max_rounds: int = 3, tto_overrides=None,
        device: str = "cpu", progress=print, split: str = "test", steps: int | None = None,
        limit: int | None = None, shard_spec: str | None = None, categories: tuple[str, ...] | None = None,
        conditioning: str = "full") -> ShapesBench:
    """``steps``: denoising steps (default: the model's); ``limit``: only the first prompts (smoke tests);
    ``shard_spec`` ``K/N``: this process's share of the prompts; ``categories``: only these categories'
    prompts (for both, the seeds stay those of the whole set); ``conditioning``: what the model reads
    (``full`` or ``objects``, as in ``ttom bench shapes``)."""
    from ttom.critic.policy import prompt_facts, round_rank
    from ttom.critic.rounds import Knobs, best_round, next_round, round_seed
    from ttom.engine.backends import load_backend
    from ttom.engine.tto import generate, recipe_config
    from ttom.planning.fixes import LayoutIssue
    from ttom.planning.plan import plan, repair_from_critic

    if conditioning not in CONDITIONINGS:
        raise ValueError(f"conditioning must be one of {CONDITIONINGS}, got {conditioning!r}")
    chosen = shard(numbered_prompts(per_category, seed, split, categories, limit), shard_spec)
    backend = load_backend("shapes", device)
    overrides = tto_overrides or {}
    steps = steps or backend.defaults.steps
    bench = ShapesBench()
    items = [(k, cat, cap, plan(cap, planner="offline", frame_aspect=backend.defaults.video.aspect).layout)
             for k, (cat, cap) in chosen]

    def knobs_of(cfg) -> Knobs:
        return Knobs(steps=cfg.steps, iterations=cfg.iterations, lr=cfg.lr, loss_threshold=cfg.loss_threshold,
                     phi_steps=cfg.steps if cfg.phi_steps is None else cfg.phi_steps)

    made: dict = {}  # the same generation asked twice (best3's and the reseeding loop's rounds): made once

    def one(cap, layout, cfg, s, history, phi=None):
        key = (layout.model_dump_json(), repr(cfg), s) if phi is None else None
        if key in made:
            r, seconds = made[key]
        else:
            t0 = time.perf_counter()
            r = generate(backend, condition_layout(layout, cap, conditioning), cfg, seed=s, phi=phi, steps=steps)
            seconds = time.perf_counter() - t0
            if key is not None:
                made[key] = (r, seconds)
        rep = _judge(layout, r.frames, history)  # judged again: the verdict depends on the rounds before
        return {"decision": rep["decision"], "miou": rep["miou"], "facts": prompt_facts(rep), "report": rep,
                "phi": r.phi, "losses": r.losses, "seconds": seconds}

    def add(cat, cap, s0, cond, rounds, best):
        s = LoopSample(cat, cap, cond, success(cat, best["report"]), float(best["miou"]),
                       sum(r["seconds"] for r in rounds), seed=s0, generations=len(rounds), delivered=rounds.index(best) + 1,
                       accepted=best["decision"] == "accept", decisions=",".join(r["decision"] for r in rounds),
                       facts=best["facts"], conditioning=conditioning)
        bench.samples.append(s)
        progress(f"{cond:5s} {cat:9s} {'ok ' if s.success else 'bad'} miou {s.miou:.2f} {s.seconds:5.1f}s "
                 f"{s.generations} gen, round {s.delivered} {'accepted' if s.accepted else ''} | {cap}")

    def pick(rounds):
        return max(rounds, key=lambda r: round_rank(r))  # the first of equals: max keeps the earliest

    for k, cat, cap, layout in items:
        s0 = seed + k  # the base seed ttom bench shapes uses for prompt k
        base = recipe_config(backend, mode="fresh", **overrides)
        first = one(cap, layout, base, s0, [])
        if "tto" in conditions:
            add(cat, cap, s0, "tto", [first], first)
        if "best3" in conditions:
            rounds = [first] + [one(cap, layout, base, s0 + j, []) for j in (1, 2)]
            add(cat, cap, s0, "best3", rounds, pick(rounds))
        for cond in ("loop", "escalate"):
            if cond not in conditions:
                continue
            rounds, history, current, lay, same = [first], [first["report"]], knobs_of(base), layout, [first]
            while len(rounds) < max_rounds and rounds[-1]["decision"] in ("reoptimize", "repair"):
                last, n = rounds[-1], len(rounds) + 1
                if last["decision"] == "repair":
                    issues = [LayoutIssue.model_validate(i) for i in last["report"].get("layout_issues", [])]
                    lay = repair_from_critic(lay, issues, planner="offline").layout
                    current, phi, cfg = knobs_of(base), None, base
                    same = []
                else:
                    current, warm = next_round(POLICY[cond], last["report"].get("targets", []), current,
                                               knobs_of(base), losses=last["losses"], denoise_steps=steps)
                    start = best_round([r for r in same if r["phi"] is not None]) if warm else None
                    phi = start["phi"] if start else None
                    cfg = (base if phi is None and current == knobs_of(base) else  # reseed: the recipe itself
                           dataclasses.replace(base, mode="warm" if phi else "fresh", **current.overrides()))
                r = one(cap, lay, cfg, round_seed(s0, n), history, phi)
                rounds.append(r)
                same.append(r)
                history.append(r["report"])
            add(cat, cap, s0, cond, rounds, pick(rounds))
    return bench


def table(bench: ShapesBench) -> tuple[list[str], list[list]]:
    conds = [c for c in CONDITIONS if any(s.condition == c for s in bench.samples)]
    headers = (["category", "n"] + [f"{c} success" for c in conds] + [f"{c} mIoU" for c in conds]
               + [f"{c} s/prompt" for c in conds] + [f"{c} videos/prompt" for c in conds])
    rows = []
    for cat in [*CATEGORIES, None]:
        xs = {c: [s for s in bench.samples if s.condition == c and cat in (None, s.category)] for c in conds}
        if not any(xs.values()):
            continue
        row: list = [cat or "**all**", len(xs[conds[0]])]
        row += [f"{sum(s.success for s in xs[c])}/{len(xs[c])}" if xs[c] else "–" for c in conds]
        row += [round(float(np.mean([s.miou for s in xs[c]])), 3) if xs[c] else "–" for c in conds]
        row += [round(float(np.mean([s.seconds for s in xs[c]])), 1) if xs[c] else "–" for c in conds]
        row += [round(float(np.mean([getattr(s, "generations", 1) for s in xs[c]])), 2) if xs[c] else "–"
                for c in conds]
        rows.append(row)
    return headers, rows


PAIRS = (("tto", "best3"), ("tto", "loop"), ("best3", "loop"), ("best3", "escalate"), ("loop", "escalate"))


def paired_table(bench: ShapesBench) -> tuple[list[str], list[list]]:
    """Per category and overall, each pair (base, condition) on success and on layout mIoU, as
    ``+wins −losses (p)`` for the condition against the base."""
    ran = {s.condition for s in bench.samples}
    pairs = [(a, b) for a, b in PAIRS if a in ran and b in ran]
    rows = []
    for cat in [*CATEGORIES, None]:
        row = [cat or "**all**"]
        for a, b in pairs:
            for measure in ("success", "miou"):
                won, lost, p = paired(bench, a, b, cat, measure)
                row.append(f"+{won} −{lost} (p = {p:.2g})")
        rows.append(row)
    return ["category"] + [f"{b} vs {a}: {m}" for a, b in pairs for m in ("success", "mIoU")], rows


def save(bench: ShapesBench, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(s) for s in bench.samples], indent=1))


def load(path: Path) -> ShapesBench:
    return ShapesBench([LoopSample(**d) for d in json.loads(Path(path).read_text())])
