"""The offline planner: a deterministic layout from a prompt, with no model and no network.

It is the default when no LLM endpoint is configured (``TTOM_LLM_BASE_URL`` unset). It reads the
prompt with ``ttom.planning.parse.analyze`` and places one box track per object instance:

1. every object group gets a default box size from its class (small / medium / large, tall or
   wide) and its size adjectives; N instances are laid out as a grid inside the group's box;
2. static groups joined by relations form components, placed relative to each other
   ("left of": side by side with centres level, so the dominant axis is horizontal as
   T2V-CompBench judges it; "on": stacked and touching; "in front of": overlapping, lower in
   the frame, i.e. closer to the camera on a ground plane); components share the frame in slots;
3. moving groups get their own lanes and travel across the frame in their direction (several
   movers along one axis share the frame in evenly spaced lanes, in the prompt's order); a path of
   waypoints ("goes to the upper left, then to the lower right") becomes evenly spaced keyframes.

Boxes never overlap unless a relation implies contact or occlusion (on, under, in, in front of, behind).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ttom.geometry import centre
from ttom.layout import MAX_OBJECTS, Keyframe, Layout, LayoutObject
from ttom.planning import lexicon as lx
from ttom.planning.parse import SceneSpec, analyze, names_match
from ttom.planning.validate import ValidationReport, validate

# Width / height of a typical video frame (720x480 CogVideoX, 832x480 Wan): a box that is square
# in pixels is 1/1.5 as wide as it is tall in normalised units.
FRAME_ASPECT = 1.5
MARGIN = 0.03  # keep boxes this far from the frame edges
GAP = 0.06  # free space between objects that are side by side

FLYING = {
    "bird", "eagle", "hawk", "falcon", "owl", "pigeon", "dove", "sparrow", "crow", "seagull", "gull",
    "parrot", "butterfly", "bee", "wasp", "moth", "dragonfly", "firefly", "fly", "mosquito", "kite",
    "balloon", "hot air balloon", "airplane", "plane", "jet", "helicopter", "drone", "rocket",
    "spaceship", "ufo", "blimp", "parachute", "sun", "moon", "star", "cloud", "rainbow", "bat",
    "snowflake", "bubble", "chandelier", "banner", "clock", "traffic light", "lantern", "satellite",
    "planet", "comet", "feather", "leaf", "heart", "hummingbird",
}
_POSITION_CENTRES: dict[str, tuple[float, float]] = {
    "upper left": (0.25, 0.27), "upper right": (0.75, 0.27), "lower left": (0.25, 0.73),
    "lower right": (0.75, 0.73), "left": (0.2, 0.55), "right": (0.8, 0.55), "top": (0.5, 0.22),
    "bottom": (0.5, 0.78), "center": (0.5, 0.5), "upper": (0.5, 0.25), "lower": (0.5, 0.75),
}


def object_size(name: str, size: float = 1.0, frame_aspect: float = FRAME_ASPECT) -> tuple[float, float]:
    """Default (width, height) of one instance, normalised, from the class and size adjectives; an
    object's own aspect is kept on a frame ``frame_aspect`` (width / height) wide."""
    head = name.split()[-1]
    if name in lx.LARGE_THINGS or head in lx.LARGE_THINGS:
        h = 0.5
    elif name in lx.SMALL_THINGS or head in lx.SMALL_THINGS:
        h = 0.24
    else:
        h = 0.34
    if name in lx.TALL_THINGS or head in lx.TALL_THINGS:
        aspect = 0.55
        h *= 1.15
    elif name in lx.WIDE_THINGS or head in lx.WIDE_THINGS:
        aspect = 1.7
    else:
        aspect = 1.0
    h = min(h * size, 0.7)
    w = min(h * aspect / frame_aspect, 0.6)
    return w, h


