"""Does a stored scene match the request? Structure first, then geometry (issue 15).

The key text's embedding only ranks candidates: keys of opposite scenes ("left of" / "right of")
embed close together. A candidate is a hit when

1. its **structure** equals the request's (``ttom.planning.abstraction.SceneStructure``: per object
   slot the instance count, each instance's direction and the prompt's position words, the relations
   between slots, the number of places), and
2. the **geometry** of the two layouts is similar enough: the objects of each slot are matched one to
   one (``scipy.optimize.linear_sum_assignment`` on track similarity), each matched pair's track
   similarity is the mean IoU of their boxes at ``TIMES`` evenly spaced moments, and the scene's
   geometry is the *least* similar pair's (one moved or resized object is enough to make a layout
   not near-identical).

The mode follows the geometry: ``skip`` (load φ, no optimisation) at or above the skip threshold,
``warm`` (start from φ) at or above the warm threshold, no hit below. The thresholds are chosen on
a labelled pair set (``ttom bench memory --pairs``, docs/memory.md), not by taste.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ttom.geometry import iou
from ttom.layout import Layout, LayoutObject

TIMES = 16  # moments at which two tracks are compared (t = 0 ... 1)

Mode = Literal["skip", "warm"]


@dataclass(frozen=True)
class Scene:
    """A layout with its structure and slots, as the memory stores and compares them."""

    layout: Layout
    structure_json: str  # SceneStructure.canonical()
    structure_hash: str  # SceneStructure.digest
    slots: dict[int, int]  # layout object id -> slot

    @classmethod
    def of(cls, layout: Layout | Mapping[str, Any] | str, prompt: str | None = None) -> Scene:
        """The scene of a layout (its prompt's structure; ``prompt`` when the scene prompt differs)."""
        from ttom.planning.abstraction import abstract

        lay = layout if isinstance(layout, Layout) else Layout.parse(layout)
        k = abstract(lay, prompt)
        return cls(lay, k.structure.canonical(), k.structure.digest, dict(k.slots))

    def to_json(self) -> str:
        """What the store keeps with an entry (``scene_json``)."""
        return json.dumps({"layout": self.layout.to_dict(), "structure": json.loads(self.structure_json),
                           "slots": {str(k): v for k, v in sorted(self.slots.items())}},
                          ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, structure_hash: str) -> Scene:
        """A stored scene; ValueError naming what is wrong (a damaged row, or one written by hand)."""
        try:
            d = json.loads(text)
            layout = Layout.parse(d["layout"])
            structure = json.dumps(d["structure"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            slots = {int(k): int(v) for k, v in d["slots"].items()}
        except (TypeError, ValueError, KeyError, AttributeError) as e:
            raise ValueError(f"its scene cannot be read ({type(e).__name__}: {str(e)[:80]})") from None
        if hashlib.sha256(structure.encode()).hexdigest() != structure_hash:
            raise ValueError("its scene's structure does not match its structure hash")
        if set(slots) != {o.id for o in layout.objects}:
            raise ValueError("its scene's slots do not name the layout's objects")
        return cls(layout, structure, structure_hash, slots)


def track_similarity(a: LayoutObject, b: LayoutObject, times: int = TIMES) -> float:
    """Mean IoU of two objects' boxes over ``times`` evenly spaced moments; a moment where one is
    visible and the other is not counts 0, one where neither is visible counts 1."""
    total = 0.0
    for t in np.linspace(0.0, 1.0, times):
        ba, bb = a.box_at(float(t)), b.box_at(float(t))
        if ba is None and bb is None:
            total += 1.0
        elif ba is not None and bb is not None:
            total += iou(ba, bb)
    return total / times


def geometry(a: Scene, b: Scene) -> float:
    """The geometric similarity of two scenes of the same structure, in [0, 1]: per slot the objects
    matched one to one for the highest total track similarity, then the lowest matched pair's.
    0.0 when a slot's counts differ (different structures); 1.0 for two scenes without objects."""
    from scipy.optimize import linear_sum_assignment

    by_slot_a: dict[int, list[LayoutObject]] = {}
    by_slot_b: dict[int, list[LayoutObject]] = {}
    for o in a.layout.objects:
        by_slot_a.setdefault(a.slots.get(o.id, -1), []).append(o)
    for o in b.layout.objects:
        by_slot_b.setdefault(b.slots.get(o.id, -1), []).append(o)
    if by_slot_a.keys() != by_slot_b.keys():
        return 0.0
    worst = 1.0
    for slot, xs in by_slot_a.items():
        ys = by_slot_b[slot]
        if len(xs) != len(ys):
            return 0.0
        sim = np.array([[track_similarity(x, y) for y in ys] for x in xs])
        rows, cols = linear_sum_assignment(sim, maximize=True)
        worst = min(worst, float(sim[rows, cols].min()))
    return worst


def mode_for(geometry_similarity: float, skip_at: float, warm_at: float) -> Mode | None:
    """``skip`` for a near-identical layout, ``warm`` for a similar one, None (a miss) otherwise."""
    if geometry_similarity >= skip_at:
        return "skip"
    if geometry_similarity >= warm_at:
        return "warm"
    return None


def check_thresholds(skip_at: float, warm_at: float) -> None:
    """ValueError unless 0 <= warm_at <= skip_at <= 1."""
    if not (0.0 <= warm_at <= skip_at <= 1.0):
        raise ValueError(f"memory geometry thresholds must satisfy 0 <= warm ({warm_at}) <= skip ({skip_at}) <= 1")
