"""ttom: compositional text-to-video generation with test-time optimisation and memorisation."""

__version__ = "0.1.0"

from ttom.layout import Keyframe, Layout, LayoutObject  # noqa: E402  (light: pydantic only)

__all__ = ["Keyframe", "Layout", "LayoutObject", "__version__"]
