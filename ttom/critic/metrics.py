"""Scores of a grounded video against its layout, and the overlay picture.

- per object and frame: IoU of the found box with the planned box (a missing object scores 0);
  per object: mean IoU over its planned frames, presence, direction of motion;
- per phrase: counts per frame (numeracy), T2V-CompBench style (an exact match or nothing);
- per prompted relation: T2V-CompBench's 2D rule (dominant axis of the centre offset, on
  normalised centres) per frame, and its frame score (0 / 0.2 / 0.4 / 0.4 + 0.6·(1 − IoU));
- per video: mean IoU over objects.

Found instances are matched to layout objects of the same phrase by the best total track IoU
(every assignment is tried for up to 7 instances, greedily beyond).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from ttom import geometry
from ttom.critic.config import CriticConfig
from ttom.critic.grounders.base import Grounding, Track, phrase_key
from ttom.critic.prompt_facts import PromptFacts, parse_prompt_facts
from ttom.geometry import centre, relation_holds
from ttom.layout import Box, Layout


class ObjectScore(BaseModel):
    id: int
    name: str
    phrase: str = ""
    miou: float = Field(description="mean IoU of found vs planned box over the object's planned frames")
    present: float = Field(description="fraction of planned frames in which the object was found")
    direction_ok: bool | None = Field(
        None, description="found displacement agrees with the planned one; None if found in < 2 frames")
    instance_id: int | None = Field(None, description="the backend's instance matched to this object")
    bad_frames: list[int] = Field(default_factory=list, description="planned frames with IoU below frame_iou_ok")
    missing_frames: list[int] = Field(default_factory=list, description="planned frames where it was not found")
    ious: list[float | None] = Field(default_factory=list, description="per frame; None where not planned")
    centre_error: float | None = Field(
        None, description="mean distance (normalised frame units) between the found and the planned box centres over "
                          "the frames where it was found; None if never found")
    planned_motion: tuple[float, float] = (0.0, 0.0)
    found_motion: tuple[float, float] | None = None
    prompt_direction: str | None = Field(None, description="the direction the prompt gives this object")
    layout_direction_ok: bool | None = Field(None, description="the planned track moves as the prompt says")


class CountScore(BaseModel):
    phrase: str
    name: str
    planned: int = Field(description="objects of this phrase in the layout")
    prompt: int | None = Field(None, description="the number the prompt says, where it says one")
    found: list[int] = Field(description="instances found per frame (duplicates merged)")
    score: float = Field(description="fraction of frames with exactly the planned count")


class RelationScore(BaseModel):
    subject: int
    relation: str
    object: int
    words: str
    layout_frac: float = Field(description="fraction of frames in which the planned boxes satisfy the relation")
    video_frac: float = Field(description="fraction of frames in which the found boxes satisfy it")
    compbench: float = Field(description="T2V-CompBench's G-Dino video score on the found boxes")


class VideoScores(BaseModel):
    num_frames: int
    miou: float
    objects: list[ObjectScore]
    counts: list[CountScore]
    count_score: float
    counts_ok: bool
    relations: list[RelationScore]
    relations_ok: bool
    unmatched_instances: list[int] = Field(default_factory=list, description="found instances no object claimed")


# ----- helpers ---------------------------------------------------------------------------------------
def compbench_frame_score(relation: str, a: Box | None, b: Box | None) -> float:
    """0 both missing, 0.2 one missing, 0.4 wrong relation, 0.4 + 0.6·(1 − IoU) right (CompBench)."""
    if a is None and b is None:
        return 0.0
    if a is None or b is None:
        return 0.2
    if not relation_holds(relation, a, b):
        return 0.4
    return 0.4 + 0.6 * (1.0 - geometry.iou(a, b))


def direction_ok(planned: tuple[float, float], found: tuple[float, float], cfg: CriticConfig) -> bool:
    """Whether a found displacement follows a planned one (both normalised, image y downwards)."""
    pn = math.hypot(*planned)
    fn = math.hypot(*found)
    if pn < cfg.min_motion:
        return fn <= cfg.static_tol
    if fn == 0:
        return False
    cos = (planned[0] * found[0] + planned[1] * found[1]) / (pn * fn)
    along = (planned[0] * found[0] + planned[1] * found[1]) / pn
    return cos >= cfg.min_direction_cos and along >= cfg.min_motion_ratio * pn


def direction_name(d: tuple[float, float], min_motion: float) -> str:
    """left | right | up | down | static, by the dominant axis."""
    if math.hypot(*d) < min_motion:
        return "static"
    if abs(d[0]) >= abs(d[1]):
        return "left" if d[0] < 0 else "right"
    return "up" if d[1] < 0 else "down"


def _track_fit(track: Track, plan: list[Box | None]) -> float:
    """Mean IoU over planned frames, minus a small centre-distance term so ties (IoU 0) break sensibly."""
    ious, dists = [], []
    for f, pb in enumerate(plan):
        if pb is None:
            continue
        ious.append(geometry.iou(track.boxes[f], pb))
        c = track.centroid(f)
        if c is not None:
            pc = centre(pb)
            dists.append(math.hypot(c[0] - pc[0], c[1] - pc[1]))
        else:
            dists.append(2.0)
    if not ious:
        return 0.0
    return float(np.mean(ious)) - 0.01 * float(np.mean(dists))


def match_tracks(objects: list[int], tracks: list[Track], plans: dict[int, list[Box | None]]) -> dict[int, Track]:
    """Object id -> its track, maximising the total fit (all assignments up to 7, greedy beyond)."""
    if not objects or not tracks:
        return {}
    fit = np.array([[_track_fit(t, plans[o]) for t in tracks] for o in objects])  # (n_obj, n_track)
    n_obj, n_tr = fit.shape
    if max(n_obj, n_tr) <= 7:
        best, best_val = None, -np.inf
        if n_obj <= n_tr:
            for perm in itertools.permutations(range(n_tr), n_obj):
                val = fit[range(n_obj), perm].sum()
                if val > best_val:
                    best, best_val = list(zip(range(n_obj), perm, strict=True)), val
        else:
            for perm in itertools.permutations(range(n_obj), n_tr):
                val = fit[perm, range(n_tr)].sum()
                if val > best_val:
                    best, best_val = list(zip(perm, range(n_tr), strict=True)), val
        pairs = best or []
    else:
        pairs, used_o, used_t = [], set(), set()
        for flat in np.argsort(-fit, axis=None):
            o, t = divmod(int(flat), n_tr)
            if o not in used_o and t not in used_t:
                pairs.append((o, t))
                used_o.add(o)
                used_t.add(t)
    return {objects[o]: tracks[t] for o, t in pairs}


def _ranges(frames: list[int]) -> str:
    """[0, 1, 2, 5, 7, 8] -> '0-2, 5, 7-8'."""
    out, start, prev = [], None, None
    for f in frames:
        if start is None:
            start = prev = f
        elif f == prev + 1:
            prev = f
        else:
            out.append(f"{start}-{prev}" if prev != start else f"{start}")
            start = prev = f
    if start is not None:
        out.append(f"{start}-{prev}" if prev != start else f"{start}")
    return ", ".join(out)


frame_ranges = _ranges


# ----- the scores ------------------------------------------------------------------------------------
def score_video(
    layout: Layout,
    grounding: Grounding,
    config: CriticConfig | None = None,
    facts: PromptFacts | None = None,
) -> VideoScores:
    """Score what a backend found against the layout (and the layout against its prompt)."""
    cfg = config or CriticConfig()
    facts = facts if facts is not None else parse_prompt_facts(layout)
    n = grounding.num_frames
    plans = layout.frame_boxes(n)

    # 1. Match instances to objects, phrase by phrase.
    groups: dict[str, list[int]] = {}
    for obj in layout.objects:
        groups.setdefault(phrase_key(obj.phrase), []).append(obj.id)
    matched: dict[int, Track] = {}
    for key, ids in groups.items():
        matched.update(match_tracks(ids, grounding.tracks_for(key), plans))
    claimed = {id(t) for t in matched.values()}
    unmatched = [t.instance_id for t in grounding.tracks if id(t) not in claimed]

    # 2. Per object: IoU per frame, presence, direction.
    prompt_dirs = {m.object: m.direction for m in facts.motions}
    objects: list[ObjectScore] = []
    for obj in layout.objects:
        plan = plans[obj.id]
        tr = matched.get(obj.id)
        planned_frames = [f for f in range(n) if plan[f] is not None]
        ious: list[float | None] = [None] * n
        found_frames = []
        errors = []
        for f in planned_frames:
            fb = tr.boxes[f] if tr is not None else None
            ious[f] = geometry.iou(fb, plan[f])
            if fb is not None:
                found_frames.append(f)
                (fx, fy), (px, py) = centre(fb), centre(plan[f])
                errors.append(math.hypot(fx - px, fy - py))
        vals = [ious[f] for f in planned_frames]
        miou = float(np.mean(vals)) if vals else 0.0
        present = len(found_frames) / len(planned_frames) if planned_frames else 0.0
        bad = [f for f in planned_frames if (ious[f] or 0.0) < cfg.frame_iou_ok]
        # planned displacement over the whole track; found one over the span where it was found,
        # compared with the planned displacement over that same span
        planned_motion = (0.0, 0.0)
        if planned_frames:
            p_first, p_last = centre(plan[planned_frames[0]]), centre(plan[planned_frames[-1]])
            planned_motion = (p_last[0] - p_first[0], p_last[1] - p_first[1])
        d_ok, found_motion = None, None
        if tr is not None and len(found_frames) >= 2:
            f0, f1 = found_frames[0], found_frames[-1]
            c0, c1 = tr.centroid(f0), tr.centroid(f1)
            found_motion = (c1[0] - c0[0], c1[1] - c0[1])
            q0, q1 = centre(plan[f0]), centre(plan[f1])
            d_ok = direction_ok((q1[0] - q0[0], q1[1] - q0[1]), found_motion, cfg)
        pdir = prompt_dirs.get(obj.id)
        layout_dir_ok = None
        if pdir is not None:
            layout_dir_ok = direction_name(planned_motion, cfg.min_motion) == pdir
        objects.append(ObjectScore(
            id=obj.id, name=obj.name, phrase=obj.phrase, miou=round(miou, 4), present=round(present, 4),
            direction_ok=d_ok, instance_id=tr.instance_id if tr is not None else None, bad_frames=bad,
            missing_frames=[f for f in planned_frames if f not in found_frames],
            ious=[None if v is None else round(v, 4) for v in ious],
            centre_error=round(float(np.mean(errors)), 4) if errors else None,
            planned_motion=(round(planned_motion[0], 4), round(planned_motion[1], 4)),
            found_motion=None if found_motion is None else (round(found_motion[0], 4), round(found_motion[1], 4)),
            prompt_direction=pdir, layout_direction_ok=layout_dir_ok,
        ))

    # 3. Counts per phrase and frame (all instances of the phrase, duplicates merged).
    counts: list[CountScore] = []
    frame_ok = np.ones((len(groups), n), dtype=float)
    for gi, (key, ids) in enumerate(groups.items()):
        tracks = grounding.tracks_for(key)
        found = []
        for f in range(n):
            boxes: list[Box] = []
            for t in tracks:
                b = t.boxes[f]
                if b is not None and all(geometry.iou(b, k) <= cfg.count_dedupe_iou for k in boxes):
                    boxes.append(b)
            found.append(len(boxes))
            expected = sum(1 for o in ids if plans[o][f] is not None)
            frame_ok[gi, f] = float(len(boxes) == expected)
        first = layout.object(ids[0])
        counts.append(CountScore(
            phrase=first.phrase, name=first.name, planned=len(ids), prompt=facts.counts.get(key), found=found,
            score=round(float(frame_ok[gi].mean()), 4),
        ))
    # CompBench's numeracy frame score shares the credit between classes: the mean over phrases
    count_score = float(frame_ok.mean(axis=0).mean()) if groups else 1.0

    # 4. Prompted relations on planned and found boxes.
    relations: list[RelationScore] = []
    for r in facts.relations:
        pa, pb = plans[r.subject], plans[r.object]
        ta, tb = matched.get(r.subject), matched.get(r.object)
        lay, vid, cb = [], [], []
        for f in range(n):
            if pa[f] is not None and pb[f] is not None:
                lay.append(relation_holds(r.relation, pa[f], pb[f]))
            fa = ta.boxes[f] if ta is not None else None
            fb = tb.boxes[f] if tb is not None else None
            vid.append(relation_holds(r.relation, fa, fb))
            cb.append(compbench_frame_score(r.relation, fa, fb))
        relations.append(RelationScore(
            subject=r.subject, relation=r.relation, object=r.object, words=r.words,
            layout_frac=round(float(np.mean(lay)) if lay else 0.0, 4), video_frac=round(float(np.mean(vid)), 4),
            compbench=round(float(np.mean(cb)), 4),
        ))

    miou = float(np.mean([o.miou for o in objects])) if objects else 0.0
    return VideoScores(
        num_frames=n, miou=round(miou, 4), objects=objects, counts=counts, count_score=round(count_score, 4),
        counts_ok=count_score >= cfg.min_count_score, relations=relations,
        relations_ok=all(r.video_frac >= cfg.min_relation_frac for r in relations), unmatched_instances=unmatched,
    )


# ----- the overlay -------------------------------------------------------------------------------------
def overlay(
    frames: np.ndarray,
    layout: Layout,
    grounding: Grounding,
    scores: VideoScores | None = None,
    min_side: int = 128,
    columns: int = 8,
) -> np.ndarray:
    """A contact sheet: planned boxes solid, the matched found boxes dashed, in the object's colour.

    Found instances no object claimed are dashed in grey. Small videos are upscaled (nearest) so
    the sheet's frames are at least ``min_side`` pixels on their short side.
    """
    from ttom.video import color_for, contact_sheet, draw_boxes, upscale

    scores = scores or score_video(layout, grounding)
    n, h, w, _ = frames.shape
    factor = max(1, math.ceil(min_side / min(h, w)))
    big = upscale(np.ascontiguousarray(frames), factor)
    plans = layout.frame_boxes(n)
    by_instance = {t.instance_id: t for t in grounding.tracks}
    planned_tracks, found_tracks, labels, colors, found_colors = [], [], [], [], []
    for i, (obj, sc) in enumerate(zip(layout.objects, scores.objects, strict=True)):
        planned_tracks.append(plans[obj.id])
        labels.append(f"{obj.id}:{obj.name}")
        colors.append(color_for(i))
        if sc.instance_id is not None:
            found_tracks.append(by_instance[sc.instance_id].boxes)
            found_colors.append(color_for(i))
    for iid in scores.unmatched_instances:
        found_tracks.append(by_instance[iid].boxes)
        found_colors.append((160, 160, 160))
    width = max(1, factor // 2)
    img = draw_boxes(big, planned_tracks, labels=labels, colors=colors, width=width)
    img = draw_boxes(img, found_tracks, colors=found_colors, width=width, dashed=True)
    return contact_sheet(img, columns=columns)


def save_overlay(path: str | Path, frames: np.ndarray, layout: Layout, grounding: Grounding,
                 scores: VideoScores | None = None) -> Path:
    """Write the overlay as PNG."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(overlay(frames, layout, grounding, scores)).save(path)
    return path
