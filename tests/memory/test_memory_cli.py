"""`ttom memory …` commands against a real database, tables and --json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from tests.helpers.memhelpers import SIG, make_phi, unit
from ttom.cli import app
from ttom.memory.models import PhiRow

KEY = "Direction: [left left left]. <object_0> <verb_0> to the left side of <environment_0>."


@pytest.fixture
def filled(db, make_store):
    store = make_store(capacity=10)
    ids = [store.insert(KEY if i == 0 else f"scene {i}", make_phi(seed=i), SIG, quality=0.5 + i / 10,
                        embedding=unit(i)).entry_id for i in range(3)]
    store.record_use(ids[1])
    url = db.url
    if db.schema:  # the CLI takes a URL: reach the test's schema through the search path
        url = f"{db.url}?options=-csearch_path%3D{db.schema}"
    return store, ids, url


def _run(url: str, *args: str):
    res = CliRunner().invoke(app, ["memory", "--db", url, *args], catch_exceptions=False,
                             env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    return res.output


def test_ls_stats_show(filled):
    store, ids, url = filled
    out = _run(url, "ls")
    assert "[left left left]" in out  # rich markup is escaped, not eaten
    assert all(i[:8] in out for i in ids)
    rows = json.loads(_run(url, "ls", "--json", "--sort", "uses"))
    assert [r["id"] for r in rows][0] == ids[1] and rows[0]["use_count"] == 1
    assert json.loads(_run(url, "ls", "--json", "-n", "1"))[0]["id"] in ids
    st = json.loads(_run(url, "stats", "--json"))
    assert st["entries"] == 3 and st["total_uses"] == 1 and st["signatures"][0]["entries"] == 3
    assert "entries" in _run(url, "stats")
    shown = json.loads(_run(url, "show", ids[0][:6], "--json"))
    assert shown["id"] == ids[0] and shown["key_text"] == KEY and shown["phi_problem"] is None
    assert {t["name"] for t in shown["tensors"]} == {"transformer.blocks.0.attn1.to_q.lora_A.weight",
                                                     "transformer.blocks.0.attn1.to_q.lora_B.weight"}
    assert "lora_A" in _run(url, "show", ids[0])
    assert "none (stored before layouts were kept" in _run(url, "show", ids[0])


def test_show_prints_the_layout_an_entry_was_learned_on(filled):
    from ttom.planning.offline import plan_offline

    store, _, url = filled
    layout = plan_offline("a red circle to the left of a blue square")
    e = store.insert("with a layout", make_phi(seed=7), SIG, embedding=unit(7), layout=layout).entry_id
    out = _run(url, "show", e)
    assert "'a red circle to the left of a blue square': 2 object(s)" in out and "a blue square" in out
    shown = json.loads(_run(url, "show", e, "--json"))
    assert shown["scene"]["layout"]["prompt"] == layout.prompt and shown["structure_hash"]
    assert shown["scene"]["structure"]["relations"] == [[0, "left", 1]]


def test_show_flags_a_corrupted_entry(filled):
    store, ids, url = filled
    with store.engine.begin() as c:
        c.execute(update(PhiRow).where(PhiRow.entry_id == ids[2]).values(data=b"garbage"))
    res = CliRunner().invoke(app, ["memory", "--db", url, "show", ids[2], "--json"])
    assert res.exit_code == 1
    assert "checksum" in json.loads(res.output)["phi_problem"]
    pruned = json.loads(_run(url, "prune", "--invalid", "--json"))
    assert [p["entry_id"] for p in pruned["invalid"]] == [ids[2]]
    assert store.count() == 2


def test_rm_prune_export_import(filled, tmp_path):
    store, ids, url = filled
    assert json.loads(_run(url, "rm", ids[0][:8], "--json")) == {"removed": [ids[0]]}
    assert store.count() == 2
    dry = json.loads(_run(url, "prune", "--capacity", "1", "--dry-run", "--json"))
    assert dry["evicted"] == [ids[2]] and store.count() == 2  # ids[1] has a use, ids[2] none
    assert "would remove" in _run(url, "prune", "--capacity", "1", "--dry-run")
    json.loads(_run(url, "prune", "--capacity", "1", "--json"))
    assert [e.id for e in store.list_entries()] == [ids[1]]
    archive = tmp_path / "m.zip"
    assert json.loads(_run(url, "export", str(archive), "--json")) == {"path": str(archive), "entries": 1}
    _run(url, "rm", ids[1])
    assert json.loads(_run(url, "import", str(archive), "--json"))["imported"] == [ids[1]]
    assert store.get(ids[1]).use_count == 1


def test_errors_are_one_clear_line(tmp_path):
    env = {**os.environ, "TTOM_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    for args, needle in [(["show", "abcd"], "no memory entry with id 'abcd'"),
                         (["import", str(tmp_path / "nope.zip")], "no such file")]:
        p = subprocess.run([sys.executable, "-m", "ttom.cli", "memory", *args], capture_output=True, text=True,
                           env=env, timeout=120)
        assert p.returncode == 2, p.stderr
        assert p.stderr.strip().startswith("error:") and needle in p.stderr and "Traceback" not in p.stderr
