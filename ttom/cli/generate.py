"""``ttom generate``: the whole agent on one request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from ttom.cli.options import run_options
from ttom.cli.run import exit_code, make_console, print_summary, run_with_progress


@run_options
def generate(
    prompt: str = typer.Argument(None, help="What the video should show (omit with --resume)."),
    out: Path = typer.Option(Path("out"), "--out", "-o", help="Output folder."),
    layout_file: Path = typer.Option(None, "--layout", help="Layout JSON to follow instead of planning one."),
    thread: str = typer.Option(None, "--thread", help="Thread id (checkpoints; default: a new one)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the stopped run of --thread."),
    options: dict[str, Any] | None = None,
) -> None:
    """Plan, optimise, generate, critique, remember: the whole agent. Writes video.mp4, video.gif, overlay.png,
    report.json (and φ*) of the best round in --out.

    Exit codes: 0 = delivered and accepted by the critic (or not judged: --critic off); 2 = bad input, nothing
    generated; 3 = no round was accepted by the critic (the best round is still delivered; report.json has
    "accepted": false and every round's history).
    """
    from ttom.errors import ConfigError
    from ttom.layout import Layout

    console = make_console()
    if resume:
        if not thread:
            raise ConfigError("--resume needs --thread ID (the id printed by the stopped run)")
        result = run_with_progress(console, thread_id=thread, resume=True)
        print_summary(console, result)
        raise typer.Exit(exit_code(result))
    if not prompt or not prompt.strip():
        raise ConfigError("the prompt is empty; give a sentence describing the scene")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a folder (it is made if missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--out {out}: cannot make this folder ({e.strerror or e})") from None
    layout = Layout.from_file(layout_file).to_dict() if layout_file else None
    if layout and layout["prompt"] != prompt:
        console.print(f"[yellow]note:[/] following the layout's own prompt: {escape(repr(layout['prompt']))}")
    result = run_with_progress(console, prompt=layout["prompt"] if layout else prompt, layout=layout,
                  options={**options, "out_dir": str(out)}, thread_id=thread)
    print_summary(console, result)
    raise typer.Exit(exit_code(result))


