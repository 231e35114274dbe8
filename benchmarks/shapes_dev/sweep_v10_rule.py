"""sweep_v10.txt's rule, applied before any test run: prints each candidate's checks and, last, the chosen one
(or ``none``); exit 0 when one was chosen.

    python benchmarks/shapes_dev/sweep_v10_rule.py OUT/results.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rule_report import first_passing

CANDIDATES = ("a34", "a234")  # cheapest first (CPU seconds a TTO iteration)
FLOORS = {"spatial": 22, "motion": 22, "numeracy": 14, "binding": 33, "several": 20}  # auto's dev counts - 4


def ok(samples: list[dict], cat: str | None = None) -> int:
    return sum(s["success"] for s in samples if cat in (None, s["category"]))


def checks(res: dict, name: str) -> dict[str, bool]:
    tto, objects = res[f"t{name}"], res[f"o{name}"]
    loop = [s for s in res[f"l{name}"] if s["condition"] == "loop"]
    out = {
        f"full captions {ok(tto)} >= 127": ok(tto) >= 127,
        f"object motion {ok(objects, 'motion')} >= 43": ok(objects, "motion") >= 43,
        f"object spatial {ok(objects, 'spatial')} >= 47": ok(objects, "spatial") >= 47,
        f"loop {ok(loop)} >= 89 (of {len(loop)})": ok(loop) >= 89,
    }
    for cat, floor in FLOORS.items():
        out[f"{cat} {ok(tto, cat)} >= {floor}"] = ok(tto, cat) >= floor
    out["every job complete"] = len(tto) == 200 and len(objects) == 160 and len(loop) == 100
    return out


def main(argv=None) -> int:
    res = json.loads(Path((argv or sys.argv[1:])[0]).read_text())
    return first_passing({name: checks(res, name) for name in CANDIDATES})


if __name__ == "__main__":
    raise SystemExit(main())
