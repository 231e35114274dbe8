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
        "A grey fox trotting to the left side of a quiet garden")
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


def test_count_edit_keeps_the_objects_attributes():
    """'now two squares' of a red square asks for two red squares (issue 18, ttom chat)."""
    from ttom.planning.edits import edit_request
    from ttom.planning.plan import plan as plan_fn

    lay = plan_fn("a red square moving right and a blue circle", planner="offline").layout
    edit = edit_request("now two squares", lay)
    assert edit.replan_prompt == "two red squares moving right and a blue circle"
    assert edit_request("add a square", plan_fn("two yellow squares", planner="offline").layout).replan_prompt == \
        "three yellow squares"
    assert edit_request("add an apple", plan_fn("a dog", planner="offline").layout).replan_prompt == "a dog and an apple"


# Every phrase the grammar reads as a relation (by RelationName) and as a direction; a key keeps the
# phrase's own words, and a side word ("left" in "to the left of") is never taken for a verb.
RELATION_PHRASES = {
    "left": ["to the left of", "on the left of", "at the left of", "left of", "on the left side of",
             "to the left-hand side of"],
    "right": ["to the right of", "on the right of", "at the right of", "right of", "on the right side of",
              "to the right-hand side of"],
    "above": ["above", "over", "high above"],
    "on": ["on", "on top of", "atop", "upon"],
    "below": ["below"],
    "under": ["under", "underneath", "beneath", "at the bottom of", "at the foot of"],
    "in front of": ["in front of", "in the front of"],
    "behind": ["behind", "in back of", "at the back of"],
    "next to": ["next to", "beside", "alongside", "close to", "near"],
    "in": ["in", "inside", "within"],
}
MOTION_PHRASES = {
    "left": ["moving left", "moves left", "rolls to the left", "drives towards the left", "moves leftwards",
             "moves from right to left", "moves to the left side"],
    "right": ["moving right", "moves right", "rolls to the right", "drives towards the right", "moves rightwards",
              "moves from left to right", "moves to the right side"],
    "up": ["moving up", "moves up", "moves upwards", "moves from the bottom to the top"],
    "down": ["moving down", "moves down", "moves downwards", "moves from the top to the bottom"],
}


def test_every_relation_name_has_phrases_under_test():
    from typing import get_args

    from ttom.planning.parse import RelationName

    assert set(get_args(RelationName)) - {"between"} == set(RELATION_PHRASES)


@pytest.mark.parametrize(("relation", "phrase"), [(r, p) for r, ps in RELATION_PHRASES.items() for p in ps])
def test_relation_words_stay_in_the_key(relation, phrase):
    from ttom.planning.parse import analyze

    prompt = f"a dog {phrase} a car"
    spec = analyze(prompt)
    assert [(r.subject, r.relation, r.reference) for r in spec.relations] == [(0, relation, 1)]
    k = abstract(plan_offline(prompt), prompt)
    assert k.template == f"<object_0> {phrase} <object_1>." and k.verbs == {}
    # with a verb before it, the verb is the placeholder and the relation keeps its words
    prompt = f"a dog sits {phrase} a car"
    k = abstract(plan_offline(prompt), prompt)
    assert k.template == f"<object_0> <verb_0> {phrase} <object_1>." and k.verbs == {"<verb_0>": "sits"}


@pytest.mark.parametrize(("direction", "phrase"), [(d, p) for d, ps in MOTION_PHRASES.items() for p in ps])
def test_direction_words_stay_in_the_key(direction, phrase):
    prompt = f"a ball {phrase}"
    k = abstract(plan_offline(prompt), prompt)
    verb, rest = phrase.split(" ", 1)
    assert k.template == f"<object_0> <verb_0> {rest}." and k.verbs == {"<verb_0>": verb}
    assert k.directions == [[direction] * 3]


def test_opposite_relations_and_directions_give_keys_that_differ_only_in_their_words():
    for a, b in (("left", "right"), ("above", "below"), ("in front of", "behind")):
        for pa, pb in zip(RELATION_PHRASES[a], RELATION_PHRASES[b], strict=False):
            ka, kb = key(f"a dog {pa} a car"), key(f"a dog {pb} a car")
            assert ka.replace(pa, "REL") == kb.replace(pb, "REL") and ka != kb
    assert key("the man left the room") == "Direction: [still]. <object_0> <verb_0> <environment_0>."


@pytest.mark.parametrize("opening", ["a video of", "A realistic video of a scene in which", "a short clip showing",
                                     "a top-down view of a scene with", "Footage of"])
def test_a_framing_opening_is_not_part_of_the_key(opening):
    assert key(f"{opening} a dog running to the left") == key("a dog running to the left")
