"""Recording benchmark results in docs/benchmarks.md.

Each benchmark owns one section, delimited by HTML comments, and replaces only that section,
so benchmarks run at different times (and on different machines) share one file.
"""

from __future__ import annotations

import platform
import re
import shlex
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

HEADER = (
    "# Benchmarks\n\n"
    "Every figure here was written by the command shown above its table. Re-run the command to\n"
    "reproduce it; each section is replaced by its own benchmark and leaves the others alone.\n"
)


def default_doc_path() -> Path:
    """docs/benchmarks.md of the checkout ttom runs from, else of the current directory."""
    here = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"
    if here.parent.is_dir():
        return here
    return Path.cwd() / "docs" / "benchmarks.md"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def fmt(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.4g}" if abs(v) < 1000 else f"{v:.0f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_line() -> str:
    import os

    cpu = platform.processor() or platform.machine()
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores ({cpu}), Python {platform.python_version()}"


def command_line() -> str:
    argv = list(sys.argv)
    if argv and argv[0].endswith(("/ttom", "ttom", "ttom/cli.py", "ttom/cli/__main__.py")):  # the script, or python -m ttom.cli
        argv[0] = "ttom"
    return " ".join(shlex.quote(a) for a in argv)


def write_section(name: str, title: str, body: str, path: Path | None = None, command: str | None = None,
                  device: str | None = None) -> Path:
    """Replace (or append) the section ``name`` of docs/benchmarks.md with ``body``."""
    path = path or default_doc_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        f"<!-- bench:{name} -->\n## {title}\n\n"
        f"Command: `{command or command_line()}`  \n"
        f"Machine: {device or machine_line()}  \n"
        f"Recorded: {stamp}\n\n{body.strip()}\n<!-- /bench:{name} -->"
    )
    pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section, text)
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")
    return path
