"""The critic loop's policy: each round's seed, what a re-optimisation round changes, which round is delivered.

Pure functions of JSON-able data (the state's round history and the critic's targets), so the
graph's nodes stay wiring and every rule has its own test (tests/critic/test_rounds.py). It lives
with the critic, below ``bench`` and ``agents``, so the graph and ``ttom bench loop`` share it.

A re-optimisation round must change what failed, not repeat it (ARCHITECTURE.md, the graph). Two
policies (``REOPTIMIZE_POLICIES``); the default is the one that won ``ttom bench loop`` (docs/loop.md):

- ``reseed`` (default): fresh noise (rule 1), fresh φ and the first round's knobs. On 100 test
  prompts of the shapes model, the best of three such rounds succeeded on 69 against 60 for
  ``escalate`` (paired +18 −9): pushing the optimisation harder breaks objects on that model
  (docs/shapes.md, the recipe sweeps), and a warm start carries a failed φ* forward.
- ``escalate``: rules 1–3 below, warm-started from the best φ* so far for the layout.

1. **Fresh noise.** Round k draws its initial noise with seed ``seed + k − 1`` (recorded in the
   round's history entry), so the loop is also a reseeding and a run stays reproducible.
2. **The critic's targets become the objective.** Every object the critic flagged weighs
   ``WEIGHT_STEP``× more in the alignment loss than in the round before, up to ``MAX_WEIGHT``;
   unflagged objects weigh 1 (``TTOConfig.object_weights``).
3. **Bounded escalation of the optimisation**, chosen by what the critic found:

   - an object absent, off its boxes or miscounted (it lacks attention mass where it should be):
     ``iterations`` × 1.5 (rounded up), at most 2× the first round's;
   - a wrong motion or relation, or an object off its boxes (the layout must hold through more of
     the denoising): one more TTO step and φ kept on for two more denoising steps, at most 2× the
     first round's (and never more than the denoising steps);
   - the loss threshold halves (at least ¼ of the first round's), so a φ* whose loss is already
     under it is still updated;
   - the learning rate × 1.5, at most 3× the first round's, only when the last round's loss fell
     by less than ``STALL`` (10 %) of its first value: a stalled optimisation needs larger steps,
     a falling one does not.

   Findings the critic gives no target for (only the video's mIoU is low) escalate both ways.
4. **Deliver the best round.** The delivered round is the best by ``ttom.critic.policy.round_rank``
   (accepted first, then a sound layout, then the share of the prompt's facts the video shows, then
   the mIoU); ties go to the earlier round.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ttom.critic.policy import round_rank

WEIGHT_STEP = 2.0
MAX_WEIGHT = 4.0
ITER_FACTOR, MAX_ITER_FACTOR = 1.5, 2.0
EXTRA_STEPS, EXTRA_PHI_STEPS, MAX_STEP_FACTOR = 1, 2, 2.0
LR_FACTOR, MAX_LR_FACTOR = 1.5, 3.0
THRESHOLD_FACTOR, MIN_THRESHOLD_FACTOR = 0.5, 0.25
STALL = 0.10

MASS_ISSUES = {"absent", "off_box", "count"}  # the object lacks attention where it should be
TIME_ISSUES = {"direction", "relation", "off_box"}  # the layout must hold through more denoising steps


@dataclass(frozen=True)
class Knobs:
    """The TTO knobs a round used (``TTOConfig``'s names); what the loop may change between rounds."""

    steps: int
    iterations: int
    lr: float
    loss_threshold: float
    phi_steps: int
    object_weights: dict[int, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["object_weights"] = {str(k): v for k, v in self.object_weights.items()}  # JSON keys
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Knobs:
        weights = {int(k): float(v) for k, v in (d.get("object_weights") or {}).items()}
        return cls(steps=int(d["steps"]), iterations=int(d["iterations"]), lr=float(d["lr"]),
                   loss_threshold=float(d["loss_threshold"]), phi_steps=int(d["phi_steps"]), object_weights=weights)

    def overrides(self) -> dict[str, Any]:
        """Keyword overrides for ``TTOConfig`` (``dataclasses.replace``)."""
        return {"steps": self.steps, "iterations": self.iterations, "lr": self.lr,
                "loss_threshold": self.loss_threshold, "phi_steps": self.phi_steps,
                "object_weights": dict(self.object_weights) or None}


REOPTIMIZE_POLICIES = ("reseed", "escalate")
DEFAULT_POLICY = "reseed"


def next_round(policy: str, targets: Sequence[dict[str, Any]], current: Knobs, first: Knobs, *,
               losses: Sequence[Sequence[float]] = (), denoise_steps: int) -> tuple[Knobs, bool]:
    """The knobs of the next re-optimisation round, and whether it warm-starts from the best φ* so far.

    ``reseed``: the first round's knobs, fresh φ; ``escalate``: ``next_knobs`` and a warm start.
    """
    if policy == "reseed":
        return first, False
    if policy == "escalate":
        return next_knobs(targets, current, first, losses=losses, denoise_steps=denoise_steps), True
    raise ValueError(f"the re-optimisation policy must be one of {REOPTIMIZE_POLICIES}, got {policy!r}")


def round_seed(seed: int, k: int) -> int:
    """The noise seed of round ``k`` (1-based) of a request whose first round uses ``seed``."""
    return seed + k - 1


def _stalled(losses: Sequence[Sequence[float]]) -> bool:
    values = [v for step in losses for v in step]
    if len(values) < 2 or values[0] <= 0:
        return False
    return (values[0] - values[-1]) < STALL * values[0]


def next_knobs(targets: Sequence[dict[str, Any]], current: Knobs, first: Knobs, *, losses: Sequence[Sequence[float]] = (),
               denoise_steps: int) -> Knobs:
    """The knobs of the next re-optimisation round (see the module docstring for each rule and its bound).

    ``targets``: the critic's targets of this round (``id``, ``issues``); ``current``: this round's
    knobs; ``first``: the first round's (the bounds are relative to them); ``losses``: this round's
    TTO losses; ``denoise_steps``: the denoising steps of a round.
    """
    issues = {i for t in targets for i in t.get("issues", [])}
    mass = bool(issues & MASS_ISSUES) or not issues
    time = bool(issues & TIME_ISSUES) or not issues

    weights = {k: 1.0 for k in current.object_weights}
    for t in targets:
        k = int(t["id"])
        weights[k] = min(MAX_WEIGHT, current.object_weights.get(k, 1.0) * WEIGHT_STEP)
    weights = {k: w for k, w in weights.items() if w != 1.0}

    iterations = current.iterations
    if mass:
        iterations = min(math.ceil(current.iterations * ITER_FACTOR),
                         max(math.ceil(first.iterations * MAX_ITER_FACTOR), first.iterations + 1))
    steps, phi_steps = current.steps, current.phi_steps
    if time:
        steps = min(current.steps + EXTRA_STEPS, max(math.ceil(first.steps * MAX_STEP_FACTOR), first.steps + 1),
                    denoise_steps)
        phi_steps = min(max(current.phi_steps, steps) + EXTRA_PHI_STEPS,
                        max(math.ceil(first.phi_steps * MAX_STEP_FACTOR), first.phi_steps + EXTRA_PHI_STEPS),
                        denoise_steps)
    phi_steps = max(phi_steps, steps)
    lr = current.lr
    if _stalled(losses):
        lr = min(current.lr * LR_FACTOR, first.lr * MAX_LR_FACTOR)
    threshold = max(current.loss_threshold * THRESHOLD_FACTOR, first.loss_threshold * MIN_THRESHOLD_FACTOR)
    return Knobs(steps=steps, iterations=iterations, lr=lr, loss_threshold=threshold, phi_steps=phi_steps,
                 object_weights=weights)


def best_round(history: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The history entry to deliver: the best by ``round_rank`` of its critic summary, the earliest on a tie."""
    best = None
    for entry in history:
        if best is None or round_rank(entry) > round_rank(best):
            best = entry
    return best
