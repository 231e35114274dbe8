"""Scores on hand-computed cases."""

from __future__ import annotations

import pytest

from ttom.critic.config import CriticConfig
from ttom.critic.grounders.base import Grounding, Track, keyframe_indices, mask_box
from ttom.critic.metrics import (
    compbench_frame_score,
    direction_ok,
    frame_ranges,
    match_tracks,
    relation_holds,
    score_video,
)
from ttom.geometry import iou as box_iou
from ttom.layout import Keyframe, Layout, LayoutObject, static_object


def test_box_iou_hand_cases():
    assert box_iou((0, 0, 0.5, 0.5), (0, 0, 0.5, 0.5)) == 1.0
    assert box_iou((0, 0, 0.2, 0.2), (0.5, 0.5, 0.7, 0.7)) == 0.0
    # half overlap of two equal boxes: inter 1, union 3
    assert box_iou((0, 0, 0.2, 0.1), (0.1, 0, 0.3, 0.1)) == pytest.approx(1 / 3)
    # a 10x10 px box shifted by 2 px in a 100 px frame: 80 / 120
    assert box_iou((0.1, 0.1, 0.2, 0.2), (0.12, 0.1, 0.22, 0.2)) == pytest.approx(80 / 120)
    assert box_iou(None, (0, 0, 1, 1)) == 0.0


def test_mask_box_and_keyframes():
    import numpy as np

    m = np.zeros((10, 20), bool)
    m[2:4, 5:9] = True
    assert mask_box(m) == (5 / 20, 2 / 10, 9 / 20, 4 / 10)
    assert mask_box(np.zeros((4, 4), bool)) is None
    assert keyframe_indices(16, 8) == [0, 2, 4, 6, 9, 11, 13, 15]
    assert keyframe_indices(5, 8) == [0, 1, 2, 3, 4]


def test_direction_rules():
    cfg = CriticConfig()
    assert direction_ok((0.4, 0.0), (0.35, 0.02), cfg)
    assert not direction_ok((0.4, 0.0), (-0.35, 0.0), cfg)  # reversed
    assert not direction_ok((0.4, 0.0), (0.05, 0.0), cfg)  # too little of the planned way (< 0.3)
    assert not direction_ok((0.4, 0.0), (0.2, 0.3), cfg)  # cos 0.55 < 0.7
    assert direction_ok((0.0, 0.0), (0.03, 0.0), cfg)  # static within 0.06
    assert not direction_ok((0.0, 0.0), (0.2, 0.0), cfg)


def test_relation_rules_follow_t2v_compbench():
    a, b = (0.0, 0.4, 0.2, 0.6), (0.6, 0.3, 0.8, 0.5)  # a's centre is left of b's, |dx| > |dy|
    assert relation_holds("left", a, b) and not relation_holds("right", a, b)
    assert relation_holds("above", (0.4, 0.0, 0.6, 0.2), (0.3, 0.7, 0.5, 0.9))
    assert compbench_frame_score("left", None, None) == 0.0
    assert compbench_frame_score("left", a, None) == 0.2
    assert compbench_frame_score("right", a, b) == 0.4
    assert compbench_frame_score("left", a, b) == pytest.approx(1.0)  # disjoint: 0.4 + 0.6 * 1


def test_frame_ranges():
    assert frame_ranges([0, 1, 2, 5, 7, 8]) == "0-2, 5, 7-8"
    assert frame_ranges([]) == ""


def _track(iid, phrase, name, boxes):
    return Track(instance_id=iid, phrase=phrase, name=name, boxes=boxes, scores=[1.0 if b else 0.0 for b in boxes])


def test_match_tracks_finds_the_best_assignment():
    plans = {0: [(0.0, 0.0, 0.2, 0.2)] * 2, 1: [(0.5, 0.5, 0.7, 0.7)] * 2}
    t_a = _track(7, "a dot", "dot", [(0.5, 0.5, 0.7, 0.7)] * 2)
    t_b = _track(8, "a dot", "dot", [(0.0, 0.0, 0.2, 0.2)] * 2)
    m = match_tracks([0, 1], [t_a, t_b], plans)
    assert m[0].instance_id == 8 and m[1].instance_id == 7


def test_score_video_hand_computed():
    """Two frames; a moves right as planned, b is found only in frame 0 and shifted."""
    a = LayoutObject(id=0, name="car", phrase="a car", keyframes=[
        Keyframe(t=0.0, box=(0.0, 0.0, 0.2, 0.2)), Keyframe(t=1.0, box=(0.6, 0.0, 0.8, 0.2))])
    b = static_object(1, "dog", (0.5, 0.6, 0.7, 0.8), "a dog")
    lay = Layout(prompt="a car drives to the right above a dog", objects=[a, b])
    g = Grounding(backend="test", num_frames=2, height=10, width=10, tracks=[
        _track(1, "a car", "car", [(0.0, 0.0, 0.2, 0.2), (0.6, 0.0, 0.8, 0.2)]),
        _track(2, "a dog", "dog", [(0.55, 0.6, 0.75, 0.8), None]),
    ])
    s = score_video(lay, g)
    oa, ob = s.objects
    assert (oa.miou, oa.present, oa.direction_ok) == (1.0, 1.0, True)
    assert oa.prompt_direction == "right" and oa.layout_direction_ok
    # frame 0 IoU of a 0.05 shift on 0.2 wide boxes = 0.15/0.25 = 0.6; frame 1 missing = 0
    assert ob.ious == [0.6, 0.0] and ob.miou == 0.3 and ob.present == 0.5 and ob.direction_ok is None
    assert ob.missing_frames == [1] and ob.bad_frames == [1]
    # centre error over the frames where found: a exactly on its boxes, b 0.05 to the right in frame 0
    assert oa.centre_error == 0.0 and ob.centre_error == pytest.approx(0.05)
    assert s.miou == pytest.approx(0.65)
    # counts: dog found 1 then 0 of 1 planned -> per frame (1+1)/2, (1+0)/2 -> 0.75
    assert s.count_score == 0.75 and s.counts_ok
    (r,) = s.relations
    assert (r.subject, r.relation, r.object) == (0, "above", 1)
    assert r.layout_frac == 1.0  # frame 0: dy dominates; frame 1: the car is right above, still dy
    assert r.video_frac == 0.5 and r.compbench == pytest.approx(((0.4 + 0.6) + 0.2) / 2)
