"""The critic loop on the real graph (tiny-cogvideox on CPU, real critic policy, real memory): each round
changes what failed, the best round is delivered, only accepted φ* is memorized for skipping."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ttom.agents.run import run_agent

from .conftest import PROMPT, ScriptedJudge

NO_REPAIR = {"absent_rounds_for_repair": 9}  # keep re-optimising (the judge finds nothing in some rounds)


def _events(run, kind):
    return [e for e in run.events if e["event"] == kind]


def test_the_best_round_is_delivered_and_the_run_says_it_was_not_accepted(tmp_path, opts, two_objects):
    # round 1: nothing found; round 2: found in 60% of frames (best, still below the 75% presence bar);
    # round 3: found in 30%
    judge = ScriptedJudge(two_objects, found_in=set(), partly={2: 0.6, 3: 0.3})
    run = run_agent(PROMPT, layout=two_objects, critic=judge, keep_events=True,
                    options={**opts, "seed": 5, "max_rounds": 3, "reoptimize": "escalate",
                             "critic_thresholds": NO_REPAIR, "out_dir": str(tmp_path)})
    report = run.report
    h = report["history"]
    assert [x["round"] for x in h] == [1, 2, 3] and [x["decision"] for x in h] == ["reoptimize"] * 3
    scores = [x["score"] for x in h]
    assert scores[1] > scores[2] > scores[0], scores
    assert report["delivered_round"] == 2 and report["accepted"] is False and report["rounds"] == 3
    assert report["critic"]["miou"] == scores[1]  # the critic part is the delivered round's
    # the run folder holds round 2's files, not the last round's
    for name in ("video.mp4", "layout.json"):
        assert (tmp_path / name).read_bytes() == (tmp_path / "rounds" / "2" / name).read_bytes(), name
    assert (tmp_path / "video.mp4").read_bytes() != (tmp_path / "rounds" / "3" / "video.mp4").read_bytes()
    assert all(x["video"] == str(tmp_path / "rounds" / str(x["round"]) / "video.mp4") for x in h)
    assert all(x["reasons"] for x in h)
    # fresh noise each round, recorded, and each round's own report agrees
    assert [x["seed"] for x in h] == [5, 6, 7]
    for x in h:
        assert json.loads((tmp_path / "rounds" / str(x["round"]) / "report.json").read_text())["seed"] == x["seed"]
    f1, f2 = (np.load(tmp_path / "rounds" / str(k) / "frames.npy") for k in (1, 2))
    assert not np.array_equal(f1, f2)
    # the critic's targets became round 2's objective, and the optimisation escalated
    k1, k2, k3 = (x["knobs"] for x in h)
    assert k1["object_weights"] == {} and k2["object_weights"] == {"0": 2.0, "1": 2.0}
    assert k3["object_weights"] == {"0": 4.0, "1": 4.0}
    assert k2["iterations"] > k1["iterations"] and k2["loss_threshold"] < k1["loss_threshold"]
    assert [x["mode"] for x in h] == ["fresh", "warm", "warm"]
    tto2 = json.loads((tmp_path / "rounds" / "2" / "report.json").read_text())["tto"]
    assert len(tto2["losses"][0]) > 0
    gens = _events(run, "generate")
    assert [g["seed"] for g in gens] == [5, 6, 7] and gens[1]["object_weights"] == {"0": 2.0, "1": 2.0}
    assert _events(run, "report")[0]["accepted"] is False


def test_the_default_policy_reseeds_fresh_phi_with_the_recipe(tmp_path, opts, two_objects):
    judge = ScriptedJudge(two_objects, found_in=set(), partly={3: 0.3})
    run = run_agent(PROMPT, layout=two_objects, critic=judge, keep_events=True,
                    options={**opts, "seed": 2, "max_rounds": 3, "critic_thresholds": NO_REPAIR,
                             "out_dir": str(tmp_path)})
    h = run.report["history"]
    assert [x["seed"] for x in h] == [2, 3, 4] and [x["mode"] for x in h] == ["fresh"] * 3
    assert h[0]["knobs"] == h[1]["knobs"] == h[2]["knobs"] and h[0]["knobs"]["object_weights"] == {}
    assert [e["policy"] for e in _events(run, "reoptimize")] == ["reseed", "reseed"]
    assert run.report["delivered_round"] == 3  # the only round where anything was found


def test_rejected_phi_is_not_memorized_unless_asked_and_then_never_skips(tmp_path, opts, two_objects):
    from ttom.memory import MemoryStore

    o = {**opts, "max_rounds": 2, "critic_thresholds": NO_REPAIR}
    run = run_agent(PROMPT, layout=two_objects, critic=ScriptedJudge(two_objects, found_in=set(), partly={2: 0.5}),
                    options={**o, "out_dir": str(tmp_path / "a")})
    assert run.report["memory"]["action"] == "none" and MemoryStore(settings=None).count() == 0
    kept = run_agent(PROMPT, layout=two_objects, critic=ScriptedJudge(two_objects, found_in=set(), partly={2: 0.5}),
                     options={**o, "memorize_rejected": True, "out_dir": str(tmp_path / "b")})
    mem = kept.report["memory"]
    assert mem["action"] == "insert" and mem["pool"] == "best_effort" and mem["accepted"] is False
    assert mem["round"] == 2  # the best round's φ*, with its score
    entry = MemoryStore(settings=None).get(mem["entry_id"])
    assert entry.quality == kept.report["critic"]["miou"] > 0 and entry.signature.get("best_effort") is True
    # the same scene again, asking to skip optimisation on a hit: the best effort only warm-starts
    again = run_agent(PROMPT, layout=two_objects, critic=ScriptedJudge(two_objects), keep_events=True,
                      options={**opts, "memory_mode": "skip", "out_dir": str(tmp_path / "c")})
    r, recalled = again.report, _events(again, "memory")[0]
    assert recalled["hit"] is True and recalled["entry_id"] == mem["entry_id"] and recalled["pool"] == "best_effort"
    assert r["tto"]["mode"] == "warm" and r["tto"]["losses"]
    # accepted now: it goes to the accepted pool (a new entry), not into the best-effort one
    assert r["accepted"] is True and r["memory"]["action"] == "insert" and r["memory"]["pool"] == "accepted"
    assert r["memory"]["entry_id"] != mem["entry_id"]
    # and that accepted φ* may skip optimisation next time
    skip = run_agent(PROMPT, layout=two_objects, critic=ScriptedJudge(two_objects), keep_events=True,
                     options={**opts, "memory_mode": "skip", "out_dir": str(tmp_path / "d")})
    assert skip.report["tto"]["mode"] == "skip" and _events(skip, "memory")[0]["entry_id"] == r["memory"]["entry_id"]


WRONG_WAY = {"prompt": "a dog to the left of a cat", "objects": [
    {"id": 0, "name": "dog", "phrase": "a dog",
     "keyframes": [{"t": 0, "box": [0.6, 0.4, 0.9, 0.75]}, {"t": 1, "box": [0.6, 0.4, 0.9, 0.75]}]},
    {"id": 1, "name": "cat", "phrase": "a cat",
     "keyframes": [{"t": 0, "box": [0.1, 0.45, 0.35, 0.7]}, {"t": 1, "box": [0.1, 0.45, 0.35, 0.7]}]}]}


def test_a_wrong_relation_goes_from_the_critic_to_the_planner_which_swaps_the_boxes(monkeypatch):
    # The validator stops such a layout before generation; the critic reads prompts with its own
    # parser, and when it finds the layout wrong, its finding (not "enlarge") drives the repair.
    from ttom.agents import nodes
    from ttom.critic.critique import critique
    from ttom.layout import Layout
    from ttom.planning.fixes import relation_frac

    frames = np.zeros((9, 32, 32, 3), np.uint8)
    report = critique(frames, WRONG_WAY, backend=ScriptedJudge(WRONG_WAY))
    summary = report.summary()
    assert summary["decision"] == "repair"
    assert summary["layout_issues"] == [{"kind": "relation", "object_ids": [0, 1], "relation": "left",
                                         "message": summary["reasons"][0]}]
    events = []
    monkeypatch.setattr(nodes, "_emit", lambda event, **d: events.append({"event": event, **d}))
    state = {"options": {"planner": "offline"}, "current_layout": WRONG_WAY, "scene_prompt": WRONG_WAY["prompt"],
             "repair_reason": "critic", "critic": summary, "repairs": 0, "timings": {}}
    out = nodes.repair_layout(state, None)
    fixed = Layout.parse(out["current_layout"])
    assert relation_frac(fixed, 0, 1, "left") == 1.0 and out["repairs"] == 1 and out["next_tto"] is None
    assert "offline-fix of relation" in events[0]["how"]
    # sizes kept: a swap, not an enlargement
    for a, b in zip(Layout.parse(WRONG_WAY).objects, fixed.objects, strict=True):
        ba, bb = a.keyframes[0].box, b.keyframes[0].box
        assert (ba[2] - ba[0], ba[3] - ba[1]) == pytest.approx((bb[2] - bb[0], bb[3] - bb[1]))
