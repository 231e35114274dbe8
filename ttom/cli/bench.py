"""``ttom bench``: planner, memory, shapes, loop, gpu; each prints a table and records it in docs/benchmarks.md."""

from __future__ import annotations

from pathlib import Path

import typer

from ttom.cli.options import JSON_OPT, parse_ints, parse_names


def print_table(console, title: str, headers, rows) -> None:
    """A benchmark table on the terminal (rich); docs/benchmarks.md gets the markdown form."""
    from rich.table import Table

    t = Table(title=title)
    for h in headers:
        t.add_column(h, justify="right")
    for r in rows:
        t.add_row(*map(str, r))
    console.print(t)


def load_samples(load, path: Path, command: str):
    """Samples an earlier ``ttom bench COMMAND --samples`` run wrote; one clear line when ``path`` is not one."""
    try:
        return load(path)
    except (OSError, ValueError, TypeError) as e:
        from ttom.errors import ConfigError

        raise ConfigError(f"{path}: not a samples file written by ttom bench {command} --samples ({e})") from None


def plots_folder(given: Path | None, record: bool) -> Path | None:
    """Where a benchmark draws its plots: the folder ``--plots`` names, else docs/img when the run is
    recorded (its section links them), else nowhere (a --no-record run leaves the docs' plots alone)."""
    return given if given is not None else Path("docs/img") if record else None


def samples_or_run(load, from_samples: list[Path] | None, command: str, run):
    """The joined samples of earlier runs (``from_samples``, e.g. the shards of one run), or ``run()``;
    a ``ValueError`` of the run (a bad argument) becomes one clear line."""
    from ttom.bench.shapes import ShapesBench
    from ttom.errors import ConfigError

    if from_samples:
        return ShapesBench([s for path in from_samples for s in load_samples(load, path, command).samples])
    try:
        return run()
    except ValueError as e:
        raise ConfigError(str(e)) from None


def check_conditioning(conditioning: str) -> None:
    from ttom.bench.shapes import CONDITIONINGS
    from ttom.errors import ConfigError

    if conditioning not in CONDITIONINGS:
        raise ConfigError(f"--conditioning must be one of {', '.join(CONDITIONINGS)}, got {conditioning!r}")


