"""Layout repair that answers the critic: the offline fixes (ttom.planning.fixes) and the LLM path with the findings."""

from __future__ import annotations

import pytest

from tests.helpers.llm_server import Reply, completion
from tests.planning.conftest import layout_json, obj
from ttom.geometry import centre, iou
from ttom.layout import Layout, static_object
from ttom.planning.fixes import LayoutIssue, direction_of, fix_layout, relation_frac, unresolved
from ttom.planning.plan import repair_from_critic


def _layout(prompt: str, *objects) -> Layout:
    return Layout(prompt=prompt, objects=list(objects))


def _size(b):
    return round(b[2] - b[0], 6), round(b[3] - b[1], 6)


def test_a_wrong_relation_is_fixed_by_swapping_places_keeping_sizes():
    lay = _layout("a dog to the left of a cat", static_object(0, "dog", [0.6, 0.4, 0.9, 0.7]),
                  static_object(1, "cat", [0.1, 0.45, 0.3, 0.65]))
    issue = LayoutIssue(kind="relation", object_ids=[0, 1], relation="left", message="dog is not left of cat")
    assert relation_frac(lay, 0, 1, "left") == 0.0 and unresolved(lay, [issue]) == [issue]
    fixed = fix_layout(lay, [issue])
    assert relation_frac(fixed, 0, 1, "left") == 1.0 and unresolved(fixed, [issue]) == []
    for before, after in zip(lay.objects, fixed.objects, strict=True):
        assert _size(before.keyframes[0].box) == _size(after.keyframes[0].box)  # moved, not resized
    assert centre(fixed.objects[0].keyframes[0].box)[0] < 0.5 < centre(fixed.objects[1].keyframes[0].box)[0]


def test_a_relation_that_swapping_cannot_fix_moves_the_subject_beside_the_reference():
    # one above the other: swapping still leaves them stacked; "left of" needs a sideways move
    lay = _layout("a ball to the left of a box", static_object(0, "ball", [0.4, 0.1, 0.6, 0.3]),
                  static_object(1, "box", [0.4, 0.6, 0.6, 0.8]))
    issue = LayoutIssue(kind="relation", object_ids=[0, 1], relation="left", message="ball is not left of box")
    fixed = fix_layout(lay, [issue])
    assert relation_frac(fixed, 0, 1, "left") == 1.0
    ball, box = fixed.objects[0].keyframes[0].box, fixed.objects[1].keyframes[0].box
    assert ball[2] <= box[0] and iou(ball, box) == 0.0


@pytest.mark.parametrize("want", ["left", "up"])
def test_a_wrong_direction_reverses_the_track_or_makes_one(want):
    moving_right = {"id": 0, "name": "car", "phrase": "a car",
                    "keyframes": [{"t": 0, "box": [0.1, 0.5, 0.3, 0.7]}, {"t": 1, "box": [0.6, 0.5, 0.8, 0.7]}]}
    lay = Layout.parse({"prompt": f"a car drives {want}", "objects": [moving_right]})
    issue = LayoutIssue(kind="direction", object_ids=[0], direction=want, message=f"the layout does not move it {want}")
    fixed = fix_layout(lay, [issue])
    car = fixed.objects[0]
    assert direction_of(car) == want and unresolved(fixed, [issue]) == []
    if want == "left":  # reversing is enough: the same boxes, the other way round
        assert [k.box for k in car.keyframes] == [k.box for k in lay.objects[0].keyframes][::-1]
    assert all(0 <= v <= 1 for k in car.keyframes for v in k.box)


def test_a_wrong_count_adds_an_instance_in_free_space_or_drops_surplus_ones():
    lay = _layout("two dogs and a cat", static_object(0, "dog", [0.1, 0.4, 0.3, 0.7], "a dog"),
                  static_object(1, "cat", [0.7, 0.4, 0.9, 0.7], "a cat"))
    issue = LayoutIssue(kind="count", object_ids=[0], count=2, phrase="a dog", message="2 dogs asked, 1 planned")
    fixed = fix_layout(lay, [issue])
    assert fixed.counts() == {"dog": 2, "cat": 1} and [o.id for o in fixed.objects] == [0, 1, 2]
    dogs = [o for o in fixed.objects if o.name == "dog"]
    assert dogs[1].phrase == "a dog" and all(iou(dogs[1].keyframes[0].box, o.keyframes[0].box) == 0
                                             for o in fixed.objects if o is not dogs[1])
    assert unresolved(fixed, [issue]) == []
    three = _layout("a dog", *(static_object(i, "dog", [0.1 + 0.3 * i, 0.4, 0.25 + 0.3 * i, 0.6], "a dog")
                               for i in range(3)))
    one = fix_layout(three, [LayoutIssue(kind="count", object_ids=[0, 1, 2], count=1, phrase="a dog", message="")])
    assert one.counts() == {"dog": 1} and one.objects[0].keyframes == three.objects[0].keyframes


def test_an_object_never_found_gets_a_larger_box():
    lay = _layout("a bird", static_object(0, "bird", [0.4, 0.4, 0.5, 0.5]))
    fixed = fix_layout(lay, [LayoutIssue(kind="absent", object_ids=[0], message="bird found in no frame")])
    b = fixed.objects[0].keyframes[0].box
    assert _size(b) == pytest.approx((0.125, 0.125)) and centre(b) == pytest.approx((0.45, 0.45))


def test_the_llm_gets_the_critics_findings_and_its_answer_is_checked(server, settings):
    lay = Layout.parse({"prompt": "a dog to the left of a cat", "objects": [
        obj(0, "dog", [0.6, 0.4, 0.9, 0.7]), obj(1, "cat", [0.1, 0.45, 0.3, 0.65])]})
    issue = LayoutIssue(kind="relation", object_ids=[0, 1], relation="left", message="dog (id 0) is not left of cat")
    good = layout_json([obj(0, "dog", [0.1, 0.4, 0.4, 0.7]), obj(1, "cat", [0.6, 0.45, 0.8, 0.65])])
    server.script(Reply(body=completion(content=good)))
    res = repair_from_critic(lay, [issue], settings=settings)
    assert res.planner == "llm" and relation_frac(res.layout, 0, 1, "left") == 1.0
    msg = server.requests[0]["messages"][-1]["content"]
    assert "wrong_relation" in msg and "dog (id 0) is not left of cat" in msg and "critic" in msg
    # an LLM answer that leaves the relation wrong is not taken: the offline fix answers instead
    server.script(Reply(body=completion(content=layout_json([obj(0, "dog", [0.6, 0.4, 0.9, 0.7]),
                                                              obj(1, "cat", [0.1, 0.45, 0.3, 0.65])]))))
    res = repair_from_critic(lay, [issue], settings=settings)
    assert res.planner == "offline-fix" and "did not answer the critic" in res.notes[0]
    assert relation_frac(res.layout, 0, 1, "left") == 1.0
    # offline only: no request at all
    n = len(server.requests)
    assert repair_from_critic(lay, [issue], planner="offline", settings=settings).planner == "offline-fix"
    assert len(server.requests) == n


def test_an_issue_reads_as_a_validator_finding_for_the_prompt():
    f = LayoutIssue(kind="count", object_ids=[0], count=2, phrase="a dog", message="2 asked").to_finding()
    assert f.code == "wrong_count" and f.severity == "error" and "2 asked" in f.message
