"""Layout → target attention distributions on a backend's token grid.

For each distinct object name and each latent frame: a Gaussian per instance box, centred on the
box with σ = ¼ of the box side in each axis (as the official Wan code), evaluated over the whole
frame (not truncated to the box), instances of the same name summed, and the frame normalised to
sum 1. Latent frame j of F covers normalised time j/(F-1) (the VAEs keep the first frame and
compress the rest evenly). A frame where no instance of a name is present has an all-zero target
and ``present = False``; the loss skips it, so it never divides by zero.

``instance_boxes`` keeps the instances apart, for the loss's instance term: each layout object's
hard box per frame, and the share of its name's target that lies inside that box (about 0.9 / the
number of instances: the least attention share the box should hold).
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


def instance_boxes(layout: Layout, grid: tuple[int, int, int], names: list[str] | None = None,
                   device=None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[int]]:
    """Each object's box, frame by frame, and the target's share inside it.

    Returns ``masks`` (K, F, H, W) hard 0/1 boxes of the K objects whose name is in ``names``,
    ``name_index`` (K,) each object's row in ``layout_targets``, ``share`` (K, F) the mass of its
    name's normalised Gaussian target inside the box (0 where the object is absent) and the K
    objects' ids.
    """
    f, h, w = grid
    names = names or layout.names
    targets, _ = layout_targets(layout, grid, names, device=device)
    objs = [o for o in layout.objects if o.name in names]
    masks = torch.zeros(len(objs), f, h, w, device=device)
    for k, obj in enumerate(objs):
        for j, t in enumerate(frame_times(f)):
            box = obj.box_at(t)
            if box is not None:
                masks[k, j] = box_mask(box, h, w, device=device)
    index = torch.tensor([names.index(o.name) for o in objs], device=device, dtype=torch.long)
    share = (targets[index] * masks).sum(dim=(-2, -1))  # (K, F)
    return masks, index, share, [o.id for o in objs]
