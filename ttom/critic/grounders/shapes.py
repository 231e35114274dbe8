"""The analytic backend for the shapes world: colour and shape from pixels, no weights.

Per frame, every pixel is given the nearest of the world's object colours and the frame's
background colour (the frame's median, since objects cover far less than half of it); pixels of
one colour form connected components (4-neighbour); each component's shape is the world shape
that, fitted to the component's pixel coverages by their moments and drawn as the world renders
it, explains them best (soft IoU, also the detection score; ``shape_fit``). Components of a
query's colour and shape are linked across frames into tracks by nearest centroid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ttom.critic.grounders.base import Grounding, ObjectQuery, Track, check_frames


@dataclass
class Component:
    frame: int
    color: str
    box: tuple[float, float, float, float]  # normalised, pixel-snapped
    centroid: tuple[float, float]
    area: int
    shape: str
    shape_score: float  # soft IoU of the best shape's fit
    mask: np.ndarray  # (H, W) bool


def label_components(mask: np.ndarray) -> np.ndarray:
    """4-connected components of a boolean (..., H, W) array, labelled independently per leading index.

    Returns int labels of the same shape (0 = background); labels are unique over the whole array.
    Each pass spreads the largest label one pixel, so it takes about a component's longest inner
    path in passes: a few dozen at the shapes world's resolutions.
    """
    mask = np.asarray(mask, bool)
    lab = np.where(mask, np.arange(1, mask.size + 1).reshape(mask.shape), 0)
    while True:
        m = lab.copy()
        m[..., 1:, :] = np.maximum(m[..., 1:, :], lab[..., :-1, :])
        m[..., :-1, :] = np.maximum(m[..., :-1, :], lab[..., 1:, :])
        m[..., :, 1:] = np.maximum(m[..., :, 1:], lab[..., :, :-1])
        m[..., :, :-1] = np.maximum(m[..., :, :-1], lab[..., :, 1:])
        m = np.where(mask, m, 0)
        if np.array_equal(m, lab):
            return lab
        lab = m


_SUPERSAMPLE = 4  # the world's renderer antialiases with 4x4 samples a pixel
# (variance of a uniform shape along an axis) / (its box side)^2, and where its centroid sits in
# the box (v, from the top): square 1/12 both ways; the inscribed circle 1/16; the triangle (apex
# at the top's middle, base on the bottom) 1/24 across, 1/18 down, centroid two thirds down
_MOMENTS = {"circle": (1 / 16, 1 / 16, 0.5), "square": (1 / 12, 1 / 12, 0.5), "triangle": (1 / 24, 1 / 18, 2 / 3)}


def shape_fit(cover: np.ndarray) -> dict[str, float]:
    """Per world shape, how well it explains a patch of pixel coverages (soft IoU).

    Analysis by synthesis: ``cover`` (H, W) is how much of each pixel one object covers (0..1,
    read from the pixel's colour between the background's and the object's). For each shape, the
    box with the same centroid and spread (second moments; Sheppard's correction for the pixel
    grid) is found in closed form, the shape is drawn in it the way the world renders it
    (``_SUPERSAMPLE``² samples a pixel), and the soft IoU (sum of minima over sum of maxima) with
    ``cover`` is its score. Fitting the box, not taking the component's pixel box, is what tells a
    small circle from a square: a circle 8 px across loses its extremes' slivers to the pixel grid,
    so its pixels fill their own box nearly as a square does.
    """
    from ttom.shapes.world import SHAPES, inside

    h, w = cover.shape
    mass = float(cover.sum())
    out: dict[str, float] = {}
    if mass <= 0:
        return dict.fromkeys(SHAPES, 0.0)
    ys, xs = np.mgrid[0:h, 0:w] + 0.5
    mx, my = float((cover * xs).sum() / mass), float((cover * ys).sum() / mass)
    vx = max(float((cover * (xs - mx) ** 2).sum() / mass) - 1 / 12, 1e-3)
    vy = max(float((cover * (ys - my) ** 2).sum() / mass) - 1 / 12, 1e-3)
    ss = _SUPERSAMPLE
    sub = (np.arange(ss) + 0.5) / ss
    py = (np.arange(h)[:, None] + sub[None, :]).reshape(h, ss, 1, 1)
    px = (np.arange(w)[:, None] + sub[None, :]).reshape(1, 1, w, ss)
    for si, name in enumerate(SHAPES):
        kx, ky, cy_frac = _MOMENTS[name]
        bw, bh = (vx / kx) ** 0.5, (vy / ky) ** 0.5
        x0, y0 = mx - bw / 2, my - cy_frac * bh
        t = inside(si, (px - x0) / bw, (py - y0) / bh).mean(axis=(1, 3))
        out[name] = float(np.minimum(t, cover).sum() / max(np.maximum(t, cover).sum(), 1e-9))
    return out


class ShapesGrounder:
    """``VideoGrounder`` for the shapes world (backend name ``shapes``)."""

    name = "shapes"

    def __init__(
        self,
        max_color_dist: float = 120.0,
        min_area_frac: float = 0.003,
        min_shape_iou: float = 0.5,
        max_jump: float = 0.35,
        max_gap: int = 3,
    ) -> None:
        # max_color_dist: RGB distance beyond which a pixel is no object colour at all (generated
        #   videos are noisy; the world's colours are >= 180 apart, backgrounds >= 133 away).
        # min_area_frac: smaller components are noise (3 pixels at 32x32).
        # min_shape_iou: a component whose best shape fit (soft IoU) is lower has no recognisable shape.
        # max_jump / max_gap: tracks link components at most this far apart (normalised) and
        #   survive this many frames without a detection.
        self.max_color_dist = max_color_dist
        self.min_area_frac = min_area_frac
        self.min_shape_iou = min_shape_iou
        self.max_jump = max_jump
        self.max_gap = max_gap

    # ----- detection ---------------------------------------------------------------------------
    def components(self, frames: np.ndarray) -> list[list[Component]]:
        """All coloured components per frame."""
        from ttom.shapes.world import COLORS

        frames = check_frames(frames)
        n, h, w, _ = frames.shape
        x = frames.astype(np.float32)
        bg = np.median(x.reshape(n, -1, 3), axis=1)  # (F, 3)
        palette = np.array(list(COLORS.values()), np.float32)  # (C, 3)
        d_col = np.linalg.norm(x[:, :, :, None, :] - palette[None, None, None], axis=-1)  # (F, H, W, C)
        d_bg = np.linalg.norm(x - bg[:, None, None, :], axis=-1)  # (F, H, W)
        nearest = d_col.argmin(-1)
        dmin = d_col.min(-1)
        fg = (dmin < d_bg) & (dmin < self.max_color_dist)
        min_area = max(3, int(round(self.min_area_frac * h * w)))
        ys, xs = np.mgrid[0:h, 0:w]
        out: list[list[Component]] = [[] for _ in range(n)]
        for ci, cname in enumerate(COLORS):
            labels = label_components(fg & (nearest == ci))
            for lab in np.unique(labels):
                if lab == 0:
                    continue
                f = int((lab - 1) // (h * w))
                comp = labels[f] == lab
                area = int(comp.sum())
                if area < min_area:
                    continue
                cy, cx = ys[comp], xs[comp]
                x0, x1, y0, y1 = int(cx.min()), int(cx.max()) + 1, int(cy.min()), int(cy.max()) + 1
                # the component's coverage of each pixel of its box grown by one pixel, where no
                # other object's colour is: read off the line from the background to its colour
                ya, yb, xa, xb = max(y0 - 1, 0), min(y1 + 1, h), max(x0 - 1, 0), min(x1 + 1, w)
                col = palette[ci] - bg[f]
                cover = ((x[f, ya:yb, xa:xb] - bg[f]) @ col) / float(col @ col)
                cover = np.clip(cover, 0.0, 1.0) * (comp[ya:yb, xa:xb] | ~fg[f, ya:yb, xa:xb])
                fits = shape_fit(cover)
                best = max(fits, key=fits.__getitem__)
                out[f].append(Component(
                    frame=f, color=cname, box=(x0 / w, y0 / h, x1 / w, y1 / h),
                    centroid=(float(cx.mean() + 0.5) / w, float(cy.mean() + 0.5) / h), area=area,
                    shape=best, shape_score=fits[best], mask=comp,
                ))
        return out

    # ----- the interface -------------------------------------------------------------------------
    def ground(self, frames: np.ndarray, queries: Sequence[ObjectQuery]) -> Grounding:
        from ttom.shapes.world import parse_phrase

        frames = check_frames(frames)
        n, h, w, _ = frames.shape
        comps = self.components(frames)
        tracks: list[Track] = []
        next_id = 0
        for q in queries:
            spec = parse_phrase(q.phrase)
            if spec.shape is None:
                spec = parse_phrase(f"{q.phrase} {q.name}")
            # open tracks: [track, last frame seen]
            open_tracks: list[list] = []
            for f in range(n):
                cands = [
                    c for c in comps[f]
                    if (spec.color is None or c.color == spec.color)
                    and (spec.shape is None or (c.shape == spec.shape and c.shape_score >= self.min_shape_iou))
                ]
                live = [ot for ot in open_tracks if f - ot[1] <= self.max_gap]
                pairs = []
                for ti, ot in enumerate(live):
                    last = ot[0].centroid(ot[1])
                    for ci, c in enumerate(cands):
                        d = float(np.hypot(c.centroid[0] - last[0], c.centroid[1] - last[1]))
                        if d <= self.max_jump:
                            pairs.append((d, ti, ci))
                used_t, used_c = set(), set()
                for _, ti, ci in sorted(pairs):
                    if ti in used_t or ci in used_c:
                        continue
                    used_t.add(ti)
                    used_c.add(ci)
                    self._put(live[ti][0], f, cands[ci])
                    live[ti][1] = f
                for ci, c in enumerate(cands):
                    if ci in used_c:
                        continue
                    tr = Track(
                        instance_id=next_id, phrase=q.phrase, name=q.name, boxes=[None] * n, scores=[0.0] * n,
                        masks=np.zeros((n, h, w), bool), centroids=[None] * n,
                    )
                    next_id += 1
                    self._put(tr, f, c)
                    open_tracks.append([tr, f])
                    tracks.append(tr)
        return Grounding(
            backend=self.name, num_frames=n, height=h, width=w, tracks=tracks,
            provenance={
                "detector": "analytic colour + shape fit", "max_color_dist": self.max_color_dist,
                "min_area_frac": self.min_area_frac, "min_shape_iou": self.min_shape_iou,
                "max_jump": self.max_jump, "max_gap": self.max_gap,
            },
        )

    @staticmethod
    def _put(tr: Track, f: int, c: Component) -> None:
        tr.boxes[f] = c.box
        tr.scores[f] = c.shape_score
        tr.centroids[f] = c.centroid  # type: ignore[index]
        tr.masks[f] = c.mask  # type: ignore[index]
