"""A job's stage and percent, from the agent's progress events (``ttom.agents.nodes``' custom stream).

The percent only grows: 5 once the layout is planned, then each round's share of the remaining
90 (``max_rounds`` rounds at most, so a run accepted at round 1 of 3 jumps from 35 to 100), split
over its TTO iterations and denoising steps; 100 when the report is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Progress:
    max_rounds: int = 3
    percent: int = 0
    stage: dict[str, Any] = field(default_factory=lambda: {"name": "queued"})
    _total: int = 0
    _done: int = 0

    def update(self, e: dict[str, Any]) -> None:
        kind = e.get("event")
        st = dict(self.stage)
        st["name"] = kind
        if kind == "plan":
            st["message"] = f"planned {len(e.get('objects', []))} objects: {', '.join(e.get('objects', []))}"
            self._bump(5)
        elif kind == "validate":
            st["message"] = "layout valid" if e.get("ok") else f"layout invalid: {'; '.join(e.get('errors', []))}"
        elif kind == "repair":
            st["message"] = f"layout repair {e.get('repairs')}: {e.get('how')}"
        elif kind == "approve":
            st["message"] = f"layout {e.get('answer')}"
        elif kind == "memory":
            st["message"] = (f"memory hit (similarity {e['similarity']:.2f}, {e.get('mode')})" if e.get("hit")
                             else "memory miss")
        elif kind == "generate":
            self._total, self._done = int(e.get("tto_total", 0)) + int(e.get("steps", 0)), 0
            st.update(round=e.get("round"), max_rounds=self.max_rounds, mode=e.get("mode"), steps=e.get("steps"),
                      step=0, iteration=None, loss=None, message=f"round {e.get('round')}: {e.get('mode')} generation")
            self._round_fraction(0.0, st)
        elif kind == "tto":
            self._done += 1
            st.update(tto_step=e.get("step"), iteration=e.get("iteration"), loss=e.get("loss"),
                      message=f"round {st.get('round')}: TTO step {e.get('step')} iteration {e.get('iteration')} "
                              f"loss {float(e.get('loss', 0)):.4f}")
            self._round_fraction(self._done / max(self._total, 1), st)
        elif kind == "step":
            steps = int(e.get("steps", 0))
            self._done = max(self._done, self._total - steps + int(e.get("step", 0)) + 1)
            st.update(step=int(e.get("step", 0)) + 1, steps=steps,
                      message=f"round {st.get('round')}: denoising step {int(e.get('step', 0)) + 1}/{steps}")
            self._round_fraction(self._done / max(self._total, 1), st)
        elif kind == "critic":
            miou = f" (mIoU {e['miou']:.2f})" if e.get("miou") is not None else ""
            st.update(decision=e.get("decision"), miou=e.get("miou"),
                      message=f"critic, round {e.get('round')}: {e.get('decision')}{miou}")
            self._round_fraction(1.0, st)
        elif kind == "reoptimize":
            st["message"] = f"re-optimise: round {e.get('round')} ({e.get('mode')})"
        elif kind == "memorize":
            st["message"] = f"memory: {e.get('action')}" + (f" ({e['reason']})" if e.get("reason") else "")
        elif kind == "report":
            verdict = {True: "accepted", False: "not accepted (best round delivered)"}.get(e.get("accepted"),
                                                                                           "not judged")
            st["message"] = f"video written: {verdict}"
            self._bump(100)
        else:
            return  # engine-internal events (done, tto_stopped) leave the stage as it was
        self.stage = st

    def _round_fraction(self, fraction: float, st: dict[str, Any]) -> None:
        k = int(st.get("round") or 1)
        self._bump(int(5 + 90 * (min(k, self.max_rounds) - 1 + min(max(fraction, 0.0), 1.0)) / self.max_rounds))

    def _bump(self, value: int) -> None:
        self.percent = max(self.percent, min(100, value))
