"""The critic's decision: accept, re-optimise or repair, with reasons and targets, from the scores.

Three decisions (ARCHITECTURE.md, the graph):

- ``repair``: the layout is wrong. It contradicts its prompt (a relation, a direction or a count
  the prompt states does not hold in the planned boxes), or an object was found in no frame for
  ``absent_rounds_for_repair`` rounds in a row (the model cannot draw it there), or two objects
  moving along one axis were drawn in each other's lanes (each moves as the other was planned to:
  the model ties a motion to a lane, and which lane is whose is the planner's choice, not the
  prompt's).
- ``reoptimize``: the layout is sound but the video does not follow it; ``targets`` say which
  objects and which frames.
- ``accept``: every check passes.

Every reason cites the score and the threshold it was compared with. ``decide`` is the policy
alone (a pure function of the scores and the earlier rounds); ``ttom.critic.critique`` finds the
objects and scores them. ``layout_issues`` gives a repair's reasons in the form the planner acts
on (``ttom.planning.fixes.LayoutIssue``: which relation, direction or count to fix, or which
object to give a larger box); ``round_rank`` orders rounds for the loop's "deliver the best".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from ttom.critic.config import CriticConfig
from ttom.critic.metrics import (
    CountScore,
    ObjectScore,
    RelationScore,
    VideoScores,
    direction_name,
    direction_ok,
    frame_ranges,
)
from ttom.planning.fixes import LayoutIssue

Decision = Literal["accept", "reoptimize", "repair"]

class Target(BaseModel):
    """An object the next round should fix, and where."""

    id: int
    name: str
    frames: list[int] = Field(default_factory=list, description="frames to fix (all planned frames for motion)")
    issues: list[str] = Field(default_factory=list, description="absent | off_box | direction | count | relation")


class CriticReport(BaseModel):
    """The ``critic`` part of report.json, plus the details behind it."""

    backend: str
    decision: Decision
    reasons: list[str]
    miou: float
    objects: list[ObjectScore]
    counts_ok: bool
    relations_ok: bool
    targets: list[Target] = Field(default_factory=list, description="for reoptimize/repair: objects and frames")
    layout_issues: list[LayoutIssue] = Field(default_factory=list,
                                             description="for repair: what is wrong with the layout, for the planner")
    count_score: float = 1.0
    counts: list[CountScore] = Field(default_factory=list)
    relations: list[RelationScore] = Field(default_factory=list)
    unmatched_instances: list[int] = Field(default_factory=list)
    provenance: dict[str, Any] = Field(default_factory=dict, description="backend checkpoints and thresholds")

    def summary(self) -> dict[str, Any]:
        """The contract keys of ARCHITECTURE.md (objects trimmed to id, name, miou, present, direction_ok),
        with the targets."""
        return {
            "backend": self.backend, "decision": self.decision, "reasons": self.reasons, "miou": self.miou,
            "objects": [o.model_dump(include={"id", "name", "miou", "present", "direction_ok"}) for o in self.objects],
            "counts_ok": self.counts_ok, "relations_ok": self.relations_ok,
            "targets": [t.model_dump() for t in self.targets],
            "layout_issues": [i.model_dump(exclude_none=True) for i in self.layout_issues],
        }


def _label(obj: ObjectScore | Any) -> str:
    return f"{obj.name} (id {obj.id})"


def _absent_rounds(obj_id: int, history: Sequence[CriticReport | dict[str, Any]]) -> int:
    """How many of the latest rounds in a row found object ``obj_id`` in no frame."""
    n = 0
    for rep in reversed(list(history)):
        objs = rep.objects if isinstance(rep, CriticReport) else rep.get("objects", [])
        entry = next((o for o in objs if (o.id if isinstance(o, ObjectScore) else o.get("id")) == obj_id), None)
        present = (entry.present if isinstance(entry, ObjectScore) else entry.get("present", 0.0)) if entry else 0.0
        if present > 0:
            break
        n += 1
    return n


def decide(
    scores: VideoScores,
    config: CriticConfig | None = None,
    history: Sequence[CriticReport | dict[str, Any]] = (),
) -> tuple[Decision, list[str], list[Target]]:
    """The decision, its reasons and targets, from the scores (and earlier rounds' reports)."""
    cfg = config or CriticConfig()
    names = {o.id: o for o in scores.objects}
    targets: dict[int, Target] = {}

    def target(obj: ObjectScore, frames: list[int], issue: str) -> None:
        t = targets.setdefault(obj.id, Target(id=obj.id, name=obj.name))
        t.frames = sorted(set(t.frames) | set(frames))
        if issue not in t.issues:
            t.issues.append(issue)

    all_frames = lambda o: [f for f, v in enumerate(o.ious) if v is not None]  # noqa: E731

    # 1. The layout against its prompt, and objects the model never draws: repair.
    issues = layout_issues(scores, cfg, history)
    if issues:
        for i in issues:
            for k in (i.object_ids if i.kind != "relation" else i.object_ids[:1]):
                if k in names:
                    target(names[k], all_frames(names[k]), i.kind)
        return "repair", [i.message for i in issues], list(targets.values())

    # 2. The video against the layout: re-optimise.
    reasons: list[str] = []
    for o in scores.objects:
        planned = all_frames(o)
        missing = o.missing_frames
        if o.present < cfg.min_presence:
            reasons.append(f"{_label(o)} absent in frames {frame_ranges(missing)} "
                           f"(present {o.present:.2f} < {cfg.min_presence:.2f})")
            target(o, missing, "absent")
        if o.miou < cfg.min_object_miou:
            reasons.append(f"{_label(o)} off its boxes: mIoU {o.miou:.2f} < {cfg.min_object_miou:.2f}, "
                           f"IoU < {cfg.frame_iou_ok:.2f} in frames {frame_ranges(o.bad_frames)}")
            target(o, o.bad_frames, "off_box")
        if o.direction_ok is False:
            fm = o.found_motion or (0.0, 0.0)
            reasons.append(
                f"{_label(o)} moves {direction_name(fm, cfg.min_motion)} ({fm[0]:+.2f}, {fm[1]:+.2f}) but the layout "
                f"moves it {direction_name(o.planned_motion, cfg.min_motion)} "
                f"({o.planned_motion[0]:+.2f}, {o.planned_motion[1]:+.2f})")
            target(o, planned, "direction")
    if not scores.counts_ok:
        for c in scores.counts:
            wrong = [f for f, k in enumerate(c.found) if k != c.planned]
            if wrong:
                reasons.append(f"found {_count_text(c.found, wrong)} × '{c.phrase}' where {c.planned} are planned, "
                               f"in frames {frame_ranges(wrong)} (count score {scores.count_score:.2f} "
                               f"< {cfg.min_count_score:.2f})")
                for o in scores.objects:
                    if o.phrase == c.phrase:
                        target(o, wrong, "count")
    for r in scores.relations:
        if r.video_frac < cfg.min_relation_frac:
            a, b = names[r.subject], names[r.object]
            reasons.append(f"{_label(a)} is {r.words} {_label(b)} in only {r.video_frac:.0%} of frames "
                           f"(< {cfg.min_relation_frac:.0%}; CompBench score {r.compbench:.2f})")
            target(a, all_frames(a), "relation")
            target(b, all_frames(b), "relation")
    if scores.miou < cfg.min_miou:
        reasons.append(f"video mIoU {scores.miou:.2f} < {cfg.min_miou:.2f}")
        for o in scores.objects:
            if o.bad_frames:
                target(o, o.bad_frames, "off_box")
    if reasons:
        return "reoptimize", reasons, list(targets.values())

    n = len(scores.objects)
    return "accept", [
        f"all {n} objects follow the layout: mIoU {scores.miou:.2f} >= {cfg.min_miou:.2f}, every object present in "
        f">= {cfg.min_presence:.0%} of its frames with mIoU >= {cfg.min_object_miou:.2f}, directions ok, "
        f"count score {scores.count_score:.2f}, relations ok"
    ], []


def layout_issues(
    scores: VideoScores,
    config: CriticConfig | None = None,
    history: Sequence[CriticReport | dict[str, Any]] = (),
) -> list[LayoutIssue]:
    """What makes the layout wrong: it contradicts its prompt, or an object was not found for
    ``absent_rounds_for_repair`` rounds in a row. Empty when the layout is sound."""
    cfg = config or CriticConfig()
    names = {o.id: o for o in scores.objects}
    out: list[LayoutIssue] = []
    for r in scores.relations:
        if r.layout_frac < cfg.min_relation_frac:
            a, b = names[r.subject], names[r.object]
            out.append(LayoutIssue(
                kind="relation", object_ids=[a.id, b.id], relation=r.relation,
                message=f"the layout does not put {_label(a)} {r.words} {_label(b)} as the prompt says: the planned "
                        f"boxes satisfy it in {r.layout_frac:.0%} of frames (< {cfg.min_relation_frac:.0%})"))
    for o in scores.objects:
        if o.layout_direction_ok is False:
            planned = direction_name(o.planned_motion, cfg.min_motion)
            out.append(LayoutIssue(
                kind="direction", object_ids=[o.id], direction=o.prompt_direction,
                message=f"the layout moves {_label(o)} {planned} {tuple(o.planned_motion)}, "
                        f"but the prompt says it moves {o.prompt_direction}"))
    for c in scores.counts:
        if c.prompt is not None and c.prompt != c.planned:
            ids = [o.id for o in scores.objects if o.phrase == c.phrase]
            out.append(LayoutIssue(
                kind="count", object_ids=ids, count=c.prompt, phrase=c.phrase,
                message=f"the prompt asks for {c.prompt} × '{c.phrase}' but the layout plans {c.planned}"))
    out += swapped_lanes(scores, cfg)
    for o in scores.objects:
        if o.present == 0:
            rounds = 1 + _absent_rounds(o.id, history)
            if rounds >= cfg.absent_rounds_for_repair:
                out.append(LayoutIssue(
                    kind="absent", object_ids=[o.id],
                    message=f"{_label(o)} was found in no frame for {rounds} rounds (>= {cfg.absent_rounds_for_repair})"
                            ": the model cannot draw it there; change the layout"))
    return out


def _axis(motion: tuple[float, float]) -> int:
    return 0 if abs(motion[0]) >= abs(motion[1]) else 1


def swapped_lanes(scores: VideoScores, config: CriticConfig | None = None) -> list[LayoutIssue]:
    """Pairs of movers drawn in each other's lanes: both planned to move along one axis, both found in
    at least ``min_presence`` of their frames, neither moving as planned, and each moving as the other
    was planned to. TTO moved where each object is drawn, but the motions stayed with the lanes of the
    model's own picture of the scene: swapping the two lanes in the layout asks for that picture."""
    cfg = config or CriticConfig()
    movers = [o for o in scores.objects if o.found_motion is not None and o.present >= cfg.min_presence
              and o.direction_ok is False and max(map(abs, o.planned_motion)) >= cfg.min_motion]
    out, used = [], set()
    for i, a in enumerate(movers):
        for b in movers[i + 1:]:
            if {a.id, b.id} & used or _axis(a.planned_motion) != _axis(b.planned_motion):
                continue
            if direction_ok(b.planned_motion, a.found_motion, cfg) and direction_ok(a.planned_motion, b.found_motion, cfg):
                used |= {a.id, b.id}
                out.append(LayoutIssue(
                    kind="swap", object_ids=[a.id, b.id],
                    message=f"{_label(a)} and {_label(b)} were drawn in each other's lanes: {_label(a)} moves "
                            f"{direction_name(a.found_motion, cfg.min_motion)} as {_label(b)} was planned to, and "
                            f"{_label(b)} {direction_name(b.found_motion, cfg.min_motion)} as {_label(a)} was; "
                            "swap their lanes"))
    return out


RANKS = {"accept": 3, "reoptimize": 2, "repair": 1}


def prompt_facts(summary: dict[str, Any] | None) -> float:
    """The share of what the prompt says that a judged video shows, in [0, 1]: each object's presence
    (the share of its planned frames it was found in), each moving object's direction, the counts and
    the relations (1 when they hold). 0 for an unjudged round. It ignores where the layout put things:
    two rounds that both miss their boxes still differ in whether the circle moves right."""
    s = summary or {}
    objects = s.get("objects") or []
    facts = [float(o.get("present") or 0.0) for o in objects]
    facts += [1.0 if o.get("direction_ok") else 0.0 for o in objects if o.get("direction_ok") is not None]
    for key in ("counts_ok", "relations_ok"):
        if s.get(key) is not None:
            facts.append(1.0 if s[key] else 0.0)
    return sum(facts) / len(facts) if facts else 0.0


def round_rank(summary: dict[str, Any] | None) -> tuple[int, float, float]:
    """How a round's critic summary ranks among the request's rounds, higher is better: accepted rounds
    first, then rounds whose layout was sound (reoptimize), then rounds with a wrong layout (repair),
    then unjudged ones; within a decision, the share of the prompt's facts the video shows
    (``prompt_facts``; a history entry carries it as ``facts``), then the video's mIoU."""
    s = summary or {}
    facts = s["facts"] if s.get("facts") is not None else prompt_facts(s)
    return RANKS.get(str(s.get("decision")), 0), round(float(facts), 6), float(s.get("miou") or 0.0)


def _count_text(found: list[int], frames: list[int]) -> str:
    vals = sorted({found[f] for f in frames})
    return "/".join(str(v) for v in vals)
