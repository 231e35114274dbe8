"""``ttom probe``: which blocks' attention follows the objects (the engine on the command line)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import typer

from ttom.cli.options import MODEL_HELP, Device, Dtype, parse_ints


def plan_layout(prompt: str):
    """The built-in plan: the planner (LLM when TTOM_LLM_BASE_URL is set, else offline), validated."""
    from ttom.planning.plan import plan

    return plan(prompt).layout


def probe(
    model: str = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    layouts_file: Path = typer.Option(None, "--layouts", help="JSON Lines of layouts (default: a built-in set)."),
    prompts: list[str] = typer.Option(None, "--prompt", help="Prompts to plan and probe (repeatable)."),
    steps: int = typer.Option(None, "--steps", help="Denoising steps of each probe generation."),
    at_steps: str = typer.Option(None, "--at-steps", help="Denoising steps whose maps are scored, e.g. '0,5,10'."),
    blocks: str = typer.Option(None, "--blocks", help="Blocks to probe (default: all)."),
    against: Literal["found", "plan"] = typer.Option("found", "--against", help="found: boxes the critic's detector finds in each video (the paper's protocol); plan: the planned boxes."),
    as_json: bool = typer.Option(False, "--json", help="Print the table as JSON."),
    device: Device = "auto",
    dtype: Dtype = "auto",
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Per-layer attention/layout agreement (soft IoU) for a backend, best layer first."""
    from rich.console import Console
    from rich.table import Table

    from ttom.config import get_settings
    from ttom.critic.critique import locator
    from ttom.engine.backends import load_backend
    from ttom.engine.probe import probe_layers
    from ttom.errors import ConfigError
    from ttom.layout import load_layouts

    console = Console(stderr=True)
    model = model or get_settings().model
    if layouts_file:
        if not layouts_file.is_file():
            raise ConfigError(f"layouts file {layouts_file} does not exist")
        layouts = load_layouts(layouts_file.read_text(encoding="utf-8").splitlines())
    else:
        layouts = [plan_layout(p) for p in (prompts or DEFAULT_PROBE_PROMPTS)]
    if not layouts:
        raise ConfigError("no layouts to probe")
    with console.status(f"loading {model} …"):
        backend = load_backend(model, device=device, dtype=dtype)
    rows = probe_layers(backend, layouts, blocks=list(parse_ints(blocks, "--blocks")) if blocks else None,
                        at_steps=parse_ints(at_steps, "--at-steps"), steps=steps, seed=seed,
                        locate=locator() if against == "found" else None,
                        progress=lambda i, n: console.print(f"probed {i}/{n} layouts"))
    if as_json:
        typer.echo(json.dumps([r.__dict__ for r in rows], indent=2))
        return
    table = Table(title=f"attention soft IoU per block vs {against} boxes — {model}, {len(layouts)} layouts")
    for col in ("rank", "block", "soft IoU", "std", "samples"):
        table.add_column(col, justify="right")
    for i, r in enumerate(rows, 1):
        table.add_row(str(i), str(r.block), f"{r.soft_iou:.4f}", f"{r.std:.4f}", str(r.samples))
    Console().print(table)


DEFAULT_PROBE_PROMPTS = [
    "a red circle on the left of a blue square",
    "a green triangle moves to the right",
    "a yellow square above a red circle",
    "two blue circles move down",
]
