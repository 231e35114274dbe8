"""``ttom generate`` and ``ttom probe``: the engine on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import typer

MODEL_HELP = "Backend: shapes (bundled), tiny-cogvideox, tiny-wan, cogvideox-2b, cogvideox-5b, cogvideox1.5-5b, wan2.1-1.3b, wan2.1-14b, or a local diffusers folder."


def _parse_ints(text: str | None, what: str) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(x) for x in text.replace(" ", "").split(",") if x)
    except ValueError:
        from ttom.errors import ConfigError

        raise ConfigError(f"{what} must be comma-separated integers, got {text!r}") from None


def _spec(backend, frames: int | None, height: int | None, width: int | None, fps: int | None):
    from ttom.engine.backends.base import VideoSpec

    d = backend.defaults.video
    return VideoSpec(num_frames=frames or d.num_frames, height=height or d.height, width=width or d.width,
                     fps=fps or d.fps)


def plan_layout(prompt: str):
    """The built-in plan: the planner (LLM when TTOM_LLM_BASE_URL is set, else offline), validated."""
    from ttom.agents.planner import plan

    return plan(prompt).layout


def generate(
    prompt: str = typer.Argument(..., help="What the video should show."),
    model: str = typer.Option(None, "--model", "-m", help=MODEL_HELP + " Default: TTOM_MODEL, else shapes."),
    out: Path = typer.Option(Path("out"), "--out", "-o", help="Output folder."),
    layout_file: Path = typer.Option(None, "--layout", help="Layout JSON to follow instead of planning one."),
    no_tto: bool = typer.Option(False, "--no-tto", help="Plain model: no test-time optimisation."),
    seed: int = typer.Option(0, "--seed"),
    steps: int = typer.Option(None, "--steps", help="Denoising steps (default: the model's recipe)."),
    guidance: float = typer.Option(None, "--guidance", help="Classifier-free guidance scale."),
    frames: int = typer.Option(None, "--frames", help="Number of frames."),
    height: int = typer.Option(None, "--height"),
    width: int = typer.Option(None, "--width"),
    tto_steps: int = typer.Option(None, "--tto-steps", help="TTO before each of the first K denoising steps (default: the model's recipe, else 5)."),
    tto_iters: int = typer.Option(None, "--tto-iters", help="At most N optimisation iterations per step (default 8)."),
    lr: float = typer.Option(None, "--lr", help="AdamW learning rate for φ (default 1e-3, the official recipe)."),
    threshold: float = typer.Option(None, "--loss-threshold", help="Early stop when the loss is below this (default 0.03)."),
    layers: str = typer.Option(None, "--layers", help="Supervised blocks, e.g. '3' or '14,15' (default: the model's)."),
    rank: int = typer.Option(None, "--rank", help="LoRA rank of φ."),
    phi_file: Path = typer.Option(None, "--phi", help="Load φ from this safetensors file (with --tto-mode skip|warm)."),
    tto_mode: str = typer.Option(None, "--tto-mode", help="fresh | warm | skip | off (default fresh, or warm with --phi)."),
    checkpointing: bool = typer.Option(False, "--checkpointing", help="Gradient checkpointing in the TTO forward."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | cuda:N"),
    dtype: str = typer.Option("auto", "--dtype", help="auto | fp32 | bf16 | fp16"),
) -> None:
    """Generate a video that follows a layout; writes video.mp4, video.gif, overlay.png and report.json."""
    from rich.console import Console

    from ttom.config import get_settings
    from ttom.errors import ConfigError
    from ttom.layout import Layout

    console = Console(stderr=True)
    if not prompt.strip():
        raise ConfigError("the prompt is empty")
    layout = Layout.from_file(layout_file) if layout_file else plan_layout(prompt)
    if layout_file and layout.prompt != prompt:
        console.print(f"[yellow]note:[/] following the layout's own prompt: {layout.prompt!r}")

    mode = "off" if no_tto else tto_mode or ("warm" if phi_file else "fresh")
    phi = None
    if phi_file:
        if not phi_file.is_file():
            raise ConfigError(f"φ file {phi_file} does not exist")
        phi = phi_file.read_bytes()
    model = model or get_settings().model

    from ttom.engine.backends import load_backend
    from ttom.engine.outputs import write_outputs
    from ttom.engine.tto import generate as run
    from ttom.engine.tto import recipe_config

    with console.status(f"loading {model} …"):
        backend = load_backend(model, device=device, dtype=dtype)
    spec = _spec(backend, frames, height, width, None)
    cfg = recipe_config(backend, mode=mode, steps=tto_steps, iterations=tto_iters, lr=lr, loss_threshold=threshold,
                        layers=_parse_ints(layers, "--layers"), rank=rank, gradient_checkpointing=checkpointing)
    n_steps = steps or backend.defaults.steps
    result = _run_with_progress(console, run, backend, layout, cfg, spec, n_steps, guidance, seed, phi)
    report = write_outputs(out, result, layout, model)
    console.print(f"[green]wrote[/] {out}/video.mp4, video.gif, overlay.png, report.json"
                  + (", pytorch_lora_weights.safetensors" if result.phi else ""))
    if result.losses:
        first, last = result.losses[0][0], result.losses[-1][-1]
        console.print(f"TTO ({mode}): loss {first:.4f} → {last:.4f} over {sum(map(len, result.losses))} iterations, "
                      f"{report['tto']['seconds']:.1f} s")


def _run_with_progress(console, run, backend, layout, cfg, spec, steps, guidance, seed, phi):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[info]}"), console=console, transient=False) as bar:
        n_tto = min(cfg.steps, steps) * cfg.iterations if cfg.mode in ("fresh", "warm") else 0
        tto_task = bar.add_task("TTO", total=max(n_tto, 1), info="", visible=n_tto > 0)
        denoise = bar.add_task("denoise", total=steps, info="")

        def on_event(e: dict) -> None:
            if e["event"] == "tto":
                bar.update(tto_task, advance=1, info=f"step {e['step']} loss {e['loss']:.4f}")
            elif e["event"] == "step":
                if e["step"] < cfg.steps and n_tto:  # an early-stopped step skips its remaining iterations
                    done = (e["step"] + 1) * cfg.iterations
                    bar.update(tto_task, completed=min(done, n_tto))
                bar.update(denoise, completed=e["step"] + 1)

        return run(backend, layout, cfg, spec=spec, steps=steps, guidance_scale=guidance, seed=seed, phi=phi,
                   progress=on_event)


def probe(
    model: str = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    layouts_file: Path = typer.Option(None, "--layouts", help="JSON Lines of layouts (default: a built-in set)."),
    prompts: list[str] = typer.Option(None, "--prompt", help="Prompts to plan and probe (repeatable)."),
    steps: int = typer.Option(None, "--steps", help="Denoising steps of each probe generation."),
    at_steps: str = typer.Option(None, "--at-steps", help="Denoising steps whose maps are scored, e.g. '0,5,10'."),
    blocks: str = typer.Option(None, "--blocks", help="Blocks to probe (default: all)."),
    as_json: bool = typer.Option(False, "--json", help="Print the table as JSON."),
    device: str = typer.Option("auto", "--device"),
    dtype: str = typer.Option("auto", "--dtype"),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Per-layer attention/layout agreement (soft IoU) for a backend, best layer first."""
    from rich.console import Console
    from rich.table import Table

    from ttom.config import get_settings
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
    rows = probe_layers(backend, layouts, blocks=list(_parse_ints(blocks, "--blocks")) if blocks else None,
                        at_steps=_parse_ints(at_steps, "--at-steps"), steps=steps, seed=seed,
                        progress=lambda i, n: console.print(f"probed {i}/{n} layouts"))
    if as_json:
        typer.echo(json.dumps([r.__dict__ for r in rows], indent=2))
        return
    table = Table(title=f"attention/layout soft IoU per block — {model}, {len(layouts)} layouts")
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
