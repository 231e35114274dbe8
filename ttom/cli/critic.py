"""``ttom critic``: judge a video against its layout and print the critic report as JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

from ttom.cli.options import Device


def critic(
    video: Path = typer.Argument(..., help="The video (mp4 or gif)."),  # noqa: B008
    layout: Path = typer.Option(..., "--layout", "-l", help="The layout JSON the video should follow."),  # noqa: B008
    backend: Literal["auto", "transformers", "sam2", "shapes"] = typer.Option(
        "auto", "--backend", "-b",
        help="transformers | sam2 | shapes | auto (shapes for shapes-world layouts, else transformers)."),
    overlay: Path = typer.Option(None, "--overlay", help="Write planned (solid) vs found (dashed) boxes as PNG."),  # noqa: B008
    detector: str = typer.Option(None, "--detector", help="GroundingDINO hub id or local folder."),
    tracker: str = typer.Option(None, "--tracker", help="SAM2 video hub id or local folder (transformers backend)."),
    sam2_checkpoint: str = typer.Option(None, "--sam2-checkpoint", help="sam2 backend: .safetensors state dict."),
    sam2_config: str = typer.Option(None, "--sam2-config", help="sam2 backend: config, e.g. configs/sam2.1/sam2.1_hiera_t.yaml."),
    device: Device = "auto",
    full: bool = typer.Option(False, "--full", help="Print every score (per-frame IoUs, counts, relations, provenance)."),
) -> None:
    """Score VIDEO against its layout and decide: accept, reoptimize or repair."""
    import json

    from ttom.critic.critique import critique_file
    from ttom.errors import ConfigError
    from ttom.layout import Layout

    lay = Layout.from_file(layout)
    kwargs: dict = {}
    if backend in ("transformers", "sam2", "auto"):
        from ttom.critic.grounders import backend_for

        if backend_for(backend, lay) != "shapes":
            kwargs["device"] = device
            if detector:
                kwargs["detector"] = detector
            if backend in ("transformers", "auto") and tracker:
                kwargs["tracker"] = tracker
            if backend == "sam2":
                if sam2_checkpoint:
                    kwargs["sam2_checkpoint"] = sam2_checkpoint
                if sam2_config:
                    kwargs["sam2_config"] = sam2_config
    if not video.is_file():
        raise ConfigError(f"video {video} does not exist")
    if overlay is not None and (overlay.is_dir() or not overlay.parent.is_dir()):
        raise ConfigError(f"--overlay {overlay}: give a PNG file path in an existing folder")
    report = critique_file(video, lay, backend, overlay_path=overlay, **kwargs)
    out = report.model_dump(mode="json") if full else report.summary()
    typer.echo(json.dumps(out, indent=2))
