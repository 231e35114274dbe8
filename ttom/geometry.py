"""Box geometry and the one relation rule, used by the planner's checks, the critic and the shapes world.

Boxes are ``[x0, y0, x1, y1]`` normalised to [0, 1], origin top-left, y downwards (the Layout
contract). Relations are judged the way T2V-CompBench judges them on detected boxes: a dominant-axis
test on box centres. The 2D vocabulary is ``left`` / ``right`` / ``above`` / ``below``; a prompt's
``on`` counts as ``above`` and ``under`` as ``below``. The 3D relations need overlapping boxes (IoU > 0,
as the metric requires) and, since a layout has no depth, the front object's bottom edge lower in the
frame (closer to the camera on a ground plane).
"""

from __future__ import annotations

from collections.abc import Sequence

BoxLike = Sequence[float]
RELATIONS_2D = ("left", "right", "above", "below")
# prompt words that the 2D test reads as one of RELATIONS_2D
SYNONYMS_2D = {"on": "above", "under": "below"}


def centre(b: BoxLike) -> tuple[float, float]:
    return ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)


def area(b: BoxLike) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def iou(a: BoxLike | None, b: BoxLike | None) -> float:
    """IoU of two boxes; 0.0 when either is missing or degenerate."""
    if a is None or b is None:
        return 0.0
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = area(a) + area(b) - inter
    return float(inter / union) if union > 0 else 0.0


def relation_2d(a: BoxLike, b: BoxLike) -> str | None:
    """T2V-CompBench's dominant-axis test of box ``a`` against box ``b``: one of ``RELATIONS_2D``, or
    None when the centre offsets tie."""
    (ax, ay), (bx, by) = centre(a), centre(b)
    dx, dy = ax - bx, ay - by
    if abs(dx) > abs(dy):
        return "left" if dx < 0 else "right"
    if abs(dy) > abs(dx):
        return "above" if dy < 0 else "below"
    return None


def relation_holds(rel: str, a: BoxLike | None, b: BoxLike | None) -> bool:
    """Whether box ``a`` (the subject) stands in ``rel`` to box ``b`` (the reference); False if one is missing."""
    if a is None or b is None:
        return False
    if rel in ("in front of", "behind"):
        if iou(a, b) <= 0:
            return False
        return a[3] > b[3] if rel == "in front of" else a[3] < b[3]
    if rel == "next to":
        return relation_2d(a, b) in ("left", "right")
    if rel == "in":
        cx, cy = centre(a)
        return b[0] <= cx <= b[2] and b[1] <= cy <= b[3]
    return relation_2d(a, b) == SYNONYMS_2D.get(rel, rel)
