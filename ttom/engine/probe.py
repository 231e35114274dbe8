"""Layer probing: which blocks' attention agrees with object locations.

TTOM optimises attention in the layers where it already follows the objects (the paper probes
layers by the mIoU between attention maps and object masks found in the generated videos). For
each layout, the plain model generates its video while the conditional branch's video→object maps
of every block are read at chosen denoising steps; each map is min-max normalised per frame and
compared by soft IoU = Σ(A·M) / Σ(A + M − A·M), averaged over objects and present frames, with
box masks of either

- where the objects are in the generated video (``locate``: a detector such as the critic's;
  the paper's protocol), or
- the planned layout's boxes (no ``locate``; the plain model does not follow them, so this
  mostly measures how well a layer already agrees with the plan).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ttom.engine.backends.base import Backend, VideoSpec
from ttom.engine.masks import box_mask, layout_targets
from ttom.engine.tto import Observer, TTOConfig, generate
from ttom.layout import Layout


def soft_iou(maps: torch.Tensor, masks: torch.Tensor, present: torch.Tensor) -> float:
    """maps, masks (G, F, H, W), present (G, F) → mean soft IoU over present (object, frame) pairs."""
    a = maps.float()
    lo = a.amin(dim=(-2, -1), keepdim=True)
    hi = a.amax(dim=(-2, -1), keepdim=True)
    a = (a - lo) / (hi - lo).clamp_min(1e-12)
    inter = (a * masks).sum(dim=(-2, -1))
    union = (a + masks - a * masks).sum(dim=(-2, -1)).clamp_min(1e-12)
    return float((inter / union)[present].mean())


@dataclass
class ProbeRow:
    block: int
    soft_iou: float
    std: float
    samples: int


# locate(frames, layout) -> {object name: per video frame, the list of boxes found for that name}
Locator = Callable[[np.ndarray, Layout], dict[str, list[list]]]


def found_masks(found: dict[str, list[list]], names: list[str], grid: tuple[int, int, int],
                num_frames: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Box masks (G, F, H, W) and presence (G, F) on the token grid from boxes found in the video."""
    f, h, w = grid
    masks = torch.zeros(len(names), f, h, w, device=device)
    for g, name in enumerate(names):
        per_frame = found.get(name, [])
        for j in range(f):
            src = round(j * (num_frames - 1) / max(f - 1, 1))  # the video frame this token frame shows
            for box in per_frame[src] if src < len(per_frame) else []:
                masks[g, j] = torch.maximum(masks[g, j], box_mask(box, h, w, device=device))
    return masks, masks.flatten(2).amax(-1) > 0


def probe_layers(backend: Backend, layouts: list[Layout], blocks: list[int] | None = None,
                 at_steps: tuple[int, ...] | None = None, steps: int | None = None, spec: VideoSpec | None = None,
                 seed: int = 0, progress=None, locate: Locator | None = None) -> list[ProbeRow]:
    """Per-block soft IoU between attention maps and object boxes (found, or planned), best first."""
    blocks = blocks if blocks is not None else list(range(backend.num_blocks))
    steps = steps or backend.defaults.steps
    at_steps = at_steps or tuple(sorted({0, steps // 4, steps // 2}))
    spec = spec or backend.defaults.video
    grid = backend.token_grid(spec)
    scores: dict[int, list[float]] = defaultdict(list)
    for n, layout in enumerate(layouts):
        g = len(layout.names)
        recorded: list[dict[int, torch.Tensor]] = []
        result = generate(backend, layout, TTOConfig(mode="off"), spec=spec, steps=steps, seed=seed + n,
                          observer=Observer(tuple(blocks), at_steps, lambda _s, maps, rec=recorded: rec.append(maps)))
        if locate is None:
            masks, present = layout_targets(layout, grid, kind="box", device=backend.device)
            masks = (masks > 0).float()
        else:
            masks, present = found_masks(locate(result.frames, layout), layout.names, grid, len(result.frames),
                                         device=backend.device)
        if present.any():
            for maps in recorded:
                for b, m in maps.items():
                    scores[b].append(soft_iou(m.T.reshape(g, *grid), masks, present))
        if progress:
            progress(n + 1, len(layouts))
    rows = []
    for b in blocks:
        v = torch.tensor(scores[b])
        if len(v):
            rows.append(ProbeRow(b, float(v.mean()), float(v.std()) if len(v) > 1 else 0.0, len(v)))
    return sorted(rows, key=lambda r: -r.soft_iou)
