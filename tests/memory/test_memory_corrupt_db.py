"""A damaged memory database (issue 18, item 4): one line naming the file and the remedy, never a
traceback and never a silent re-initialisation; unreadable rows are skipped and reported."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text, update
from typer.testing import CliRunner

from tests.helpers.memhelpers import SIG, make_phi, one_error_line, ttom_cli, unit
from ttom.cli import app
from ttom.memory import CorruptDatabaseError, CorruptEntryError, MemoryStore
from ttom.memory.models import EntryRow

DAMAGE = {
    "truncated": lambda d: d[: len(d) // 2],
    "truncated to its header": lambda d: d[:100],
    "random": lambda d: os.urandom(len(d)),
    "header flipped": lambda d: bytes([d[0] ^ 0xFF]) + d[1:],
    "page size flipped": lambda d: d[:16] + bytes([d[16] ^ 0x01]) + d[17:],
}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def good_file(tmp_path_factory) -> bytes:
    """The bytes of a real memory file with 20 entries (closed, so its WAL is folded in)."""
    path = tmp_path_factory.mktemp("good") / "memory.sqlite"
    with MemoryStore(f"sqlite:///{path}", capacity=100, threshold=0.5, top_k=3) as store:
        for i in range(20):
            store.insert(f"scene {i}", make_phi(seed=i, hidden=512), SIG, embedding=unit(i))
    return path.read_bytes()


def _damaged(tmp_path: Path, good: bytes, how: str) -> Path:
    path = tmp_path / "memory.sqlite"
    path.write_bytes(DAMAGE[how](good) if how != "empty" else b"")
    return path


def _cli(path: Path, *args: str):
    """``ttom memory --db PATH ARGS`` in this process: the exception it ends with, or None."""
    res = CliRunner().invoke(app, ["memory", "--db", f"sqlite:///{path}", *args], catch_exceptions=True)
    return res.exception


@pytest.mark.parametrize("how", [*DAMAGE, "empty"])
def test_a_damaged_file_is_one_clear_error_and_stays_as_it_was(tmp_path, good_file, how):
    path = _damaged(tmp_path, good_file, how)
    before = _sha(path)
    with pytest.raises(CorruptDatabaseError) as ei:
        MemoryStore(f"sqlite:///{path}", capacity=10, threshold=0.5, top_k=1)  # as `ttom generate` opens it
    msg = str(ei.value)
    assert str(path) in msg and "move it aside" in msg and "\n" not in msg
    for args in (["ls"], ["stats"], ["prune"], ["prune", "--invalid"], ["show", "abcd"]):
        e = _cli(path, *args)
        assert isinstance(e, CorruptDatabaseError) and str(path) in str(e), (args, e)
    assert _sha(path) == before  # not repaired, not re-initialised: nothing else is lost
    assert path.stat().st_size == len(DAMAGE[how](good_file) if how != "empty" else b"")


@pytest.mark.parametrize("how", ["header flipped", "empty"])
def test_the_command_prints_one_line_and_exits_2(tmp_path, good_file, how):
    path = _damaged(tmp_path, good_file, how)
    for cmd in ("ls", "stats"):
        line = one_error_line(ttom_cli("memory", "--db", f"sqlite:///{path}", cmd, cache_dir=str(tmp_path / "c")))
        assert str(path) in line


def test_a_new_file_is_made_whole_even_by_several_processes_at_once(tmp_path):
    """A new memory is built aside and linked into place: a racing process never sees it half-made
    (and so never mistakes it for an empty file)."""
    path = tmp_path / "new" / "memory.sqlite"
    code = ("import sys; from ttom.memory import MemoryStore; "
            "MemoryStore(sys.argv[1], capacity=5, threshold=0.5, top_k=1).close()")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = [subprocess.Popen([sys.executable, "-c", code, f"sqlite:///{path}"], env=env, stderr=subprocess.PIPE,
                              text=True) for _ in range(4)]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    assert sorted(os.listdir(path.parent)) in (["memory.sqlite"], ["memory.sqlite", "memory.sqlite-shm",
                                                                     "memory.sqlite-wal"])
    with MemoryStore(f"sqlite:///{path}", capacity=5, threshold=0.5, top_k=1) as store:
        assert store.count() == 0 and store.stats().schema_version == 3


def _raw(store: MemoryStore, sql: str, **params) -> None:
    with store.engine.begin() as c:
        c.execute(text(sql), params)


def test_unreadable_rows_are_skipped_and_reported(db, make_store):
    store = make_store(threshold=-1.0, top_k=10)
    ids = [store.insert(f"scene {i}", make_phi(seed=i), SIG, embedding=unit(i)).entry_id for i in range(4)]
    with store.engine.begin() as c:
        c.execute(update(EntryRow).where(EntryRow.id == ids[0]).values(signature_json="{not json"))
    bad = {ids[0]}
    if db.kind == "sqlite":  # SQLite keeps any text in any column; PostgreSQL's types refuse it
        _raw(store, "UPDATE ttom_memory_entries SET created_at = 'yesterday' WHERE id = :i", i=ids[1])
        _raw(store, "UPDATE ttom_memory_entries SET last_used_at = 'soon', use_count = 'lots' WHERE id = :i",
             i=ids[2])
        bad |= {ids[1], ids[2]}
    good = [i for i in ids if i not in bad]

    entries, unreadable = store.scan()
    assert sorted(e.id for e in entries) == sorted(good)
    assert sorted(p.entry_id for p in unreadable) == sorted(bad)
    assert "not JSON" in {p.entry_id: p.problem for p in unreadable}[ids[0]]
    assert sorted(e.id for e in store.list_entries()) == sorted(good)
    assert store.stats().entries == 4
    with pytest.raises(CorruptEntryError, match=f"{ids[0]}.*unreadable row"):
        store.get(ids[0])
    assert ids[3] in [h.entry_id for h in store.recall(unit(3), SIG)]

    url = db.url + (f"?options=-csearch_path%3D{db.schema}" if db.schema else "")
    runner = CliRunner()
    res = runner.invoke(app, ["memory", "--db", url, "ls", "--json"], catch_exceptions=False)
    assert res.exit_code == 0
    assert sorted(r["id"] for r in json.loads(res.stdout)) == sorted(good)
    assert all(f"skipped {i}" in res.stderr for i in bad)
    res = runner.invoke(app, ["memory", "--db", url, "show", ids[0]])
    assert isinstance(res.exception, CorruptEntryError) and "prune --invalid" in str(res.exception)
    assert runner.invoke(app, ["memory", "--db", url, "show", ids[3], "--json"]).exit_code == 0
    res = runner.invoke(app, ["memory", "--db", url, "prune", "--invalid", "--json"], catch_exceptions=False)
    assert sorted(p["entry_id"] for p in json.loads(res.stdout)["invalid"]) == sorted(bad)
    assert sorted(e.id for e in store.list_entries()) == sorted(good) and store.verify() == []
