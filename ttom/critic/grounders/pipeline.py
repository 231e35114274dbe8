"""Detect on keyframes, then track: the grounder behind the ``transformers`` and ``sam2`` backends.

1. The detector runs once per phrase (one caption per object, as T2V-CompBench and TTOM do) on up
   to ``num_keyframes`` evenly spaced frames; near-duplicate boxes (IoU > 0.9) are merged.
2. Each phrase's instances are its detections on the first keyframe where it is found (at most
   ``max(2·expected, expected + 2)``); the tracker follows them forward and backward from there.
3. One re-detection round: detections on a later keyframe that overlap no tracked instance of the
   phrase (IoU < 0.5, Grounded-SAM-2 style) become new instances, tracked from that keyframe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ttom import geometry
from ttom.critic.grounders.base import (
    Grounding,
    ObjectQuery,
    Track,
    check_frames,
    keyframe_indices,
    mask_box,
    mask_centroid,
)
from ttom.layout import Box


@dataclass(frozen=True)
class Prompt:
    """Track instance ``obj_id`` from its box in ``frame``."""

    obj_id: int
    frame: int
    box: Box  # normalised xyxy


@dataclass
class TrackerOutput:
    masks: np.ndarray  # (F, H, W) bool
    scores: np.ndarray  # (F,) float, the tracker's presence confidence
    present: np.ndarray  # (F,) bool


class Detector(Protocol):
    checkpoint: str

    def detect(self, images: Sequence[np.ndarray], phrase: str) -> list[list[tuple[Box, float]]]:
        """Per image, the phrase's boxes (normalised xyxy) and scores."""
        ...

    def provenance(self) -> dict[str, Any]: ...


class Tracker(Protocol):
    checkpoint: str

    def track(self, frames: np.ndarray, prompts: Sequence[Prompt]) -> dict[int, TrackerOutput]:
        """Every prompted instance through the whole video."""
        ...

    def provenance(self) -> dict[str, Any]: ...


def dedupe(dets: list[tuple[Box, float]], iou: float = 0.9) -> list[tuple[Box, float]]:
    """Highest score first; drop boxes overlapping a kept one by more than ``iou``."""
    kept: list[tuple[Box, float]] = []
    for box, score in sorted(dets, key=lambda d: -d[1]):
        if all(geometry.iou(box, k[0]) <= iou for k in kept):
            kept.append((box, score))
    return kept


class DetectTrackGrounder:
    """A ``VideoGrounder`` from a text detector and a box-prompted video tracker."""

    def __init__(self, name: str, detector: Detector, tracker: Tracker, num_keyframes: int = 8,
                 new_instance_iou: float = 0.5) -> None:
        self.name = name
        self.detector = detector
        self.tracker = tracker
        self.num_keyframes = num_keyframes
        self.new_instance_iou = new_instance_iou

    def ground(self, frames: np.ndarray, queries: Sequence[ObjectQuery]) -> Grounding:
        frames = check_frames(frames)
        n, h, w, _ = frames.shape
        keys = keyframe_indices(n, self.num_keyframes)
        images = [frames[k] for k in keys]

        # 1-2. detect each phrase on the keyframes; instances from its first keyframe with a hit
        info: dict[int, ObjectQuery] = {}
        prompts: list[Prompt] = []
        later: list[tuple[ObjectQuery, int, list[tuple[Box, float]]]] = []
        caps: dict[str, int] = {}
        for q in queries:
            dets = [dedupe(d) for d in self.detector.detect(images, q.phrase)]
            cap = max(2 * q.expected, q.expected + 2)
            caps[q.phrase] = cap
            first = next((i for i, d in enumerate(dets) if d), None)
            if first is None:
                continue
            for box, _ in dets[first][:cap]:
                oid = len(info) + 1  # SAM2 object ids: any ints; start at 1
                info[oid] = q
                prompts.append(Prompt(oid, keys[first], box))
            later += [(q, keys[i], dets[i]) for i in range(first + 1, len(keys)) if dets[i]]
        outputs = self.tracker.track(frames, prompts) if prompts else {}

        # 3. one re-detection round for instances that appear later
        extra: list[Prompt] = []
        done: set[str] = set()
        for q, f, dets in later:
            if q.phrase in done:
                continue
            mine = [oid for oid, qq in info.items() if qq.phrase == q.phrase]
            tracked = [mask_box(outputs[o].masks[f]) for o in mine if o in outputs and outputs[o].present[f]]
            new = [b for b, _ in dets if all(geometry.iou(b, t) < self.new_instance_iou for t in tracked)]
            room = caps[q.phrase] - len(mine)
            if new and room > 0:
                for box in new[:room]:
                    oid = len(info) + 1
                    info[oid] = q
                    extra.append(Prompt(oid, f, box))
                done.add(q.phrase)
        if extra:
            outputs.update(self.tracker.track(frames, extra))

        tracks: list[Track] = []
        for oid in sorted(info):
            q = info[oid]
            out = outputs.get(oid)
            if out is None:
                continue
            boxes: list[Box | None] = []
            cents: list[tuple[float, float] | None] = []
            scores: list[float] = []
            for f in range(n):
                ok = bool(out.present[f])
                boxes.append(mask_box(out.masks[f]) if ok else None)
                cents.append(mask_centroid(out.masks[f]) if ok else None)
                scores.append(float(out.scores[f]) if ok else 0.0)
            tracks.append(Track(instance_id=oid, phrase=q.phrase, name=q.name, boxes=boxes, scores=scores,
                                masks=out.masks, centroids=cents))
        return Grounding(
            backend=self.name, num_frames=n, height=h, width=w, tracks=tracks,
            provenance={
                "detector": self.detector.provenance(), "tracker": self.tracker.provenance(),
                "keyframes": keys, "new_instance_iou": self.new_instance_iou,
            },
        )
