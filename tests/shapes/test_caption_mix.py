"""Training captions: compositional scenes are captioned in full only part of the time, otherwise by
their objects alone; the states file covers both."""

import re

import pytest
import torch

from ttom.shapes import world
from ttom.shapes.train import caption_mix_tables, mix_captions

LAYOUT_WORDS = {"left", "right", "top", "bottom", "above", "below", "moving", "up", "down", "two", "three", "of", "to",
                "on", "at", "the"}


def test_training_captions_extend_the_grammar_and_hold_every_object_caption():
    grammar, training = world.all_captions(), world.training_captions()
    assert training[:len(grammar)] == grammar  # caption ids of sample_batch index both
    assert len(set(training)) == len(training)
    assert {world.object_caption(c) for c in grammar} <= set(training)
    assert len(training) - len(grammar) == len(world.COLORS) * len(world.SHAPES)  # the plurals, "red circles"


@pytest.mark.parametrize("category", world.CATEGORIES)
def test_object_captions_name_the_same_objects_and_nothing_else(category):
    for caption in world.all_captions([category]):
        spec, short = world.caption_spec(caption), world.object_caption(caption)
        words = set(re.findall(r"[a-z]+", short))
        assert not words & LAYOUT_WORDS, (caption, short)
        plural = "s" if category == "count" else ""
        assert words - {"a", "and"} == {w for color, shape in spec.objects for w in (color, shape + plural)}
        if category in ("object", "binding"):
            assert short == caption
        if category == "count":  # plural kept, number dropped: never "a red circle" for several of them
            assert not short.startswith("a ") and short.endswith("s")


def test_mix_keeps_full_captions_at_the_given_rate_and_only_for_compositional_scenes():
    object_ids, compositional = caption_mix_tables()
    training = world.training_captions()
    ids = torch.arange(len(world.all_captions())).repeat(40)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(mix_captions(ids, object_ids, compositional, 1.0, g), ids)
    none = mix_captions(ids, object_ids, compositional, 0.0, g)
    for i, j in zip(ids[:1104].tolist(), none[:1104].tolist(), strict=True):
        caption = world.all_captions()[i]
        expected = world.object_caption(caption) if world.caption_spec(caption).category in world.COMPOSITIONAL \
            else caption
        assert training[j] == expected
    mixed = mix_captions(ids, object_ids, compositional, 0.2, g)
    comp = compositional[ids]
    kept = (mixed[comp] == ids[comp]).float().mean().item()
    assert kept == pytest.approx(0.2, abs=0.01)  # ~40,000 draws: sd 0.002
    assert torch.equal(mixed[~comp], ids[~comp])


def test_fit_refuses_a_probability_outside_0_1(tmp_path):
    import json

    from safetensors.torch import save_file

    from ttom.shapes import train

    states = tmp_path / "s.safetensors"
    save_file({"states": torch.zeros(1, 1, 1)}, str(states),
              metadata={"captions": json.dumps(world.training_captions()), "text_len": "24"})
    with pytest.raises(SystemExit, match="full-captions"):
        train.main(["fit", "--states", str(states), "--out", str(tmp_path / "m"), "--full-captions", "1.5",
                    "--device", "cpu"])
