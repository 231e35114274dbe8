"""``ttom generate``, ``ttom chat`` and ``ttom serve mcp``: the agent graph on the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from ttom.engine.cli import MODEL_HELP, _parse_ints

serve_app = typer.Typer(help="Serve ttom to other agent systems.", no_args_is_help=True)


def _options(**kw: Any) -> dict[str, Any]:
    """RunOptions from CLI values (None = not given, the defaults apply)."""
    layers = kw.pop("layers", None)
    out = {k: v for k, v in kw.items() if v is not None}
    if layers is not None:
        out["layers"] = list(_parse_ints(layers, "--layers"))
    return out


def _checkpointing(value: str | None) -> bool | int | None:
    """``--checkpointing``: 'all' → every block, N → the first N blocks, unset → the run's default."""
    if value is None:
        return None
    if value.strip().lower() == "all":
        return True
    if value.strip().isdigit():
        return int(value)
    from ttom.errors import ConfigError

    raise ConfigError(f"--checkpointing takes 'all' or a number of blocks, got {value!r}")


def _console():
    from rich.console import Console

    return Console(stderr=True)


def _ask_approval(console, request: dict[str, Any]) -> Any:
    """Show the layout and ask: approve, reject, or a path to an edited layout JSON."""
    console.print_json(json.dumps(request["layout"]))
    answer = typer.prompt("approve this layout? [y]es / [n]o / path to an edited layout JSON", default="y")
    a = answer.strip()
    if a.lower() in ("y", "yes", "approve", ""):
        return "approve"
    if a.lower() in ("n", "no", "reject"):
        return "reject"
    from ttom.layout import Layout

    return {"layout": Layout.from_file(a).to_dict()}


def _run(console, *, approve_interactively: bool = True, **kw) -> Any:
    from ttom.agents.run import ProgressView, run_agent

    with ProgressView(console) as view:
        result = run_agent(on_event=view, **kw)
    while result.interrupt is not None and approve_interactively:
        answer = _ask_approval(console, result.interrupt)
        with ProgressView(console) as view:
            result = run_agent(thread_id=result.thread_id, resume=answer, on_event=view,
                               settings=kw.get("settings"), critic=kw.get("critic"))
    return result


def _summary(console, result) -> None:
    v = result.values
    if v.get("decision") == "rejected":
        console.print("[yellow]layout rejected; nothing generated[/]")
        return
    if result.interrupt is not None:
        console.print(f"paused for approval; resume with: ttom generate --thread {result.thread_id} --resume")
        return
    report = result.report or {}
    run = Path(v["run_dir"])
    files = [f for f in ("video.mp4", "video.gif", "overlay.png", "report.json", "pytorch_lora_weights.safetensors")
             if (run / f).exists()]
    console.print(f"[green]wrote[/] {run}/{', '.join(files)}")
    tto, critic, memory = report.get("tto", {}), report.get("critic") or {}, report.get("memory") or {}
    if tto.get("losses"):
        first, last = tto["losses"][0][0], tto["losses"][-1][-1]
        console.print(f"TTO ({tto['mode']}): loss {first:.4f} → {last:.4f}, {tto['seconds']:.1f} s")
    console.print(f"rounds {report.get('rounds')}, critic {critic.get('decision')}, memory {memory.get('action')}"
                  f"{' (hit)' if memory.get('hit') else ''}; thread {result.thread_id}")