def bench_shapes(
    per_category: int = typer.Option(4, "--per-category", "-n", help="Prompts per category."),
    seed: int = typer.Option(0, "--seed"),
    split: str = typer.Option("test", "--split", help="Prompt set: dev (for tuning), test (for reporting; disjoint "
                              "from dev) or all."),
    conditions: str = typer.Option("plain,tto,skip,warm", "--conditions", help="Which of plain,tto,skip,warm to run."),
    steps: int = typer.Option(None, "--steps", min=1, help="Denoising steps (default: the model's)."),
    tto_steps: int = typer.Option(None, "--tto-steps", help="Override the model's TTO steps."),
    phi_steps: int = typer.Option(None, "--phi-steps", help="Keep φ on for this many denoising steps."),
    iterations: int = typer.Option(None, "--tto-iterations", "--iterations", help="Override the model's TTO iterations per step."),
    lr: float = typer.Option(None, "--lr"),
    threshold: float = typer.Option(None, "--loss-threshold"),
    stop_on: str = typer.Option(None, "--stop-on", help="What the early stop compares with --loss-threshold: mean "
                                "(the loss) or worst (its largest term: one object in one frame)."),
    term_power: float = typer.Option(None, "--term-power", help="p of the power mean over the loss's (object, "
                                     "frame) terms: 1 = the mean; larger leans toward the furthest from their boxes."),
    phi_branches: str = typer.Option(None, "--phi-branches", help="Where φ acts in classifier-free guidance: "
                                     "both branches, cond (the unconditional branch stays plain, so guidance "
                                     "amplifies φ's effect), or auto (cond where every name has one instance)."),
    layers: str = typer.Option(None, "--layers", help="Supervised blocks, e.g. 5 or 5,0."),
    adapter_blocks: str = typer.Option(None, "--adapter-blocks", help="φ's blocks, e.g. 5 (default 0..max(layers))."),
    rank: int = typer.Option(None, "--rank", help="φ's LoRA rank (alpha stays the recipe's)."),
    alpha: float = typer.Option(None, "--alpha", help="φ's LoRA alpha (scale alpha / rank)."),
    modules: str = typer.Option(None, "--modules", help="φ's projections in each block, e.g. to_q,to_k,to_v "
                                "(default: the recipe's)."),
    instance_weight: float = typer.Option(None, "--instance-weight", help="λ of the loss's instance term: each "
                                          "object's box holds its share of its name's attention (0 = the JSD alone)."),
    token_scope: str = typer.Option(None, "--token-scope", help="Which prompt words an object's attention map "
                                    "reads: name, phrase (with its attributes) or clause (and what follows it)."),
    conditioning: str = typer.Option("full", "--conditioning", help="full: the model reads the caption; objects: "
                                     "the caption without its layout words (the layout still from the full caption)."),
    categories: str = typer.Option(None, "--categories", help="Only these categories, e.g. motion,spatial (the "
                                   "prompts keep the seeds they have in the whole set)."),
    device: str = typer.Option("cpu", "--device"),
    shard_spec: str = typer.Option(None, "--shard", help="K/N: run every N-th prompt from the K-th (N processes "
                                   "share one prompt set; give their --samples files to --from-samples together)."),
    out: Path = typer.Option(None, "--plots", help="Folder for the PNG plots (default: docs/img when the run is "
                             "recorded; none with --no-record)."),
    samples: Path = typer.Option(None, "--samples", help="Write every sample as JSON here."),
    baseline: Path = typer.Option(None, "--baseline", help="Samples JSON of an earlier run on the same prompts: "
                                  "its conditions not run now (e.g. plain) join the table and the paired comparison."),
    from_samples: list[Path] = typer.Option(None, "--from-samples", help="Generate nothing: tabulate the samples "
                                            "earlier runs wrote with --samples (repeat for shards; no plots, "
                                            "nothing recorded)."),
    no_record: bool = typer.Option(False, "--no-record", help="Do not write docs/benchmarks.md."),
) -> None:
    """TTO and memory on the bundled shapes model: success and mIoU per category, time per video, plots."""
    from rich.console import Console

    from ttom.bench import shapes
    from ttom.bench.report import markdown_table, write_section

    console = Console()

    overrides = dict(steps=tto_steps, phi_steps=phi_steps, iterations=iterations, lr=lr, loss_threshold=threshold,
                     stop_on=stop_on, term_power=term_power, phi_branches=phi_branches,
                     layers=parse_ints(layers, "--layers"), adapter_blocks=parse_ints(adapter_blocks, "--adapter-blocks"),
                     rank=rank, alpha=alpha, token_scope=token_scope, instance_weight=instance_weight,
                     modules=parse_names(modules))
    check_conditioning(conditioning)
    bench = samples_or_run(shapes.load, from_samples, "shapes", lambda: shapes.run(
        per_category, seed, tuple(c.strip() for c in conditions.split(",")), overrides, device=device,
        progress=lambda m: console.print(m, highlight=False), split=split, conditioning=conditioning,
        shard_spec=shard_spec, categories=parse_names(categories), steps=steps))
    if samples and not from_samples:
        shapes.save(bench, samples)  # this run's own samples, before any baseline joins them
    if baseline:
        bench = shapes.merge_baseline(bench, shapes.load(baseline))
    headers, rows = shapes.table(bench)
    pheaders, prows = shapes.paired_table(bench)
    for title, hs, rs in (("shapes model: plain vs TTO vs memory", headers, rows),
                          ("paired against plain: +prompts won −prompts lost (sign-test p)", pheaders, prows)):
        print_table(console, title, hs, rs)
    if from_samples:
        return
    out = plots_folder(out, record=not no_record)
    pngs = shapes.plots(bench, out) if out is not None else []
    if not no_record:
        from ttom.engine.backends import load_backend
        from ttom.engine.tto import adapter_spec, recipe_config

        backend = load_backend("shapes", "cpu")
        cfg = recipe_config(backend, **overrides)
        spec = adapter_spec(backend, cfg)
        body = (f"Prompts: {split} split, seed {seed}, {per_category} per category, conditioned on the "
                f"{'full caption' if conditioning == 'full' else 'caption without its layout words'}, "
                f"{steps or backend.defaults.steps} denoising steps. "
                f"TTO: supervised blocks {list(cfg.layers or backend.defaults.layers)}, φ = LoRA r {spec.rank} on blocks "
                f"{list(spec.blocks)}; {cfg.steps} steps × ≤{cfg.iterations} iterations, lr {cfg.lr}, stop below "
                f"{cfg.loss_threshold}{' (worst term)' if cfg.stop_on == 'worst' else ''}, φ on for {cfg.phi_steps if cfg.phi_steps is not None else cfg.steps} steps"
                f"{f', instance term λ {cfg.instance_weight}' if cfg.instance_weight else ''}"
                f"{f', φ branches {cfg.phi_branches}' if cfg.phi_branches != 'both' else ''}.\n\n"
                + markdown_table(headers, rows) + "\n\n"
                + "Paired against plain, prompt by prompt: +prompts where the condition succeeded and plain failed, "
                "−the reverse; p is the two-sided exact sign test on those discordant prompts.\n\n"
                + markdown_table(pheaders, prows) + "\n\n"
                + "\n".join(f"![{p.stem}](img/{p.name})" for p in pngs))
        write_section("shapes", "Shapes model: TTO and memory end to end", body)


