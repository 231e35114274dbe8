"""The offline planner reads every caption of the bundled shapes world (the default model's own grammar)."""

import numpy as np
import pytest

from ttom.planning.plan import plan
from ttom.shapes import world


@pytest.mark.parametrize("category", ["object", "position", "motion", "count", "relation", "binding", "motion2"])
def test_every_shapes_caption_plans_into_its_objects(category):
    for caption in world.all_captions([category]):
        layout = plan(caption, planner="offline").layout
        truth = world.sample_scene(np.random.default_rng(0), caption=caption).layout
        assert world.is_shapes_layout(layout), caption
        assert sorted(o.phrase for o in layout.objects) == sorted(o.phrase for o in truth.objects), caption
