"""The detector/tracker interface every critic backend implements.

A backend (a ``VideoGrounder``) gets the video's frames and the layout's object phrases, and finds
each phrase's instances through the video: per instance a track of boxes per frame (None where the
instance is not found), a score per frame, and optionally its masks. It never sees the planned
boxes, so the scores in ``metrics`` judge the video, not the backend's prior.

Only numpy and the standard library are imported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ttom.layout import Box, Layout
from ttom.video import check_frames  # noqa: F401  (re-exported: the backends validate frames with it)


@dataclass(frozen=True)
class ObjectQuery:
    """One phrase to look for, and how many layout objects carry it (``expected`` instances)."""

    phrase: str
    name: str
    expected: int = 1


def queries_from_layout(layout: Layout) -> list[ObjectQuery]:
    """One query per distinct phrase (case and spacing ignored), in order of first appearance.

    N instances of a class (numeracy) share a phrase, so they are found by one query.
    """
    order: list[str] = []
    by_key: dict[str, ObjectQuery] = {}
    for obj in layout.objects:
        key = phrase_key(obj.phrase)
        q = by_key.get(key)
        if q is None:
            order.append(key)
            by_key[key] = ObjectQuery(phrase=obj.phrase, name=obj.name, expected=1)
        else:
            by_key[key] = ObjectQuery(phrase=q.phrase, name=q.name, expected=q.expected + 1)
    return [by_key[k] for k in order]


def phrase_key(phrase: str) -> str:
    return " ".join(phrase.lower().split())


@dataclass
class Track:
    """One found instance of a phrase through the video."""

    instance_id: int
    phrase: str
    name: str
    boxes: list[Box | None]  # per frame, normalised [x0, y0, x1, y1]; None = not found in that frame
    scores: list[float]  # per frame, the backend's confidence; 0.0 where not found
    masks: np.ndarray | None = None  # (F, H, W) bool when the backend segments
    centroids: list[tuple[float, float] | None] | None = None  # per frame, normalised; None = box centres

    @property
    def present(self) -> list[bool]:
        return [b is not None for b in self.boxes]

    def centroid(self, f: int) -> tuple[float, float] | None:
        """The instance's centre in frame f: its mask's centroid when known, else its box centre."""
        if self.centroids is not None and self.centroids[f] is not None:
            return self.centroids[f]
        b = self.boxes[f]
        if b is None:
            return None
        return ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)


@dataclass
class Grounding:
    """What a backend found in a video; ``provenance`` records how (checkpoints, thresholds, ...)."""

    backend: str
    num_frames: int
    height: int
    width: int
    tracks: list[Track]
    provenance: dict[str, Any] = field(default_factory=dict)

    def tracks_for(self, phrase: str) -> list[Track]:
        key = phrase_key(phrase)
        return [t for t in self.tracks if phrase_key(t.phrase) == key]


@runtime_checkable
class VideoGrounder(Protocol):
    """A critic backend: finds the layout's object phrases in a video."""

    name: str

    def ground(self, frames: np.ndarray, queries: Sequence[ObjectQuery]) -> Grounding:
        """``frames``: uint8 (F, H, W, 3). Returns every instance found for every query."""
        ...


def mask_box(mask: np.ndarray) -> Box | None:
    """The normalised box of a boolean (H, W) mask (pixel i spans [i/W, (i+1)/W)); None if empty."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    h, w = mask.shape
    return (float(xs.min()) / w, float(ys.min()) / h, float(xs.max() + 1) / w, float(ys.max() + 1) / h)


def mask_centroid(mask: np.ndarray) -> tuple[float, float] | None:
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    h, w = mask.shape
    return (float(xs.mean() + 0.5) / w, float(ys.mean() + 0.5) / h)


def keyframe_indices(num_frames: int, num_keyframes: int) -> list[int]:
    """Up to ``num_keyframes`` evenly spaced frame indices, first and last included."""
    if num_keyframes >= num_frames or num_keyframes < 2:
        return list(range(num_frames)) if num_keyframes >= num_frames else [0]
    return sorted({int(round(x)) for x in np.linspace(0, num_frames - 1, num_keyframes)})
