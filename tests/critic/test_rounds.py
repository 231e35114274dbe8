"""The critic loop's policy (ttom.critic.rounds): each rule on its own, pure functions, no model."""

from __future__ import annotations

import pytest

from ttom.critic.policy import prompt_facts, round_rank
from ttom.critic.rounds import (
    MAX_LR_FACTOR,
    MAX_WEIGHT,
    Knobs,
    best_round,
    next_knobs,
    round_seed,
)

FIRST = Knobs(steps=2, iterations=4, lr=1e-3, loss_threshold=0.04, phi_steps=2)
FALLING = [[0.5, 0.3], [0.2]]  # the loss fell: no learning-rate change
FLAT = [[0.5, 0.49], [0.48]]  # stalled


def _next(targets, current=FIRST, losses=FALLING, denoise_steps=50):
    return next_knobs(targets, current, FIRST, losses=losses, denoise_steps=denoise_steps)


def test_each_round_has_its_own_seed_and_the_first_keeps_the_requested_one():
    assert [round_seed(7, k) for k in (1, 2, 3)] == [7, 8, 9]


def test_flagged_objects_weigh_more_each_round_they_are_flagged_up_to_the_cap():
    k2 = _next([{"id": 1, "issues": ["absent"]}])
    assert k2.object_weights == {1: 2.0}
    k3 = _next([{"id": 1, "issues": ["absent"]}, {"id": 0, "issues": ["off_box"]}], current=k2)
    assert k3.object_weights == {1: 4.0, 0: 2.0}
    k4 = _next([{"id": 1, "issues": ["absent"]}], current=k3)
    assert k4.object_weights == {1: MAX_WEIGHT}  # capped; object 0 is no longer flagged: back to 1 (dropped)


def test_missing_attention_mass_buys_more_iterations_within_twice_the_first():
    k = FIRST
    seen = []
    for _ in range(4):
        k = _next([{"id": 0, "issues": ["absent"]}], current=k)
        seen.append(k.iterations)
    assert seen == [6, 8, 8, 8]
    # ... and leaves the TTO steps alone: nothing says the motion or the relation is wrong
    assert k.steps == FIRST.steps and k.phi_steps == FIRST.phi_steps


def test_a_wrong_motion_keeps_phi_on_for_more_steps_within_bounds():
    k2 = _next([{"id": 0, "issues": ["direction"]}])
    assert (k2.steps, k2.phi_steps, k2.iterations) == (3, 4, FIRST.iterations)  # φ on 2 steps more, capped at 2×
    k3 = _next([{"id": 0, "issues": ["relation"]}], current=k2)
    assert (k3.steps, k3.phi_steps) == (4, 4)  # at most 2× the first round's
    # never more than the denoising steps
    k = _next([{"id": 0, "issues": ["direction"]}], denoise_steps=3)
    assert k.steps <= 3 and k.phi_steps <= 3


def test_off_box_and_untargeted_findings_escalate_both_ways():
    for targets in ([{"id": 0, "issues": ["off_box"]}], []):
        k = _next(targets)
        assert k.iterations > FIRST.iterations and k.steps > FIRST.steps and k.phi_steps > FIRST.phi_steps


def test_the_learning_rate_rises_only_when_the_loss_stalled_and_within_three_times_the_first():
    assert _next([{"id": 0, "issues": ["absent"]}], losses=FALLING).lr == FIRST.lr
    k = FIRST
    for _ in range(5):
        k = _next([{"id": 0, "issues": ["absent"]}], current=k, losses=FLAT)
    assert k.lr == pytest.approx(FIRST.lr * MAX_LR_FACTOR)
    assert _next([{"id": 0, "issues": ["absent"]}], losses=[]).lr == FIRST.lr  # no TTO ran: nothing to judge


def test_the_loss_threshold_halves_down_to_a_quarter_so_a_converged_phi_still_moves():
    k = FIRST
    values = []
    for _ in range(3):
        k = _next([{"id": 0, "issues": ["absent"]}], current=k)
        values.append(k.loss_threshold)
    assert values == pytest.approx([0.02, 0.01, 0.01])


def test_knobs_survive_the_json_state():
    k = Knobs(steps=3, iterations=6, lr=2e-3, loss_threshold=0.01, phi_steps=5, object_weights={1: 2.0})
    d = k.to_dict()
    assert d["object_weights"] == {"1": 2.0}
    assert Knobs.from_dict(d) == k and k.overrides()["object_weights"] == {1: 2.0}
    assert FIRST.overrides()["object_weights"] is None  # no weights: the engine's plain mean


def test_the_best_round_is_accepted_first_then_a_sound_layout_then_the_score():
    h = [{"round": 1, "decision": "reoptimize", "miou": 0.30},
         {"round": 2, "decision": "repair", "miou": 0.50},
         {"round": 3, "decision": "reoptimize", "miou": 0.35},
         {"round": 4, "decision": "reoptimize", "miou": 0.35}]
    assert best_round(h)["round"] == 3  # the higher score among sound layouts; the earlier one on a tie
    assert best_round([*h, {"round": 5, "decision": "accept", "miou": 0.41}])["round"] == 5
    assert best_round([{"round": 1, "decision": "skipped", "miou": None}])["round"] == 1
    assert best_round([]) is None


def test_within_a_decision_the_round_showing_more_of_the_prompt_wins_over_a_higher_miou():
    def summary(miou, circle_dir, square_dir, present=1.0):
        return {"decision": "reoptimize", "miou": miou, "counts_ok": True, "relations_ok": True,
                "objects": [{"id": 0, "present": present, "direction_ok": circle_dir},
                            {"id": 1, "present": 1.0, "direction_ok": square_dir}]}

    reversed_, right, half = summary(0.35, False, False), summary(0.20, True, True), summary(0.30, True, False)
    assert prompt_facts(right) == 1.0 and prompt_facts(reversed_) == pytest.approx(4 / 6)
    assert prompt_facts(summary(0.2, None, None, present=0.5)) == pytest.approx((0.5 + 1 + 1 + 1) / 4)
    assert prompt_facts(None) == 0.0
    # a history entry carries its facts; the summary's objects are not needed then
    h = [{"round": k, "decision": s["decision"], "miou": s["miou"], "facts": prompt_facts(s)}
         for k, s in enumerate((reversed_, right, half), start=1)]
    assert best_round(h)["round"] == 2
    assert round_rank(reversed_) < round_rank(half) < round_rank(right)
    assert round_rank({**reversed_, "decision": "accept"}) > round_rank(right)  # an accept still comes first


def test_the_reseed_policy_keeps_the_first_knobs_and_starts_fresh_the_escalating_one_changes_them():
    from ttom.critic.rounds import DEFAULT_POLICY, next_round

    current = Knobs(steps=4, iterations=12, lr=1e-3, loss_threshold=0.05, phi_steps=4, object_weights={0: 2.0})
    targets = [{"id": 1, "issues": ["absent"]}]
    assert DEFAULT_POLICY == "reseed"
    assert next_round("reseed", targets, current, FIRST, denoise_steps=20) == (FIRST, False)
    knobs, warm = next_round("escalate", targets, current, FIRST, denoise_steps=20)
    assert warm and knobs == next_knobs(targets, current, FIRST, denoise_steps=20) and knobs != FIRST
    with pytest.raises(ValueError, match="reseed"):
        next_round("again", targets, current, FIRST, denoise_steps=20)
