"""Running the agent graph from Python, the command line and the tools.

    from ttom.agents.run import run_agent
    out = run_agent("a red car drives to the left while a dog sits on the right",
                    options={"model": "tiny-cogvideox", "steps": 4}, thread_id="demo")
    out.values["video"], out.values["report_path"], out.interrupt   # interrupt: None unless approval is pending

``run_agent`` opens the configured checkpointer (SQLite by default, PostgreSQL by
``TTOM_CHECKPOINT_URL``), streams the graph with ``durability="sync"`` (each finished node is on
disk before the next starts, so a killed run resumes without redoing finished GPU work), and hands
every progress event to ``on_event``. ``resume=`` continues a paused or killed thread: ``True`` to
pick up where it stopped, or the answer to a pending approval (``"approve"``, ``"reject"``,
``{"layout": {...}}``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ttom.agents.state import AgentContext

EventFn = Callable[[dict[str, Any]], None]
_NO_RESUME = object()


@dataclass
class AgentRun:
    """The end (or the pause) of one run of the graph on a thread."""

    thread_id: str
    values: dict[str, Any]  # the thread's state after the run
    interrupt: dict[str, Any] | None = None  # the pending approval request, when the run paused
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def report(self) -> dict[str, Any] | None:
        import json
        from pathlib import Path

        p = self.values.get("report_path")
        return json.loads(Path(p).read_text(encoding="utf-8")) if p and Path(p).is_file() else None


def run_agent(
    prompt: str | None = None,
    *,
    layout: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    thread_id: str | None = None,
    resume: Any = _NO_RESUME,
    settings: Any = None,
    critic: Any = None,
    checkpointer: Any = None,
    on_event: EventFn | None = None,
    keep_events: bool = False,
    stop: Callable[[], None] | None = None,
) -> AgentRun:
    """Run (or resume) the graph on ``thread_id`` (a new one when None); see the module docstring.

    ``stop``: called between units of GPU work (``AgentContext.stop``); it raises to end the run there.
    ``on_event`` runs in the caller's thread while a node works in another: raising from it ends the
    stream but not the node, so a caller that must stop the GPU work uses ``stop``.
    """
    from langgraph.types import Command

    from ttom.agents.checkpoint import open_checkpointer
    from ttom.agents.graph import build_graph
    from ttom.errors import ConfigError
    from ttom.paths import check_id

    thread_id = check_id(thread_id) if thread_id is not None else uuid.uuid4().hex
    config = {"configurable": {"thread_id": thread_id}}
    if resume is _NO_RESUME:
        payload: Any = {"prompt": prompt or "", "layout": layout, "options": options or {}}
    else:
        payload = None if resume is True else Command(resume=resume)
    ctx = AgentContext(settings=settings, critic=critic, stop=stop)

    def go(cp) -> AgentRun:
        graph = build_graph(cp)
        if resume is not _NO_RESUME:
            snap = graph.get_state(config)
            if not (snap.next or snap.tasks):  # tasks: a node whose writes were saved before the next checkpoint
                raise ConfigError(f"thread {thread_id!r} has nothing to resume (it finished, or never started)")
        events: list[dict[str, Any]] = []
        pending = None
        for mode, chunk in graph.stream(payload, config, context=ctx, stream_mode=["custom", "updates"],
                                        durability="sync"):
            if mode == "custom":
                if keep_events:
                    events.append(chunk)
                if on_event:
                    on_event(chunk)
            elif "__interrupt__" in chunk:
                pending = chunk["__interrupt__"][0].value
        values = dict(graph.get_state(config).values)
        return AgentRun(thread_id, values, pending, events)

    if checkpointer is not None:
        return go(checkpointer)
    with open_checkpointer(settings) as cp:
        return go(cp)


class ProgressView:
    """Rich progress bars from the graph's progress events (plan, memory, TTO, denoising, critic)."""

    def __init__(self, console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = console
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            TextColumn("{task.fields[info]}"), console=console, transient=False)
        self.tto = self.denoise = None
        self.tto_iterations = 0

    def __enter__(self) -> ProgressView:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.__exit__(*exc)

    def __call__(self, e: dict[str, Any]) -> None:
        e = _escaped(e)  # prompts, phrases and reasons are data, never rich markup
        kind, say = e.get("event"), self.bar.console.print
        if kind == "plan":
            edit = f" (edit: {e['edit']})" if e.get("edit") else ""
            say(f"[bold]plan[/] ({e['planner']}){edit}: {', '.join(e['objects'])}")
        elif kind == "validate" and not e["ok"]:
            say(f"[yellow]layout invalid[/]: {'; '.join(e['errors'])}")
        elif kind == "repair":
            say(f"[yellow]repair {e['repairs']}[/]: {e['how']}")
        elif kind == "memory":
            if e.get("hit"):
                say(f"[green]memory hit[/] {e['entry_id'][:8]} (similarity {e['similarity']:.2f}) → {e['mode']}")
            else:
                say(f"memory miss{' (' + e['skipped'] + ')' if e.get('skipped') else ''}")
        elif kind == "generate":
            k, self.tto_iterations = e["round"], e["tto_iterations"]
            self.tto = self.bar.add_task(f"TTO r{k} ({e['mode']})", total=max(e["tto_total"], 1), info="",
                                         visible=e["tto_total"] > 0)
            self.denoise = self.bar.add_task(f"denoise r{k}", total=e["steps"], info="")
        elif kind == "tto" and self.tto is not None:
            self.bar.update(self.tto, advance=1, info=f"step {e['step']} loss {e['loss']:.4f}")
        elif kind == "step" and self.denoise is not None:
            task = self.bar.tasks[self.tto] if self.tto is not None else None
            if task is not None and task.visible and task.completed < task.total:
                self.bar.update(self.tto, completed=min(task.total, (e["step"] + 1) * self.tto_iterations))
            self.bar.update(self.denoise, completed=e["step"] + 1)
        elif kind == "critic":
            miou = f" mIoU {e['miou']:.2f}" if e.get("miou") is not None else ""
            colour = {"accept": "green", "reoptimize": "yellow", "repair": "yellow"}.get(e["decision"], "dim")
            say(f"critic r{e['round']}: [{colour}]{e['decision']}[/]{miou}" + (f" — {e['reasons'][0]}" if e["reasons"] else ""))
        elif kind == "reoptimize":
            k = e.get("knobs") or {}
            more = (f": seed +1, TTO {k['steps']} steps × {k['iterations']} iterations, lr {k['lr']:.2g}, "
                    f"weights {k['object_weights'] or 'none'}") if k else ""
            say(f"re-optimise → round {e['round']} ({e['mode']}{' from round ' + str(e['from_round']) if e.get('from_round') else ''}){more}")
        elif kind == "memorize":
            say(f"memory: {e['action']}" + (f" {e['entry_id'][:8]}" if e.get("entry_id") else "")
                + (f" ({e['reason']})" if e.get("reason") else ""))


def _escaped(value: Any) -> Any:
    """``value`` with every string escaped for rich markup (dicts and lists walked)."""
    from rich.markup import escape

    if isinstance(value, str):
        return escape(value)
    if isinstance(value, dict):
        return {k: _escaped(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_escaped(v) for v in value]
    return value
