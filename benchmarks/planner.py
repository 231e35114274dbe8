"""Planner benchmark: ``python benchmarks/planner.py [--planner offline|llm]`` (same as ``ttom bench planner``)."""

from __future__ import annotations

import typer

from ttom.cli.plan import bench_planner

if __name__ == "__main__":
    typer.run(bench_planner)
