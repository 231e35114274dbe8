"""Layout → target attention distributions on a backend's token grid.

For each distinct object name and each latent frame: a Gaussian per instance box, centred on the
box with σ = ¼ of the box side in each axis (as the official Wan code), evaluated over the whole
frame (not truncated to the box), instances of the same name summed, and the frame normalised to
sum 1. Latent frame j of F covers normalised time j/(F-1) (the VAEs keep the first frame and
compress the rest evenly). A frame where no instance of a name is present has an all-zero target
and ``present = False``; the loss skips it, so it never divides by zero.
"""

from __future__ import annotations

import torch

from ttom.layout import Layout, frame_times


def gaussian_box(box, height: int, width: int, device=None) -> torch.Tensor:
    """Unnormalised anisotropic Gaussian for one normalised box on a (height, width) grid of cells."""
    x0, y0, x1, y1 = box
    # cell centres in normalised coordinates
    ys = (torch.arange(height, device=device, dtype=torch.float32) + 0.5) / height
    xs = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) / width
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    # σ = side/4, but never below half a cell: a box smaller than a cell would vanish between centres
    sx = max((x1 - x0) / 4, 0.5 / width)
    sy = max((y1 - y0) / 4, 0.5 / height)
    gy = torch.exp(-((ys - cy) ** 2) / (2 * sy**2))
    gx = torch.exp(-((xs - cx) ** 2) / (2 * sx**2))
    return gy[:, None] * gx[None, :]


def box_mask(box, height: int, width: int, device=None) -> torch.Tensor:
    """Hard 0/1 mask of the cells whose centres lie inside the box (at least the nearest cell)."""
    x0, y0, x1, y1 = box
    ys = (torch.arange(height, device=device, dtype=torch.float32) + 0.5) / height
    xs = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) / width
    m = ((ys >= y0) & (ys <= y1))[:, None] & ((xs >= x0) & (xs <= x1))[None, :]
    if not m.any():
        iy = min(int((y0 + y1) / 2 * height), height - 1)
        ix = min(int((x0 + x1) / 2 * width), width - 1)
        m[iy, ix] = True
    return m.float()


def layout_targets(layout: Layout, grid: tuple[int, int, int], names: list[str] | None = None,
                   kind: str = "gaussian", device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Targets and presence for each name.

    Returns ``targets`` (G, F, H, W), each present frame summing to 1, and ``present`` (G, F) bool,
    for the G names in ``names`` (default: the layout's names in order).
    """
    f, h, w = grid
    names = names or layout.names
    times = frame_times(f)
    targets = torch.zeros(len(names), f, h, w, device=device)
    draw = gaussian_box if kind == "gaussian" else box_mask
    for obj in layout.objects:
        if obj.name not in names:
            continue
        g = names.index(obj.name)
        for j, t in enumerate(times):
            box = obj.box_at(t)
            if box is not None:
                targets[g, j] += draw(box, h, w, device=device)
    mass = targets.sum(dim=(2, 3))  # (G, F)
    present = mass > 0
    targets = torch.where(present[..., None, None], targets / mass.clamp_min(1e-12)[..., None, None], targets)
    return targets, present
