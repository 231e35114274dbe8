"""The synthetic shapes world: coloured shapes that stand still or move on plain backgrounds.

The bundled shapes model (issue 7) is trained on videos of this world, and the critic's analytic
backend (``ttom.critic.grounders.shapes``) judges them by colour and shape alone, so the vocabulary is
chosen to keep colour segmentation unambiguous.

Vocabulary
----------
- shapes: ``circle``, ``square``, ``triangle`` (plurals and ``disc``/``disk`` are understood). Each
  shape is inscribed in its layout box: the circle (an ellipse if the box is not square) touches
  the four sides, the square fills the box, the triangle has its base on the box's bottom side and
  its apex at the middle of the top side.
- colours: ``red``, ``green``, ``blue``, ``yellow`` (``COLORS`` gives their RGB).
- sizes: ``small``, ``medium``, ``large`` — box sides of 0.20, 0.27 and 0.34 of the frame.
  Captions do not name sizes; the phrase parser accepts the words.
- backgrounds: ``black``, ``gray``, ``white`` (``BACKGROUNDS``): every object colour is at least
  130 RGB units from every background and 150 from every other object colour.
- motion: objects stand still or move in a straight line at constant speed (two keyframes),
  travelling 0.35–0.6 of the frame.

Caption grammar (``CATEGORIES``; ``all_captions()`` enumerates all 1,104 captions)
-------------------------------------------------------------------------------------
- ``object``   "a red circle"
- ``position`` "a red circle on the left" | "on the right" | "at the top" | "at the bottom"
- ``motion``   "a red circle moving left" (left, right, up, down)
- ``count``    "two red circles", "three blue squares"
- ``relation`` "a red circle to the left of a blue square" (to the right of, above, below);
               relations follow T2V-CompBench's rule: the centres differ more along the
               relation's axis than across it
- ``binding``  "a red circle and a blue square"
- ``motion2``  "a red square moving left and a yellow circle moving right" (opposite directions,
               in separate lanes)
Two objects in one caption always have different colours; objects never overlap.

Object-only captions (training)
-------------------------------
Web captions rarely describe a layout, and the bundled model is meant to behave like the video
models TTOM is for: good at drawing the objects named, weak at following where and how they go.
So training captions a scene of a compositional category (``COMPOSITIONAL``: position, motion,
count, relation, motion2) with its full caption only part of the time (``ttom.shapes.train``'s
``--full-captions``) and otherwise with ``object_caption``: the caption that names the objects
and nothing else ("a red circle" for "a red circle moving left"; "a red circle and a blue square"
for a relation or two moving objects). A count keeps the plural and drops the number ("red
circles" for "three red circles"): dropping the plural would teach the model that "a red circle"
may show two or three of them, which would spoil exactly what it should do well (one object for
one named object). Those plural captions are not captions of the grammar (``all_captions``, the
benchmark's prompts); ``training_captions()`` is the grammar's captions followed by them.

Rendering
---------
``render(layout, frames, size, background)`` draws a Layout (object ``name`` = shape, ``phrase``
carrying the colour) as ``uint8 (F, H, W, 3)``; ``render_batch`` is the vectorised torch renderer
behind it (any device, ``float (B, F, H, W, 3)`` in [0, 1]). Pixel ``i`` covers ``[i/W, (i+1)/W)``
of the normalised frame; with antialiasing a pixel's colour is blended by the fraction of its
``supersample²`` sub-pixels inside the shape.

Sampling is deterministic under a seed: every random choice draws from the ``numpy.random.Generator``
passed in (``np.random.default_rng(seed)``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ttom.geometry import relation_2d
from ttom.layout import Keyframe, Layout, LayoutObject

if TYPE_CHECKING:
    import torch

# ----- vocabulary --------------------------------------------------------------------------------
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (230, 40, 40),
    "green": (40, 200, 60),
    "blue": (40, 90, 240),
    "yellow": (240, 220, 40),
}
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "black": (12, 12, 12),
    "gray": (70, 70, 70),
    "white": (235, 235, 235),
}
SIZES: dict[str, float] = {"small": 0.20, "medium": 0.27, "large": 0.34}
DIRECTIONS: tuple[str, ...] = ("left", "right", "up", "down")
RELATIONS: dict[str, str] = {  # caption words -> T2V-CompBench relation name
    "to the left of": "left",
    "to the right of": "right",
    "above": "above",
    "below": "below",
}
COUNT_WORDS: dict[int, str] = {2: "two", 3: "three"}
CATEGORIES: tuple[str, ...] = ("object", "position", "motion", "count", "relation", "binding", "motion2")
POSITIONS: dict[str, str] = {"left": "on the left", "right": "on the right", "top": "at the top", "bottom": "at the bottom"}

DEFAULT_SIZE = 32  # pixels per side
DEFAULT_FRAMES = 8
MAX_OBJECTS = 3  # the most objects a caption of the grammar has ("three red circles")

_MARGIN = 0.02  # boxes keep this far from the frame's edges
_GAP = 0.04  # and at least this far apart from each other (so colour components never touch)
_SHAPE_WORDS = {
    "circle": "circle", "circles": "circle", "disc": "circle", "discs": "circle", "disk": "circle",
    "disks": "circle", "square": "square", "squares": "square", "triangle": "triangle", "triangles": "triangle",
}
_COLOR_WORDS = {"red": "red", "green": "green", "blue": "blue", "yellow": "yellow"}
_SIZE_WORDS = {"small": "small", "tiny": "small", "medium": "medium", "large": "large", "big": "large"}


class ShapesWorldError(ValueError):
    """A phrase, layout or argument outside the shapes world's vocabulary; the message says which."""


