"""Generated bad input for the commands that read what other programs write: one line and exit 2, or success.

Each command runs in-process through ``ttom.cli.main`` (what the ``ttom`` script runs), so an example
costs milliseconds and hypothesis can try many; the whole file stays within about a minute on CI.
"""

from __future__ import annotations

import json
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

GOOD = {"prompt": "a red circle moving right", "objects": [
    {"id": 0, "name": "circle", "phrase": "a red circle",
     "keyframes": [{"t": 0.0, "box": [0.1, 0.4, 0.3, 0.6]}, {"t": 1.0, "box": [0.7, 0.4, 0.9, 0.6]}]}]}


def run_ttom(args: list[str], capsys, monkeypatch, stdin: str = "") -> tuple[int, str]:
    """``ttom ARGS`` in-process: (exit code, stderr)."""
    import io

    from ttom.cli import main

    monkeypatch.setattr(sys, "argv", ["ttom", *args])
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    capsys.readouterr()
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return code, capsys.readouterr().err


def assert_clear(code: int, err: str) -> None:
    assert code in (0, 2), (code, err)
    assert "Traceback" not in err, err
    if code == 2:
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        assert lines and (lines[-1].startswith("error:") or "Error" in err), err
        if lines[-1].startswith("error:"):
            assert len(lines) == 1, err


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)
_prompts = st.one_of(
    _text,
    st.lists(st.sampled_from(["a", "two", "red", "cat", "[bold]", "left", "of", "moving", "999", "and", "-1", "…",
                              "thirty-three", "the", "ü", "\x00", "\n", "  "]), max_size=40).map(" ".join),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prompt=_prompts)
def test_fuzz_plan(prompt, capsys, monkeypatch):
    code, err = run_ttom(["plan", prompt, "--planner", "offline"], capsys, monkeypatch)
    assert_clear(code, err)


def _mutations():
    """Layout JSON with one part replaced by something hostile."""
    hostile = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                        st.floats(allow_nan=True, allow_infinity=True), _text,
                        st.lists(st.floats(allow_nan=True), max_size=6), st.dictionaries(_text, st.integers(), max_size=3))
    paths = st.sampled_from([("prompt",), ("objects",), ("objects", 0, "id"), ("objects", 0, "name"),
                             ("objects", 0, "phrase"), ("objects", 0, "keyframes"), ("objects", 0, "keyframes", 0, "t"),
                             ("objects", 0, "keyframes", 0, "box"), ("objects", 0, "keyframes", 1, "box", 2),
                             ("background",), ("extra",)])
    return st.tuples(paths, hostile)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(change=_mutations(), raw=st.one_of(st.none(), st.binary(max_size=200)))
def test_fuzz_generate_layout(change, raw, capsys, monkeypatch, tmp_path_factory):
    """``ttom generate --layout F`` on a damaged layout: refused in one line before any model loads, or, when the
    damage leaves a valid layout, paused at the approval question and rejected (nothing generated)."""
    import copy

    folder = tmp_path_factory.mktemp("fuzz")
    f = folder / "layout.json"
    if raw is not None:
        f.write_bytes(raw)
    else:
        data = copy.deepcopy(GOOD)
        path, value = change
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        f.write_text(json.dumps(data, allow_nan=True))
    monkeypatch.setenv("TTOM_CACHE_DIR", str(folder / "cache"))
    from ttom.config import get_settings

    get_settings.cache_clear()
    code, err = run_ttom(["generate", "x", "--layout", str(f), "--model", "tiny-cogvideox", "--device", "cpu",
                          "--approve", "--critic", "off", "--no-memory", "--out", str(folder / "out")],
                         capsys, monkeypatch, stdin="n\n")
    assert_clear(code, err)
    assert not (folder / "out" / "video.mp4").exists()


@pytest.mark.parametrize("args", [["generate"], ["critic"], ["memory", "import"], ["plan"]])
def test_missing_arguments_are_usage_errors(args, capsys, monkeypatch):
    code, err = run_ttom(args, capsys, monkeypatch)
    assert code == 2 and "Traceback" not in err
