"""Reading and writing videos, and drawing boxes on frames.

Frames are ``uint8`` arrays shaped ``(F, H, W, 3)``. Boxes are normalised ``[x0, y0, x1, y1]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

# A fixed palette so object i has the same colour in every picture ttom draws.
PALETTE = [
    (230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
    (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128),
]


# Videos and overlays written for people are at least this many pixels on their short side; the
# model's own frames (what the critic reads) stay at their size. A 24x24 shapes video is 8 pixels
# across a small object: nearest-neighbour upscaling keeps its pixels sharp and exact.
VIEW_MIN_SIDE = 192


def color_for(i: int) -> tuple[int, int, int]:
    return PALETTE[i % len(PALETTE)]


def view_factor(height: int, width: int, min_side: int = VIEW_MIN_SIDE) -> int:
    """The integer factor that brings the short side to at least ``min_side`` (1 if it already is)."""
    return max(1, -(-min_side // min(height, width)))


def for_viewing(frames: np.ndarray, min_side: int = VIEW_MIN_SIDE) -> np.ndarray:
    """A copy of ``frames`` for watching: nearest-neighbour upscaled to ``min_side`` on the short side."""
    frames = check_frames(frames)
    return upscale(frames, view_factor(frames.shape[1], frames.shape[2], min_side))


def label_font_size(height: int) -> int:
    """Label text size for frames ``height`` pixels high: 16 px at 192, never below PIL's default 10."""
    return max(10, height // 12)


def check_frames(frames: np.ndarray) -> np.ndarray:
    """The frames as a contiguous uint8 (F, H, W, 3) array, or a clear ValueError."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be shaped (F, H, W, 3), got {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8, got {frames.dtype}")
    if frames.shape[0] < 1:
        raise ValueError("the video has no frames")
    return np.ascontiguousarray(frames)


def write_video(frames: np.ndarray, path: str | Path, fps: int = 8) -> Path:
    """Write ``frames`` as mp4 (H.264 through imageio-ffmpeg) or gif, by the file's suffix."""
    import imageio.v3 as iio

    frames = check_frames(frames)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gif":
        iio.imwrite(path, frames, extension=".gif", duration=1000 / fps, loop=0)
    elif path.suffix == ".mp4":
        # H.264 needs even sides; pad by repeating the edge rather than rescaling.
        f, h, w, _ = frames.shape
        ph, pw = h % 2, w % 2
        if ph or pw:
            frames = np.pad(frames, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="edge")
        # pixelformat= (not a -pix_fmt output parameter, which ffmpeg then sees twice and warns about)
        iio.imwrite(path, frames, extension=".mp4", fps=fps, codec="libx264", macro_block_size=1,
                    pixelformat="yuv420p", output_params=["-crf", "12"])
    else:
        raise ValueError(f"unsupported video suffix {path.suffix!r}; use .mp4 or .gif")
    return path


def read_video(path: str | Path) -> np.ndarray:
    """All frames of a video file as ``(F, H, W, 3)`` uint8."""
    import imageio.v3 as iio

    from ttom.errors import ConfigError

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"video {path} does not exist")
    if path.stat().st_size == 0:
        raise ConfigError(f"video {path} is empty (0 bytes)")
    try:
        frames = np.asarray(iio.imread(path, index=None))
    except (OSError, ValueError, RuntimeError, IndexError, StopIteration) as e:
        reason = str(e).strip().splitlines()[0][:120] if str(e).strip() else type(e).__name__
        raise ConfigError(f"video {path} cannot be read as a video (mp4 or gif): {reason}") from None
    if frames.ndim not in (3, 4) or frames.size == 0:
        raise ConfigError(f"video {path} holds no frames")
    if frames.ndim == 3:  # a single frame
        frames = frames[None]
    return np.ascontiguousarray(frames[..., :3]).astype(np.uint8)


def draw_boxes(
    frames: np.ndarray,
    tracks: Sequence[Sequence[Sequence[float] | None]],
    labels: Sequence[str] | None = None,
    colors: Sequence[tuple[int, int, int]] | None = None,
    width: int = 1,
    dashed: bool = False,
) -> np.ndarray:
    """Draw one box track per object onto a copy of ``frames``.

    ``tracks[i][f]`` is object i's normalised box in frame f, or None where it is absent.
    """
    from PIL import Image, ImageDraw, ImageFont

    frames = check_frames(frames)
    out = frames.copy()
    n_frames, h, w, _ = frames.shape
    font = ImageFont.load_default(size=label_font_size(h)) if labels and h >= 48 else None
    for f in range(n_frames):
        img = Image.fromarray(out[f])
        draw = ImageDraw.Draw(img)
        for i, track in enumerate(tracks):
            if f >= len(track) or track[f] is None:
                continue
            x0, y0, x1, y1 = track[f]
            px = [x0 * (w - 1), y0 * (h - 1), x1 * (w - 1), y1 * (h - 1)]
            col = colors[i] if colors else color_for(i)
            if dashed:
                _dashed_rect(draw, px, col, width)
            else:
                draw.rectangle(px, outline=col, width=width)
            if labels and h >= 48:
                _label(draw, px, labels[i], col, font)
        out[f] = np.asarray(img)
    return out


def _label(draw, px, text: str, col, font) -> None:
    """``text`` on a filled tag in the box's colour, above the box (inside it at the frame's top edge),
    in black or white, whichever contrasts more with the tag."""
    x0, y0, _, _ = px
    left, top_, right, bottom = draw.textbbox((0, 0), text, font=font)
    pad = 2
    tag_h = bottom - top_ + 2 * pad
    top = y0 - tag_h if y0 - tag_h >= 0 else y0
    draw.rectangle([x0, top, x0 + right - left + 2 * pad, top + tag_h], fill=col)
    luminance = 0.299 * col[0] + 0.587 * col[1] + 0.114 * col[2]
    draw.text((x0 + pad - left, top + pad - top_), text, fill=(0, 0, 0) if luminance > 140 else (255, 255, 255), font=font)


def _dashed_rect(draw, px, col, width, dash: int = 3) -> None:
    x0, y0, x1, y1 = px
    for a, b, horizontal, fixed in ((x0, x1, True, y0), (x0, x1, True, y1), (y0, y1, False, x0), (y0, y1, False, x1)):
        s = a
        while s < b:
            e = min(s + dash, b)
            if horizontal:
                draw.line([(s, fixed), (e, fixed)], fill=col, width=width)
            else:
                draw.line([(fixed, s), (fixed, e)], fill=col, width=width)
            s += 2 * dash


def upscale(frames: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling, so small videos stay readable in overlays."""
    if factor <= 1:
        return frames
    return frames.repeat(factor, axis=1).repeat(factor, axis=2)


def contact_sheet(frames: np.ndarray, columns: int = 8) -> np.ndarray:
    """Tile frames into one image ``(rows*H, columns*W, 3)``, for overlays as PNG."""
    frames = check_frames(frames)
    n, h, w, _ = frames.shape
    columns = max(1, min(columns, n))
    rows = (n + columns - 1) // columns
    sheet = np.zeros((rows * h, columns * w, 3), dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, columns)
        sheet[r * h:(r + 1) * h, c * w:(c + 1) * w] = frames[i]
    return sheet