def bench_loop(
    per_category: int = typer.Option(2, "--per-category", "-n", help="Prompts per category (the issue's comparison: "
                                     ">= 20, i.e. >= 100 prompts; CPU-hours)."),
    seed: int = typer.Option(0, "--seed"),
    split: str = typer.Option("test", "--split", help="Prompt set: dev, test or all (as ttom bench shapes)."),
    conditions: str = typer.Option("tto,best3,loop", "--conditions", help="Which of tto,best3,loop,escalate to run "
                                   "(escalate: the loop with the escalating re-optimisation policy)."),
    max_rounds: int = typer.Option(3, "--max-rounds", min=1, help="The loop's round budget (best3 always spends 3)."),
    steps: int = typer.Option(None, "--steps", min=1, help="Denoising steps (default: the model's)."),
    tto_steps: int = typer.Option(None, "--tto-steps", help="Override the model's TTO steps in every round."),
    phi_steps: int = typer.Option(None, "--phi-steps", help="Keep φ on for this many denoising steps in every round."),
    iterations: int = typer.Option(None, "--tto-iterations", "--iterations", help="Override the model's TTO "
                                   "iterations per step in every round."),
    adapter_blocks: str = typer.Option(None, "--adapter-blocks", help="φ's blocks in every round, e.g. 3,4 "
                                       "(default: the recipe's)."),
    device: str = typer.Option("cpu", "--device"),
    categories: str = typer.Option(None, "--categories", help="Only these categories, e.g. several,motion (the "
                                   "prompts keep the seeds they have in the whole set)."),
    shard_spec: str = typer.Option(None, "--shard", help="K/N: run every N-th prompt from the K-th (N processes "
                                   "share one prompt set; give their --samples files to --from-samples together)."),
    conditioning: str = typer.Option("full", "--conditioning", help="full: the model reads the caption; objects: "
                                     "the caption without its compositional words in every round, the critic judging "
                                     "the full caption's layout."),
    phi_branches: str = typer.Option(None, "--phi-branches", help="Where φ acts in classifier-free guidance in "
                                     "every round: both, cond or auto (default: the model's recipe)."),
    samples: Path = typer.Option(None, "--samples", help="Write every sample as JSON here."),
    from_samples: list[Path] = typer.Option(None, "--from-samples", help="Generate nothing: tabulate earlier runs' "
                                            "--samples (repeat for shards; nothing recorded)."),
    no_record: bool = typer.Option(False, "--no-record", help="Do not write docs/benchmarks.md."),
) -> None:
    """The critic loop against best-of-3 reseeding judged by the same critic, and one TTO round, on the shapes
    model: success, layout mIoU, seconds and videos per prompt, paired sign tests."""
    from rich.console import Console

    from ttom.bench import loop
    from ttom.bench.report import markdown_table, write_section

    console = Console()
    check_conditioning(conditioning)
    overrides = {k: v for k, v in dict(
        phi_branches=phi_branches, steps=tto_steps, phi_steps=phi_steps, iterations=iterations,
        adapter_blocks=parse_ints(adapter_blocks, "--adapter-blocks")).items() if v is not None}
    bench = samples_or_run(loop.load, from_samples, "loop", lambda: loop.run(
        per_category, seed, tuple(c.strip() for c in conditions.split(",")), max_rounds, device=device,
        progress=lambda m: console.print(m, highlight=False), split=split, steps=steps, shard_spec=shard_spec,
        categories=parse_names(categories), conditioning=conditioning,
        tto_overrides=overrides or None))
    if samples and not from_samples:
        loop.save(bench, samples)
    headers, rows = loop.table(bench)
    pheaders, prows = loop.paired_table(bench)
    for title, hs, rs in (("shapes model: one TTO round vs best of 3 seeds vs the critic loop", headers, rows),
                          ("paired: +prompts won −prompts lost (sign-test p)", pheaders, prows)):
        print_table(console, title, hs, rs)
    if from_samples or no_record:
        return
    from ttom.engine.backends import load_backend

    n = len({(s.category, s.prompt) for s in bench.samples})
    recipe = f"TTO recipe overrides {overrides}" if overrides else "the model's TTO recipe"
    steps = steps or load_backend("shapes", device).defaults.steps  # the run's backend (cached)
    body = (f"Prompts: {split} split, seed {seed}, {per_category} per category ({n} prompts), the model "
            f"conditioned on the {'full caption' if conditioning == 'full' else 'caption without its layout words'}; "
            f"{steps} denoising steps, {recipe}; the loop's budget "
            f"{max_rounds} rounds, best3 three seeds, both judged by the shapes critic.\n\n"
            + markdown_table(headers, rows) + "\n\n"
            + "Paired, prompt by prompt: +prompts where the second condition succeeded (or had the higher mIoU) and "
            "the first did not, −the reverse; p is the two-sided exact sign test on those discordant prompts.\n\n"
            + markdown_table(pheaders, prows))
    write_section("loop", "Shapes model: the critic loop against best-of-3 reseeding", body)