def _vocabulary() -> str:
    return f"shapes {', '.join(SHAPES)}; colours {', '.join(COLORS)}; backgrounds {', '.join(BACKGROUNDS)}"


# ----- phrases -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ShapeSpec:
    """What a phrase says about an object: any part may be unknown (None)."""

    color: str | None = None
    shape: str | None = None
    size: str | None = None

    @property
    def phrase(self) -> str:
        words = [w for w in (self.size, self.color, self.shape or "shape") if w]
        return "a " + " ".join(words)


def parse_phrase(text: str) -> ShapeSpec:
    """Colour, shape and size words of a phrase ("a small red circle" -> red, circle, small)."""
    color = shape = size = None
    for word in re.findall(r"[a-z]+", text.lower()):
        color = color or _COLOR_WORDS.get(word)
        shape = shape or _SHAPE_WORDS.get(word)
        size = size or _SIZE_WORDS.get(word)
    return ShapeSpec(color=color, shape=shape, size=size)


def spec_for_object(obj: LayoutObject) -> ShapeSpec:
    """The shape (from the name, else the phrase) and colour (from the phrase) of a layout object."""
    from_phrase = parse_phrase(obj.phrase)
    from_name = parse_phrase(obj.name)
    return ShapeSpec(
        color=from_phrase.color or from_name.color,
        shape=from_name.shape or from_phrase.shape,
        size=from_phrase.size,
    )


def is_shapes_layout(layout: Layout) -> bool:
    """True when every object names a known shape and colour, i.e. the layout lives in this world."""
    if not layout.objects:
        return False
    for obj in layout.objects:
        spec = spec_for_object(obj)
        if spec.color is None or spec.shape is None:
            return False
    return True


# ----- scenes ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CaptionSpec:
    """The structure behind one caption of the grammar."""

    category: str
    text: str
    objects: tuple[tuple[str, str], ...]  # (colour, shape) per object, in caption order
    directions: tuple[str | None, ...] = ()  # per object, None = static
    relation: str | None = None  # left | right | above | below (object 0 relative to object 1)
    position: str | None = None  # left | right | top | bottom (object category "position")


class Scene(NamedTuple):
    caption: str
    layout: Layout
    background: str