@dataclass
class _Group:
    """One object mention: ``n`` instances in a grid, moved and placed as one box."""

    mention: int
    name: str
    phrase: str
    n: int
    w: float  # one instance
    h: float
    cols: int = 1
    rows: int = 1
    spread: bool = False  # lay the row across the frame ("between two posts")
    centre: tuple[float, float] | None = None  # group box centre when static
    path: list[tuple[float, float]] = field(default_factory=list)  # group box centres over time
    window: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        self.rows = 1 if self.n <= 4 else 2 if self.n <= 8 else 3
        self.cols = math.ceil(self.n / self.rows)

    @property
    def gw(self) -> float:
        return self.cols * self.w + (self.cols - 1) * GAP * 0.5

    @property
    def gh(self) -> float:
        return self.rows * self.h + (self.rows - 1) * GAP * 0.5

    def scale(self, f: float) -> None:
        self.w *= f
        self.h *= f

    def fit(self, max_w: float, max_h: float) -> None:
        f = min(1.0, max_w / self.gw, max_h / self.gh)
        self.scale(f)

    def instance_boxes(self, centre: tuple[float, float]) -> list[tuple[float, float, float, float]]:
        cx, cy = centre
        out = []
        for k in range(self.n):
            r, c = divmod(k, self.cols)
            in_row = min(self.cols, self.n - r * self.cols)
            if self.spread and self.rows == 1 and self.n >= 2:
                span = 1 - 2 * MARGIN - self.w
                x = MARGIN + self.w / 2 + span * c / (self.n - 1)
            else:
                step = self.w + GAP * 0.5
                x = cx - (in_row - 1) * step / 2 + c * step
            # stagger rows a little so a crowd does not look like a spreadsheet
            y = cy - (self.rows - 1) * (self.h + GAP * 0.5) / 2 + r * (self.h + GAP * 0.5)
            out.append(_clamp_box((x - self.w / 2, y - self.h / 2, x + self.w / 2, y + self.h / 2)))
        return out


