"""Vision tools of the critic: backends that find the layout's objects in a video, and the scores.

Backends (``get_grounder(name)``), all behind ``base.VideoGrounder``:

- ``transformers``: GroundingDINO + SAM2 video through transformers (real videos; needs weights);
- ``sam2``: GroundingDINO + Meta's ``sam2`` package as the tracker (extra ``ttom[sam2]``);
- ``shapes``: the analytic colour/shape detector for the shapes world (no weights).

Nothing heavy is imported here; each backend imports torch/transformers when it is built.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ttom.tools.vision.base import VideoGrounder

BACKENDS = ("transformers", "sam2", "shapes")

__all__ = [
    "BACKENDS", "Grounding", "ObjectQuery", "Track", "VideoGrounder", "available_backends", "get_grounder",
    "queries_from_layout",
]


def __getattr__(name: str) -> Any:
    # the interface types load on first use, so `ttom --help` does not pay for numpy and pydantic
    if name in ("Grounding", "ObjectQuery", "Track", "VideoGrounder", "queries_from_layout"):
        from ttom.tools.vision import base

        return getattr(base, name)
    raise AttributeError(name)


def get_grounder(name: str, **kwargs: Any) -> VideoGrounder:
    """Build a backend by name; ``kwargs`` go to its constructor (checkpoints, device, thresholds)."""
    if name == "shapes":
        from ttom.tools.vision.shapes import ShapesGrounder

        return ShapesGrounder(**kwargs)
    if name == "transformers":
        from ttom.tools.vision.hf import TransformersGrounder

        return TransformersGrounder(**kwargs)
    if name == "sam2":
        from ttom.tools.vision.sam2_backend import Sam2Grounder

        return Sam2Grounder(**kwargs)
    raise ValueError(f"unknown critic backend {name!r}; choose one of {', '.join(BACKENDS)}")


def available_backends() -> list[str]:
    """Backends whose packages are installed (weights are checked only when one is built)."""
    out = ["shapes"]
    if importlib.util.find_spec("transformers") is not None:
        out.insert(0, "transformers")
        if importlib.util.find_spec("sam2") is not None:
            out.insert(1, "sam2")
    return out
