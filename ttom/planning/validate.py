"""Checking a layout against its prompt, and repairing it.

``validate(layout)`` reads the prompt offline (``ttom.planning.parse``) and returns structured
findings: every object the prompt names is present with the right count, boxes are usable (not
tiny), motions and relations agree with the prompt, ids and names are coherent. Errors make a
layout invalid; warnings are reported and tolerated.

Checks only: repairing an invalid layout is ``ttom.planning.plan.repair`` (the LLM, then the
offline repair in ``ttom.planning.offline``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ttom.geometry import area, centre, iou, relation_holds
from ttom.layout import Layout, LayoutObject, frame_times
from ttom.planning import lexicon as lx
from ttom.planning.parse import OVERLAP_RELATIONS, SceneSpec, analyze, names_match, tokenize

MIN_SIDE = 0.02  # a box narrower or shorter than 2% of the frame cannot steer attention
MIN_AREA = 0.0016  # ... nor one smaller than 4% x 4% of the frame
MIN_MOTION = 0.05  # a named motion must move the box centre by at least 5% of the frame
STILL_MOTION = 0.15  # an object the prompt does not move should not travel further than this
OVERLAP_IOU = 0.3  # two unrelated objects overlapping more than this is a warning
_CHECK_FRAMES = frame_times(9)

Code = Literal[
    "empty_layout", "missing_object", "wrong_count", "extra_object", "name_not_in_prompt",
    "phrase_mismatch", "tiny_box", "huge_box", "ids_not_sequential", "no_motion", "wrong_motion",
    "unexpected_motion", "wrong_relation", "overlap", "wrong_visibility", "wrong_position",
    "partial_presence",
]


class Finding(BaseModel):
    """One problem of a layout, with the objects it concerns."""

    code: Code
    severity: Literal["error", "warning"]
    object_ids: list[int] = Field(default_factory=list)
    message: str

    def __str__(self) -> str:
        ids = f" (objects {self.object_ids})" if self.object_ids else ""
        return f"[{self.severity}] {self.code}{ids}: {self.message}"


class ValidationReport(BaseModel):
    """The findings for one layout; ``ok`` when there is no error."""

    prompt: str
    findings: list[Finding] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def summary(self) -> str:
        return "; ".join(str(f) for f in self.findings) or "no findings"


# ---------------------------------------------------------------------------------------------
def _match(layout: Layout, name: str) -> list[LayoutObject]:
    return [o for o in layout.objects if names_match(o.name, name)]


def _displacement(obj: LayoutObject) -> tuple[float, float]:
    (ax, ay), (bx, by) = centre(obj.keyframes[0].box), centre(obj.keyframes[-1].box)
    return bx - ax, by - ay


def validate(layout: Layout, prompt: str | None = None, spec: SceneSpec | None = None) -> ValidationReport:
    """Check ``layout`` against ``prompt`` (default: the layout's own prompt)."""
    prompt = prompt or layout.prompt
    spec = spec or analyze(prompt)
    out: list[Finding] = []

    def add(code: Code, severity: str, ids: list[int], msg: str) -> None:
        out.append(Finding(code=code, severity=severity, object_ids=ids, message=msg))  # type: ignore[arg-type]

    objects = spec.objects
    if objects and not layout.objects:
        add("empty_layout", "error", [], f"the layout has no objects; the prompt names {spec.counts()}")
        return ValidationReport(prompt=prompt, findings=out)

    # 1. objects and counts -------------------------------------------------------------------
    wanted: dict[str, tuple[int, bool]] = {}
    for k in objects:
        m = spec.mentions[k]
        n, explicit = wanted.get(m.name, (0, True))
        # "a dog" is as explicit as "one dog"; a bare plural ("clouds") only asks for more than one
        wanted[m.name] = (n + m.count, explicit and (m.explicit_count or m.count == 1))
    for name, (n, explicit) in wanted.items():
        got = _match(layout, name)
        if not got:
            add("missing_object", "error", [], f"the prompt names {n} x {name!r}, the layout has none")
        elif len(got) != n and (explicit or len(got) < 2 <= n):
            add("wrong_count", "error", [o.id for o in got], f"{len(got)} x {name!r} in the layout, the prompt asks for {n}")
    for o in layout.objects:
        if objects and not any(names_match(o.name, name) for name in wanted):
            add("extra_object", "warning", [o.id], f"{o.name!r} is not an object the prompt names ({sorted(wanted)})")

    # 2. ids and names --------------------------------------------------------------------------
    ids = [o.id for o in layout.objects]
    if ids != list(range(len(ids))):
        add("ids_not_sequential", "warning", ids, f"ids are {ids}; the engine pairs the n-th object with id n, expected 0..{len(ids) - 1}")
    words = {lx.singularize(w) for w in tokenize(layout.generation_prompt())} | {lx.singularize(w) for w in tokenize(prompt)}
    for o in layout.objects:
        name_words = [lx.singularize(w) for w in tokenize(o.name)]
        if name_words and name_words[-1] not in words:
            add("name_not_in_prompt", "error", [o.id], f"{o.name!r} does not occur in the prompt, so the engine finds no tokens for it; use the prompt's own noun")
        if name_words and name_words[-1] not in {lx.singularize(w) for w in tokenize(o.phrase)}:
            add("phrase_mismatch", "warning", [o.id], f"phrase {o.phrase!r} does not contain the name {o.name!r}")

    # 3. boxes ------------------------------------------------------------------------------------
    for o in layout.objects:
        for kf in o.keyframes:
            w, h = kf.box[2] - kf.box[0], kf.box[3] - kf.box[1]
            if w < MIN_SIDE or h < MIN_SIDE or area(kf.box) < MIN_AREA:
                add("tiny_box", "error", [o.id], f"{o.name} #{o.id} box {list(kf.box)} at t={kf.t} is too small ({w:.3f} x {h:.3f}); make it at least {MIN_SIDE} a side and {MIN_AREA} in area")
                break
            if w * h > 0.9:
                add("huge_box", "warning", [o.id], f"{o.name} #{o.id} box at t={kf.t} covers {100 * w * h:.0f}% of the frame")
                break
        if o.end - o.start < 0.5 and not any(names_match(o.name, spec.mentions[k].name) for k in spec.visibility):
            add("partial_presence", "warning", [o.id], f"{o.name} #{o.id} is present only for t in [{o.start}, {o.end}]")

    # 4. motion -----------------------------------------------------------------------------------
    moving_names = set()
    for mo in spec.motions:
        name = spec.mentions[mo.mention].name
        moving_names.add(name)
        for o in _match(layout, name):
            dx, dy = _displacement(o)
            along = {"left": -dx, "right": dx, "up": -dy, "down": dy}[mo.direction]
            if along >= MIN_MOTION:
                continue
            if abs(dx) < MIN_MOTION and abs(dy) < MIN_MOTION:
                add("no_motion", "error", [o.id], f"{name} #{o.id} should move {mo.direction} ({mo.text!r}) but its centre moves ({dx:+.2f}, {dy:+.2f})")
            else:
                add("wrong_motion", "error", [o.id], f"{name} #{o.id} should move {mo.direction} ({mo.text!r}) but moves ({dx:+.2f}, {dy:+.2f})")
    path_names = {spec.mentions[k].name for k in spec.positions if len(spec.positions[k]) >= 2}
    for o in layout.objects:
        if any(names_match(o.name, n) for n in moving_names | path_names):
            continue
        dx, dy = _displacement(o)
        if max(abs(dx), abs(dy)) > STILL_MOTION:
            add("unexpected_motion", "warning", [o.id], f"{o.name} #{o.id} travels ({dx:+.2f}, {dy:+.2f}) though the prompt does not move it")

    # 5. relations (between things that stay put) --------------------------------------------------
    related: set[tuple[int, int]] = set()
    for rl in spec.relations:
        s_name, r_name = spec.mentions[rl.subject].name, spec.mentions[rl.reference].name
        if s_name in moving_names or r_name in moving_names or s_name == r_name:
            continue  # a moving thing's relation holds somewhere along its path, not in every frame
        subs, refs = _match(layout, s_name), _match(layout, r_name)
        if not subs or not refs:
            continue  # already reported as missing
        for s in subs:
            for r in refs:
                related.add((s.id, r.id))
                related.add((r.id, s.id))
        bad_t = None
        for t in _CHECK_FRAMES:
            sb = [b for o in subs if (b := o.box_at(t)) is not None]
            rb = [b for o in refs if (b := o.box_at(t)) is not None]
            if not sb or not rb:
                continue
            if rl.relation == "between":
                xs = sorted(centre(b)[0] for b in rb)
                ok = all(xs[0] < centre(b)[0] < xs[-1] for b in sb)
            else:
                # a group ("four chairs on a porch") is judged as a whole: its union box
                ok = relation_holds(rl.relation, _union(sb), _union(rb))
            if not ok:
                bad_t = t
                break
        if bad_t is not None:
            add("wrong_relation", "error", [o.id for o in subs + refs],
                f"{s_name} should be {rl.relation} {r_name} ({rl.text!r}) but is not at t={bad_t:.2f}")

    # 6. overlaps nobody asked for -------------------------------------------------------------------
    overlap_ok_names = {(spec.mentions[r.subject].name, spec.mentions[r.reference].name)
                        for r in spec.relations if r.relation in OVERLAP_RELATIONS}
    objs = layout.objects
    for i in range(len(objs)):
        for j in range(i + 1, len(objs)):
            a, b = objs[i], objs[j]
            if any(names_match(a.name, x) and names_match(b.name, y) or names_match(b.name, x) and names_match(a.name, y)
                   for x, y in overlap_ok_names):
                continue
            worst = max((iou(ba, bb) for t in _CHECK_FRAMES if (ba := a.box_at(t)) and (bb := b.box_at(t))), default=0.0)
            if worst > OVERLAP_IOU:
                add("overlap", "warning", [a.id, b.id], f"{a.name} #{a.id} and {b.name} #{b.id} overlap (IoU {worst:.2f}) though the prompt implies no contact")

    # 7. visibility and absolute positions ------------------------------------------------------------
    for k, (t0, t1) in spec.visibility.items():
        for o in _match(layout, spec.mentions[k].name):
            if o.start > t0 + 0.2 or o.end < t1 - 0.2 or o.start < t0 - 0.2 or o.end > t1 + 0.2:
                add("wrong_visibility", "error", [o.id], f"{o.name} #{o.id} is present for t in [{o.start}, {o.end}], the prompt asks for [{t0}, {t1}]")
    for k, positions in spec.positions.items():
        for o in _match(layout, spec.mentions[k].name):
            times = [o.start + (o.end - o.start) * i / max(len(positions) - 1, 1) for i in range(len(positions))]
            for t, pos in zip(times, positions, strict=False):
                b = o.box_at(t)
                if b is None or not _in_region(centre(b), pos):
                    add("wrong_position", "error", [o.id], f"{o.name} #{o.id} should be at the {pos} at t={t:.2f}")
                    break
    return ValidationReport(prompt=prompt, findings=out)


def _union(boxes: list) -> tuple[float, float, float, float]:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _in_region(c: tuple[float, float], pos: str) -> bool:
    x, y = c
    ok = True
    if "left" in pos:
        ok &= x < 0.5
    if "right" in pos:
        ok &= x > 0.5
    if "upper" in pos or pos == "top":
        ok &= y < 0.5
    if "lower" in pos or pos == "bottom":
        ok &= y > 0.5
    return ok
