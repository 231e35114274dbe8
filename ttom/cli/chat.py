"""``ttom chat``: requests in conversation on one thread (the same run options as ``ttom generate``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from ttom.cli.options import run_options
from ttom.cli.run import make_console, print_summary, run_with_progress


@run_options
def chat(
    out: Path = typer.Option(None, "--out", "-o", help="Output folder (turn N writes to OUT/turn-N)."),
    thread: str = typer.Option(None, "--thread", help="Thread id; reuse one to continue a conversation."),
    as_json: bool = typer.Option(False, "--json", help="Also print one JSON line per turn on stdout (for programs)."),
    options: dict[str, Any] | None = None,
) -> None:
    """Requests in conversation, one thread: a scene, then edits ("make the dog bigger", "now two dogs")."""
    import uuid

    console = make_console()
    thread = thread or uuid.uuid4().hex[:12]
    console.print(f"ttom chat, thread {escape(thread)}. Describe a scene, then edit it; empty line or 'quit' ends.")
    turn = 0
    while True:
        try:
            text = input("you> ") if sys.stdin.isatty() else sys.stdin.readline()
        except (EOFError, KeyboardInterrupt):  # Ctrl-D or Ctrl-C at the prompt ends the chat
            break
        if not text or text.strip().lower() in ("", "quit", "exit", "q"):
            break
        turn += 1
        opts = {**options, "out_dir": str(out / f"turn-{turn}")} if out else dict(options)
        from ttom.errors import TtomError
        from ttom.layout import LayoutError

        try:
            result = run_with_progress(console, prompt=text.strip(), options=opts, thread_id=thread)
        except (TtomError, LayoutError) as e:
            console.print(f"[red]error:[/] {escape(str(e))}")
            continue
        except KeyboardInterrupt:  # Ctrl-C cancels this turn; the conversation goes on
            console.print("[yellow]turn cancelled[/]; describe a scene or an edit, or 'quit'")
            continue
        print_summary(console, result)
        if as_json:
            v = result.values
            typer.echo(json.dumps({"turn": turn, "video": v.get("video"), "report": v.get("report_path"),
                                   "objects": [o["phrase"] for o in v.get("current_layout", {}).get("objects", [])],
                                   "decision": v.get("decision"), "accepted": v.get("accepted")}))


