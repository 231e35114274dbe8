"""Rendered shapes-world videos judged through the analytic backend, with the expected verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from ttom.critic.critique import critique
from ttom.critic.grounders.base import queries_from_layout
from ttom.critic.grounders.shapes import ShapesGrounder, label_components
from ttom.layout import Keyframe, Layout, LayoutObject
from ttom.shapes import world as w


def _scene(category: str, seed: int = 0) -> Layout:
    return w.sample_scene(np.random.default_rng(seed), [category]).layout


def _shifted(layout: Layout, dx: float) -> Layout:
    """Every box moved by ``dx`` towards the frame's centre."""
    d = layout.model_copy(deep=True)
    for o in d.objects:
        s = dx if o.keyframes[0].box[0] + o.keyframes[0].box[2] < 1 else -dx
        o.keyframes = [Keyframe(t=k.t, box=(k.box[0] + s, k.box[1], k.box[2] + s, k.box[3])) for k in o.keyframes]
    return d


def test_label_components():
    m = np.zeros((2, 5, 6), bool)
    m[0, 0:2, 0:2] = True
    m[0, 3:5, 3:6] = True
    m[1, 0:2, 0:2] = True  # same place, other frame: its own label
    lab = label_components(m)
    assert len(np.unique(lab[0])) == 3 and len(np.unique(lab[1])) == 2
    assert lab[0, 0, 0] != lab[1, 0, 0]


def _one_object(shape: str, color: str, box, background: str) -> Layout:
    return Layout(prompt="x", background=background, objects=[LayoutObject(
        id=0, name=shape, phrase=f"a {color} {shape}", keyframes=[Keyframe(t=0, box=box), Keyframe(t=1, box=box)])])


@pytest.mark.parametrize("size", sorted(w.SIZES.values()))
def test_every_world_shape_is_told_at_every_world_size_and_subpixel_position(size):
    # the world's own renders at the model's frame size, anywhere on the pixel grid: drawing the
    # templates in the component's pixel box called about one large circle in ten a square
    rng = np.random.default_rng(1)
    det = ShapesGrounder()
    wrong = []
    for k in range(60):
        shape = w.SHAPES[k % 3]
        color = list(w.COLORS)[k % 4]
        cx, cy = rng.uniform(0.2, 0.8, 2)
        lay = _one_object(shape, color, (cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2),
                          list(w.BACKGROUNDS)[k % 3])
        comps = det.components(w.render(lay, 1, 24))[0]
        if [(c.color, c.shape) for c in comps] != [(color, shape)]:
            wrong.append((shape, color, [(c.color, c.shape, round(c.shape_score, 2)) for c in comps]))
    assert not wrong


def test_a_square_with_a_soft_border_and_a_stray_pixel_is_a_square():
    # as the model draws them: a solid 7x7 core, a half-covered border, one border pixel over the
    # line; its pixel box is a pixel taller than the square, and the corners are background
    frame = np.full((24, 24, 3), 13, np.uint8)
    red = np.array(w.COLORS["red"])
    frame[6:15, 6:15] = (13 + 0.55 * (red - 13)).astype(np.uint8)
    frame[7:14, 7:14] = red
    frame[5, 10] = (13 + 0.52 * (red - 13)).astype(np.uint8)
    for y, x in [(6, 6), (6, 14), (14, 6), (14, 14)]:
        frame[y, x] = 13 + 0.3 * (red - 13)
    (comp,) = ShapesGrounder().components(frame[None])[0]
    assert (comp.color, comp.shape) == ("red", "square") and comp.shape_score > 0.8


@pytest.mark.parametrize("category", w.CATEGORIES)
def test_clean_videos_are_accepted(category):
    for seed in range(4):
        lay = _scene(category, seed)
        rep = critique(w.render(lay, frames=8, size=32), lay, backend="shapes")
        assert rep.decision == "accept", (lay.prompt, rep.reasons)
        assert rep.miou > 0.7 and rep.counts_ok and rep.relations_ok
        assert all(o.present == 1.0 and o.direction_ok for o in rep.objects)


def test_reversed_motion_is_reoptimised_with_the_direction_reason():
    lay = _scene("motion", 1)
    video = w.render(lay, frames=8, size=32)[::-1].copy()
    rep = critique(video, lay, backend="shapes")
    assert rep.decision == "reoptimize"
    assert all(o.direction_ok is False for o in rep.objects)
    for o in lay.objects:
        assert any(r.startswith(f"{o.name} (id {o.id}) moves") and "but the layout moves it" in r for r in rep.reasons)
    assert {t.id for t in rep.targets} == {0} and all("direction" in t.issues for t in rep.targets)