@lru_cache(maxsize=1)
def _caption_specs() -> tuple[CaptionSpec, ...]:
    specs: list[CaptionSpec] = []
    pairs = [(c, s) for c in COLORS for s in SHAPES]
    for c, s in pairs:
        specs.append(CaptionSpec("object", f"a {c} {s}", ((c, s),), (None,)))
    for c, s in pairs:
        for pos, words in POSITIONS.items():
            specs.append(CaptionSpec("position", f"a {c} {s} {words}", ((c, s),), (None,), position=pos))
    for c, s in pairs:
        for d in DIRECTIONS:
            specs.append(CaptionSpec("motion", f"a {c} {s} moving {d}", ((c, s),), (d,)))
    for c, s in pairs:
        for n, word in COUNT_WORDS.items():
            specs.append(CaptionSpec("count", f"{word} {c} {s}s", ((c, s),) * n, (None,) * n))
    two = [(a, b) for a in pairs for b in pairs if a[0] != b[0]]
    for a, b in two:
        for words, rel in RELATIONS.items():
            specs.append(CaptionSpec("relation", f"a {a[0]} {a[1]} {words} a {b[0]} {b[1]}", (a, b), (None, None), rel))
    for a, b in two:
        specs.append(CaptionSpec("binding", f"a {a[0]} {a[1]} and a {b[0]} {b[1]}", (a, b), (None, None)))
    for a, b in two:
        for d1, d2 in (("left", "right"), ("right", "left"), ("up", "down"), ("down", "up")):
            text = f"a {a[0]} {a[1]} moving {d1} and a {b[0]} {b[1]} moving {d2}"
            specs.append(CaptionSpec("motion2", text, (a, b), (d1, d2)))
    return tuple(specs)


@lru_cache(maxsize=1)
def _spec_by_text() -> dict[str, CaptionSpec]:
    return {s.text: s for s in _caption_specs()}


def all_captions(categories: Sequence[str] | None = None) -> list[str]:
    """Every caption of the grammar (optionally of some categories), in a fixed order."""
    cats = _check_categories(categories)
    return [s.text for s in _caption_specs() if s.category in cats]


# Categories whose captions say more than which objects are there (where, how, how many).
COMPOSITIONAL: tuple[str, ...] = ("position", "motion", "count", "relation", "motion2")


def object_caption(caption: str) -> str:
    """The caption naming only the objects of a grammar caption: no position, relation, motion or number.

    "a red circle moving left" -> "a red circle"; "a red circle to the left of a blue square" ->
    "a red circle and a blue square"; "three red circles" -> "red circles". A caption of the
    ``object`` or ``binding`` category is its own object caption.
    """
    spec = caption_spec(caption)
    if spec.category == "count":
        color, shape = spec.objects[0]
        return f"{color} {shape}s"
    return " and ".join(f"a {color} {shape}" for color, shape in spec.objects)


@lru_cache(maxsize=1)
def _training_captions() -> tuple[str, ...]:
    grammar = all_captions()
    extra = dict.fromkeys(object_caption(c) for c in grammar if object_caption(c) not in _spec_by_text())
    return (*grammar, *extra)


def training_captions() -> list[str]:
    """What the model is trained on: ``all_captions()`` (same order, same indices), then the object
    captions that are not grammar captions (the 12 plurals without a number, "red circles")."""
    return list(_training_captions())


def caption_spec(caption: str) -> CaptionSpec:
    try:
        return _spec_by_text()[caption]
    except KeyError:
        raise ShapesWorldError(
            f"{caption!r} is not a caption of the shapes grammar (see ttom.shapes.world.all_captions())"
        ) from None


def _check_categories(categories: Sequence[str] | None) -> tuple[str, ...]:
    if categories is None:
        return CATEGORIES
    bad = [c for c in categories if c not in CATEGORIES]
    if bad:
        raise ShapesWorldError(f"unknown categories {bad}; the grammar has {list(CATEGORIES)}")
    return tuple(categories)


