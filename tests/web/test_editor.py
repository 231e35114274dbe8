"""The layout editor in a real browser: drag and resize a box at a keyframe, add a keyframe, add and remove
objects; ``getLayout()`` is what gets generated (the Layout contract, checked by ``Layout.parse``)."""

from __future__ import annotations

import pytest

from ttom.layout import Layout

LAYOUT = {"prompt": "a red circle moving right and a blue square moving left",
          "objects": [{"id": 0, "name": "circle", "phrase": "a red circle",
                       "keyframes": [{"t": 0.0, "box": [0.05, 0.3, 0.3, 0.6]}, {"t": 1.0, "box": [0.7, 0.3, 0.95, 0.6]}]},
                      {"id": 1, "name": "square", "phrase": "a blue square",
                       "keyframes": [{"t": 0.0, "box": [0.7, 0.05, 0.95, 0.3]}, {"t": 1.0, "box": [0.05, 0.05, 0.3, 0.3]}]}]}


@pytest.fixture
def editor(page, live_api):
    page.goto(live_api.url + "/")
    page.evaluate("""layout => {
        window.ed = new LayoutEditor(layout);
        document.querySelector('#chat').prepend(window.ed.el);
    }""", LAYOUT)
    return page


def _canvas_point(page, x: float, y: float) -> tuple[float, float]:
    box = page.locator(".editor canvas").bounding_box()
    return box["x"] + x * box["width"], box["y"] + y * box["height"]


def _drag(page, a, b):
    page.mouse.move(*_canvas_point(page, *a))
    page.mouse.down()
    for i in range(1, 6):  # several moves, as a hand does
        page.mouse.move(*_canvas_point(page, a[0] + (b[0] - a[0]) * i / 5, a[1] + (b[1] - a[1]) * i / 5))
    page.mouse.up()


def test_drag_moves_and_a_corner_resizes_the_box_at_the_chosen_keyframe(editor):
    page = editor
    _drag(page, (0.175, 0.45), (0.275, 0.65))  # the circle's box at t=0 (centre), 0.1 right and 0.2 down
    got = page.evaluate("ed.getLayout()")
    circle = got["objects"][0]
    assert circle["keyframes"][0]["box"] == pytest.approx([0.15, 0.5, 0.4, 0.8], abs=0.01)
    assert circle["keyframes"][1]["box"] == [0.7, 0.3, 0.95, 0.6]  # the other keyframe is untouched
    page.click(".editor .keyframes button[data-t='1']")  # the last keyframe: resize the square by its corner
    _drag(page, (0.3, 0.3), (0.45, 0.5))
    got = page.evaluate("ed.getLayout()")
    assert got["objects"][1]["keyframes"][1]["box"] == pytest.approx([0.05, 0.05, 0.45, 0.5], abs=0.01)
    Layout.parse(got)  # still a valid layout
    assert "0.15, 0.50" not in page.inner_text(".editor .side")  # the side shows t=1's boxes now
    assert not page.js_errors


def test_a_keyframe_between_and_objects_added_and_removed(editor):
    page = editor
    page.click(".editor .add-keyframe")  # t = 0.5: each object gets its interpolated box there
    got = page.evaluate("ed.getLayout()")
    assert [k["t"] for k in got["objects"][0]["keyframes"]] == [0.0, 0.5, 1.0]
    assert got["objects"][0]["keyframes"][1]["box"] == pytest.approx([0.375, 0.3, 0.625, 0.6])
    _drag(page, (0.5, 0.45), (0.5, 0.25))  # move the circle up at t = 0.5 only: a bump in its path
    mid = page.evaluate("ed.getLayout()")["objects"][0]["keyframes"][1]["box"]
    assert mid[1] == pytest.approx(0.1, abs=0.01) and mid[3] == pytest.approx(0.4, abs=0.01)
    page.fill(".editor .add-object", "a green triangle")
    page.click(".editor .add button[type=submit]")
    got = page.evaluate("ed.getLayout()")
    assert [o["name"] for o in got["objects"]] == ["circle", "square", "triangle"]
    assert got["prompt"].endswith("and a green triangle")  # the generator finds objects by their word
    page.click(".editor .objects li[data-id='1'] .remove")
    got = page.evaluate("ed.getLayout()")
    assert [o["id"] for o in got["objects"]] == [0, 2]
    layout = Layout.parse(got)
    assert layout.counts() == {"circle": 1, "triangle": 1}
    page.fill(".editor .add-object", "   ")
    page.click(".editor .add button[type=submit]")
    assert "name the object" in page.inner_text(".editor .error")
    assert not page.js_errors
