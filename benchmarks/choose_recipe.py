"""Apply a recipe-choice rule to a ``benchmarks/parallel.py`` results JSON and print the winner.

Each candidate ``NAME`` has a job ``NAME`` (full captions) and ``oNAME`` (object captions), compared
with ``plain`` and ``oplain``. The rule, fixed before a sweep runs: a candidate that loses more than
``--max-lost`` of the objects plain found (either conditioning) is out; the winner has the most
successes summed over both conditionings, and replaces ``--current`` only when it beats it by at
least ``--margin`` (dev sets are small: a one-prompt lead is noise). With ``--max-iterations-ratio R``
a candidate whose mean TTO iterations a video exceed R × the current recipe's is out too (TTO
iterations are what a CPU generation pays for).

    python benchmarks/choose_recipe.py RESULTS.json --candidates tto,p6,lr5 --current tto --margin 3
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ttom.bench.shapes import Sample, ShapesBench, movement


def _iterations(samples: list[dict]) -> float:
    return sum(s["tto_iterations"] for s in samples) / max(1, len(samples))


def choose(jobs: dict, candidates: list[str], current: str, margin: int, max_lost: float,
           max_iterations_ratio: float | None = None) -> tuple[str, dict]:
    def bench(base: str, name: str) -> ShapesBench:
        return ShapesBench([Sample(**{**s, "condition": "plain"}) for s in jobs[base]]
                           + [Sample(**{**s, "condition": "tto"}) for s in jobs[name]])

    scores = {}
    for c in candidates:
        total, out = 0, False
        for base, name in (("plain", c), ("oplain", "o" + c)):
            mv = movement(bench(base, name), "plain", "tto")
            total += sum(s["success"] for s in jobs[name])
            out |= mv["lost"] > max_lost * (mv["objects"] + mv["lost"])
        iterations = _iterations(jobs[c] + jobs["o" + c])
        if max_iterations_ratio is not None:
            out |= iterations > max_iterations_ratio * _iterations(jobs[current] + jobs["o" + current])
        scores[c] = {"successes": total, "iterations": round(iterations, 1), "out": out}
    live = [c for c in candidates if not scores[c]["out"]]
    best = max(live, key=lambda c: scores[c]["successes"], default=current)
    if best != current and current in live and scores[best]["successes"] < scores[current]["successes"] + margin:
        best = current
    return best, scores


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path)
    ap.add_argument("--candidates", required=True, help="comma-separated job names (without the o prefix)")
    ap.add_argument("--current", required=True, help="the recipe shipped now (one of the candidates)")
    ap.add_argument("--margin", type=int, default=3)
    ap.add_argument("--max-lost", type=float, default=0.1)
    ap.add_argument("--max-iterations-ratio", type=float, help="out: more TTO iterations a video than this × current's")
    args = ap.parse_args(argv)
    best, scores = choose(json.loads(args.results.read_text()), args.candidates.split(","), args.current,
                          args.margin, args.max_lost, args.max_iterations_ratio)
    print(json.dumps(scores))
    print(best)


if __name__ == "__main__":
    main()