def sample_scene(
    rng: np.random.Generator,
    categories: Sequence[str] | None = None,
    caption: str | None = None,
) -> Scene:
    """A random caption (uniform over categories, then over its captions) with a scene that fits it.

    With ``caption`` given, only the geometry, sizes and background are sampled.
    """
    if caption is not None:
        spec = caption_spec(caption)
    else:
        cats = _check_categories(categories)
        cat = cats[int(rng.integers(len(cats)))]
        pool = [s for s in _caption_specs() if s.category == cat]
        spec = pool[int(rng.integers(len(pool)))]
    sizes = [float(list(SIZES.values())[int(rng.integers(len(SIZES)))]) for _ in spec.objects]
    starts, ends = _place(spec, sizes, rng)
    background = list(BACKGROUNDS)[int(rng.integers(len(BACKGROUNDS)))]
    objects = []
    for i, ((color, shape), a, b) in enumerate(zip(spec.objects, starts, ends, strict=True)):
        objects.append(LayoutObject(
            id=i, name=shape, phrase=f"a {color} {shape}",
            keyframes=[Keyframe(t=0.0, box=tuple(a)), Keyframe(t=1.0, box=tuple(b))],
        ))
    return Scene(spec.text, Layout(prompt=spec.text, objects=objects, background=background), background)


def _box(cx: float, cy: float, s: float) -> list[float]:
    return [cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2]


def _apart(a: Sequence[float], b: Sequence[float]) -> bool:
    """Boxes separated by at least _GAP along x or y."""
    return a[2] + _GAP <= b[0] or b[2] + _GAP <= a[0] or a[3] + _GAP <= b[1] or b[3] + _GAP <= a[1]


def _place(spec: CaptionSpec, sizes: list[float], rng: np.random.Generator) -> tuple[list[list[float]], list[list[float]]]:
    """Start and end boxes per object satisfying the caption, by rejection sampling."""

    def centre(s: float, lo: float = 0.0, hi: float = 1.0) -> float:
        # a centre whose box lies inside [lo, hi] (and the frame's margins)
        a, b = max(lo, _MARGIN) + s / 2, min(hi, 1 - _MARGIN) - s / 2
        return float(rng.uniform(a, b)) if b > a else (a + b) / 2

    for _ in range(1000):
        if spec.category == "object" or spec.category == "position":
            s = sizes[0]
            lo_x, hi_x, lo_y, hi_y = 0.0, 1.0, 0.0, 1.0
            if spec.position == "left":
                hi_x = 0.45
            elif spec.position == "right":
                lo_x = 0.55
            elif spec.position == "top":
                hi_y = 0.45
            elif spec.position == "bottom":
                lo_y = 0.55
            b = _box(centre(s, lo_x, hi_x), centre(s, lo_y, hi_y), s)
            return [b], [b]
        if spec.category == "motion":
            s, d = sizes[0], spec.directions[0]
            a, e = _moving(s, d, centre, rng)
            return [a], [e]
        if spec.category in ("count", "binding"):
            boxes = [_box(centre(s), centre(s), s) for s in sizes]
            if all(_apart(boxes[i], boxes[j]) for i in range(len(boxes)) for j in range(i)):
                return boxes, boxes
            continue
        if spec.category == "relation":
            b0 = _box(centre(sizes[0]), centre(sizes[0]), sizes[0])
            b1 = _box(centre(sizes[1]), centre(sizes[1]), sizes[1])
            if _apart(b0, b1) and relation_2d(b0, b1) == spec.relation:
                # a clear margin on the relation's axis: the offset dominates by at least 2:1
                dx, dy = abs((b0[0] + b0[2]) - (b1[0] + b1[2])) / 2, abs((b0[1] + b0[3]) - (b1[1] + b1[3])) / 2
                major, minor = (dx, dy) if spec.relation in ("left", "right") else (dy, dx)
                if major >= 2 * minor:
                    return [b0, b1], [b0, b1]
            continue
        if spec.category == "motion2":
            horizontal = spec.directions[0] in ("left", "right")
            first_low = bool(rng.integers(2))  # which lane object 0 takes
            out_a, out_b = [], []
            for i, (s, d) in enumerate(zip(sizes, spec.directions, strict=True)):
                low = first_low if i == 0 else not first_low
                lane = (0.5 + _GAP / 2, 1.0) if low else (0.0, 0.5 - _GAP / 2)
                a, e = _moving(s, d, centre, rng, lane=lane if horizontal else None, lane_x=None if horizontal else lane)
                out_a.append(a)
                out_b.append(e)
            return out_a, out_b
        raise ShapesWorldError(f"unknown caption category {spec.category!r}")
    raise ShapesWorldError(f"could not place the objects of {spec.text!r} with sizes {sizes}")


