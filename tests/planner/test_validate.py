"""Validator findings, the deterministic repair, and the scene abstraction."""

from __future__ import annotations

import pytest

from ttom.layout import Keyframe, Layout, LayoutObject, static_object
from ttom.planning.abstraction import abstract, direction_tokens
from ttom.planning.offline import plan_offline, repair_offline
from ttom.planning.plan import repair
from ttom.planning.validate import validate


def moving(i: int, name: str, a: list[float], b: list[float]) -> LayoutObject:
    return LayoutObject(id=i, name=name, phrase=f"a {name}", keyframes=[Keyframe(t=0, box=a), Keyframe(t=1, box=b)])


def codes(layout: Layout) -> set[str]:
    return {f.code for f in validate(layout).errors}


def test_valid_layout_has_no_errors():
    layout = Layout(prompt="a dog on the left of a cat", objects=[
        static_object(0, "dog", [0.1, 0.4, 0.35, 0.8]), static_object(1, "cat", [0.6, 0.4, 0.85, 0.8])])
    rep = validate(layout)
    assert rep.ok and rep.errors == []


def test_missing_and_wrong_count():
    layout = Layout(prompt="three dogs and a cat", objects=[static_object(0, "dog", [0.1, 0.4, 0.3, 0.8])])
    rep = validate(layout)
    assert {f.code for f in rep.errors} == {"wrong_count", "missing_object"}
    wc = next(f for f in rep.errors if f.code == "wrong_count")
    assert wc.object_ids == [0] and "3" in wc.message and wc.severity == "error"


def test_tiny_box_and_name_not_in_prompt_and_ids():
    layout = Layout(prompt="a dog in a park", objects=[
        static_object(3, "dog", [0.1, 0.1, 0.11, 0.5]), static_object(5, "giraffe", [0.5, 0.1, 0.9, 0.5])])
    rep = validate(layout)
    assert {f.code for f in rep.errors} == {"tiny_box", "name_not_in_prompt"}
    assert {f.code for f in rep.warnings} >= {"ids_not_sequential", "extra_object"}


def test_motion_findings():
    right = moving(0, "car", [0.1, 0.4, 0.3, 0.6], [0.7, 0.4, 0.9, 0.6])
    left = moving(0, "car", [0.7, 0.4, 0.9, 0.6], [0.1, 0.4, 0.3, 0.6])
    still = static_object(0, "car", [0.4, 0.4, 0.6, 0.6])
    p = "a car drives to the right"
    assert codes(Layout(prompt=p, objects=[right])) == set()
    assert codes(Layout(prompt=p, objects=[left])) == {"wrong_motion"}
    assert codes(Layout(prompt=p, objects=[still])) == {"no_motion"}
    rep = validate(Layout(prompt="a car parked by a tree", objects=[right, static_object(1, "tree", [0.4, 0.0, 0.6, 0.3])]))
    assert "unexpected_motion" in {f.code for f in rep.warnings}


@pytest.mark.parametrize(("rel", "ok_boxes", "bad_boxes"), [
    ("on the left of", ([0.1, 0.4, 0.3, 0.6], [0.6, 0.4, 0.8, 0.6]), ([0.6, 0.4, 0.8, 0.6], [0.1, 0.4, 0.3, 0.6])),
    ("above", ([0.4, 0.1, 0.6, 0.3], [0.4, 0.6, 0.6, 0.8]), ([0.4, 0.6, 0.6, 0.8], [0.4, 0.1, 0.6, 0.3])),
    ("in front of", ([0.35, 0.5, 0.6, 0.9], [0.3, 0.3, 0.6, 0.8]), ([0.1, 0.5, 0.3, 0.9], [0.6, 0.3, 0.9, 0.8])),
])
def test_relation_findings(rel, ok_boxes, bad_boxes):
    p = f"a cat {rel} a dog"
    ok = Layout(prompt=p, objects=[static_object(0, "cat", ok_boxes[0]), static_object(1, "dog", ok_boxes[1])])
    bad = Layout(prompt=p, objects=[static_object(0, "cat", bad_boxes[0]), static_object(1, "dog", bad_boxes[1])])
    assert "wrong_relation" not in codes(ok)
    assert "wrong_relation" in codes(bad)


