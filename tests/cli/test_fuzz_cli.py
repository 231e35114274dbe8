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
        if lines[-1].startswith("error:"):  # one error line (notes printed before it are fine)
            assert sum(ln.startswith("error:") for ln in lines) == 1, err


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


def _archive_mutations():
    """A real one-entry archive's manifest with one field replaced by something hostile, or random bytes."""
    hostile = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                        st.floats(allow_nan=True, allow_infinity=True), _text, st.lists(st.integers(), max_size=3),
                        st.just("9999-12-31T23:59:59"), st.just("../../etc/passwd"))
    fields = st.sampled_from(["format", "version", "exported_at", "entries", "id", "key_text", "signature",
                              "use_count", "created_at", "last_used_at", "quality", "phi_sha256", "embedding",
                              "phi", "extra"])
    return st.tuples(fields, hostile)


@pytest.fixture(scope="module")
def real_archive(tmp_path_factory):
    """An archive exported from a store holding one real φ (the tiny model's, as the engine writes it)."""
    from tests.helpers.memhelpers import SIG, make_phi
    from ttom.memory import MemoryStore

    folder = tmp_path_factory.mktemp("archive")
    store = MemoryStore(f"sqlite:///{folder / 'm.sqlite'}")
    store.insert("<object_0> moves left", make_phi(), SIG)
    path = folder / "a.zip"
    store.export_archive(path)
    return path


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(change=_archive_mutations(), raw=st.one_of(st.none(), st.binary(max_size=300)))
def test_fuzz_memory_import(change, raw, real_archive, capsys, monkeypatch, tmp_path_factory):
    """``ttom memory import`` of a damaged archive: one line and exit 2 (nothing stored), or a clean import."""
    import zipfile

    folder = tmp_path_factory.mktemp("imp")
    bad = folder / "bad.zip"
    if raw is not None:
        bad.write_bytes(raw)
    else:
        with zipfile.ZipFile(real_archive) as z:
            members = {n: z.read(n) for n in z.namelist()}
        manifest = json.loads(members["manifest.json"])
        field, value = change
        if field in ("format", "version", "exported_at", "entries", "extra"):
            manifest[field] = value
        else:
            manifest["entries"][0][field] = value
        members["manifest.json"] = json.dumps(manifest, allow_nan=True).encode()
        with zipfile.ZipFile(bad, "w") as z:
            for n, data in members.items():
                z.writestr(n, data)
    db = f"sqlite:///{folder / 'target.sqlite'}"
    code, err = run_ttom(["memory", "--db", db, "import", str(bad)], capsys, monkeypatch)
    assert_clear(code, err)
    code2, _ = run_ttom(["memory", "--db", db, "ls"], capsys, monkeypatch)
    assert code2 == 0