def _moving(s, d, centre, rng, lane=None, lane_x=None) -> tuple[list[float], list[float]]:
    """A straight track of a box of side ``s`` moving in direction ``d``, within an optional lane."""
    room = 1 - 2 * _MARGIN - s
    dist = float(rng.uniform(0.35, min(0.6, room)))
    lo = _MARGIN + s / 2
    if d in ("left", "right"):
        cy = centre(s, *lane) if lane else centre(s)
        c0 = float(rng.uniform(lo, lo + room - dist))
        x0, x1 = (c0, c0 + dist) if d == "right" else (c0 + dist, c0)
        return _box(x0, cy, s), _box(x1, cy, s)
    cx = centre(s, *lane_x) if lane_x else centre(s)
    c0 = float(rng.uniform(lo, lo + room - dist))
    y0, y1 = (c0, c0 + dist) if d == "down" else (c0 + dist, c0)
    return _box(cx, y0, s), _box(cx, y1, s)


# ----- batches -----------------------------------------------------------------------------------
@dataclass
class SceneBatch:
    """``B`` scenes as arrays, padded to ``MAX_OBJECTS`` objects; ``tensors``/``render`` move them to torch."""

    captions: list[str]
    layouts: list[Layout]
    backgrounds: list[str]
    start: np.ndarray  # (B, N, 4) float32 normalised boxes at t=0
    end: np.ndarray  # (B, N, 4) at t=1
    shape_ids: np.ndarray  # (B, N) int64, index into SHAPES
    color_ids: np.ndarray  # (B, N) int64, index into COLORS
    valid: np.ndarray  # (B, N) bool, False for padding
    background_ids: np.ndarray  # (B,) int64, index into BACKGROUNDS
    caption_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # (B,) index into all_captions()

    def __len__(self) -> int:
        return len(self.captions)

    def render(self, frames: int = DEFAULT_FRAMES, size: int | tuple[int, int] = DEFAULT_SIZE,
               device: str | torch.device = "cpu", antialias: bool = True) -> torch.Tensor:
        """The batch's videos, ``float (B, F, H, W, 3)`` in [0, 1], rendered on ``device``."""
        import torch

        start = torch.as_tensor(self.start, device=device)
        end = torch.as_tensor(self.end, device=device)
        boxes = interpolate_tracks(start, end, frames)  # (B, F, N, 4)
        present = torch.as_tensor(self.valid, device=device)[:, None, :].expand(-1, frames, -1)
        return render_batch(
            boxes,
            torch.as_tensor(self.shape_ids, device=device),
            palette_tensor(device)[torch.as_tensor(self.color_ids, device=device)],
            present,
            background_tensor(device)[torch.as_tensor(self.background_ids, device=device)],
            size=size, antialias=antialias,
        )


def sample_batch(
    n: int,
    rng: np.random.Generator,
    categories: Sequence[str] | None = None,
    captions: Sequence[str] | None = None,
) -> SceneBatch:
    """``n`` scenes from ``sample_scene`` (or, with ``captions``, one scene per given caption).

    Sampling geometry is cheap (tens of microseconds a scene); rendering is the costly part and
    runs vectorised on the training device through ``SceneBatch.render``.
    """
    if captions is not None:
        scenes = [sample_scene(rng, caption=c) for c in captions]
    else:
        if n < 1:
            raise ShapesWorldError(f"n must be >= 1, got {n}")
        scenes = [sample_scene(rng, categories) for _ in range(n)]
    b = len(scenes)
    start = np.zeros((b, MAX_OBJECTS, 4), np.float32)
    end = np.zeros((b, MAX_OBJECTS, 4), np.float32)
    shape_ids = np.zeros((b, MAX_OBJECTS), np.int64)
    color_ids = np.zeros((b, MAX_OBJECTS), np.int64)
    valid = np.zeros((b, MAX_OBJECTS), bool)
    bg = np.zeros(b, np.int64)
    index = {c: i for i, c in enumerate(all_captions())}
    for i, sc in enumerate(scenes):
        for j, obj in enumerate(sc.layout.objects):
            spec = spec_for_object(obj)
            start[i, j] = obj.keyframes[0].box
            end[i, j] = obj.keyframes[-1].box
            shape_ids[i, j] = SHAPES.index(spec.shape)
            color_ids[i, j] = list(COLORS).index(spec.color)
            valid[i, j] = True
        bg[i] = list(BACKGROUNDS).index(sc.background)
    return SceneBatch(
        captions=[s.caption for s in scenes], layouts=[s.layout for s in scenes],
        backgrounds=[s.background for s in scenes], start=start, end=end, shape_ids=shape_ids,
        color_ids=color_ids, valid=valid, background_ids=bg,
        caption_ids=np.array([index[s.caption] for s in scenes], np.int64),
    )


