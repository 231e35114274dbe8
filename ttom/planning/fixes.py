"""Fixing a layout the critic found wrong: the offline answer to each kind of finding.

The critic tells two failures apart (``ttom.critic.policy``):

- the *layout* is wrong: its planned boxes contradict the prompt (a relation, a direction, a
  count), or an object was found in no frame for several rounds (the model cannot draw it there),
  or two movers were drawn in each other's lanes (the model ties their motions the other way);
- the *video* did not follow a sound layout: that is re-optimised, not repaired.

For the first kind the critic sends ``LayoutIssue``s back to the planner. The LLM planner reads
them in its repair prompt (``ttom.planning.plan.repair_from_critic``); this module is the
deterministic path, and the check both paths are held to:

- ``relation``: the subject and the reference swap places (each keeps its own motion and size);
  if that does not satisfy the relation, the subject moves beside the reference on the named side,
  then the reference beside the subject;
- ``direction``: the track is reversed; if reversing does not give the prompt's direction, the
  object gets a new straight track in that direction from its first box;
- ``count``: surplus instances are dropped, missing ones are added as copies of the last instance
  moved to a free spot beside it;
- ``absent``: the boxes grow ×1.25 about their centre (a larger target is easier to draw);
- ``swap``: two movers along one axis exchange lanes (the mean position across their motion),
  each keeping its own track along it, size and direction.

No torch, no LangGraph: boxes in, boxes out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

from ttom.geometry import centre, iou, relation_2d
from ttom.layout import Box, Keyframe, Layout, LayoutObject, frame_times
from ttom.planning.validate import Finding

IssueKind = Literal["relation", "direction", "count", "absent", "swap"]
CHECK_FRAMES = frame_times(9)
MIN_RELATION_FRAC = 0.5  # as the critic's default min_relation_frac
MIN_MOTION = 0.03  # as the critic's default min_motion: a shorter displacement is "static"
GAP = 0.04  # space left between boxes placed side by side
ENLARGE = 1.25

_FINDING_CODE = {"relation": "wrong_relation", "direction": "wrong_motion", "count": "wrong_count",
                 "absent": "partial_presence", "swap": "wrong_position"}


class LayoutIssue(BaseModel):
    """One reason the critic gives for repairing the layout, with what a fix needs to know."""

    kind: IssueKind
    object_ids: list[int] = Field(default_factory=list,
                                  description="relation: [subject, reference]; direction/absent: [object]; "
                                              "count: the instances planned; swap: the two movers")
    message: str = Field(description="the critic's reason, as it reports it")
    relation: str | None = Field(None, description="left | right | above | below (subject to reference)")
    direction: str | None = Field(None, description="left | right | up | down: the direction the prompt gives")
    count: int | None = Field(None, description="the number the prompt asks for")
    phrase: str | None = Field(None, description="count: the phrase whose instances are counted")

    def to_finding(self) -> Finding:
        """As a validator finding, the form the LLM repair prompt lists."""
        return Finding(code=_FINDING_CODE[self.kind], severity="error", object_ids=list(self.object_ids),
                       message=f"the critic, looking at the generated video: {self.message}")


# ----- checks ---------------------------------------------------------------------------------------
def relation_holds(rel: str, a: Box | None, b: Box | None) -> bool:
    """The critic's 2D test (T2V-CompBench's dominant axis); ``below`` is geometry's ``under``."""
    if a is None or b is None:
        return False
    return relation_2d(a, b) == {"below": "under"}.get(rel, rel)


def relation_frac(layout: Layout, subject: int, reference: int, rel: str) -> float:
    """Fraction of the check frames where both are planned and the relation holds."""
    a, b = layout.object(subject), layout.object(reference)
    both = [(a.box_at(t), b.box_at(t)) for t in CHECK_FRAMES]
    both = [(p, q) for p, q in both if p is not None and q is not None]
    return sum(relation_holds(rel, p, q) for p, q in both) / len(both) if both else 0.0


def direction_of(obj: LayoutObject) -> str:
    """left | right | up | down | static: the planned track's dominant direction, first to last keyframe."""
    (x0, y0), (x1, y1) = centre(obj.keyframes[0].box), centre(obj.keyframes[-1].box)
    dx, dy = x1 - x0, y1 - y0
    if (dx * dx + dy * dy) ** 0.5 < MIN_MOTION:
        return "static"
    if abs(dx) >= abs(dy):
        return "left" if dx < 0 else "right"
    return "up" if dy < 0 else "down"


def _same_phrase(layout: Layout, issue: LayoutIssue) -> list[LayoutObject]:
    key = (issue.phrase or "").strip().lower()
    if key:
        found = [o for o in layout.objects if o.phrase.strip().lower() == key]
        if found:
            return found
    names = {layout.object(i).name for i in issue.object_ids if any(o.id == i for o in layout.objects)}
    return [o for o in layout.objects if o.name in names]


