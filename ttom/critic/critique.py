"""``critique()``: find the layout's objects in the video, score them, and decide (``policy``).

What the graph's critique node, ``ttom critic`` and the benchmarks call. ``auto`` picks the
analytic shapes detector for shapes-world layouts and GroundingDINO + SAM2 otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ttom.critic.config import CriticConfig
from ttom.critic.grounders.base import VideoGrounder, queries_from_layout
from ttom.critic.metrics import save_overlay, score_video
from ttom.critic.policy import CriticReport, Decision, Target, decide, layout_issues
from ttom.layout import Layout

__all__ = ["CriticConfig", "CriticReport", "Decision", "Target", "critique", "critique_file", "decide",
           "resolve_backend"]


# ----- the entry points ----------------------------------------------------------------------------
_GROUNDERS: dict[tuple, VideoGrounder] = {}


def resolve_backend(backend: str | VideoGrounder, layout: Layout, **kwargs: Any) -> VideoGrounder:
    """A grounder: ``auto`` = ``shapes`` for shapes-world layouts, else ``transformers``.

    Grounders built by name are cached per (name, arguments), so repeated rounds load weights once.
    """
    if not isinstance(backend, str):
        return backend
    from ttom.critic.grounders import get_grounder
    from ttom.shapes.world import is_shapes_layout

    name = backend
    if backend == "auto":
        name = "shapes" if is_shapes_layout(layout) else "transformers"
    try:
        key = (name, tuple(sorted(kwargs.items())))
        hash(key)
    except TypeError:
        return get_grounder(name, **kwargs)
    if key not in _GROUNDERS:
        _GROUNDERS[key] = get_grounder(name, **kwargs)
    return _GROUNDERS[key]


def critique(
    frames: np.ndarray,
    layout: Layout | dict[str, Any],
    backend: str | VideoGrounder = "auto",
    config: CriticConfig | None = None,
    history: Sequence[CriticReport | dict[str, Any]] = (),
    overlay_path: str | Path | None = None,
    **backend_kwargs: Any,
) -> CriticReport:
    """Find the layout's objects in ``frames`` (uint8 (F, H, W, 3)), score them and decide.

    ``history``: the critic reports of earlier rounds for the same request (dicts are fine), oldest
    first; they turn a repeatedly absent object into a layout repair. ``overlay_path``: write the
    planned-vs-found overlay PNG there.
    """
    cfg = config or CriticConfig()
    lay = layout if isinstance(layout, Layout) else Layout.parse(layout)
    if not lay.objects:
        raise ValueError("the layout has no objects; there is nothing to critique")
    grounder = resolve_backend(backend, lay, **backend_kwargs)
    grounding = grounder.ground(frames, queries_from_layout(lay))
    scores = score_video(lay, grounding, cfg)
    decision, reasons, targets = decide(scores, cfg, history)
    issues = layout_issues(scores, cfg, history) if decision == "repair" else []
    if overlay_path is not None:
        save_overlay(overlay_path, frames, lay, grounding, scores)
    prov = dict(grounding.provenance)
    prov["thresholds"] = cfg.model_dump()
    return CriticReport(
        backend=grounding.backend, decision=decision, reasons=reasons, miou=scores.miou, objects=scores.objects,
        counts_ok=scores.counts_ok, relations_ok=scores.relations_ok, targets=targets, layout_issues=issues,
        count_score=scores.count_score, counts=scores.counts, relations=scores.relations,
        unmatched_instances=scores.unmatched_instances, provenance=prov,
    )


def critique_file(
    video: str | Path,
    layout: Layout | str | Path,
    backend: str | VideoGrounder = "auto",
    **kwargs: Any,
) -> CriticReport:
    """``critique`` on a video file (mp4 or gif) and a layout (object or JSON file)."""
    from ttom.video import read_video

    lay = layout if isinstance(layout, Layout) else Layout.from_file(layout)
    return critique(read_video(video), lay, backend, **kwargs)


def locator(backend: str = "auto"):
    """A locator for ``ttom.engine.probe.probe_layers``: the boxes the critic's grounder finds per
    object name and frame (``{name: [[box, ...] per frame]}``)."""

    def locate(frames: np.ndarray, layout: Layout) -> dict[str, list[list]]:
        queries = queries_from_layout(layout)
        grounding = resolve_backend(backend, layout).ground(frames, queries)
        out: dict[str, list[list]] = {}
        for q in queries:
            per_frame = out.setdefault(q.name, [[] for _ in range(len(frames))])
            for track in grounding.tracks_for(q.phrase):
                for f, box in enumerate(track.boxes):
                    if box is not None:
                        per_frame[f].append(box)
        return out

    return locate