# ----- rendering ---------------------------------------------------------------------------------
def palette_tensor(device: str | torch.device = "cpu") -> torch.Tensor:
    """``COLORS`` as ``float (len(COLORS), 3)`` in [0, 1], in ``COLORS`` order."""
    import torch

    return torch.tensor(list(COLORS.values()), dtype=torch.float32, device=device) / 255.0


def background_tensor(device: str | torch.device = "cpu") -> torch.Tensor:
    import torch

    return torch.tensor(list(BACKGROUNDS.values()), dtype=torch.float32, device=device) / 255.0


def interpolate_tracks(start: torch.Tensor, end: torch.Tensor, frames: int) -> torch.Tensor:
    """Linear tracks: ``(B, N, 4)`` start and end boxes -> ``(B, F, N, 4)`` boxes per frame."""
    import torch

    w = torch.linspace(0.0, 1.0, frames, device=start.device, dtype=start.dtype) if frames > 1 else \
        torch.zeros(1, device=start.device, dtype=start.dtype)
    w = w[None, :, None, None]  # (1, F, 1, 1)
    return (1 - w) * start[:, None] + w * end[:, None]


def inside(shape_id: Any, u: Any, v: Any) -> Any:
    """Whether box-local points (u, v in [0, 1] across the box) lie inside the shape.

    Written with operators only, so it works on numpy arrays and torch tensors alike; ``shape_id``
    is an int or an array broadcastable against ``u`` and ``v``.
    """
    in_box = (u >= 0) & (u <= 1) & (v >= 0) & (v <= 1)
    circle = (u - 0.5) ** 2 + (v - 0.5) ** 2 <= 0.25
    triangle = in_box & (abs(u - 0.5) <= v / 2)  # apex at (0.5, 0), base on v = 1
    return ((shape_id == 0) & circle) | ((shape_id == 1) & in_box) | ((shape_id == 2) & triangle)