def test_overlap_warning_only_without_implied_contact():
    boxes = ([0.3, 0.3, 0.6, 0.7], [0.32, 0.32, 0.62, 0.72])
    two = Layout(prompt="a cat and a dog", objects=[static_object(0, "cat", boxes[0]), static_object(1, "dog", boxes[1])])
    assert "overlap" in {f.code for f in validate(two).warnings}
    onit = Layout(prompt="a cat on a bed", objects=[static_object(0, "cat", [0.4, 0.2, 0.6, 0.45]),
                                                   static_object(1, "bed", [0.3, 0.4, 0.7, 0.8])])
    assert "overlap" not in {f.code for f in validate(onit).findings}


def test_offline_repair_fixes_in_place_when_it_can():
    p = "two dogs run to the right"
    objs = [moving(0, "dog", [0.7, 0.2, 0.9, 0.4], [0.1, 0.2, 0.3, 0.4]),  # wrong way
            moving(1, "dog", [0.1, 0.6, 0.3, 0.8], [0.7, 0.6, 0.9, 0.8]),
            moving(2, "dog", [0.1, 0.45, 0.11, 0.46], [0.8, 0.45, 0.81, 0.46])]  # surplus and tiny
    layout = Layout(prompt=p, objects=objs, enriched_prompt="Two dogs sprint right.")
    fixed = repair_offline(layout)
    assert validate(fixed).ok
    assert fixed.counts() == {"dog": 2} and fixed.enriched_prompt == "Two dogs sprint right."
    # the first dog was reversed in place, not re-planned: same boxes, other order
    assert fixed.objects[0].keyframes[0].box == (0.1, 0.2, 0.3, 0.4)


def test_offline_repair_borrows_missing_objects_from_the_offline_plan():
    layout = Layout(prompt="a cat on the left of a dog", objects=[static_object(0, "cat", [0.05, 0.4, 0.25, 0.7])])
    fixed = repair_offline(layout)
    assert validate(fixed).ok and fixed.counts() == {"cat": 1, "dog": 1}


def test_repair_without_llm_reports_offline_repair():
    layout = Layout(prompt="a car drives to the left", objects=[static_object(0, "car", [0.4, 0.4, 0.6, 0.6])])
    res = repair(layout, planner="offline")
    assert res.planner == "offline-repair" and res.repaired and validate(res.layout).ok


# --- abstraction ---------------------------------------------------------------------------------
def key(prompt: str) -> str:
    return abstract(plan_offline(prompt)).key


def test_abstraction_matches_the_official_form():
    assert key("A red kayak paddles to the left side of a calm lake.") == (
        "Direction: [left left left]. <object_0> <verb_0> to the left side of <environment_0>.")


def test_similar_scenes_share_a_key_and_different_ones_do_not():
    assert key("A red kayak paddles to the left side of a calm lake.") == key(
        "A cat slinking to the left side of a cozy living room")
    assert key("A drone flies leftwards while a bird swoops rightwards") == (
        "Direction: [left left left | right right right]. <object_0> <verb_0> leftwards while <object_1> <verb_1> rightwards.")
    assert key("A boat sails to the left on the ocean") != key("A boat sails to the right on the ocean")
    assert key("Three dogs run in a field") != key("A dog runs in a field")


def test_abstraction_placeholders_and_directions_from_the_layout():
    layout = Layout(prompt="a ball bounces", objects=[LayoutObject(id=0, name="ball", phrase="a ball", keyframes=[
        Keyframe(t=0, box=(0.1, 0.5, 0.2, 0.6)), Keyframe(t=0.33, box=(0.4, 0.5, 0.5, 0.6)),
        Keyframe(t=0.67, box=(0.4, 0.2, 0.5, 0.3)), Keyframe(t=1, box=(0.4, 0.2, 0.5, 0.3))])])
    assert direction_tokens(layout.objects[0]) == ["right", "up", "still"]
    k = abstract(layout)
    assert k.key == "Direction: [right up still]. <object_0> <verb_0>."
    assert k.objects == {"<object_0>": "ball"} and k.verbs == {"<verb_0>": "bounces"}
