"""Pool several draws of the test split (``benchmarks/parallel.py`` results, e.g. ``--seed 0`` and
``--seed 1``) into one paired comparison: successes, the ratio with a bootstrap interval, the sign test,
each category; and, with ``--against``, the same jobs of another model on the same prompts and seeds.

    python benchmarks/pool_draws.py D0.json D1.json [--against V0.json V1.json] [--plain plain --tto tto]

The bootstrap resamples prompts within each category and draw (the benchmark's strata), 10,000 times;
the interval is the 2.5th and 97.5th percentile of the ratio. Pairs are matched by (draw, category,
prompt, seed), so two models' files pair only where they drew the same prompts with the same seeds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ttom.bench.shapes import CATEGORIES, sign_test


def outcomes(files: list[Path], job: str) -> dict[tuple, bool]:
    out: dict[tuple, bool] = {}
    for d, f in enumerate(files):
        samples = json.loads(f.read_text())
        if job not in samples:
            raise SystemExit(f"{f}: no job {job!r} (jobs: {', '.join(samples)})")
        for s in samples[job]:
            out[(d, s["category"], s["prompt"], s["seed"])] = bool(s["success"])
    return out


def compare(base: dict, cond: dict, label: str, boot: int, rng: np.random.Generator) -> list[str]:
    keys = sorted(base.keys() & cond.keys())
    if not keys:
        raise SystemExit(f"{label}: no prompt in common")
    a = np.array([base[k] for k in keys], float)
    b = np.array([cond[k] for k in keys], float)
    strata = {}
    for i, k in enumerate(keys):
        strata.setdefault((k[0], k[1]), []).append(i)
    idx = [np.array(v) for v in strata.values()]
    ratios = np.empty(boot)
    for r in range(boot):
        pick = np.concatenate([rng.choice(v, len(v)) for v in idx])
        ratios[r] = b[pick].sum() / max(a[pick].sum(), 1.0)
    lo, hi = np.percentile(ratios, [2.5, 97.5])
    w, ls = int(((b > a)).sum()), int(((a > b)).sum())
    lines = [f"{label}: {int(a.sum())}/{len(keys)} -> {int(b.sum())}/{len(keys)}, ratio {b.sum() / max(a.sum(), 1):.2f} "
             f"(95% {lo:.2f}-{hi:.2f}), paired +{w} -{ls} (p = {sign_test(w, ls):.2g})"]
    for cat in CATEGORIES:
        sel = np.array([k[1] == cat for k in keys])
        if sel.any():
            w, ls = int(((b > a) & sel).sum()), int(((a > b) & sel).sum())
            lines.append(f"  {cat:12s} {int(a[sel].sum()):3d} -> {int(b[sel].sum()):3d} of {int(sel.sum())}, "
                         f"+{w} -{ls} (p = {sign_test(w, ls):.2g})")
    return lines


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("draws", type=Path, nargs="+")
    ap.add_argument("--against", type=Path, nargs="+", help="another model's draws, in the same order")
    ap.add_argument("--plain", default="plain")
    ap.add_argument("--tto", default="tto")
    ap.add_argument("--boot", type=int, default=10_000)
    args = ap.parse_args(argv)
    if args.against and len(args.against) != len(args.draws):
        raise SystemExit("--against needs one file for each draw")
    rng = np.random.default_rng(0)
    plain, tto = outcomes(args.draws, args.plain), outcomes(args.draws, args.tto)
    print("\n".join(compare(plain, tto, f"{args.tto} vs {args.plain}", args.boot, rng)))
    if args.against:
        for job in (args.plain, args.tto):
            print("\n".join(compare(outcomes(args.against, job), outcomes(args.draws, job),
                                    f"{job}: --against -> these draws", args.boot, rng)))


if __name__ == "__main__":
    main()
