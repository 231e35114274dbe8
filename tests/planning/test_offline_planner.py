"""The offline planner: objects, counts, attributes, relations, motions, sizes, overlaps."""

from __future__ import annotations

import itertools

import pytest

from ttom.geometry import centre, iou, relation_holds
from ttom.planning.errors import PlannerError
from ttom.planning.lexicon import singularize
from ttom.planning.offline import plan_offline
from ttom.planning.parse import analyze
from ttom.planning.validate import validate


@pytest.mark.parametrize(
    ("prompt", "counts"),
    [
        ("three dogs play in a park", {"dog": 3}),
        ("2 cats and 1 bird", {"cat": 2, "bird": 1}),
        ("a pair of boots next to a chair", {"boot": 2, "chair": 1}),
        ("Two pairs of sunglasses lie on a towel", {"sunglasses": 2, "towel": 1}),
        ("Four people sit around a table", {"person": 4, "table": 1}),
        ("Three children chase five butterflies", {"child": 3, "butterfly": 5}),
        ("Seven oranges roll on the counter near three cups.", {"orange": 7, "counter": 1, "cup": 3}),
        ("One bee and one butterfly fly in the garden.", {"bee": 1, "butterfly": 1}),
        ("Eight birds soar through the sky.", {"bird": 8}),
        ("A dolphin tosses a beach ball, sending the ball back", {"dolphin": 1, "beach ball": 1}),
        ("Three sheep graze on a hillside", {"sheep": 3}),
    ],
)
def test_counts_and_singular_names(prompt, counts):
    layout = plan_offline(prompt)
    assert layout.counts() == counts
    assert [o.id for o in layout.objects] == list(range(len(layout.objects)))


@pytest.mark.parametrize(("plural", "singular"), [("dogs", "dog"), ("boxes", "box"), ("butterflies", "butterfly"),
                                                  ("leaves", "leaf"), ("mice", "mouse"), ("buses", "bus"),
                                                  ("sheep", "sheep"), ("glass", "glass"), ("benches", "bench")])
def test_singularize(plural, singular):
    assert singularize(plural) == singular


def test_attributes_go_to_the_phrase_and_places_to_the_background():
    layout = plan_offline("A small red ceramic vase on a large wooden table in a sunny kitchen")
    vase, table = layout.objects
    assert vase.name == "vase" and vase.phrase == "a small red ceramic vase"
    assert table.name == "table" and "wooden" in table.phrase
    assert layout.background == "kitchen"
    # size adjectives matter: the large table is wider than the small vase
    b_vase, b_table = vase.keyframes[0].box, table.keyframes[0].box
    assert (b_table[2] - b_table[0]) > 2 * (b_vase[2] - b_vase[0])


@pytest.mark.parametrize(
    ("prompt", "rel"),
    [
        ("A dog sits on the left of a bicycle", "left"),
        ("A dog sits to the right side of a bicycle", "right"),
        ("A lamp hangs above a sofa", "above"),
        ("A cat sleeps on top of a television", "on"),
        ("A basket is placed below a shelf", "below"),
        ("A cat hides beneath a bench", "under"),
        ("A turtle rests underneath a chair", "under"),
        ("A horse stands in front of a barn", "in front of"),
        ("A car is parked behind a pig", "behind"),
        ("A dog sits next to a bench", "next to"),
    ],
)
def test_relations_hold_on_box_centres(prompt, rel):
    layout = plan_offline(prompt)
    a, b = layout.objects[0], layout.objects[1]
    for t in (0.0, 0.5, 1.0):
        assert relation_holds(rel, a.box_at(t), b.box_at(t)), (rel, a.box_at(t), b.box_at(t))
    overlapping = iou(a.keyframes[0].box, b.keyframes[0].box) > 0
    assert overlapping == (rel in ("in front of", "behind")) or rel in ("on", "under")


@pytest.mark.parametrize(
    ("prompt", "direction"),
    [
        ("A car drives from left to right", "right"),
        ("A rabbit hops from the right side to the left side", "left"),
        ("A boat sails to the left on the ocean", "left"),
        ("A drone flies rightwards", "right"),
        ("A ball rolls left across the floor", "left"),
        ("A balloon rising into the sky", "up"),
        ("An apple falling from a tree", "down"),
        ("A leaf descends slowly", "down"),
        ("The sun rises over the sea", "up"),
        ("A gift box falls from the top to the bottom of the screen", "down"),
        ("A cat moves towards the left", "left"),
        ("A squirrel climbs up a tree", "up"),
    ],
)
def test_motion_directions(prompt, direction):
    layout = plan_offline(prompt)
    mover = layout.objects[0]
    (x0, y0), (x1, y1) = centre(mover.keyframes[0].box), centre(mover.keyframes[-1].box)
    moved = {"left": x0 - x1, "right": x1 - x0, "up": y0 - y1, "down": y1 - y0}[direction]
    assert moved > 0.3, (mover.keyframes, direction)


