"""The ``ttom`` command.

Each part of ttom keeps its commands in its own module (``ttom/<part>/cli.py``); this file only
assembles them. Those modules import typer and rich at the top and everything heavy (torch,
diffusers, SQLAlchemy, LangGraph) inside the command functions, so ``ttom --help`` starts fast.
"""

from __future__ import annotations

import typer

from ttom import __version__

app = typer.Typer(
    name="ttom",
    help="Compositional text-to-video generation: plan a layout, optimise attention to it at test "
    "time (TTOM), critique the video, and remember what worked.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(help="Benchmarks; each prints a table and records it in docs/benchmarks.md.",
                        no_args_is_help=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ttom {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    pass


def _register() -> None:
    from ttom.engine import cli as engine_cli

    app.command("probe")(engine_cli.probe)

    from ttom.tools.vision import cli as vision_cli

    app.command("critic")(vision_cli.critic)

    from ttom.memory import cli as memory_cli

    app.add_typer(memory_cli.app, name="memory")
    bench_app.command("memory")(memory_cli.bench_memory)

    from ttom.agents import cli as agents_cli

    app.command("plan")(agents_cli.plan)

    from ttom.agents import agent_cli

    app.command("generate")(agent_cli.generate)
    app.command("chat")(agent_cli.chat)
    app.add_typer(agent_cli.serve_app, name="serve")
    bench_app.command("planner")(agents_cli.bench_planner)

    from ttom.bench import cli as bench_cli

    bench_app.command("shapes")(bench_cli.bench_shapes)
    bench_app.command("gpu")(bench_cli.bench_gpu)

    app.add_typer(bench_app, name="bench")


_register()


def main() -> None:
    from ttom.errors import run_cli

    run_cli(app)


if __name__ == "__main__":
    main()
