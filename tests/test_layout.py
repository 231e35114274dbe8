import json

import pytest

from ttom.layout import Keyframe, Layout, LayoutError, frame_times, load_layouts, static_object

EXAMPLE = {
    "prompt": "a red car drives to the left while a dog sits on the right",
    "objects": [
        {"id": 0, "name": "car", "phrase": "a red car",
         "keyframes": [{"t": 0.0, "box": [0.60, 0.55, 0.90, 0.85]}, {"t": 1.0, "box": [0.05, 0.55, 0.35, 0.85]}]},
        {"id": 1, "name": "dog", "phrase": "a dog",
         "keyframes": [{"t": 0.0, "box": [0.70, 0.60, 0.85, 0.90]}, {"t": 1.0, "box": [0.70, 0.60, 0.85, 0.90]}]},
    ],
    "background": "street",
}


def test_round_trip_is_identical():
    layout = Layout.parse(EXAMPLE)
    again = Layout.parse(layout.to_json())
    assert again == layout
    assert json.loads(layout.to_json()) == EXAMPLE


def test_interpolation_midpoint_and_frames():
    layout = Layout.parse(EXAMPLE)
    car = layout.object(0)
    assert car.box_at(0.5) == pytest.approx((0.325, 0.55, 0.625, 0.85))
    tracks = layout.frame_boxes(5)
    assert tracks[0][0] == pytest.approx((0.60, 0.55, 0.90, 0.85))
    assert tracks[0][-1] == pytest.approx((0.05, 0.55, 0.35, 0.85))
    assert tracks[0][2] == pytest.approx((0.325, 0.55, 0.625, 0.85))
    assert tracks[1] == [pytest.approx((0.70, 0.60, 0.85, 0.90))] * 5


def test_absent_before_first_and_after_last_keyframe():
    obj = {"id": 0, "name": "bird", "phrase": "a bird",
           "keyframes": [{"t": 0.25, "box": [0.1, 0.1, 0.2, 0.2]}, {"t": 0.75, "box": [0.5, 0.1, 0.6, 0.2]}]}
    layout = Layout.parse({"prompt": "a bird", "objects": [obj]})
    track = layout.frame_boxes(9)[0]  # frame times 0, .125, ..., 1
    assert track[0] is None and track[1] is None
    assert track[2] == pytest.approx((0.1, 0.1, 0.2, 0.2))
    assert track[6] == pytest.approx((0.5, 0.1, 0.6, 0.2))
    assert track[7] is None and track[8] is None


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda d: d["objects"][0]["keyframes"][0].__setitem__("box", [0.5, 0.2, 0.4, 0.3]), "objects.0.keyframes.0.box"),
        (lambda d: d["objects"][0]["keyframes"][1].__setitem__("box", [0.1, 0.2, 1.4, 0.3]), "objects.0.keyframes.1.box"),
        (lambda d: d["objects"][1]["keyframes"][1].__setitem__("t", 0.0), "objects.1.keyframes"),
        (lambda d: d["objects"][1].__setitem__("id", 0), "objects.1.id"),
        (lambda d: d["objects"][0].__setitem__("name", "  "), "objects.0.name"),
        (lambda d: d["objects"][0].__setitem__("colour", "red"), "objects.0.colour"),
        (lambda d: d.__setitem__("prompt", ""), "prompt"),
    ],
)
def test_errors_name_the_bad_field(mutate, field):
    data = json.loads(json.dumps(EXAMPLE))
    mutate(data)
    with pytest.raises(LayoutError) as e:
        Layout.parse(data)
    assert field in str(e.value)


def test_bad_json_is_a_layout_error(tmp_path):
    p = tmp_path / "l.json"
    p.write_text("{not json")
    with pytest.raises(LayoutError, match="l.json"):
        Layout.from_file(p)
    with pytest.raises(LayoutError, match="does not exist"):
        Layout.from_file(tmp_path / "missing.json")


def test_counts_names_and_helpers():
    layout = Layout(prompt="three birds", objects=[static_object(i, "bird", [0.1 * i, 0.1, 0.1 * i + 0.1, 0.2]) for i in range(3)])
    assert layout.names == ["bird"]
    assert layout.counts() == {"bird": 3}
    assert frame_times(1) == [0.0] and frame_times(3) == [0.0, 0.5, 1.0]
    with pytest.raises(LayoutError):
        frame_times(0)
    lines = [layout.to_json(indent=None), "", Layout.parse(EXAMPLE).to_json(indent=None)]
    assert [len(x.objects) for x in load_layouts(lines)] == [3, 2]
    with pytest.raises(LayoutError, match="line 2"):
        load_layouts([layout.to_json(indent=None), "{}"])
    assert Keyframe(t=0.5, box=(0.1, 0.1, 0.2, 0.2)).t == 0.5
