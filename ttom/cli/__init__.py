"""The ``ttom`` command: one module per command group in this package; this file assembles them.

Options several commands share (the run options of generate and chat, the choices) live in
``ttom.cli.options``.
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
    # One module per command group; each imports typer at the top and everything heavy (torch,
    # diffusers, SQLAlchemy, LangGraph) inside its commands, so `ttom --help` starts fast.
    from ttom.cli import bench, chat, critic, generate, memory, plan, probe, serve

    app.command("generate")(generate.generate)
    app.command("chat")(chat.chat)
    app.command("plan")(plan.plan)
    app.command("critic")(critic.critic)
    app.command("probe")(probe.probe)
    app.add_typer(memory.app, name="memory")
    app.add_typer(serve.app, name="serve")
    for name in ("planner", "memory", "shapes", "loop", "gpu"):
        bench_app.command(name)(getattr(bench, f"bench_{name}"))
    bench_app.add_typer(bench.serve_app, name="serve")
    app.add_typer(bench_app, name="bench")


_register()


def main() -> None:
    from ttom.errors import run_cli

    run_cli(app)


if __name__ == "__main__":
    main()