def test_two_movers_each_moving_as_the_other_was_planned_have_their_lanes_swapped():
    from ttom.agents.nodes import critic_issues
    from ttom.planning.fixes import direction_of, fix_layout

    lay = _scene("motion2", 1)  # two objects moving apart in two lanes
    rep = critique(w.render(lay, frames=8, size=32)[::-1].copy(), lay, backend="shapes")
    assert rep.decision == "repair" and [i.kind for i in rep.layout_issues] == ["swap"]
    assert rep.layout_issues[0].object_ids == [0, 1] and "each other's lanes" in rep.reasons[0]
    fixed = fix_layout(lay, critic_issues(rep.summary()))
    axis = 1 if direction_of(lay.objects[0]) in ("left", "right") else 0
    for a, b in ((0, 1), (1, 0)):
        old, new, other = lay.object(a), fixed.object(a), lay.object(b)
        assert direction_of(new) == direction_of(old)  # each keeps its own direction along the axis
        lane = [(k.box[axis] + k.box[axis + 2]) / 2 for k in new.keyframes]
        other_lane = [(k.box[axis] + k.box[axis + 2]) / 2 for k in other.keyframes]
        assert abs(sum(lane) / len(lane) - sum(other_lane) / len(other_lane)) < 0.05  # ... in the other's lane
    # only one of the two moving the wrong way is a video that did not follow: re-optimised, no swap
    one_back = lay.model_copy(deep=True)
    kfs = one_back.objects[0].keyframes
    one_back.objects[0].keyframes = [Keyframe(t=k.t, box=r.box) for k, r in zip(kfs, reversed(kfs), strict=True)]
    rep = critique(w.render(one_back, frames=8, size=32), lay, backend="shapes")
    assert [o.direction_ok for o in rep.objects] == [False, True]
    assert rep.decision == "reoptimize" and not rep.layout_issues


def test_shifted_video_is_reoptimised_off_box():
    for seed in range(3):
        lay = _scene("object", seed)
        video = w.render(_shifted(lay, 0.2), frames=8, size=32)  # drawn 6 px off its box
        rep = critique(video, lay, backend="shapes")
        assert rep.decision == "reoptimize"
        assert rep.miou < 0.3 and rep.objects[0].present == 1.0  # found, but in the wrong place
        assert any(r.startswith(f"{lay.objects[0].name} (id 0) off its boxes: mIoU") for r in rep.reasons)
        assert rep.targets[0].frames == list(range(8)) and rep.targets[0].issues == ["off_box"]


def test_erased_object_is_reoptimised_then_repaired():
    lay = _scene("binding", 3)
    only_first = Layout(prompt=lay.prompt, objects=lay.objects[:1], background=lay.background)
    video = w.render(only_first, frames=8, size=32)
    rep = critique(video, lay, backend="shapes")
    missing = lay.objects[1]
    assert rep.decision == "reoptimize"
    assert rep.objects[1].present == 0.0 and rep.objects[1].miou == 0.0
    assert f"{missing.name} (id 1) absent in frames 0-7 (present 0.00 < 0.75)" in rep.reasons
    assert rep.targets[0].id == 1 and rep.targets[0].frames == list(range(8))
    # absent again in the next round: the object is impossible there, the layout is repaired
    rep2 = critique(video, lay, backend="shapes", history=[rep.model_dump(mode="json")])
    assert rep2.decision == "repair"
    assert any("found in no frame for 2 rounds" in r for r in rep2.reasons)


def test_extra_instance_breaks_the_count():
    lay = _scene("count", 0)  # two or three of one phrase
    extra = lay.model_copy(deep=True)
    extra.objects = extra.objects[:-1]  # the video shows one fewer than planned
    rep = critique(w.render(extra, frames=8, size=32), lay, backend="shapes")
    assert rep.decision == "reoptimize" and not rep.counts_ok
    assert any(f"where {len(lay.objects)} are planned" in r for r in rep.reasons)


def test_layout_that_contradicts_its_prompt_is_repaired():
    lay = _scene("relation", 4)
    r = w.caption_spec(lay.prompt).relation
    flipped = {"left": "right", "right": "left", "above": "below", "below": "above"}[r]
    words = {v: k for k, v in w.RELATIONS.items()}
    bad = lay.model_copy(deep=True)
    bad.prompt = lay.prompt.replace(words[r], words[flipped])  # the layout now says the opposite
    rep = critique(w.render(lay, frames=8, size=32), bad, backend="shapes")
    assert rep.decision == "repair"
    assert any("the layout does not put" in x for x in rep.reasons)


def test_layout_motion_against_prompt_is_repaired():
    obj = LayoutObject(id=0, name="circle", phrase="a red circle", keyframes=[
        Keyframe(t=0.0, box=(0.1, 0.4, 0.3, 0.6)), Keyframe(t=1.0, box=(0.7, 0.4, 0.9, 0.6))])
    lay = Layout(prompt="a red circle moving left", objects=[obj])
    rep = critique(w.render(lay), lay, backend="shapes")
    assert rep.decision == "repair"
    assert rep.reasons == ["the layout moves circle (id 0) right (0.6, 0.0), but the prompt says it moves left"]


def test_backend_reports_instances_and_scores():
    lay = _scene("count", 1)
    g = ShapesGrounder().ground(w.render(lay, frames=8, size=48), queries_from_layout(lay))
    assert len(g.tracks) == len(lay.objects)
    assert len({t.instance_id for t in g.tracks}) == len(g.tracks)
    assert all(all(0.5 <= s <= 1.0 for s in t.scores) for t in g.tracks)


def test_overlay_is_written(tmp_path):
    from PIL import Image

    lay = _scene("motion", 0)
    path = tmp_path / "ov.png"
    critique(w.render(lay, frames=8, size=32), lay, backend="shapes", overlay_path=path)
    img = Image.open(path)
    assert img.size == (8 * 128, 128)