def generate(
    prompt: str = typer.Argument(None, help="What the video should show (omit with --resume)."),
    model: str = typer.Option(None, "--model", "-m", help=MODEL_HELP + " Default: TTOM_MODEL."),
    out: Path = typer.Option(Path("out"), "--out", "-o", help="Output folder."),
    layout_file: Path = typer.Option(None, "--layout", help="Layout JSON to follow instead of planning one."),
    no_tto: bool = typer.Option(False, "--no-tto", help="Plain model: no test-time optimisation."),
    seed: int = typer.Option(0, "--seed"),
    steps: int = typer.Option(None, "--steps", help="Denoising steps (default: the model's recipe)."),
    guidance: float = typer.Option(None, "--guidance", help="Classifier-free guidance scale."),
    frames: int = typer.Option(None, "--frames", help="Number of frames."),
    height: int = typer.Option(None, "--height"),
    width: int = typer.Option(None, "--width"),
    tto_steps: int = typer.Option(None, "--tto-steps", help="TTO before each of the first K denoising steps (5)."),
    tto_iters: int = typer.Option(None, "--tto-iters", help="At most N optimisation iterations per step (8)."),
    lr: float = typer.Option(None, "--lr", help="AdamW learning rate for φ (default 1e-3, the official recipe)."),
    threshold: float = typer.Option(None, "--loss-threshold", help="Early stop when the loss is below this (0.03)."),
    layers: str = typer.Option(None, "--layers", help="Supervised blocks, e.g. '3' or '14,15' (default: the model's)."),
    rank: int = typer.Option(None, "--rank", help="LoRA rank of φ."),
    phi_file: Path = typer.Option(None, "--phi", help="Start from φ in this safetensors file (with --tto-mode skip|warm)."),
    tto_mode: str = typer.Option(None, "--tto-mode", help="fresh | warm | skip | off (default fresh; warm with --phi)."),
    checkpointing: str = typer.Option(None, "--checkpointing",
                                      help="Gradient checkpointing in the TTO forward: 'all' blocks or the first N "
                                           "(less GPU memory, more time; docs/benchmarks.md has the trade-off)."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | cuda:N"),
    dtype: str = typer.Option("auto", "--dtype", help="auto | fp32 | bf16 | fp16"),
    planner: str = typer.Option(None, "--planner", help="auto | offline | llm"),
    no_memory: bool = typer.Option(False, "--no-memory", help="Neither recall φ from memory nor memorize φ*."),
    memory_mode: str = typer.Option(None, "--memory-mode", help="On a memory hit: skip (load φ) or warm (continue it)."),
    max_rounds: int = typer.Option(None, "--max-rounds", help="At most this many generations per request (3)."),
    critic: str = typer.Option(None, "--critic", help="auto | shapes | transformers | sam2 | off"),
    approve: bool = typer.Option(False, "--approve", help="Show the layout and ask before the GPU work."),
    thread: str = typer.Option(None, "--thread", help="Thread id (checkpoints; default: a new one)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the stopped run of --thread."),
) -> None:
    """Plan, optimise, generate, critique, remember: the whole agent. Writes video.mp4, video.gif, overlay.png,
    report.json (and φ*) in --out."""
    from ttom.errors import ConfigError
    from ttom.layout import Layout

    console = _console()
    if resume:
        if not thread:
            raise ConfigError("--resume needs --thread ID (the id printed by the stopped run)")
        result = _run(console, thread_id=thread, resume=True)
        _summary(console, result)
        return
    if not prompt or not prompt.strip():
        raise ConfigError("the prompt is empty; give a sentence describing the scene")
    layout = Layout.from_file(layout_file).to_dict() if layout_file else None
    if layout and layout["prompt"] != prompt:
        console.print(f"[yellow]note:[/] following the layout's own prompt: {layout['prompt']!r}")
    opts = _options(model=model, out_dir=str(out), seed=seed, steps=steps, guidance=guidance, frames=frames,
                    height=height, width=width, tto_steps=tto_steps, tto_iters=tto_iters, lr=lr,
                    loss_threshold=threshold, layers=layers, rank=rank, phi=str(phi_file) if phi_file else None,
                    tto_mode=tto_mode, gradient_checkpointing=_checkpointing(checkpointing), device=device, dtype=dtype,
                    planner=planner, memory=False if no_memory else None, memory_mode=memory_mode,
                    max_rounds=max_rounds, critic=critic, approve=approve or None, tto=False if no_tto else None)
    result = _run(console, prompt=layout["prompt"] if layout else prompt, layout=layout, options=opts,
                  thread_id=thread)
    _summary(console, result)


def chat(
    model: str = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    out: Path = typer.Option(None, "--out", "-o", help="Output folder (turn N writes to OUT/turn-N)."),
    thread: str = typer.Option(None, "--thread", help="Thread id; reuse one to continue a conversation."),
    steps: int = typer.Option(None, "--steps"),
    tto_steps: int = typer.Option(None, "--tto-steps"),
    tto_iters: int = typer.Option(None, "--tto-iters"),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("auto", "--device"),
    planner: str = typer.Option(None, "--planner", help="auto | offline | llm"),
    critic: str = typer.Option(None, "--critic", help="auto | shapes | transformers | sam2 | off"),
    max_rounds: int = typer.Option(None, "--max-rounds"),
    no_memory: bool = typer.Option(False, "--no-memory"),
    approve: bool = typer.Option(False, "--approve", help="Ask before each generation."),
) -> None:
    """Requests in conversation, one thread: a scene, then edits ("make the dog bigger", "now two dogs")."""
    import uuid

    console = _console()
    thread = thread or uuid.uuid4().hex[:12]
    console.print(f"ttom chat, thread {thread}. Describe a scene, then edit it; empty line or 'quit' ends.")
    turn = 0
    while True:
        try:
            text = input("you> ") if sys.stdin.isatty() else sys.stdin.readline()
        except EOFError:
            break
        if not text or text.strip().lower() in ("", "quit", "exit", "q"):
            break
        turn += 1
        opts = _options(model=model, steps=steps, tto_steps=tto_steps, tto_iters=tto_iters, seed=seed, device=device,
                        planner=planner, critic=critic, max_rounds=max_rounds, memory=False if no_memory else None,
                        approve=approve or None, out_dir=str(out / f"turn-{turn}") if out else None)
        from ttom.errors import TtomError
        from ttom.layout import LayoutError

        try:
            result = _run(console, prompt=text.strip(), options=opts, thread_id=thread)
        except (TtomError, LayoutError) as e:
            console.print(f"[red]error:[/] {e}")
            continue
        _summary(console, result)
        typer.echo(json.dumps({"turn": turn, "video": result.values.get("video"),
                               "report": result.values.get("report_path"),
                               "objects": [o["phrase"] for o in result.values.get("current_layout", {}).get("objects", [])],
                               "decision": result.values.get("decision")}))


@serve_app.command("mcp")
def serve_mcp(
    transport: str = typer.Option("stdio", "--transport", help="stdio | streamable-http"),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8765, "--port"),
) -> None:
    """An MCP server (mcp >= 2) with tools for long jobs: submit_video, job_status, job_result, generate_video."""
    from ttom.tools.mcp_server import build_server

    server = build_server()
    if transport == "stdio":
        server.run("stdio")
    elif transport == "streamable-http":
        server.run("streamable-http", host=host, port=port)
    else:
        from ttom.errors import ConfigError

        raise ConfigError(f"--transport {transport!r}: use stdio or streamable-http")
