"""``ttom bench shapes`` (the other benchmarks register from their own parts)."""

from __future__ import annotations

from pathlib import Path

import typer


def bench_shapes(
    per_category: int = typer.Option(4, "--per-category", "-n", help="Prompts per category."),
    seed: int = typer.Option(0, "--seed"),
    conditions: str = typer.Option("plain,tto,skip,warm", "--conditions", help="Which of plain,tto,skip,warm to run."),
    tto_steps: int = typer.Option(None, "--tto-steps", help="Override the model's TTO steps."),
    phi_steps: int = typer.Option(None, "--phi-steps", help="Keep φ on for this many denoising steps."),
    iterations: int = typer.Option(None, "--iterations"),
    lr: float = typer.Option(None, "--lr"),
    threshold: float = typer.Option(None, "--loss-threshold"),
    out: Path = typer.Option(Path("docs/img"), "--plots", help="Folder for the PNG plots."),
    samples: Path = typer.Option(None, "--samples", help="Write every sample as JSON here."),
    no_record: bool = typer.Option(False, "--no-record", help="Do not write docs/benchmarks.md."),
) -> None:
    """TTO and memory on the bundled shapes model: success and mIoU per category, time per video, plots."""
    from rich.console import Console
    from rich.table import Table

    from ttom.bench import shapes
    from ttom.bench.report import markdown_table, write_section

    console = Console()
    overrides = dict(steps=tto_steps, phi_steps=phi_steps, iterations=iterations, lr=lr, loss_threshold=threshold)
    bench = shapes.run(per_category, seed, tuple(c.strip() for c in conditions.split(",")), overrides,
                       progress=lambda m: console.print(m, highlight=False))
    headers, rows = shapes.table(bench)
    t = Table(title="shapes model: plain vs TTO vs memory")
    for h in headers:
        t.add_column(h, justify="right")
    for r in rows:
        t.add_row(*map(str, r))
    console.print(t)
    pngs = shapes.plots(bench, out)
    if samples:
        shapes.save(bench, samples)
    if not no_record:
        from ttom.engine.backends import load_backend
        from ttom.engine.tto import recipe_config

        cfg = recipe_config(load_backend("shapes", "cpu"), **overrides)
        body = (f"TTO schedule: {cfg.steps} steps × ≤{cfg.iterations} iterations, lr {cfg.lr}, stop below "
                f"{cfg.loss_threshold}, φ on for {cfg.phi_steps if cfg.phi_steps is not None else cfg.steps} steps.\n\n"
                + markdown_table(headers, rows) + "\n\n"
                + "\n".join(f"![{p.stem}](img/{p.name})" for p in pngs))
        write_section("shapes", "Shapes model: TTO and memory end to end", body)