def _clamp_box(b: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """Shift a box inside [0, 1] (keeping its size when it fits)."""
    x0, y0, x1, y1 = b
    w, h = min(x1 - x0, 1.0), min(y1 - y0, 1.0)
    x0 = min(max(x0, 0.0), 1.0 - w)
    y0 = min(max(y0, 0.0), 1.0 - h)
    return (round(x0, 4), round(y0, 4), round(x0 + w, 4), round(y0 + h, 4))


def _offset(rel: str, s: _Group, r: _Group) -> tuple[float, float]:
    """Centre of subject ``s`` minus centre of reference ``r`` for a relation."""
    sw, sh, rw, rh = s.gw, s.gh, r.gw, r.gh
    if rel in ("left", "next to"):
        return (-(sw + rw) / 2 - GAP, 0.0)
    if rel == "right":
        return ((sw + rw) / 2 + GAP, 0.0)
    if rel == "above":
        return (0.0, -(sh + rh) / 2 - GAP)
    if rel == "on":
        return (0.0, -(sh + rh) / 2 + 0.12 * sh)  # touching, a little overlap: contact
    if rel == "below":
        return (0.0, (sh + rh) / 2 + GAP)
    if rel == "under":
        return (0.0, (sh + rh) / 2 - 0.3 * sh)  # partly beneath it
    if rel == "in front of":
        # overlapping (T2V-CompBench needs IoU > 0 for 3D relations), bottom edge lower = closer
        return (0.3 * (sw + rw) / 2, (rh - sh) / 2 + 0.08)
    if rel == "behind":
        return (0.3 * (sw + rw) / 2, (rh - sh) / 2 - 0.1)
    if rel == "in":
        return (0.0, 0.1 * rh)
    return (0.0, 0.0)  # between: centred, the reference row spreads around it


def _place_components(spec: SceneSpec, groups: dict[int, _Group], static: list[int]) -> None:
    """Static groups: relative placement within components, components side by side."""
    rel_of: dict[int, list[tuple[str, int, int]]] = {}  # group -> (relation, subject, reference)
    for rl in spec.relations:
        if rl.subject in static and rl.reference in static:
            rel_of.setdefault(rl.subject, []).append((rl.relation, rl.subject, rl.reference))
            rel_of.setdefault(rl.reference, []).append((rl.relation, rl.subject, rl.reference))
    seen: set[int] = set()
    components: list[dict[int, tuple[float, float]]] = []
    for g in static:
        if g in seen:
            continue
        comp: dict[int, tuple[float, float]] = {g: (0.0, 0.0)}
        queue = [g]
        seen.add(g)
        while queue:
            cur = queue.pop(0)
            for rel, s, r in rel_of.get(cur, []):
                other = r if cur == s else s
                if other in comp:
                    continue
                if rel == "in":  # the contained thing is smaller than its container
                    groups[s].fit(0.6 * groups[r].gw, 0.6 * groups[r].gh)
                if rel == "between":
                    groups[r].spread = True
                dx, dy = _offset(rel, groups[s], groups[r])
                cx, cy = comp[cur]
                comp[other] = (cx + dx, cy + dy) if cur == r else (cx - dx, cy - dy)
                seen.add(other)
                queue.append(other)
        components.append(comp)
    if not components:
        return
    # natural extents of each component, then slots across the frame
    boxes = []
    for comp in components:
        xs0 = [c[0] - groups[g].gw / 2 for g, c in comp.items()]
        xs1 = [c[0] + groups[g].gw / 2 for g, c in comp.items()]
        ys0 = [c[1] - groups[g].gh / 2 for g, c in comp.items()]
        ys1 = [c[1] + groups[g].gh / 2 for g, c in comp.items()]
        boxes.append((min(xs0), min(ys0), max(xs1), max(ys1)))
    # one row of slots while the components keep at least half their size in it; else rows of slots
    n_rows = 1
    while True:
        per_row = math.ceil(len(components) / n_rows)
        rows = [list(range(i, min(i + per_row, len(components)))) for i in range(0, len(components), per_row)]
        widths = [sum(boxes[i][2] - boxes[i][0] for i in row) for row in rows]
        avail = 1 - 2 * MARGIN - GAP * (per_row - 1)
        if avail > 0 and all(w <= 2 * avail for w in widths) or per_row == 1:
            break
        n_rows += 1
    row_h = (1 - 2 * MARGIN) / n_rows
    for r, row in enumerate(rows):
        _place_row(spec, groups, [components[i] for i in row], [boxes[i] for i in row], widths[r],
                   max(avail, 1e-3), row_h, MARGIN + r * row_h if n_rows > 1 else None)


def _place_row(spec: SceneSpec, groups: dict[int, _Group], components: list[dict[int, tuple[float, float]]],
               boxes: list[tuple[float, float, float, float]], total_w: float, avail: float, row_h: float,
               row_top: float | None) -> None:
    """Components side by side in one row of slots (``row_top`` None: the whole frame's height)."""
    x = MARGIN
    fx = min(1.0, avail / total_w) if total_w > 0 else 1.0
    if total_w * fx < avail:
        x += (avail - total_w * fx) / 2
    for comp, b in zip(components, boxes, strict=False):
        w, h = (b[2] - b[0]), (b[3] - b[1])
        f = min(fx, row_h / h) if h > 0 else fx
        spread = any(groups[g].spread for g in comp)
        # a lone thing sits on the ground, or in the sky if it flies
        if len(comp) == 1:
            g = next(iter(comp))
            cy_target = 0.3 if groups[g].name in FLYING or groups[g].name.split()[-1] in FLYING else 0.58
        else:
            cy_target = 0.5
        ccx = x + w * f / 2
        if spread:
            ccx = 0.5
        # absolute positions ("on the left") override the slot
        for g in comp:
            pos = spec.positions.get(groups[g].mention)
            if pos and len(pos) == 1 and len(comp) == 1:
                ccx, cy_target = _POSITION_CENTRES.get(pos[0], (ccx, cy_target))
        if row_top is not None:  # several rows: the row decides the height
            cy_target = row_top + row_h / 2
        bcx, bcy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
        half_h = h * f / 2
        cy = min(max(cy_target, MARGIN + half_h), 1 - MARGIN - half_h)
        for g, (gx, gy) in comp.items():
            groups[g].scale(f)
            groups[g].centre = (ccx + (gx - bcx) * f, cy + (gy - bcy) * f)
        x += w * f + GAP


def _static_boxes(groups: dict[int, _Group]) -> list[tuple[float, float, float, float]]:
    out = []
    for g in groups.values():
        if g.centre is not None and not g.path:
            cx, cy = g.centre
            out.append((cx - g.gw / 2, cy - g.gh / 2, cx + g.gw / 2, cy + g.gh / 2))
    return out


def _overlap_1d(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def _place_movers(spec: SceneSpec, groups: dict[int, _Group], movers: list[int]) -> None:
    """Moving groups: lanes that avoid the static boxes and each other, travel across the frame."""
    statics = _static_boxes(groups)
    used_lanes: list[tuple[str, float, float]] = []  # (axis, lo, hi)
    horiz = [g for g in movers if spec.motion_of(g).direction in ("left", "right")]  # type: ignore[union-attr]
    n_h = max(len(horiz), 1)
    n_v = max(len(movers) - len(horiz), 1)
    seen = {True: 0, False: 0}  # movers placed so far on each axis (horizontal or not)
    for g in movers:
        grp = groups[g]
        mo = spec.motion_of(g)
        assert mo is not None
        horizontal = mo.direction in ("left", "right")
        rank, seen[horizontal] = seen[horizontal], seen[horizontal] + 1
        # groups travel as a block: keep the block small enough to move a good distance
        grp.fit(0.45 if horizontal else 0.9 / n_v, 0.9 / n_h if horizontal else 0.45)
        if mo.relative_to is not None and groups[mo.relative_to].centre is not None:
            ref = groups[mo.relative_to]
            rcx, rcy = ref.centre  # type: ignore[misc]
            grp.fit(0.35, 0.6)
            left = rcx - ref.gw / 2 - GAP - grp.gw / 2
            right = rcx + ref.gw / 2 + GAP + grp.gw / 2
            a, b = (left, right) if mo.direction == "right" else (right, left)
            lo, hi = MARGIN + grp.gw / 2, 1 - MARGIN - grp.gw / 2
            grp.path = [(min(max(a, lo), hi), rcy), (min(max(b, lo), hi), rcy)]
            continue
        size_across = grp.gh if horizontal else grp.gw
        # candidate lane centres; score = overlap with static boxes and used lanes
        cands = [0.5, 0.32, 0.68, 0.2, 0.8, 0.42, 0.58]
        n_axis = n_h if horizontal else n_v
        if n_axis > 1:  # several movers on one axis share the frame evenly, in the prompt's order
            cands = [MARGIN + (1 - 2 * MARGIN) * (rank + 0.5) / n_axis, *cands]
        ref_lane = _lane_from_relation(spec, groups, g, horizontal)
        if ref_lane is not None:
            cands = [ref_lane, *cands]
        best, best_score = cands[0], float("inf")
        for k, c in enumerate(cands):
            lo, hi = c - size_across / 2, c + size_across / 2
            if lo < MARGIN or hi > 1 - MARGIN:
                continue
            score = 0.0
            for sb in statics:
                score += _overlap_1d(lo, hi, sb[1], sb[3]) if horizontal else _overlap_1d(lo, hi, sb[0], sb[2])
            for axis, ulo, uhi in used_lanes:
                if axis == ("h" if horizontal else "v"):
                    score += 10 * _overlap_1d(lo, hi, ulo, uhi)
            score += 0.001 * k  # prefer earlier (more natural) lanes on ties
            if ref_lane is not None and k == 0:
                score -= 0.5  # the prompt said where: above the statue, on the table
            if score < best_score:
                best, best_score = c, score
        used_lanes.append(("h" if horizontal else "v", best - size_across / 2, best + size_across / 2))
        half_along = (grp.gw if horizontal else grp.gh) / 2
        a, b = MARGIN + half_along + 0.02, 1 - MARGIN - half_along - 0.02
        if horizontal:
            xs = (a, b) if mo.direction == "right" else (b, a)
            grp.path = [(xs[0], best), (xs[1], best)]
        else:
            ys = (b, a) if mo.direction == "up" else (a, b)
            grp.path = [(best, ys[0]), (best, ys[1])]


def _lane_from_relation(spec: SceneSpec, groups: dict[int, _Group], g: int, horizontal: bool) -> float | None:
    """A lane that keeps a mover's relation to a static thing ("drifts ... above a statue")."""
    for rl in spec.relations:
        if rl.subject != g or groups[rl.reference].centre is None or groups[rl.reference].path:
            continue
        ref = groups[rl.reference]
        rcx, rcy = ref.centre  # type: ignore[misc]
        me = groups[g]
        if horizontal:
            if rl.relation in ("above", "on"):
                return max(rcy - ref.gh / 2 - me.gh / 2 - (GAP if rl.relation == "above" else -0.05 * me.gh), me.gh / 2 + MARGIN)
            if rl.relation in ("below", "under"):
                return min(rcy + ref.gh / 2 + me.gh / 2 + (GAP if rl.relation == "below" else -0.3 * me.gh), 1 - me.gh / 2 - MARGIN)
        else:
            if rl.relation in ("left", "right"):
                off = ref.gw / 2 + me.gw / 2 + GAP
                return rcx - off if rl.relation == "left" else rcx + off
    return None


def _place_paths(spec: SceneSpec, groups: dict[int, _Group], pathers: list[int]) -> None:
    for g in pathers:
        grp = groups[g]
        grp.fit(0.3, 0.3)
        grp.path = [_POSITION_CENTRES.get(p, (0.5, 0.5)) for p in spec.positions[grp.mention]]


def plan_offline(prompt: str, spec: SceneSpec | None = None, frame_aspect: float = FRAME_ASPECT) -> Layout:
    """A layout for ``prompt``, deterministic and offline (see the module docstring), for a video
    ``frame_aspect`` (width / height) wide: boxes are normalised, so a round object on a square frame
    gets a square box and on a 3:2 frame a box two thirds as wide as tall."""
    if not frame_aspect > 0:
        raise ValueError(f"frame_aspect must be positive, got {frame_aspect}")
    if not prompt or not prompt.strip():
        from ttom.planning.errors import PlannerError

        raise PlannerError("the prompt is empty; give a sentence describing the scene")
    spec = spec or analyze(prompt)
    asked = sum(max(1, spec.mentions[k].count) for k in spec.objects)
    if asked > MAX_OBJECTS:
        from ttom.planning.errors import PlannerError

        raise PlannerError(f"the prompt asks for {asked} objects; a layout holds at most {MAX_OBJECTS} (a video model "
                           "cannot place more apart): ask for fewer")
    groups: dict[int, _Group] = {}
    for k in spec.objects:
        m = spec.mentions[k]
        w, h = object_size(m.name, m.size, frame_aspect)
        groups[k] = _Group(mention=k, name=m.name, phrase=m.phrase, n=max(1, m.count), w=w, h=h)
        # large counts: shrink so the grid fits the frame
        groups[k].fit(1 - 2 * MARGIN, 0.8)
        if k in spec.visibility:
            groups[k].window = spec.visibility[k]
    moving = {mo.mention for mo in spec.motions if mo.mention in groups}
    pathers = [k for k in groups if len(spec.positions.get(k, [])) >= 2]
    movers = [k for k in groups if k in moving and k not in pathers]
    # references of relative motions stay put in the middle; everything else static goes in slots
    static = [k for k in groups if k not in moving and k not in pathers]
    _place_components(spec, groups, static)
    _place_movers(spec, groups, movers)
    _place_paths(spec, groups, pathers)

    objects: list[LayoutObject] = []
    for k in spec.objects:
        grp = groups[k]
        t0, t1 = grp.window
        centres = grp.path or [grp.centre or (0.5, 0.5)] * 2
        times = [t0 + (t1 - t0) * i / (len(centres) - 1) for i in range(len(centres))]
        per_time = [grp.instance_boxes(c) for c in centres]
        for inst in range(grp.n):
            kfs = [Keyframe(t=round(t, 6), box=per_time[i][inst]) for i, t in enumerate(times)]
            objects.append(LayoutObject(id=len(objects), name=grp.name, phrase=grp.phrase, keyframes=kfs))
    bg = spec.background if spec.background != "sun" else ""
    return Layout(prompt=prompt, objects=objects, background=bg,
                  reasoning="offline planner: " + _describe(spec))


def _describe(spec: SceneSpec) -> str:
    parts = [f"{m.count} x {m.name}" for m in (spec.mentions[k] for k in spec.objects)]
    for rl in spec.relations:
        parts.append(f"{spec.mentions[rl.subject].name} {rl.relation} {spec.mentions[rl.reference].name}")
    for mo in spec.motions:
        parts.append(f"{spec.mentions[mo.mention].name} moves {mo.direction}")
    return "; ".join(parts) or "no objects recognised"


# ---------------------------------------------------------------------------------------------
def repair_offline(layout: Layout, report: ValidationReport | None = None, spec: SceneSpec | None = None,
                   frame_aspect: float = FRAME_ASPECT) -> Layout:
    """A deterministic repair: fix what can be fixed in place, borrow the offline plan for the rest.

    1. in place: ids renumbered, tiny boxes grown about their centre, surplus instances dropped,
       tracks that move the wrong way reversed;
    2. objects still in error are replaced by the offline planner's objects of the same names;
    3. if errors remain, the offline planner's whole layout (keeping the enriched prompt).
    """
    spec = spec or analyze(layout.prompt)
    report = report or validate(layout, spec=spec)
    if report.ok:
        return layout
    objs = [o.model_copy(deep=True) for o in layout.objects]
    bad_codes = {f.code for f in report.errors}
    # surplus instances
    for f in report.errors:
        if f.code == "wrong_count":
            name = objs[[o.id for o in objs].index(f.object_ids[0])].name if f.object_ids else None
            want = next((spec.mentions[k].count for k in spec.objects if name and names_match(spec.mentions[k].name, name)), None)
            same = [o for o in objs if name and names_match(o.name, name)]
            if want is not None and len(same) > want:
                drop = {o.id for o in same[want:]}
                objs = [o for o in objs if o.id not in drop]
    # tiny boxes and reversed motions
    wrong_dir = {i for f in report.errors if f.code == "wrong_motion" for i in f.object_ids}
    tiny = {i for f in report.errors if f.code == "tiny_box" for i in f.object_ids}
    fixed: list[LayoutObject] = []
    for o in objs:
        kfs = list(o.keyframes)
        if o.id in tiny:
            kfs = [Keyframe(t=kf.t, box=_grow(kf.box)) for kf in kfs]
        if o.id in wrong_dir and len(kfs) >= 2:
            boxes = [kf.box for kf in kfs][::-1]
            kfs = [Keyframe(t=kf.t, box=b) for kf, b in zip(kfs, boxes, strict=True)]
        fixed.append(o.model_copy(update={"keyframes": kfs}))
    candidate = _renumber(layout, fixed)
    rep = validate(candidate, spec=spec)
    if rep.ok:
        return candidate
    # borrow the offline plan for the names still in error
    offline = plan_offline(layout.prompt, spec, frame_aspect)
    bad_names = {o.name for o in candidate.objects if any(o.id in f.object_ids for f in rep.errors)}
    for f in rep.errors:
        if f.code in ("missing_object", "wrong_count", "wrong_visibility", "wrong_position"):
            bad_names |= {spec.mentions[k].name for k in spec.objects if spec.mentions[k].name in f.message}
    if bad_names and "empty_layout" not in bad_codes:
        keep = [o for o in candidate.objects if not any(names_match(o.name, n) for n in bad_names)]
        borrowed = [o for o in offline.objects if any(names_match(o.name, n) for n in bad_names)]
        candidate = _renumber(layout, keep + borrowed)
        if validate(candidate, spec=spec).ok:
            return candidate
    return offline.model_copy(update={"enriched_prompt": layout.enriched_prompt, "camera": layout.camera,
                                      "background": layout.background or offline.background})


def _grow(box: tuple[float, float, float, float], side: float = 0.06) -> tuple[float, float, float, float]:
    cx, cy = centre(box)
    w, h = max(box[2] - box[0], side), max(box[3] - box[1], side)
    x0 = min(max(cx - w / 2, 0.0), 1.0 - w)
    y0 = min(max(cy - h / 2, 0.0), 1.0 - h)
    return (x0, y0, x0 + w, y0 + h)


def _renumber(layout: Layout, objects: list[LayoutObject]) -> Layout:
    objs = [o.model_copy(update={"id": i}) for i, o in enumerate(objects)]
    return layout.model_copy(update={"objects": objs})
