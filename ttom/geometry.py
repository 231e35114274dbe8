"""Box geometry shared by the validator and the planner benchmark.

Relations are judged the way T2V-CompBench judges them on detected boxes: a dominant-axis test on
normalised box centres (``on`` counts as ``above``, ``below`` as ``under``); the 3D relations need
overlapping boxes (IoU > 0, as the metric requires) and, since a layout has no depth, the front
object's bottom edge lower in the frame (closer to the camera on a ground plane).
"""

from __future__ import annotations

from ttom.layout import Box


def centre(b: Box) -> tuple[float, float]:
    return ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)


def area(b: Box) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def relation_2d(a: Box, b: Box) -> str | None:
    """T2V-CompBench's dominant-axis test: ``left`` / ``right`` / ``above`` / ``under`` / None."""
    (ax, ay), (bx, by) = centre(a), centre(b)
    dx, dy = ax - bx, ay - by
    if dx < 0 and abs(dx) > abs(dy):
        return "left"
    if dx > 0 and abs(dx) > abs(dy):
        return "right"
    if dy < 0 and abs(dy) > abs(dx):
        return "above"
    if dy > 0 and abs(dy) > abs(dx):
        return "under"
    return None


def relation_holds(rel: str, a: Box, b: Box) -> bool:
    """Whether box ``a`` (the subject) stands in ``rel`` to box ``b`` (the reference)."""
    if rel in ("in front of", "behind"):
        if iou(a, b) <= 0:
            return False
        return a[3] > b[3] if rel == "in front of" else a[3] < b[3]
    if rel == "next to":
        return relation_2d(a, b) in ("left", "right")
    if rel == "in":
        cx, cy = centre(a)
        return b[0] <= cx <= b[2] and b[1] <= cy <= b[3]
    want = {"on": "above", "below": "under"}.get(rel, rel)
    return relation_2d(a, b) == want
