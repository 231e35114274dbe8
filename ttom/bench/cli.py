"""``ttom bench shapes`` (the other benchmarks register from their own parts)."""

from __future__ import annotations

from pathlib import Path

import typer


def bench_shapes(
    per_category: int = typer.Option(4, "--per-category", "-n", help="Prompts per category."),
    seed: int = typer.Option(0, "--seed"),
    split: str = typer.Option("test", "--split", help="Prompt set: dev (for tuning), test (for reporting; disjoint "
                              "from dev) or all."),
    conditions: str = typer.Option("plain,tto,skip,warm", "--conditions", help="Which of plain,tto,skip,warm to run."),
    tto_steps: int = typer.Option(None, "--tto-steps", help="Override the model's TTO steps."),
    phi_steps: int = typer.Option(None, "--phi-steps", help="Keep φ on for this many denoising steps."),
    iterations: int = typer.Option(None, "--iterations"),
    lr: float = typer.Option(None, "--lr"),
    threshold: float = typer.Option(None, "--loss-threshold"),
    layers: str = typer.Option(None, "--layers", help="Supervised blocks, e.g. 5 or 5,0."),
    adapter_blocks: str = typer.Option(None, "--adapter-blocks", help="φ's blocks, e.g. 5 (default 0..max(layers))."),
    rank: int = typer.Option(None, "--rank", help="φ's LoRA rank (alpha stays the recipe's)."),
    out: Path = typer.Option(Path("docs/img"), "--plots", help="Folder for the PNG plots."),
    samples: Path = typer.Option(None, "--samples", help="Write every sample as JSON here."),
    baseline: Path = typer.Option(None, "--baseline", help="Samples JSON of an earlier run on the same prompts: "
                                  "its conditions not run now (e.g. plain) join the table and the paired comparison."),
    no_record: bool = typer.Option(False, "--no-record", help="Do not write docs/benchmarks.md."),
) -> None:
    """TTO and memory on the bundled shapes model: success and mIoU per category, time per video, plots."""
    from rich.console import Console
    from rich.table import Table

    from ttom.bench import shapes
    from ttom.bench.report import markdown_table, write_section

    console = Console()

    def blocks(text):
        return tuple(int(b) for b in text.split(",")) if text else None

    overrides = dict(steps=tto_steps, phi_steps=phi_steps, iterations=iterations, lr=lr, loss_threshold=threshold,
                     layers=blocks(layers), adapter_blocks=blocks(adapter_blocks), rank=rank)
    bench = shapes.run(per_category, seed, tuple(c.strip() for c in conditions.split(",")), overrides,
                       progress=lambda m: console.print(m, highlight=False), split=split)
    if samples:
        shapes.save(bench, samples)  # this run's own samples, before any baseline joins them
    if baseline:
        bench = shapes.merge_baseline(bench, shapes.load(baseline))
    headers, rows = shapes.table(bench)
    pheaders, prows = shapes.paired_table(bench)
    for title, hs, rs in (("shapes model: plain vs TTO vs memory", headers, rows),
                          ("paired against plain: +prompts won −prompts lost (sign-test p)", pheaders, prows)):
        t = Table(title=title)
        for h in hs:
            t.add_column(h, justify="right")
        for r in rs:
            t.add_row(*map(str, r))
        console.print(t)
    pngs = shapes.plots(bench, out)
    if not no_record:
        from ttom.engine.backends import load_backend
        from ttom.engine.tto import adapter_spec, recipe_config

        backend = load_backend("shapes", "cpu")
        cfg = recipe_config(backend, **overrides)
        spec = adapter_spec(backend, cfg)
        body = (f"Prompts: {split} split, seed {seed}, {per_category} per category. "
                f"TTO: supervised blocks {list(cfg.layers or backend.defaults.layers)}, φ = LoRA r {spec.rank} on blocks "
                f"{list(spec.blocks)}; {cfg.steps} steps × ≤{cfg.iterations} iterations, lr {cfg.lr}, stop below "
                f"{cfg.loss_threshold}, φ on for {cfg.phi_steps if cfg.phi_steps is not None else cfg.steps} steps.\n\n"
                + markdown_table(headers, rows) + "\n\n"
                + "Paired against plain, prompt by prompt: +prompts where the condition succeeded and plain failed, "
                "−the reverse; p is the two-sided exact sign test on those discordant prompts.\n\n"
                + markdown_table(pheaders, prows) + "\n\n"
                + "\n".join(f"![{p.stem}](img/{p.name})" for p in pngs))
        write_section("shapes", "Shapes model: TTO and memory end to end", body)
