"""Layer probing: which blocks' attention agrees with object locations.

TTOM optimises attention in the layers where it already follows the objects (the paper probes
layers by the mIoU between attention maps and object masks). For each layout, the plain model
generates its video while the conditional branch's video→object maps of every block are read at
chosen denoising steps; each map is min-max normalised per frame and compared with the layout's
box mask by soft IoU = Σ(A·M) / Σ(A + M − A·M), averaged over objects and present frames.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import torch

from ttom.engine.backends.base import Backend, VideoSpec
from ttom.engine.masks import layout_targets
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


def probe_layers(backend: Backend, layouts: list[Layout], blocks: list[int] | None = None,
                 at_steps: tuple[int, ...] | None = None, steps: int | None = None, spec: VideoSpec | None = None,
                 seed: int = 0, progress=None) -> list[ProbeRow]:
    """Per-block soft IoU between attention maps and layout boxes, best first."""
    blocks = blocks if blocks is not None else list(range(backend.num_blocks))
    steps = steps or backend.defaults.steps
    at_steps = at_steps or tuple(sorted({0, steps // 4, steps // 2}))
    spec = spec or backend.defaults.video
    grid = backend.token_grid(spec)
    scores: dict[int, list[float]] = defaultdict(list)
    for n, layout in enumerate(layouts):
        masks, present = layout_targets(layout, grid, kind="box", device=backend.device)
        masks = (masks > 0).float()
        g = len(layout.names)

        def on_maps(_step, maps, masks=masks, present=present, g=g):
            for b, m in maps.items():
                scores[b].append(soft_iou(m.T.reshape(g, *grid), masks, present))

        generate(backend, layout, TTOConfig(mode="off"), spec=spec, steps=steps, seed=seed + n,
                 observer=Observer(tuple(blocks), at_steps, on_maps))
        if progress:
            progress(n + 1, len(layouts))
    rows = []
    for b in blocks:
        v = torch.tensor(scores[b])
        rows.append(ProbeRow(b, float(v.mean()), float(v.std()) if len(v) > 1 else 0.0, len(v)))
    return sorted(rows, key=lambda r: -r.soft_iou)
