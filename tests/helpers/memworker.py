"""Subprocess side of the memory concurrency and crash tests: ``python memworker.py MODE JSON-ARGS``.

mixed: a random mix of inserts, uses, recalls, deletes and updates; writes what it did (as JSON)
       so the parent can check the invariants against the database afterwards.
hold:  inserts an entry and stops inside the open write transaction (prints IN_TXN), to be killed.
loop:  inserts, uses and deletes without end (prints READY once going), to be killed at a random time.
churn: deletes entries of one layout and inserts new ones (φ filled with the entry's number), ``ops`` times.
recall: recall_phi with that layout ``ops`` times; writes each result (entry, its number, whether φ was that
       entry's, the notes) so the parent can check φ against the entry and the use counts.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from memhelpers import SIG, make_phi, unit  # a sibling: this file runs as a script

from ttom.memory import EntryNotFoundError, MemoryStore
from ttom.memory import repository as repo


def _store(a: dict) -> MemoryStore:
    return MemoryStore(a["url"], schema=a["schema"], capacity=a["capacity"], threshold=-1.0, top_k=3)


def mixed(a: dict) -> None:
    store = _store(a)
    rng = np.random.default_rng(a["seed"])
    hot: list[str] = a["hot"]
    go = Path(a["go"])
    while not go.exists():  # start together, so the operations really interleave
        time.sleep(0.01)
    out = {"inserted": [], "evicted": [], "deleted": [], "uses": {}, "updates": 0, "recalls": 0, "max_count": 0}
    mine: list[str] = []
    for i in range(a["ops"]):
        r = rng.random()
        if r < 0.35:
            res = store.insert(f"w{a['seed']} op{i}", make_phi(seed=i), SIG, quality=float(rng.random()),
                               embedding=unit(int(rng.integers(1 << 30))))
            mine.append(res.entry_id)
            out["inserted"].append(res.entry_id)
            out["evicted"].extend(res.evicted)
        elif r < 0.65:
            pool = hot if (rng.random() < 0.8 or not mine) else mine
            entry_id = pool[int(rng.integers(len(pool)))]
            try:
                store.record_use(entry_id)
                out["uses"][entry_id] = out["uses"].get(entry_id, 0) + 1
            except EntryNotFoundError:
                pass  # evicted or deleted by someone else: not a use
        elif r < 0.80:
            hits = store.recall(unit(int(rng.integers(1 << 30))), SIG)
            sims = [h.similarity for h in hits]
            assert len(hits) <= 3 and sims == sorted(sims, reverse=True), sims
            out["recalls"] += 1
        elif r < 0.90:
            if mine:
                entry_id = mine.pop(int(rng.integers(len(mine))))
                if store.delete(entry_id):
                    out["deleted"].append(entry_id)
        else:
            entry_id = hot[int(rng.integers(len(hot)))]
            store.update(entry_id, make_phi(value=float(rng.random())), similarity=float(rng.random()))
            out["updates"] += 1
        if i % 4 == 0:
            out["max_count"] = max(out["max_count"], store.count())
    Path(a["out"]).write_text(json.dumps(out))


def hold(a: dict) -> None:
    store = _store(a)
    row, data = store._new_row("killed mid-write", make_phi(seed=1, hidden=65536), SIG, 0.5,
                               unit(5), None)
    with store.session(write=True) as s:
        meta = repo.lock_meta(s)
        repo.add_entry(s, row, data, meta)
        repo.evict_lfu(s, store.capacity, meta, keep={row.id})
        print("IN_TXN", row.id, flush=True)
        time.sleep(120)


def loop(a: dict) -> None:
    store = _store(a)
    rng = np.random.default_rng(a["seed"])
    big = 32768  # hidden size: 1 MB of φ per write, so kills land inside writes often
    ids: list[str] = []
    for i in range(10**6):
        ids.append(store.insert(f"loop {i}", make_phi(seed=i % 7, hidden=big), SIG,
                                embedding=unit(int(rng.integers(1 << 30)))).entry_id)
        if i == 0:
            print("READY", flush=True)
        if rng.random() < 0.5:
            try:
                store.record_use(ids[int(rng.integers(len(ids)))])
            except EntryNotFoundError:
                pass
        if rng.random() < 0.2:
            store.delete(ids[int(rng.integers(len(ids)))])
        if rng.random() < 0.2:
            try:
                store.update(ids[-1], make_phi(seed=3, hidden=big), similarity=0.5)
            except EntryNotFoundError:
                pass


SCENE = "a red circle to the left of a blue square"


def churn(a: dict) -> None:
    from ttom.planning.offline import plan_offline

    store = _store(a)
    layout = plan_offline(SCENE)
    rng = np.random.default_rng(a["seed"])
    go = Path(a["go"])
    while not go.exists():
        time.sleep(0.01)
    inserted, deleted = [], []
    for i in range(a["ops"]):
        ids = [e.id for e in store.list_entries()]
        if ids and rng.random() < 0.5:
            victim = ids[int(rng.integers(len(ids)))]
            if store.delete(victim):
                deleted.append(victim)
        else:
            n = 1000 * (a["seed"] + 1) + i
            inserted.append(store.insert(f"e{n}", make_phi(value=float(n)), SIG, embedding=unit(n % 7),
                                         layout=layout).entry_id)
    Path(a["out"]).write_text(json.dumps({"inserted": inserted, "deleted": deleted}))


def recall(a: dict) -> None:
    from ttom.planning.offline import plan_offline

    store = _store(a)
    layout = plan_offline(SCENE)
    go = Path(a["go"])
    while not go.exists():
        time.sleep(0.01)
    results = []
    for i in range(a["ops"]):
        got = store.recall_phi(unit(i % 7), SIG, layout=layout)
        if got.hit is None:
            results.append({"entry": None, "notes": got.notes})
            continue
        n = int(got.hit.key_text[1:])
        results.append({"entry": got.hit.entry_id, "mode": got.hit.mode, "phi_ok": got.phi == make_phi(value=float(n)),
                        "notes": got.notes})
    Path(a["out"]).write_text(json.dumps(results))


if __name__ == "__main__":
    {"mixed": mixed, "hold": hold, "loop": loop, "churn": churn, "recall": recall}[sys.argv[1]](json.loads(sys.argv[2]))
