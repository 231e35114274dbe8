"""The shapes world: vocabulary, grammar, determinism, rendering."""

from __future__ import annotations

import numpy as np
import pytest

from ttom.critic.prompt_facts import parse_prompt_facts
from ttom.shapes import world as w


def test_phrase_parsing():
    assert w.parse_phrase("a small red circle") == w.ShapeSpec("red", "circle", "small")
    assert w.parse_phrase("two Blue Squares") == w.ShapeSpec("blue", "square", None)
    assert w.parse_phrase("a dog") == w.ShapeSpec()


def test_grammar_size_and_categories():
    caps = w.all_captions()
    assert len(caps) == len(set(caps)) == 1104
    assert w.all_captions(["count"])[:2] == ["two red circles", "three red circles"]
    with pytest.raises(w.ShapesWorldError, match="unknown categories"):
        w.all_captions(["nope"])
    with pytest.raises(w.ShapesWorldError, match="not a caption"):
        w.caption_spec("a purple circle")


def test_sampling_is_deterministic():
    a = [w.sample_scene(np.random.default_rng(7)) for _ in range(3)]
    b = [w.sample_scene(np.random.default_rng(7)) for _ in range(3)]
    assert [s.layout.to_json() for s in a] == [s.layout.to_json() for s in b]
    ba, bb = w.sample_batch(16, np.random.default_rng(3)), w.sample_batch(16, np.random.default_rng(3))
    assert ba.captions == bb.captions and np.array_equal(ba.start, bb.start)


@pytest.mark.parametrize("category", w.CATEGORIES)
def test_scenes_satisfy_their_captions(category):
    """Every sampled layout states what its caption says, by the critic's own prompt parser."""
    rng = np.random.default_rng(0)
    for _ in range(30):
        sc = w.sample_scene(rng, [category])
        lay = sc.layout
        spec = w.caption_spec(sc.caption)
        assert len(lay.objects) == len(spec.objects)
        for o in lay.objects:
            x0, y0, x1, y1 = o.keyframes[0].box
            assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1
        facts = parse_prompt_facts(lay)
        boxes0 = [o.keyframes[0].box for o in lay.objects]
        if category == "relation":
            (r,) = facts.relations
            assert (r.subject, r.relation, r.object) == (0, spec.relation, 1)
            assert w.relation_of(boxes0[0], boxes0[1]) == spec.relation
        if category in ("motion", "motion2"):
            assert {m.object: m.direction for m in facts.motions} == dict(enumerate(spec.directions))
            for o, d in zip(lay.objects, spec.directions, strict=True):
                a, b = o.keyframes[0].box, o.keyframes[-1].box
                dx, dy = (b[0] - a[0]), (b[1] - a[1])
                assert {"left": -dx, "right": dx, "up": -dy, "down": dy}[d] >= 0.35
        if category == "count":
            assert facts.counts == {lay.objects[0].phrase: len(lay.objects)}
        if len(lay.objects) > 1 and category != "motion2":  # static scenes never overlap
            for i in range(len(boxes0)):
                for j in range(i):
                    assert w._apart(boxes0[i], boxes0[j])


def test_render_pixels_without_antialiasing():
    from ttom.layout import Layout, static_object

    lay = Layout(prompt="a red square", objects=[static_object(0, "square", [0.25, 0.25, 0.75, 0.5], "a red square")],
                 background="white")
    v = w.render(lay, frames=2, size=8, antialias=False)
    assert v.shape == (2, 8, 8, 3) and v.dtype == np.uint8
    inside = np.zeros((8, 8), bool)
    inside[2:4, 2:6] = True  # rows 2-3 (y 0.25-0.5), columns 2-5 (x 0.25-0.75)
    assert (v[:, inside] == w.COLORS["red"]).all()
    assert (v[:, ~inside] == w.BACKGROUNDS["white"]).all()


def test_render_shapes_are_distinct_and_antialiased():
    from ttom.layout import Layout, static_object

    areas = {}
    for shape in w.SHAPES:
        lay = Layout(prompt="x", objects=[static_object(0, shape, [0.0, 0.0, 1.0, 1.0], f"a blue {shape}")])
        v = w.render(lay, frames=1, size=32).astype(float)
        cov = (v[0, ..., 2] - w.BACKGROUNDS["black"][2]) / (w.COLORS["blue"][2] - w.BACKGROUNDS["black"][2])
        areas[shape] = cov.mean()
        assert ((cov > 0.01) & (cov < 0.99)).any() or shape == "square"  # blended edges
    assert areas["square"] == pytest.approx(1.0, abs=1e-3)
    assert areas["circle"] == pytest.approx(np.pi / 4, abs=0.01)
    assert areas["triangle"] == pytest.approx(0.5, abs=0.01)


def test_batch_renderer_matches_render():
    batch = w.sample_batch(6, np.random.default_rng(1))
    vids = batch.render(frames=5, size=24)
    assert tuple(vids.shape) == (6, 5, 24, 24, 3)
    for i, lay in enumerate(batch.layouts):
        ref = w.render(lay, frames=5, size=24, background=batch.backgrounds[i])
        got = (vids[i] * 255).round().clamp(0, 255).byte().numpy()
        assert np.abs(got.astype(int) - ref.astype(int)).max() <= 1
    assert batch.caption_ids.tolist() == [w.all_captions().index(c) for c in batch.captions]


def test_render_rejects_objects_outside_the_world():
    from ttom.layout import Layout, static_object

    lay = Layout(prompt="a dog", objects=[static_object(0, "dog", [0.1, 0.1, 0.3, 0.3], "a dog")])
    with pytest.raises(w.ShapesWorldError, match="needs a shape and a colour"):
        w.render(lay)
    with pytest.raises(w.ShapesWorldError, match="unknown background"):
        w.render(lay, background="pink")
    assert not w.is_shapes_layout(lay)