def bench_gpu(
    models: str = typer.Option("wan2.1-1.3b,cogvideox-5b", "--models",
                               help="Comma-separated: cogvideox-5b, wan2.1-1.3b, wan2.1-14b."),
    steps: int = typer.Option(50, "--steps", help="Denoising steps of the end-to-end runs (fewer: 50-step figures "
                                                  "are extrapolated, marked *)."),
    tto_steps: int = typer.Option(5, "--tto-steps", help="Denoising steps with TTO (official: 5)."),
    iterations: int = typer.Option(8, "--tto-iterations", "--iterations", help="TTO iterations per step (official: 8)."),
    repeats: int = typer.Option(5, "--repeats", help="Repeats of each micro-benchmark (median)."),
    memory_cap: float = typer.Option(1.5, "--memory-cap", help="Also run TTO with the least gradient checkpointing "
                                                               "that keeps its peak within this × plain's peak."),
    speed_options: str = typer.Option("", "--speed-options",
                                      help="Also measure plain step and TTO iteration under these global options "
                                           "(comma-separated: cudnn-attention, compile)."),
    device: str = typer.Option("cuda", "--device", help="cuda (or cuda:N); cpu only to check the benchmark runs."),
    json_out: Path = typer.Option(None, "--json", help="Also write the raw results here."),
    from_json: list[Path] = typer.Option(None, "--from-json", help="Measure nothing: tabulate and record results "
                                                                   "that earlier runs wrote with --json (repeatable)."),
    no_record: bool = typer.Option(False, "--no-record", help="Do not write docs/benchmarks.md."),
) -> None:
    """TTOM's cost at real model size on a CUDA GPU (random weights at the published configs)."""
    import dataclasses
    import json

    import torch
    from rich.console import Console

    from ttom.bench import gpu
    from ttom.bench.report import command_line, markdown_table, write_section
    from ttom.errors import ConfigError

    console = Console()
    say = lambda m: console.print(m, highlight=False, markup=False)  # noqa: E731
    if from_json:
        results = []
        for f in from_json:
            try:
                results += [gpu.ModelResult(**d) for d in json.loads(f.read_text())]
            except (OSError, ValueError, TypeError) as e:
                raise ConfigError(f"{f}: not a results file written by ttom bench gpu --json ({e})") from None
    else:
        names = [m.strip() for m in models.split(",") if m.strip()]
        unknown = [m for m in names if m not in gpu.ARCHS]
        if unknown or not names:
            raise ConfigError(f"unknown model(s) {unknown or names}: choose from {', '.join(gpu.ARCHS)}")
        options = tuple(o.strip() for o in speed_options.split(",") if o.strip())
        bad = [o for o in options if o not in gpu.SPEED_OPTIONS]
        if bad:
            raise ConfigError(f"unknown speed option(s) {bad}: choose from {', '.join(gpu.SPEED_OPTIONS)}")
        if steps < tto_steps:
            raise ConfigError(f"--steps {steps} is fewer than --tto-steps {tto_steps}: TTO runs before each of the "
                              "first tto-steps denoising steps, so the schedule would be cut short")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError("ttom bench gpu needs a CUDA GPU and none is visible here "
                              "(--device cpu runs it on the CPU, only to check that it works)")
        results = []
        for name in names:
            r = gpu.run_model(gpu.ARCHS[name], device, steps=steps, tto_steps=tto_steps, iterations=iterations,
                              repeats=repeats, memory_cap=memory_cap, speed_options=options, progress=say)
            r.command = command_line()
            results.append(r)
            gpu.release_memory()
            if json_out:  # after each model, so a later failure keeps what was measured
                json_out.write_text(json.dumps([dataclasses.asdict(x) for x in results], indent=1))
    sections = []
    for title, table in (("TTOM's cost, end to end", gpu.summary_table),
                         ("One TTO iteration by engine option", gpu.variant_table),
                         ("Global speed options (they change plain generation too)", gpu.speed_table),
                         ("The supervised block", gpu.block_table)):
        headers, rows = table(results)
        if not rows:
            continue
        print_table(console, title, headers, rows)
        sections.append(f"### {title}\n\n" + markdown_table(headers, rows))
    if not no_record:
        runs = "\n".join(f"- `{r.command}` ({r.arch}, {r.steps} steps)" for r in results)
        body = f"Measured by:\n\n{runs}\n\n" + "\n\n".join(sections)
        if any(r.steps != 50 for r in results):
            body += ("\n\n\\* extrapolated to 50 steps from the steps measured: TTO and φ add a fixed cost on top "
                     "of denoising steps that all cost the same.")
        devices = sorted({r.device for r in results if r.device})
        path = write_section("gpu", "TTOM at real model size on the GPU", body, device="; ".join(devices) or None)
        console.print(f"recorded in {path}")


