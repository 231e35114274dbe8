"""What ``ttom generate`` and ``ttom chat`` share: running the agent with progress, approval, the summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

# ``ttom generate`` exit codes (README's commands table, ``ttom generate --help``): 0 = a video was
# delivered and accepted by the critic (or no critic judged it: --critic off, or auto without a
# detector for the scene); 2 = bad input or a setting that cannot work (nothing generated);
# 3 = videos were generated but the critic accepted none: the best round is delivered anyway.
EXIT_NOT_ACCEPTED = 3


def make_console():
    from rich.console import Console

    return Console(stderr=True)


def ask_approval(console, request: dict[str, Any]) -> Any:
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


def run_with_progress(console, *, approve_interactively: bool = True, **kw) -> Any:
    from ttom.agents.run import ProgressView, run_agent

    with ProgressView(console) as view:
        result = run_agent(on_event=view, **kw)
    while result.interrupt is not None and approve_interactively:
        answer = ask_approval(console, result.interrupt)
        with ProgressView(console) as view:
            result = run_agent(thread_id=result.thread_id, resume=answer, on_event=view,
                               settings=kw.get("settings"), critic=kw.get("critic"))
    return result


def print_summary(console, result) -> None:
    v = result.values
    if v.get("decision") == "rejected":
        console.print("[yellow]layout rejected; nothing generated[/]")
        return
    if result.interrupt is not None:
        console.print(f"paused for approval; resume with: ttom generate --thread {escape(result.thread_id)} --resume")
        return
    report = result.report or {}
    run = Path(v["run_dir"])
    files = [f for f in ("video.mp4", "video.gif", "overlay.png", "report.json", "pytorch_lora_weights.safetensors")
             if (run / f).exists()]
    console.print(f"[green]wrote[/] {escape(str(run))}/{', '.join(files)}")
    tto, critic, memory = report.get("tto", {}), report.get("critic") or {}, report.get("memory") or {}
    if tto.get("losses"):
        first, last = tto["losses"][0][0], tto["losses"][-1][-1]
        console.print(f"TTO ({tto['mode']}): loss {first:.4f} → {last:.4f}, {tto['seconds']:.1f} s")
    console.print(f"rounds {report.get('rounds')}, critic {critic.get('decision')}, memory {memory.get('action')}"
                  f"{' (hit)' if memory.get('hit') else ''}; thread {result.thread_id}", markup=False)
    console.print(verdict(report))


def verdict(report: dict[str, Any]) -> str:
    """One line: whether the delivered video was accepted, and which round it is."""
    critic, accepted = report.get("critic") or {}, report.get("accepted")
    k, n = report.get("delivered_round", report.get("rounds")), report.get("rounds")
    score = f", mIoU {critic['miou']:.2f}" if critic.get("miou") is not None else ""
    if accepted is True:
        return f"[green]accepted[/] by the critic: round {k} of {n}{score}"
    if accepted is False:
        why = escape((critic.get("reasons") or [""])[0])  # data: never markup
        return (f"[red]NOT accepted[/] by the critic after {n} round(s); delivered the best, round {k} "
                f"({critic.get('decision')}{score}){': ' + why if why else ''} (exit code {EXIT_NOT_ACCEPTED})")
    return "not judged: no critic ran (" + escape("; ".join(critic.get("reasons") or ["critic off"])) + ")"


def exit_code(result) -> int:
    """``EXIT_NOT_ACCEPTED`` when the critic judged the run and accepted no round, else 0."""
    report = result.report or {}
    return EXIT_NOT_ACCEPTED if result.interrupt is None and report.get("accepted") is False else 0


