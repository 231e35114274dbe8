"""The object-fidelity measure of benchmarks/shapes_train/fidelity.py judges rendered world videos right."""

import pytest

from tests.helpers.scripts import load_script
from ttom.layout import Layout, static_object
from ttom.shapes import world


@pytest.fixture(scope="module")
def fidelity():
    return load_script("shapes_train/fidelity.py")


def _video(*objects, size=24):
    objs = [static_object(i, shape, box, f"a {color} {shape}") for i, (color, shape, box) in enumerate(objects)]
    return world.render(Layout(prompt="x", objects=objs, background="gray"), frames=8, size=size)


def test_one_object_of_the_right_colour_and_shape_passes(fidelity):
    r = fidelity.judge(_video(("red", "circle", [0.2, 0.2, 0.5, 0.5])), "red", "circle")
    assert r["ok"] and r["frames_ok"] == 1.0 and r["failures"] == {}


@pytest.mark.parametrize("objects, reason", [
    ((("red", "circle", [0.1, 0.1, 0.4, 0.4]), ("red", "circle", [0.6, 0.6, 0.9, 0.9])), "extra objects"),
    ((("blue", "circle", [0.2, 0.2, 0.5, 0.5]),), "wrong colour"),
    ((("red", "triangle", [0.2, 0.2, 0.6, 0.6]),), "wrong shape"),
])
def test_extra_wrong_or_missing_objects_fail(fidelity, objects, reason):
    r = fidelity.judge(_video(*objects), "red", "circle")
    assert not r["ok"] and r["failures"] == {reason: 8}
