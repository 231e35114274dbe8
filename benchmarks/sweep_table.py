"""One line a job of a ``benchmarks/parallel.py`` results JSON: success against its plain job,
per-category successes, layout mIoU, movement and objects lost.

    python benchmarks/sweep_table.py RESULTS.json [--plain plain] [--oplain oplain]

Jobs whose name starts with ``o`` are compared with the ``--oplain`` job (conditioned on object
captions), the others with ``--plain``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ttom.bench.shapes import CATEGORIES, Sample, ShapesBench, movement, paired


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path)
    ap.add_argument("--plain", default="plain")
    ap.add_argument("--oplain", default="oplain")
    args = ap.parse_args(argv)
    jobs = json.loads(args.results.read_text())

    def samples(name: str, as_cond: str) -> list[Sample]:
        return [Sample(**{**s, "condition": as_cond}) for s in jobs[name]]

    print(f"{'job':8s} {'success':>8s} {'paired':>16s} " + " ".join(f"{c[:5]:>5s}" for c in CATEGORIES)
          + f" {'mIoU':>6s} {'gain':>7s} {'closer/farther':>15s} {'lost':>5s}")
    for name in jobs:
        rows = samples(name, name)
        base = args.oplain if name.startswith("o") and args.oplain in jobs else args.plain
        bench = ShapesBench(samples(base, "plain") + samples(name, "tto"))
        ok = [s.success for s in rows]
        cats = " ".join(f"{sum(s.success for s in rows if s.category == c):>5d}" for c in CATEGORIES)
        miou = float(np.mean([s.miou for s in rows]))
        line = f"{name:8s} {sum(ok):>3d}/{len(ok):<4d} "
        if name == base:
            line += f"{'':>16s} {cats} {miou:6.3f}"
        else:
            w, lo, p = paired(bench, "plain", "tto")
            mv = movement(bench, "plain", "tto")
            pair, moved = f"+{w} -{lo} (p={p:.2g})", f"{mv['closer']}/{mv['farther']}"
            line += f"{pair:>16s} {cats} {miou:6.3f} {mv['mean_gain']:+7.3f} {moved:>15s} {mv['lost']:>5d}"
        print(line)


if __name__ == "__main__":
    main()