def test_phrasal_up_and_a_hat_left_are_not_motions():
    assert analyze("A photographer setting up a tripod on the left of a tree").motions == []
    assert analyze("A hat left on a statue in a park").motions == []
    assert [m.direction for m in analyze("A lantern floats left down the river").motions] == ["left"]
    assert analyze("Two motorcycles glide down the highway").motions == []


def test_two_movers_get_separate_lanes_and_directions():
    layout = plan_offline("A ball rolls left while a puppy dashes right")
    ball, puppy = layout.objects
    assert centre(ball.keyframes[-1].box)[0] < centre(ball.keyframes[0].box)[0]
    assert centre(puppy.keyframes[-1].box)[0] > centre(puppy.keyframes[0].box)[0]
    for t in (0.0, 0.25, 0.5, 0.75, 1.0):
        assert iou(ball.box_at(t), puppy.box_at(t)) == 0


@pytest.mark.parametrize(("prompt", "axis"), [
    ("a red circle moving right and a blue square moving left", 1),
    ("a ball rolling down and a bird flying up", 0),
    ("a cat walking left, a dog running right and a horse galloping left", 1),
])
def test_movers_on_one_axis_share_the_frame_evenly_in_prompt_order(prompt, axis):
    objs = plan_offline(prompt, frame_aspect=1.0).objects
    lanes = [centre(o.keyframes[0].box)[axis] for o in objs]
    assert lanes == sorted(lanes)  # the first named takes the first lane (top, or left)
    gaps = [b - a for a, b in itertools.pairwise(lanes)]
    assert max(gaps) - min(gaps) < 1e-3 and gaps[0] > 0.2
    assert lanes[0] == pytest.approx(1 - lanes[-1], abs=1e-3)  # symmetric about the frame's middle


def test_unrelated_objects_do_not_overlap_and_stay_in_frame():
    layout = plan_offline("A dog, a cat, a horse and a cow stand in a field with three birds")
    for a, b in itertools.combinations(layout.objects, 2):
        assert iou(a.keyframes[0].box, b.keyframes[0].box) == 0, (a.name, b.name)
    for o in layout.objects:
        x0, y0, x1, y1 = o.keyframes[0].box
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1 and (x1 - x0) > 0.03


def test_visibility_and_waypoints():
    vis = plan_offline("A realistic lively video of a scene in which a walking dog appears only in the second half of the video")
    dog = vis.objects[0]
    assert dog.start == 0.5 and dog.end == 1.0 and dog.box_at(0.2) is None
    seq = plan_offline("A car initially on the lower left of the scene. It first moves to the upper left of the scene "
                       "and then moves to the upper right of the scene.")
    car = seq.objects[0]
    (x0, y0), (x1, y1), (x2, y2) = (centre(kf.box) for kf in car.keyframes)
    assert x0 < 0.5 < y0 and x1 < 0.5 and y1 < 0.5 and x2 > 0.5 and y2 < 0.5


def test_deterministic_and_valid():
    p = "Two red cars drive to the left while a dog sits on the right of a bench"
    a, b = plan_offline(p), plan_offline(p)
    assert a.to_json() == b.to_json()
    assert validate(a).ok, validate(a).summary()


def test_empty_prompt_is_a_clear_error():
    with pytest.raises(PlannerError, match="empty"):
        plan_offline("   ")


@pytest.mark.parametrize("aspect", [1.0, 1.5, 16 / 9])
def test_boxes_keep_an_objects_shape_on_the_videos_frame(aspect):
    from ttom.planning.plan import plan

    layout = plan("a red circle to the left of a tall tree", frame_aspect=aspect, planner="offline").layout
    circle, tree = (next(o for o in layout.objects if o.name == n) for n in ("circle", "tree"))
    x0, y0, x1, y1 = circle.keyframes[0].box
    assert (x1 - x0) * aspect == pytest.approx(y1 - y0, rel=1e-3)  # round stays round in pixels
    tx0, ty0, tx1, ty1 = tree.keyframes[0].box
    assert (tx1 - tx0) * aspect < (ty1 - ty0)  # a tall thing stays taller than wide


def test_a_frame_aspect_that_is_not_positive_is_refused():
    from ttom.planning.offline import plan_offline

    with pytest.raises(ValueError, match="frame_aspect"):
        plan_offline("a red circle", frame_aspect=0)


def test_the_agent_plans_for_the_models_frame():
    from ttom.agents.nodes import frame_aspect
    from ttom.agents.state import RunOptions

    assert frame_aspect("shapes", RunOptions()) == 1.0  # the bundled model's 24x24 frames
    assert frame_aspect("shapes", RunOptions(width=48, height=24)) == 2.0
    assert frame_aspect("cogvideox-5b", RunOptions()) == pytest.approx(720 / 480)
