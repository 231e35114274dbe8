"""sweep_v9.txt's rule, applied before any test run: prints each candidate's checks and, last, the chosen one
(or ``none``); exit 0 when one was chosen.

    python benchmarks/shapes_dev/sweep_v9_rule.py OUT/dev.json OUT/fidelity_dev.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rule_report import first_passing

# cheapest first (CPU seconds a round); each with its denoising steps (its plain job is ps<steps>)
CANDIDATES = {"s8": 8, "s10": 10, "s10t3": 10, "s12": 12}
FLOORS = {"spatial": 22, "motion": 22, "numeracy": 14, "binding": 33, "several": 20}  # auto's dev counts - 4


def ok(samples: list[dict], cat: str | None = None) -> int:
    return sum(s["success"] for s in samples if cat in (None, s["category"]))


def checks(res: dict, fidelity: dict[int, dict], name: str, steps: int) -> dict[str, bool]:
    tto, plain, objects = res[f"t{name}"], res[f"ps{steps}"], res[f"o{name}"]
    loop = [s for s in res[f"l{name}"] if s["condition"] == "loop"]
    fid = fidelity[steps]
    out = {
        f"full captions {ok(tto)} >= 125": ok(tto) >= 125,
        f"lead over plain {ok(tto) - ok(plain)} >= 31 (plain {ok(plain)})": ok(tto) - ok(plain) >= 31,
        f"object motion {ok(objects, 'motion')} >= 43": ok(objects, "motion") >= 43,
        f"object spatial {ok(objects, 'spatial')} >= 47": ok(objects, "spatial") >= 47,
        f"loop {ok(loop)} >= 89 (of {len(loop)})": ok(loop) >= 89 and len(loop) == 100,
        f"fidelity {fid['ok']}/{fid['videos']} >= 95%": fid["ok"] >= 0.95 * fid["videos"] and fid["videos"] == 384,
    }
    for cat, floor in FLOORS.items():
        out[f"{cat} {ok(tto, cat)} >= {floor}"] = ok(tto, cat) >= floor
    sizes = {f"t{name}": 200, f"ps{steps}": 200, f"o{name}": 160}
    out["every job complete"] = all(len(res[j]) == n for j, n in sizes.items())
    return out


def main(argv=None) -> int:
    dev, fid = (argv or sys.argv[1:])[:2]
    res = json.loads(Path(dev).read_text())
    runs = json.loads(Path(fid).read_text())["runs"]
    fidelity = {r["summary"]["steps"]: r["summary"] for r in runs}
    return first_passing({name: checks(res, fidelity, name, steps) for name, steps in CANDIDATES.items()})


if __name__ == "__main__":
    raise SystemExit(main())
