"""Videos written for people are upscaled (nearest neighbour) and the overlay's labels are legible;
the model's own frames are left as they are."""

import numpy as np
import pytest

from ttom.layout import Layout, static_object
from ttom.video import VIEW_MIN_SIDE, for_viewing, read_video


def _frames(seed: int = 0) -> np.ndarray:
    """8 frames of 24x24 in a handful of flat colours (so a GIF stores them exactly)."""
    rng = np.random.default_rng(seed)
    palette = np.array([[12, 12, 12], [230, 40, 40], [40, 90, 240], [240, 220, 40]], np.uint8)
    return palette[rng.integers(0, len(palette), size=(8, 24, 24))]


def _layout() -> Layout:
    return Layout(prompt="a red circle", objects=[static_object(0, "circle", [0.3, 0.4, 0.7, 0.8], "a red circle")])


@pytest.mark.parametrize("shape, expected", [((2, 24, 24, 3), (2, 192, 192, 3)), ((2, 24, 40, 3), (2, 192, 320, 3)),
                                             ((1, 200, 300, 3), (1, 200, 300, 3))])
def test_for_viewing_reaches_the_short_side_by_an_integer_nearest_neighbour_factor(shape, expected):
    frames = np.random.default_rng(1).integers(0, 256, size=shape, dtype=np.uint8)
    big = for_viewing(frames)
    assert big.shape == expected and min(big.shape[1:3]) >= min(VIEW_MIN_SIDE, min(shape[1:3]))
    k = expected[1] // shape[1]
    assert np.array_equal(big[:, ::k, ::k], frames)  # every pixel becomes a k x k block of itself
    assert np.array_equal(big, frames.repeat(k, 1).repeat(k, 2))


def test_written_videos_are_upscaled_and_the_model_frames_are_not(tmp_path):
    from ttom.engine.backends.base import VideoSpec
    from ttom.engine.outputs import write_outputs
    from ttom.engine.tto import GenerationResult

    frames = _frames()
    before = frames.copy()
    result = GenerationResult(frames=frames, spec=VideoSpec(num_frames=8, height=24, width=24, fps=4), mode="off",
                              layers=[], losses=[], phi=None, signature=None, token_groups={})
    report = write_outputs(tmp_path, result, _layout(), "shapes")
    assert np.array_equal(result.frames, before)  # what the critic reads stays the model's 24x24 frames
    assert report["video_spec"]["height"] == 24
    gif = read_video(tmp_path / "video.gif")
    assert gif.shape == (8, 192, 192, 3)
    assert np.array_equal(gif, frames.repeat(8, 1).repeat(8, 2))  # nearest neighbour, exactly
    mp4 = read_video(tmp_path / "video.mp4")
    assert mp4.shape == (8, 192, 192, 3)
    # lossy, but each 8x8 block is one colour: its mean is the model's pixel within a few levels
    blocks = mp4.reshape(8, 24, 8, 24, 8, 3).mean(axis=(2, 4))
    assert np.abs(blocks - frames).mean() < 6


def test_overlay_labels_stand_on_a_tag_above_the_box_in_legible_text():
    from ttom.engine.outputs import overlay_frames
    from ttom.video import color_for

    frames = np.full((2, 24, 24, 3), 12, np.uint8)
    over = overlay_frames(frames, _layout())
    assert over.shape == (2, 192, 192, 3)
    img = over[0]
    top = int(0.4 * 191)  # the box's top edge, in pixels
    tag = np.all(img[:top] == color_for(0), axis=-1)  # the label's tag, in the object's colour, above the box
    rows = np.flatnonzero(tag.any(axis=1))
    assert len(rows) and rows.max() >= top - 3  # the tag sits on the box
    cols = np.flatnonzero(tag.any(axis=0))
    window = img[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    # glyph pixels: far from the tag's colour (antialiased white text on the red tag)
    text = np.abs(window.astype(int) - np.array(color_for(0))).sum(axis=-1) > 150
    text_rows = np.flatnonzero(text.any(axis=1))
    text_cols = np.flatnonzero(text.any(axis=0))
    assert np.ptp(text_rows) + 1 >= 10  # glyphs at least 10 px high at 192 px
    assert np.ptp(text_cols) + 1 >= 40  # "0:circle" spelled out, not clipped