def render_batch(
    boxes: torch.Tensor,
    shapes: torch.Tensor,
    colors: torch.Tensor,
    present: torch.Tensor | None = None,
    background: torch.Tensor | None = None,
    size: int | tuple[int, int] = DEFAULT_SIZE,
    antialias: bool = True,
    supersample: int = 4,
) -> torch.Tensor:
    """Render a batch of videos on the tensors' device.

    boxes (B, F, N, 4) normalised xyxy; shapes (B, N) int index into SHAPES; colors (B, N, 3) in
    [0, 1]; present (B, F, N) bool (None = all present); background (B, 3) in [0, 1] (None = black).
    Objects are painted in index order (later ones on top). Returns (B, F, H, W, 3) float in [0, 1].
    """
    import torch

    if boxes.ndim != 4 or boxes.shape[-1] != 4:
        raise ShapesWorldError(f"boxes must be shaped (B, F, N, 4), got {tuple(boxes.shape)}")
    b, f, n, _ = boxes.shape
    if shapes.shape != (b, n) or colors.shape != (b, n, 3):
        raise ShapesWorldError(
            f"shapes must be (B, N)={b, n} and colors (B, N, 3); got {tuple(shapes.shape)} and {tuple(colors.shape)}"
        )
    h, w = (size, size) if isinstance(size, int) else size
    dev, dt = boxes.device, torch.float32
    boxes = boxes.to(dt)
    if present is None:
        present = torch.ones(b, f, n, dtype=torch.bool, device=dev)
    if background is None:
        background = torch.zeros(b, 3, dtype=dt, device=dev)
    ss = max(1, supersample) if antialias else 1
    x0, y0, x1, y1 = (boxes[..., k, None, None] for k in range(4))  # each (B, F, N, 1, 1)
    sid = shapes[:, None, :, None, None]  # (B, 1, N, 1, 1)
    cov = torch.zeros(b, f, n, h, w, dtype=dt, device=dev)
    cols = torch.arange(w, device=dev, dtype=dt)
    rows = torch.arange(h, device=dev, dtype=dt)
    # One pass per sub-pixel offset keeps memory at (B, F, N, H, W) instead of ss² times that.
    for i in range(ss):
        py = (rows + (i + 0.5) / ss) / h  # (H,)
        v = (py[:, None] - y0) / (y1 - y0).clamp_min(1e-6)  # (B, F, N, H, 1)
        for j in range(ss):
            px = (cols + (j + 0.5) / ss) / w  # (W,)
            u = (px[None, :] - x0) / (x1 - x0).clamp_min(1e-6)  # (B, F, N, 1, W)
            cov += inside(sid, u, v).to(dt)
    cov = cov / (ss * ss) * present[..., None, None].to(dt)
    img = background[:, None, None, None, :].expand(b, f, h, w, 3).clone()  # (B, F, H, W, 3)
    for k in range(n):
        a = cov[:, :, k, :, :, None]  # (B, F, H, W, 1)
        img = img * (1 - a) + colors[:, None, None, None, k, :] * a
    return img


def render(
    layout: Layout,
    frames: int = DEFAULT_FRAMES,
    size: int | tuple[int, int] = DEFAULT_SIZE,
    background: str | tuple[int, int, int] | None = None,
    antialias: bool = True,
) -> np.ndarray:
    """Draw a shapes-world layout: ``uint8 (F, H, W, 3)``, each object's shape inscribed in its box.

    ``background`` is a name of ``BACKGROUNDS`` or an RGB triple; None takes ``layout.background``
    when it names one, else black.
    """
    import torch

    if frames < 1:
        raise ShapesWorldError(f"frames must be >= 1, got {frames}")
    if background is None:
        background = layout.background if layout.background in BACKGROUNDS else "black"
    if isinstance(background, str):
        if background not in BACKGROUNDS:
            raise ShapesWorldError(f"unknown background {background!r}; the world has {list(BACKGROUNDS)}")
        bg_rgb = BACKGROUNDS[background]
    else:
        bg_rgb = tuple(int(c) for c in background)
        if len(bg_rgb) != 3:
            raise ShapesWorldError(f"background must be a name or an RGB triple, got {background!r}")
    n = len(layout.objects)
    per_frame = layout.frame_boxes(frames)
    boxes = torch.zeros(1, frames, max(n, 1), 4)
    present = torch.zeros(1, frames, max(n, 1), dtype=torch.bool)
    shapes = torch.zeros(1, max(n, 1), dtype=torch.long)
    colors = torch.zeros(1, max(n, 1), 3)
    for k, obj in enumerate(layout.objects):
        spec = spec_for_object(obj)
        if spec.shape is None or spec.color is None:
            raise ShapesWorldError(
                f"object {obj.id} ({obj.name!r}, {obj.phrase!r}) needs a shape and a colour word; {_vocabulary()}"
            )
        shapes[0, k] = SHAPES.index(spec.shape)
        colors[0, k] = torch.tensor(COLORS[spec.color], dtype=torch.float32) / 255.0
        for fi, box in enumerate(per_frame[obj.id]):
            if box is not None:
                boxes[0, fi, k] = torch.tensor(box)
                present[0, fi, k] = True
    bg = torch.tensor(bg_rgb, dtype=torch.float32)[None] / 255.0
    video = render_batch(boxes, shapes, colors, present, bg, size=size, antialias=antialias)[0]
    return (video * 255.0).round().clamp(0, 255).to(torch.uint8).numpy()