def unresolved(layout: Layout, issues: Sequence[LayoutIssue]) -> list[LayoutIssue]:
    """The issues (relation, direction, count) that still hold in ``layout``; ``absent`` and ``swap`` are
    about the video, cannot be checked on the boxes alone and are never listed."""
    ids = {o.id for o in layout.objects}
    out = []
    for i in issues:
        if i.kind == "relation" and i.relation and len(i.object_ids) == 2:
            if not set(i.object_ids) <= ids or relation_frac(layout, *i.object_ids, i.relation) < MIN_RELATION_FRAC:
                out.append(i)
        elif i.kind == "direction" and i.direction and i.object_ids:
            if i.object_ids[0] not in ids or direction_of(layout.object(i.object_ids[0])) != i.direction:
                out.append(i)
        elif i.kind == "count" and i.count is not None:
            if len(_same_phrase(layout, i)) != i.count:
                out.append(i)
    return out


# ----- track moves ----------------------------------------------------------------------------------
def _shift(obj: LayoutObject, dx: float, dy: float) -> LayoutObject:
    """The whole track moved by (dx, dy), then by as little as needed to keep every box in the frame."""
    boxes = [kf.box for kf in obj.keyframes]
    lo_x, hi_x = min(b[0] for b in boxes) + dx, max(b[2] for b in boxes) + dx
    lo_y, hi_y = min(b[1] for b in boxes) + dy, max(b[3] for b in boxes) + dy
    dx += -lo_x if lo_x < 0 else (1.0 - hi_x if hi_x > 1.0 else 0.0)
    dy += -lo_y if lo_y < 0 else (1.0 - hi_y if hi_y > 1.0 else 0.0)
    kfs = [Keyframe(t=kf.t, box=_clip((kf.box[0] + dx, kf.box[1] + dy, kf.box[2] + dx, kf.box[3] + dy)))
           for kf in obj.keyframes]
    return obj.model_copy(update={"keyframes": kfs})


def _clip(b: Sequence[float]) -> Box:
    x0, y0, x1, y1 = (min(max(v, 0.0), 1.0) for v in b)
    return (x0, y0, max(x1, x0 + 1e-3), max(y1, y0 + 1e-3))


def _size(b: Box) -> tuple[float, float]:
    return b[2] - b[0], b[3] - b[1]


def _beside(mover: LayoutObject, anchor: LayoutObject, rel: str) -> LayoutObject:
    """``mover`` shifted so that, at its first keyframe, it stands ``rel`` of ``anchor`` (centres aligned on the
    other axis)."""
    t0 = mover.keyframes[0].t
    a = mover.keyframes[0].box
    b = anchor.box_at(t0) or anchor.keyframes[0].box
    (ax, ay), (bx, by) = centre(a), centre(b)
    (aw, ah), (bw, bh) = _size(a), _size(b)
    tx, ty = {"left": (bx - (aw + bw) / 2 - GAP, by), "right": (bx + (aw + bw) / 2 + GAP, by),
              "above": (bx, by - (ah + bh) / 2 - GAP), "below": (bx, by + (ah + bh) / 2 + GAP)}[rel]
    return _shift(mover, tx - ax, ty - ay)


def _replace(layout: Layout, *objs: LayoutObject) -> Layout:
    new = {o.id: o for o in objs}
    return layout.model_copy(update={"objects": [new.get(o.id, o) for o in layout.objects]})


_OPPOSITE = {"left": "right", "right": "left", "above": "below", "below": "above"}


def fix_relation(layout: Layout, subject: int, reference: int, rel: str) -> Layout:
    """The first of: swap places, move the subject beside the reference, move the reference beside the subject,
    that satisfies the relation in most frames (else the best of them)."""
    a, b = layout.object(subject), layout.object(reference)
    (ax, ay), (bx, by) = centre(a.keyframes[0].box), centre(b.box_at(a.keyframes[0].t) or b.keyframes[0].box)
    candidates = [
        _replace(layout, _shift(a, bx - ax, by - ay), _shift(b, ax - bx, ay - by)),  # swap, motions kept
        _replace(layout, _beside(a, b, rel)),
        _replace(layout, _beside(b, a, _OPPOSITE[rel])),
    ]
    scored = [(relation_frac(c, subject, reference, rel), -k, c) for k, c in enumerate(candidates)]
    for frac, _, c in scored:
        if frac >= 0.99:
            return c
    return max(scored, key=lambda s: (s[0], s[1]))[2]


def fix_direction(obj: LayoutObject, want: str) -> LayoutObject:
    """The track reversed, or a straight track in ``want`` from the first box when reversing is not enough."""
    kfs = obj.keyframes
    if len(kfs) >= 2:
        boxes = [kf.box for kf in kfs][::-1]
        rev = obj.model_copy(update={"keyframes": [Keyframe(t=kf.t, box=b) for kf, b in zip(kfs, boxes, strict=True)]})
        if direction_of(rev) == want:
            return rev
    first = kfs[0].box
    ux, uy = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}[want]
    axis = 0 if ux else 1
    u = ux or uy
    size = first[axis + 2] - first[axis]
    travel = min(max(0.3, 0.8 * (1.0 - size)), 1.0 - size)  # most of the free room along the axis
    p = first[axis]
    p_start = min(p, 1.0 - size - travel) if u > 0 else max(p, travel)
    start = list(first)
    start[axis], start[axis + 2] = p_start, p_start + size
    end = list(start)
    end[axis], end[axis + 2] = p_start + u * travel, p_start + u * travel + size
    t0, t1 = (kfs[0].t, kfs[-1].t) if len(kfs) >= 2 else (0.0, 1.0)
    return obj.model_copy(update={"keyframes": [Keyframe(t=t0, box=_clip(start)), Keyframe(t=t1, box=_clip(end))]})


