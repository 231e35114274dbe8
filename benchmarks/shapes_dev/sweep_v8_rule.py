"""sweep_v8.txt's rule, applied to its results before any test run: exit 0 when auto goes to the test split.

    python benchmarks/shapes_dev/sweep_v8_rule.py OUT/results.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).parent


def found(samples: list[dict]) -> int:
    return sum(e is not None for s in samples for e in s["centre_errors"])


def lost(plain: list[dict], cond: list[dict]) -> int:
    """Objects plain found and the condition did not, prompt by prompt (sweep_table.py's "lost")."""
    from ttom.bench.shapes import Sample, ShapesBench, movement

    bench = ShapesBench([Sample(**{**s, "condition": "plain"}) for s in plain]
                        + [Sample(**{**s, "condition": "tto"}) for s in cond])
    return movement(bench, "plain", "tto")["lost"]


def main(argv=None) -> int:
    new = json.loads(Path((argv or sys.argv[1:])[0]).read_text())
    v7 = json.loads((HERE / "sweep_v7_results.json").read_text())
    loops = json.loads((HERE / "loop_c_results.json").read_text())
    ok = lambda samples, cat=None: sum(s["success"] for s in samples if cat in (None, s["category"]))  # noqa: E731
    loop = ok([s for s in new["lauto"] if s["condition"] == "loop"])
    shipped_loop = ok([s for s in loops["lw"] if s["condition"] == "loop"])
    checks = {
        f"loop {loop} >= {shipped_loop - 3}": loop >= shipped_loop - 3,
        f"full captions {ok(new['auto'])} >= {ok(v7['tto']) - 6}": ok(new["auto"]) >= ok(v7["tto"]) - 6,
        f"object spatial {ok(new['oauto'], 'spatial')} >= {ok(v7['otto'], 'spatial') - 6}":
            ok(new["oauto"], "spatial") >= ok(v7["otto"], "spatial") - 6,
        f"objects lost {lost(v7['plain'], new['auto'])} <= {found(v7['plain']) // 10}":
            lost(v7["plain"], new["auto"]) <= found(v7["plain"]) // 10,
        f"objects lost (object captions) {lost(v7['oplain'], new['oauto'])} <= {found(v7['oplain']) // 10}":
            lost(v7["oplain"], new["oauto"]) <= found(v7["oplain"]) // 10,
        f"object motion {ok(new['oauto'], 'motion')} >= {ok(v7['otto'], 'motion') + 8}":
            ok(new["oauto"], "motion") >= ok(v7["otto"], "motion") + 8,
    }
    for text, passed in checks.items():
        print(("pass  " if passed else "FAIL  ") + text)
    print("numeracy, full captions:", ok(new["auto"], "numeracy"), "(tto", ok(v7["tto"], "numeracy"), ")")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
