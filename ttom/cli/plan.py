"""``ttom plan``: layouts for prompts, on stdout.

Only typer is imported at the top so ``ttom --help`` stays fast; the planner loads in the command.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ttom.cli.options import Format, PlannerName


def _read_prompts(prompts: list[str] | None, file: Path | None) -> list[str]:
    out = [p for p in (prompts or []) if p.strip()]
    if file is not None:
        if str(file) == "-":
            text = sys.stdin.read()
        elif not file.is_file():
            from ttom.errors import ConfigError

            raise ConfigError(f"--file {file} does not exist (one prompt per line; '-' reads stdin)")
        else:
            try:
                text = file.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                from ttom.errors import ConfigError

                raise ConfigError(f"--file {file} is not UTF-8 text (one prompt per line)") from None
        out += [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return out


def plan(
    prompts: list[str] = typer.Argument(None, help="One or more prompts (quote each)."),  # noqa: B008
    file: Path = typer.Option(None, "--file", "-f", help="A file with one prompt per line ('-' = stdin; # comments)."),  # noqa: B008
    planner: PlannerName = typer.Option("auto", "--planner", "-p", help="auto (LLM if TTOM_LLM_BASE_URL is set, else offline) | offline | llm."),
    fmt: Format = typer.Option("json", "--format", help="json (one object, or a list for several prompts) | jsonl (one per line)."),
    details: bool = typer.Option(False, "--details", help="Print the whole plan result (planner, method, findings), not just the layout."),
    no_check: bool = typer.Option(False, "--no-check", help="Skip validation and repair."),
) -> None:
    """Plan layouts (one box track per object) for prompts; layouts go to stdout as JSON."""
    import json

    from ttom.errors import ConfigError

    items = _read_prompts(prompts, file)
    if not items:
        raise ConfigError("no prompt given: pass PROMPT... or --file F")

    from ttom.planning.plan import plan as plan_fn

    llm = None
    if planner != "offline":
        from ttom.planning.llm import LLMPlanner, llm_configured

        if planner == "llm" or llm_configured():
            llm = LLMPlanner()  # one client (and one negotiated method) for all prompts
    outputs = []
    for p in items:
        result = plan_fn(p, planner=planner, check=not no_check, llm=llm)  # type: ignore[arg-type]
        for note in result.notes:
            typer.echo(f"note: {note}", err=True)
        outputs.append(result.model_dump(mode="json", exclude_none=True) if details else result.layout.to_dict())
    if fmt == "jsonl":
        for o in outputs:
            typer.echo(json.dumps(o, ensure_ascii=False))
    else:
        typer.echo(json.dumps(outputs[0] if len(outputs) == 1 else outputs, indent=2, ensure_ascii=False))