def bench_planner(
    planner: str = typer.Option("offline", "--planner", "-p", help="offline | llm | auto."),
    data: Path = typer.Option(None, "--data", help="Folder holding t2v-compbench/ and lvd-benchmark/ (default ../shared/data)."),  # noqa: B008
    category: list[str] = typer.Option(None, "--category", "-c", help="Only categories starting with this (repeatable), e.g. compbench/spatial."),  # noqa: B008
    no_record: bool = typer.Option(False, "--no-record", help="Do not write docs/benchmarks.md."),
    failures: int = typer.Option(10, "--failures", help="How many failing prompts to list per category."),
) -> None:
    """Share of planned layouts that satisfy T2V-CompBench and LVD ground truth, per category."""
    from ttom.bench.planner import bench_planner as run

    run(planner=planner, data=data, category=category or None, record=not no_record, show_failures=failures)


def bench_memory(
    sizes: str = typer.Option("1000,10000,100000", "--sizes", help="Comma-separated store sizes."),
    backends: str = typer.Option("sqlite,postgresql", "--backends", help="sqlite and/or postgresql."),
    queries: int = typer.Option(200, "--queries", help="Timed recalls per size."),
    postgres_url: str = typer.Option(None, "--postgres-url", help="Default: TTOM_TEST_POSTGRES_URL or the local server."),
    pairs: bool = typer.Option(False, "--pairs", help="Instead of latency: build the labelled pair set "
                               "(benchmarks/memory_pairs), choose the recall thresholds on its dev half, record the "
                               "rates per kind of pair in docs/memory.md."),
    from_pairs: Path = typer.Option(None, "--from-pairs", help="With --pairs: build nothing, read this pair set."),
    data: Path = typer.Option(None, "--data", help="With --pairs: the folder holding t2v-compbench/ "
                              "(default ../shared/data)."),
    stream: bool = typer.Option(False, "--stream", help="Instead of latency: the 'better with use' stream on the "
                                "shapes test split, fresh TTO every time vs the memory on."),
    limit: int = typer.Option(None, "--limit", min=1, help="With --stream: only the first N of its 200 requests."),
    device: str = typer.Option("cpu", "--device", help="With --stream: cpu, cuda or cuda:N."),
    keys: Path = typer.Option(None, "--keys", help="With --stream: precomputed MiniLM key embeddings (python -m "
                              "ttom.bench.memory keys --out FILE), for a machine without MiniLM."),
    memorize: str = typer.Option("success", "--memorize", help="With --stream: when the memory keeps φ*: success "
                                 "(the critic finds the request's constraint met), accepted (the critic accepts), all."),
    conditions: str = typer.Option("tto,memory", "--conditions", help="With --stream: tto and/or memory."),
    samples: Path = typer.Option(None, "--samples", help="With --stream: write every sample as JSON here (after "
                                 "each request); the run's memory is kept beside it (NAME.memory.sqlite)."),
    resume: bool = typer.Option(False, "--resume", help="With --stream --samples: continue that run (its requests "
                                "are kept, its memory reused), e.g. with a larger --limit."),
    steps: int = typer.Option(None, "--steps", min=1, help="With --stream: denoising steps (default: the model's; "
                              "fewer only to check that the benchmark runs)."),
    from_samples: Path = typer.Option(None, "--from-samples", help="With --stream: generate nothing, rebuild the "
                                      "tables and plots from an earlier run's --samples."),
    plots_dir: Path = typer.Option(None, "--plots", help="With --stream: folder for the plot (default: docs/img "
                                   "when the run is recorded; none with --no-record)."),
    record: bool = typer.Option(True, "--record/--no-record", help="Write the results to docs/benchmarks.md "
                                "(latency, stream) or docs/memory.md (pairs)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Recall latency of the memory at 1k/10k/100k entries on SQLite and PostgreSQL; --pairs: the recall
    thresholds' pair set; --stream: the memory over a stream of requests."""
    from ttom.errors import ConfigError

    if pairs and stream:
        raise ConfigError("--pairs and --stream are two benchmarks: run them one at a time")
    if pairs:
        from ttom.bench.memory_pairs import run as run_pairs

        run_pairs(data=data, from_pairs=from_pairs, record=record)
        return
    if stream:
        _bench_memory_stream(limit, device, keys, memorize, conditions, samples, from_samples, plots_dir, record,
                             resume, steps)
        return
    from ttom.bench.memory import run

    run(sizes=[int(x) for x in sizes.split(",") if x.strip()],
        backends=[b.strip() for b in backends.split(",") if b.strip()],
        queries=queries, postgres_url=postgres_url, record=record, as_json=as_json)


def _bench_memory_stream(limit, device, keys, memorize, conditions, samples, from_samples, plots_dir, record,
                         resume, steps) -> None:
    import re

    from rich.console import Console

    from ttom.bench import memory_stream
    from ttom.bench.report import markdown_table, write_section
    from ttom.config import DEVICE_PATTERN
    from ttom.errors import ConfigError

    console = Console()
    if from_samples:
        got = load_samples(memory_stream.load, from_samples, "memory --stream")
    else:
        if not re.fullmatch(DEVICE_PATTERN, device):
            raise ConfigError(f"--device {device!r}: use cpu, cuda or cuda:N")
        got = memory_stream.run(limit=limit, device=device,
                                conditions=tuple(c.strip() for c in conditions.split(",") if c.strip()),
                                memorize=memorize, keys=keys, samples=samples, resume=resume, steps=steps,
                                progress=lambda m: console.print(m, highlight=False, markup=False))
    sections = []
    for title, hs, rs in memory_stream.tables(got):
        print_table(console, title, hs, rs)
        sections.append(f"**{title}**\n\n" + markdown_table(hs, rs))
    plots_dir = plots_folder(plots_dir, record)
    pngs = memory_stream.plots(got, plots_dir) if plots_dir is not None else []
    if pngs:
        console.print(f"plot: {', '.join(map(str, pngs))}")
    if record:
        n = len({s.index for s in got})
        body = (f"{n} of the stream's {memory_stream.REQUESTS} requests"
                + (" (a smoke check of the benchmark, not its result)" if n < memory_stream.REQUESTS else "")
                + (f", tables rebuilt from `{from_samples}`." if from_samples else
                   f"; samples: `{samples}`." if samples else ".")
                + "\n\n" + "\n\n".join(sections) + "\n\n" + "\n".join(f"![{p.stem}](img/{p.name})" for p in pngs))
        path = write_section("memory-stream", "Parameter memory: better with use (a stream of requests)", body)
        console.print(f"recorded in {path}")


serve_app = typer.Typer(help="The HTTP service on loopback: a load test, and throughput by Ray workers.",
                        no_args_is_help=True)


@serve_app.command("load")
def bench_serve_load(
    jobs: int = typer.Option(200, "--jobs", min=1, help="Submissions."),
    clients: int = typer.Option(20, "--clients", min=1, help="Concurrent clients (threads, one HTTP client each)."),
    poll: float = typer.Option(2.0, "--poll", min=0.01, help="Seconds between a client's rounds of status calls "
                                                             "(one call per unfinished job of the client)."),
    max_queue: int = typer.Option(100, "--max-queue", min=1, help="The server's queue bound (429 beyond it)."),
    no_record: bool = typer.Option(False, "--no-record", help="Do not write docs/benchmarks.md."),
) -> None:
    """Many submissions and status polls against one embedded server: no job lost, submit and status latency."""
    import os

    from rich.console import Console

    from ttom.bench.report import markdown_table, write_section
    from ttom.serve import bench

    console = Console()
    load = os.getloadavg()[0]
    r = bench.run_load(jobs, clients, poll, ["--max-queue", str(max_queue)],
                       progress=lambda m: console.print(m, highlight=False, markup=False))
    headers, rows = bench.load_table(r)
    print_table(console, "ttom serve api: latency under load", headers, rows)
    summary = bench.load_summary(r)
    console.print(summary, highlight=False, markup=False)
    for e in r.errors[:5]:
        console.print(f"error: {e}", highlight=False, markup=False)
    if not no_record:
        body = (f"One embedded server (`ttom serve api`, one in-process worker, SQLite jobs), its queue bounded at "
                f"{max_queue}; each job: `{json_dumps(bench.LIGHT_JOB)}` (as little model work as the graph allows). "
                f"{clients} client threads submit their share of the {jobs} jobs at once (a 429 is sent again after its "
                f"Retry-After plus up to as much jitter), then poll each of their jobs' status every {poll} s until all "
                f"are final. Load average when it started: {load:.1f} (other work shares this machine).\n\n{summary}.\n\n"
                + markdown_table(headers, rows))
        console.print(f"recorded in {write_section('serve-load', 'HTTP service: load test on loopback', body)}")


@serve_app.command("scale")
def bench_serve_scale(
    workers: str = typer.Option("1,2", "--workers", help="Numbers of Ray worker actors to compare."),
    jobs: int = typer.Option(16, "--jobs", min=1, help="Jobs per run (the same set each time)."),
    num_cpus: int = typer.Option(None, "--num-cpus", min=1, help="CPUs of the local Ray cluster (default: the "
                                                                 "largest --workers; one per actor)."),
    database_url: str = typer.Option(None, "--database-url", help="PostgreSQL (default: TTOM_TEST_POSTGRES_URL or "
                                     "the local server); a schema of its own per run, dropped after."),
    no_record: bool = typer.Option(False, "--no-record", help="Do not write docs/benchmarks.md."),
) -> None:
    """Throughput of the same jobs with 1 and 2 (...) Ray worker actors on a local cluster (num_gpus=0 on a CPU)."""
    import os

    from rich.console import Console

    from ttom.bench.report import markdown_table, write_section
    from ttom.serve import bench

    console = Console()
    counts = parse_ints(workers, "--workers")
    if not counts or min(counts) < 1:
        from ttom.errors import ConfigError

        raise ConfigError("--workers takes numbers of workers >= 1, e.g. 1,2")
    load = os.getloadavg()[0]
    results = bench.run_scale(counts, jobs, database_url, num_cpus,
                              progress=lambda m: console.print(m, highlight=False, markup=False))
    headers, rows = bench.scale_table(results)
    print_table(console, "ttom serve api on Ray: throughput by workers", headers, rows)
    if not no_record:
        body = (f"A local Ray cluster (`ttom serve api --ray local`), one worker actor per CPU (num_cpus=1, "
                f"num_gpus=0: this machine has no GPU), jobs, checkpoints and memory in one PostgreSQL; each job: "
                f"`{json_dumps(bench.SCALE_JOB)}` with its own seed; one warm-up job per worker first (model and "
                f"MiniLM loaded). Time from the first submission to the last completion. Load average when it "
                f"started: {load:.1f} (other work shares this machine).\n\n" + markdown_table(headers, rows))
        console.print(f"recorded in {write_section('serve-scale', 'HTTP service on Ray: throughput by workers', body)}")


def json_dumps(value) -> str:
    import json

    return json.dumps(value, separators=(", ", ": "))