def fix_count(layout: Layout, issue: LayoutIssue) -> list[LayoutObject]:
    """The objects with the phrase's instances trimmed or extended to ``issue.count``."""
    same = _same_phrase(layout, issue)
    want = int(issue.count or 0)
    objs = list(layout.objects)
    if not same or want < 1:
        return objs
    if len(same) > want:
        drop = {o.id for o in same[want:]}
        return [o for o in objs if o.id not in drop]
    last = same[-1]
    pos = objs.index(last) + 1
    added: list[LayoutObject] = []
    for _ in range(want - len(same)):
        placed = [o for o in objs + added]
        added.append(_copy_beside(last, placed))
    return objs[:pos] + added + objs[pos:]


def _copy_beside(src: LayoutObject, placed: list[LayoutObject]) -> LayoutObject:
    """A copy of ``src``'s track moved to the free spot beside it that overlaps the placed boxes least."""
    b = src.keyframes[0].box
    w, h = _size(b)
    best, best_overlap = None, None
    for scale in (1.0, 0.8, 0.6):
        for dx, dy in ((w + GAP, 0), (-(w + GAP), 0), (0, h + GAP), (0, -(h + GAP)),
                       (w + GAP, h + GAP), (-(w + GAP), h + GAP), (w + GAP, -(h + GAP)), (-(w + GAP), -(h + GAP))):
            cand = _scaled(src, scale)
            cand = _shift(cand, dx * scale, dy * scale)
            overlap = max((iou(cand.box_at(t) or (0, 0, 0, 0), o.box_at(t) or (0, 0, 0, 0))
                           for o in placed for t in CHECK_FRAMES), default=0.0)
            if best_overlap is None or overlap < best_overlap - 1e-9:
                best, best_overlap = cand, overlap
            if overlap == 0.0:
                return cand.model_copy(update={"id": -1})
    return best.model_copy(update={"id": -1})  # type: ignore[union-attr]


def _scaled(obj: LayoutObject, f: float) -> LayoutObject:
    def sc(b: Box) -> Box:
        cx, cy = centre(b)
        w, h = _size(b)
        return _clip((cx - w * f / 2, cy - h * f / 2, cx + w * f / 2, cy + h * f / 2))

    return obj.model_copy(update={"keyframes": [Keyframe(t=kf.t, box=sc(kf.box)) for kf in obj.keyframes]})


def fix_swap(layout: Layout, a_id: int, b_id: int) -> Layout:
    """Objects ``a_id`` and ``b_id`` exchange lanes: each track moves across ``a_id``'s axis of motion
    by the difference of their mean positions on it; along it nothing changes."""
    a, b = layout.object(a_id), layout.object(b_id)
    across = 1 if direction_of(a) in ("left", "right", "static") else 0

    def lane(o: LayoutObject) -> float:
        return sum(centre(kf.box)[across] for kf in o.keyframes) / len(o.keyframes)

    d = lane(b) - lane(a)
    move = (lambda o, v: _shift(o, 0.0, v)) if across == 1 else (lambda o, v: _shift(o, v, 0.0))
    return _replace(layout, move(a, d), move(b, -d))


def fix_layout(layout: Layout, issues: Sequence[LayoutIssue]) -> Layout:
    """The layout with every issue answered (see the module docstring); ids renumbered when a count changed."""
    out = layout
    for i in issues:
        ids = {o.id for o in out.objects}
        if i.kind == "relation" and i.relation in _OPPOSITE and len(i.object_ids) == 2 and set(i.object_ids) <= ids:
            out = fix_relation(out, i.object_ids[0], i.object_ids[1], i.relation)
        elif i.kind == "direction" and i.direction in ("left", "right", "up", "down") and i.object_ids \
                and i.object_ids[0] in ids:
            out = _replace(out, fix_direction(out.object(i.object_ids[0]), i.direction))
        elif i.kind == "swap" and len(i.object_ids) == 2 and set(i.object_ids) <= ids:
            out = fix_swap(out, *i.object_ids)
        elif i.kind == "absent":
            grow = [_shift(_scaled(out.object(k), ENLARGE), 0.0, 0.0) for k in i.object_ids if k in ids]
            out = _replace(out, *grow)
    counts = [i for i in issues if i.kind == "count" and i.count is not None]
    if counts:
        objs = list(out.objects)
        for i in counts:
            objs = fix_count(out.model_copy(update={"objects": objs}), i)
        out = out.model_copy(update={"objects": [o.model_copy(update={"id": k}) for k, o in enumerate(objs)]})
    return out
