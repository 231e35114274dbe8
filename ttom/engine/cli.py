"""``ttom generate`` and ``ttom probe`` (engine commands; the agent replaces generate's planning later)."""

from __future__ import annotations

from pathlib import Path

import typer


def generate(
    prompt: str = typer.Argument(..., help="What the video should show."),
    model: str = typer.Option(None, "--model", "-m", help="Backend name (shapes, tiny-cogvideox, tiny-wan, cogvideox-5b, wan2.1-1.3b, ...) or a local model folder."),
    out: Path = typer.Option(Path("out"), "--out", "-o", help="Output folder."),
    layout_file: Path = typer.Option(None, "--layout", help="Layout JSON to follow instead of planning one."),
    no_tto: bool = typer.Option(False, "--no-tto", help="Plain model: no test-time optimisation."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Generate a video that follows a layout; writes video.mp4, video.gif, overlay.png and report.json."""
    raise NotImplementedError("engine in progress")


def probe() -> None:
    """Per-layer attention/layout agreement (soft IoU) for a backend, as a table."""
    raise NotImplementedError("engine in progress")
