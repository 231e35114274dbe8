"""Several processes on one database, and processes killed with SIGKILL in the middle of a write."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.helpers.memhelpers import SIG, make_phi, unit

WORKER = Path(__file__).parents[1] / "helpers" / "memworker.py"
REPO = Path(__file__).resolve().parents[2]


def _spawn(mode: str, args: dict) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen([sys.executable, str(WORKER), mode, json.dumps(args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _wait_for_line(p: subprocess.Popen, prefix: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        if line.startswith(prefix):
            return line.strip()
        if not line and p.poll() is not None:
            raise AssertionError(f"worker exited {p.returncode} before {prefix}: {p.stderr.read()[-3000:]}")
    raise AssertionError(f"worker did not print {prefix} within {timeout}s")


def _kill(p: subprocess.Popen) -> None:
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=30)
    assert p.returncode == -signal.SIGKILL


def _assert_consistent(store) -> None:
    """Every entry whole (φ checksum and format, key), totals agree with the rows, SQLite file intact."""
    assert store.verify() == []
    if store.dialect == "sqlite":
        with store.engine.connect() as c:
            assert c.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"


def test_four_processes_mixed_operations_keep_the_invariants(db, make_store, tmp_path):
    capacity, n_hot, n_proc, n_ops = 30, 6, 4, 200
    store = make_store(capacity=capacity, threshold=-1.0)
    hot = [store.insert(f"hot {i}", make_phi(value=0.0), SIG, embedding=unit(10_000 + i)).entry_id
           for i in range(n_hot)]
    for h in hot:  # a head start, so LFU keeps the hot entries while the workers evict around them
        for _ in range(3):
            store.record_use(h)
    go = tmp_path / "go"
    procs, outs = [], []
    for w in range(n_proc):
        out = tmp_path / f"out{w}.json"
        outs.append(out)
        procs.append(_spawn("mixed", {"url": db.url, "schema": db.schema, "capacity": capacity, "seed": w,
                                      "hot": hot, "go": str(go), "ops": n_ops, "out": str(out)}))
    time.sleep(1.0)
    go.touch()
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err[-3000:]
    results = [json.loads(o.read_text()) for o in outs]

    inserted = [i for r in results for i in r["inserted"]]
    evicted = [i for r in results for i in r["evicted"]]
    deleted = [i for r in results for i in r["deleted"]]
    uses = Counter()
    for r in results:
        uses.update(r["uses"])
    present = {e.id: e for e in store.list_entries()}

    assert len(inserted) > 150 and sum(r["updates"] for r in results) > 20 and len(evicted) > 50
    # no insert lost: every inserted id is present, deleted or evicted, exactly one of them
    assert len(set(inserted)) == len(inserted)
    assert len(set(evicted)) == len(evicted) and len(set(deleted)) == len(deleted)
    fates = Counter([*(i for i in inserted if i in present), *deleted, *evicted])
    assert set(fates) == set(inserted) and all(n == 1 for n in fates.values())
    assert set(present) == (set(inserted) - set(deleted) - set(evicted)) | (set(hot) & set(present))
    # capacity never exceeded (bound 0), neither at the end nor in any state a worker saw
    assert len(present) <= capacity and max(r["max_count"] for r in results) <= capacity
    # exact use counts on every surviving entry; the hot ones survived LFU
    assert set(hot) <= set(present)
    for entry_id, e in present.items():
        assert e.use_count == uses[entry_id] + (3 if entry_id in hot else 0), entry_id
    # totals kept in the meta row agree with what the workers saw
    st = store.stats()
    assert (st.inserted_total, st.deleted_total, st.evicted_total) == (len(inserted) + n_hot, len(deleted),
                                                                      len(evicted))
    # updates merged values in [0, 1] into zeros: every hot φ is valid and stays in [0, 1]
    from safetensors.numpy import load

    for h in hot:
        for v in load(store.load_phi(h)).values():
            assert 0.0 <= v.min() and v.max() <= 1.0
    _assert_consistent(store)


def test_recall_phi_while_other_processes_delete_and_insert(db, make_store, tmp_path):
    """Issue 15: recall -> load φ -> count the use is one transaction. While two processes delete and insert
    entries of the recalled layout, every hit's φ is that entry's own, every use is counted exactly once on
    the entries that survive, and a recall never fails (a vanished hit is at most a note)."""
    from ttom.planning.offline import plan_offline

    store = make_store(capacity=1000, threshold=-1.0)
    layout = plan_offline("a red circle to the left of a blue square")  # memworker.SCENE
    for n in range(6):
        store.insert(f"e{n}", make_phi(value=float(n)), SIG, embedding=unit(n % 7), layout=layout)
    go, procs, outs = tmp_path / "go", [], []
    for w, mode in enumerate(["churn", "churn", "recall", "recall"]):
        outs.append(tmp_path / f"out{w}.json")
        procs.append(_spawn(mode, {"url": db.url, "schema": db.schema, "capacity": 1000, "seed": w, "go": str(go),
                                   "ops": 60, "out": str(outs[-1])}))
    time.sleep(1.0)
    go.touch()
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
    churned = [json.loads(o.read_text()) for o in outs[:2]]
    recalls = [r for o in outs[2:] for r in json.loads(o.read_text())]
    hits = [r for r in recalls if r["entry"]]
    assert len(recalls) == 120 and len(hits) > 60
    assert all(r["phi_ok"] and r["mode"] == "skip" for r in hits)
    assert sum(len(c["deleted"]) for c in churned) > 10
    uses = Counter(r["entry"] for r in hits)
    for e in store.list_entries():
        assert e.use_count == uses[e.id], e.id
    _assert_consistent(store)


def test_kill_inside_an_open_write_transaction(db, make_store):
    store = make_store(capacity=100)
    before = [store.insert(f"s{i}", make_phi(seed=i), SIG, embedding=unit(i)).entry_id for i in range(3)]
    p = _spawn("hold", {"url": db.url, "schema": db.schema, "capacity": 100})
    line = _wait_for_line(p, "IN_TXN")
    half_written = line.split()[1]
    _kill(p)

    after = make_store(capacity=100)  # opens as a new process would
    assert sorted(e.id for e in after.list_entries()) == sorted(before)
    assert half_written not in {e.id for e in after.list_entries()}
    _assert_consistent(after)
    # the killed writer's lock is gone: writes go through (within the test's timeout)
    t0 = time.monotonic()
    new = after.insert("after the crash", make_phi(seed=9), SIG, embedding=unit(9)).entry_id
    assert time.monotonic() - t0 < 20
    assert after.load_phi(new) == make_phi(seed=9)
    assert [h.entry_id for h in after.recall(unit(1), SIG, top_k=1, threshold=0.99)] == [before[1]]


def test_kill_at_random_moments_of_a_write_loop(db, make_store):
    rnd = random.Random(0)
    store = make_store(capacity=5)
    store.insert("seed", make_phi(seed=0), SIG, embedding=unit(0))
    for round_ in range(3):
        p = _spawn("loop", {"url": db.url, "schema": db.schema, "capacity": 5, "seed": round_})
        _wait_for_line(p, "READY")
        time.sleep(rnd.uniform(0.05, 0.6))
        _kill(p)
        reopened = make_store(capacity=5)
        assert 1 <= reopened.count() <= 5
        _assert_consistent(reopened)
        entry = reopened.list_entries()[0]
        assert len(reopened.load_phi(entry.id)) == entry.phi_nbytes


def test_reads_do_not_wait_behind_a_writer(db, make_store, tmp_path):
    """Issue 18, item 9: opening the store, ls, show, stats, recall and verify take no write lock, so
    they finish while another process holds a write transaction open (SQLite's busy timeout is 60 s)."""
    from tests.helpers.memhelpers import ttom_cli

    store = make_store(capacity=100, threshold=0.5)
    ids = [store.insert(f"s{i}", make_phi(seed=i), SIG, embedding=unit(i)).entry_id for i in range(3)]
    p = _spawn("hold", {"url": db.url, "schema": db.schema, "capacity": 100})
    try:
        _wait_for_line(p, "IN_TXN")
        t0 = time.monotonic()
        reader = make_store(capacity=100, threshold=0.5)  # a new process opening the store
        assert sorted(e.id for e in reader.list_entries()) == sorted(ids)  # the open write is not visible
        assert reader.stats().entries == 3 and reader.get(ids[0]).id == ids[0]
        assert reader.load_phi(ids[1]) == make_phi(seed=1)
        assert [h.entry_id for h in reader.recall(unit(2), SIG, threshold=0.99)] == [ids[2]]
        assert reader.verify() == []
        if db.kind == "sqlite":
            out = ttom_cli("memory", "--db", db.url, "ls", "--json", cache_dir=str(tmp_path / "c"), timeout=50)
            assert out.returncode == 0, out.stderr
            assert sorted(r["id"] for r in json.loads(out.stdout)) == sorted(ids)
        assert p.poll() is None, "the writer must still hold its transaction"
        assert time.monotonic() - t0 < 45
    finally:
        _kill(p)
