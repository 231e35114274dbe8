"""The package's dependency rule (ARCHITECTURE.md), enforced by the import-linter contracts in pyproject.toml."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlinter.cli import lint_imports

    monkeypatch.chdir(ROOT)  # the contracts live in pyproject.toml, read from the working directory
    monkeypatch.syspath_prepend(str(ROOT))
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


@pytest.mark.parametrize(("module", "imports"), [
    ("engine/masks.py", "from ttom.agents import graph"),  # upward: engine → agents
    ("memory/archive.py", "from ttom.memory import store"),  # a circle: store imports archive
])
def test_the_contracts_catch_an_upward_import_or_a_circle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           module: str, imports: str) -> None:
    """A copy of the package with one bad import (inside a function) breaks a contract."""
    import shutil

    from importlinter.cli import lint_imports

    shutil.copytree(ROOT / "ttom", tmp_path / "ttom", ignore=shutil.ignore_patterns("assets", "__pycache__"))
    (tmp_path / "ttom" / "assets").mkdir()
    with (tmp_path / "ttom" / module).open("a", encoding="utf-8") as f:
        f.write(f"\n\ndef _bad():\n    {imports}  # noqa: F401\n")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in list(__import__("sys").modules) if m == "ttom" or m.startswith("ttom.")]:
        monkeypatch.delitem(__import__("sys").modules, name)
    assert os.getcwd() == str(tmp_path)
    assert lint_imports(config_filename=str(tmp_path / "pyproject.toml"), no_cache=True) == 1
