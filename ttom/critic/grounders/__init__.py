"""The critic's grounders: backends that find the layout's objects in a video.

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
    from ttom.critic.grounders.base import VideoGrounder
    from ttom.layout import Layout

BACKENDS = ("transformers", "sam2", "shapes")

__all__ = [
    "BACKENDS", "Grounding", "ObjectQuery", "Track", "VideoGrounder", "available_backends", "backend_for",
    "get_grounder", "queries_from_layout",
]


def __getattr__(name: str) -> Any:
    # the interface types load on first use, so `ttom --help` does not pay for numpy and pydantic
    if name in ("Grounding", "ObjectQuery", "Track", "VideoGrounder", "queries_from_layout"):
        from ttom.critic.grounders import base

        return getattr(base, name)
    raise AttributeError(name)


def backend_for(backend: str, layout: Layout) -> str:
    """The backend name ``backend`` stands for: ``auto`` = ``shapes`` for shapes-world layouts, else ``transformers``."""
    if backend != "auto":
        return backend
    from ttom.shapes.world import is_shapes_layout

    return "shapes" if is_shapes_layout(layout) else "transformers"


def get_grounder(name: str, **kwargs: Any) -> VideoGrounder:
    """Build a backend by name; ``kwargs`` go to its constructor (checkpoints, device, thresholds)."""
    if name == "shapes":
        from ttom.critic.grounders.shapes import ShapesGrounder

        return ShapesGrounder(**kwargs)
    if name == "transformers":
        from ttom.critic.grounders.hf import TransformersGrounder

        return TransformersGrounder(**kwargs)
    if name == "sam2":
        from ttom.critic.grounders.sam2 import Sam2Grounder

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
