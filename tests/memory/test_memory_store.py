"""MemoryStore on real SQLite and real PostgreSQL: CRUD, recall, signatures, LFU, updates, corruption."""

from __future__ import annotations

import time

import numpy as np
import pytest
from safetensors.numpy import load
from sqlalchemy import select, update

from tests.helpers.memhelpers import DIM, OTHER_SIG, SIG, at_cosine, lora_shapes, make_phi, unit
from ttom.memory import (
    CorruptEntryError,
    EntryNotFoundError,
    InvalidPhiError,
    MemoryStore,
    MemoryStoreError,
    PhiMismatchError,
    SchemaVersionError,
    SignatureError,
)
from ttom.memory.models import EntryRow, MetaRow, PhiRow


def _raw_update(store: MemoryStore, stmt) -> None:
    """Change rows behind the store's back (as a broken disk or a careless admin would)."""
    with store.engine.begin() as c:
        c.execute(stmt)


def test_crud_round_trip(make_store):
    store = make_store()
    phi = make_phi(seed=3)
    res = store.insert("Direction: [left left left]. <object_0> <verb_0> leftwards.", phi, SIG, quality=0.8,
                       embedding=unit(1))
    e = res.entry
    assert res.evicted == [] and len(e.id) == 32
    assert e.signature == canonical(SIG) and e.quality == 0.8 and e.use_count == 0 and e.last_used_at is None
    assert e.created_at.tzinfo is not None and e.phi_nbytes == len(phi)

    # read back: entry, φ bytes (identical), tensors
    assert store.get(e.id) == e
    assert store.load_phi(e.id) == phi
    assert set(store.load_phi_tensors(e.id)) == set(load(phi))
    assert [x.id for x in store.list_entries()] == [e.id] and store.count() == 1

    # use
    used = store.record_use(e.id)
    assert used.use_count == 1 and used.last_used_at is not None and used.last_used_at >= e.created_at
    assert store.record_use(e.id).use_count == 2

    # delete
    assert store.delete(e.id) is True
    assert store.delete(e.id) is False
    assert store.count() == 0
    with pytest.raises(EntryNotFoundError, match=e.id):
        store.get(e.id)
    with pytest.raises(EntryNotFoundError):
        store.load_phi(e.id)
    with pytest.raises(EntryNotFoundError):
        store.record_use(e.id)
    assert store.verify() == []


def canonical(sig):
    from ttom.memory.phi import canonical_signature

    return canonical_signature(sig)[0]


def test_entries_survive_reopening(make_store):
    a = make_store()
    ids = [a.insert(f"scene {i}", make_phi(seed=i), SIG, embedding=unit(i)).entry_id for i in range(3)]
    a.close()
    b = make_store()
    assert sorted(e.id for e in b.list_entries()) == sorted(ids)
    assert all(b.load_phi(i) == make_phi(seed=n) for n, i in enumerate(ids))


def test_threshold_and_top_k(make_store):
    store = make_store(threshold=0.5, top_k=3)
    q = unit(0)
    cosines = [0.95, 0.8, 0.65, 0.55, 0.45, 0.1, -0.3]
    ids = {}
    for i, c in enumerate(cosines):
        ids[c] = store.insert(f"scene {c}", make_phi(seed=i), SIG, embedding=at_cosine(q, unit(100 + i), c)).entry_id

    hits = store.recall(q, SIG)  # defaults: top 3 above 0.5
    assert [h.entry_id for h in hits] == [ids[0.95], ids[0.8], ids[0.65]]
    assert [round(h.similarity, 4) for h in hits] == [0.95, 0.8, 0.65]

    hits = store.recall(q, SIG, top_k=10)  # everything above the threshold, best first
    assert [round(h.similarity, 4) for h in hits] == [0.95, 0.8, 0.65, 0.55]
    hits = store.recall(q, SIG, top_k=10, threshold=0.7)
    assert [h.entry_id for h in hits] == [ids[0.95], ids[0.8]]
    assert store.recall(q, SIG, threshold=0.96) == []
    hits = store.recall(q, SIG, top_k=1, threshold=-1.0)
    assert [h.entry_id for h in hits] == [ids[0.95]]
    assert hits[0].key_text == "scene 0.95"
    # a query that is not normalised is normalised; a wrong dimension is an error
    assert store.recall(3.0 * q, SIG, top_k=1)[0].entry_id == ids[0.95]
    with pytest.raises(ValueError, match="shape"):
        store.recall(np.ones(DIM + 1), SIG)
    with pytest.raises(ValueError, match="top_k"):
        store.recall(q, SIG, top_k=0)


def test_recall_only_returns_entries_of_the_running_signature(make_store):
    store = make_store(threshold=0.0, top_k=10)
    q = unit(0)
    mine = store.insert("a", make_phi(seed=1), SIG, embedding=at_cosine(q, unit(1), 0.7)).entry_id
    other = store.insert("b", make_phi(seed=2, sig=OTHER_SIG), OTHER_SIG, embedding=at_cosine(q, unit(2), 0.99)).entry_id
    assert [h.entry_id for h in store.recall(q, SIG)] == [mine]
    assert [h.entry_id for h in store.recall(q, OTHER_SIG)] == [other]
    # same signature written differently (key order, alpha as int) is the same signature
    same = {k: SIG[k] for k in reversed(list(SIG))} | {"alpha": int(SIG["alpha"])}
    assert [h.entry_id for h in store.recall(q, same)] == [mine]
    assert store.recall(q, {**SIG, "model_id": "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"}) == []
    assert [e.id for e in store.list_entries(signature=OTHER_SIG)] == [other]


def test_signature_in_phi_metadata_is_used_and_checked(make_store):

    store = make_store()
    phi = make_phi(value=1.0)
    e = store.insert("k", phi, embedding=unit(0)).entry  # signature taken from φ
    assert e.signature == canonical(SIG)
    with pytest.raises(SignatureError, match="differs"):
        store.insert("k", phi, OTHER_SIG, embedding=unit(0))
    for given in (None, SIG):  # φ must carry its signature: the engine refuses to load φ without one
        with pytest.raises(SignatureError, match="no adapter signature"):
            store.insert("k", make_phi(seed=0, sig=None), given, embedding=unit(0))
    other_phi = make_phi(value=1.0, sig=OTHER_SIG)
    with pytest.raises(SignatureError):
        store.update(e.id, other_phi, mode="replace")
    assert store.count() == 1 and store.load_phi(e.id) == phi


def test_bad_input_stores_nothing(make_store):
    store = make_store()
    good = store.insert("k", make_phi(seed=0), SIG, embedding=unit(0)).entry_id
    with pytest.raises(InvalidPhiError):
        store.insert("k", b"\x00" * 20, SIG, embedding=unit(0))
    with pytest.raises(InvalidPhiError):
        store.insert("k", {"a": [1, 2]}, SIG, embedding=unit(0))
    with pytest.raises(ValueError, match="empty"):
        store.insert("  ", make_phi(), SIG, embedding=unit(0))
    with pytest.raises(ValueError, match="zero"):
        store.insert("k", make_phi(), SIG, embedding=np.zeros(DIM))
    with pytest.raises(ValueError, match="finite"):
        store.insert("k", make_phi(), SIG, quality=float("inf"), embedding=unit(0))
    with pytest.raises(SignatureError):
        store.insert("k", make_phi(), {"bad": float("nan")}, embedding=unit(0))
    with pytest.raises(MemoryStoreError, match="already exists"):
        store.insert("k", make_phi(), SIG, embedding=unit(0), entry_id=good)
    assert [e.id for e in store.list_entries()] == [good]
    assert store.stats().inserted_total == 1 and store.verify() == []


def test_phi_given_as_tensors(make_store):
    import torch

    store = make_store()
    a, b = lora_shapes()  # dict φ is serialised with the given signature in its metadata
    e = store.insert("k", {a: torch.arange(32, dtype=torch.float32).reshape(4, 8), b: torch.zeros(8, 4)}, SIG,
                     embedding=unit(0)).entry
    assert store.load_phi_tensors(e.id)[a][0].tolist() == list(range(8))
    e2 = store.insert("k2", {a: np.ones((4, 8), np.float16), b: np.ones((8, 4), np.float16)}, SIG,
                      embedding=unit(1)).entry
    assert load(store.load_phi(e2.id))[a].dtype == np.float16


def test_lfu_eviction_with_lru_tie_break(make_store):
    store = make_store(capacity=3)
    a, b, c = (store.insert(n, make_phi(seed=i), SIG, embedding=unit(i)).entry_id for i, n in enumerate("abc"))
    for _ in range(2):
        store.record_use(a)
    store.record_use(b)
    store.record_use(c)  # b and c: one use each, b's is older
    d = store.insert("d", make_phi(seed=4), SIG, embedding=unit(4))
    assert d.evicted == [b]  # fewest uses, tie broken by least recently used
    e = store.insert("e", make_phi(seed=5), SIG, embedding=unit(5))
    assert e.evicted == [d.entry_id]  # d has no uses; e itself, just inserted, is never the victim
    assert sorted(x.id for x in store.list_entries()) == sorted([a, c, e.entry_id])
    # two never-used entries: the older one goes first
    store.record_use(c)
    store.record_use(c)
    f = store.insert("f", make_phi(seed=6), SIG, embedding=unit(6))
    assert f.evicted == [e.entry_id]
    assert [x.id for x in store.list_entries("lfu")] == [f.entry_id, a, c]
    st = store.stats()
    assert (st.entries, st.inserted_total, st.evicted_total, st.deleted_total) == (3, 6, 3, 0)
    assert store.recall(unit(1), SIG, threshold=0.99) == []  # b's key is gone from recall too


def test_prune_evicts_down_to_a_capacity(make_store):
    store = make_store(capacity=10)
    ids = [store.insert(str(i), make_phi(seed=i), SIG, embedding=unit(i)).entry_id for i in range(6)]
    for i, entry_id in enumerate(ids):
        for _ in range(i % 3):
            store.record_use(entry_id)
    order = [e.id for e in store.list_entries("lfu")]
    dry = store.prune(capacity=4, dry_run=True)
    assert dry.evicted == order[:2] and store.count() == 6
    res = store.prune(capacity=4)
    assert res.evicted == order[:2]
    assert sorted(e.id for e in store.list_entries()) == sorted(order[2:])
    assert store.prune(capacity=4).evicted == []


def test_update_weighted_mean_numbers(make_store):
    store = make_store()
    rng = np.random.default_rng(7)
    old = {k: rng.normal(size=s).astype(np.float32) for k, s in lora_shapes().items()}
    new = {k: rng.normal(size=s).astype(np.float32) for k, s in lora_shapes().items()}
    e = store.insert("k", old, SIG, quality=0.6, embedding=unit(0)).entry
    store.record_use(e.id)
    s = 0.8
    up = store.update(e.id, new, similarity=s, quality=0.9)
    got = load(store.load_phi(e.id))
    for k in old:
        np.testing.assert_allclose(got[k], (old[k].astype(np.float64) + s * new[k]) / (1 + s), rtol=1e-6, atol=1e-7)
    assert up.quality == pytest.approx((0.6 + s * 0.9) / (1 + s))
    assert up.use_count == 1 and up.key_text == "k" and up.updated_at >= e.updated_at
    assert up.phi_sha256 != e.phi_sha256

    # a second update merges into the merged value
    newer = {k: np.ones_like(v) for k, v in new.items()}
    store.update(e.id, newer, similarity=0.25)
    got2 = load(store.load_phi(e.id))
    for k in old:
        np.testing.assert_allclose(got2[k], (got[k].astype(np.float64) + 0.25) / 1.25, rtol=1e-6, atol=1e-7)

    # replace
    rep = store.update(e.id, newer, mode="replace", quality=0.1)
    assert rep.quality == 0.1
    for k in old:
        np.testing.assert_array_equal(load(store.load_phi(e.id))[k], newer[k])
    assert store.verify() == []


def test_update_refuses_mismatched_phi_and_keeps_the_old(make_store):
    store = make_store()
    e = store.insert("k", make_phi(seed=1), SIG, embedding=unit(0)).entry
    with pytest.raises(PhiMismatchError, match="shape"):
        store.update(e.id, make_phi(seed=2, shapes={"transformer.blocks.0.attn1.to_q.lora_A.weight": (4, 9),
                                                    "transformer.blocks.0.attn1.to_q.lora_B.weight": (8, 4)}),
                     similarity=0.9)
    with pytest.raises(InvalidPhiError, match="not named as a LoRA"):  # checked before any merge
        store.update(e.id, make_phi(seed=2, shapes={"x": (2,)}), similarity=0.9)
    with pytest.raises(ValueError, match="similarity"):
        store.update(e.id, make_phi(seed=2), similarity=1.5)
    with pytest.raises(ValueError, match="needs the similarity"):
        store.update(e.id, make_phi(seed=2))
    with pytest.raises(EntryNotFoundError):
        store.update("0" * 32, make_phi(seed=2), similarity=0.5)
    assert store.load_phi(e.id) == make_phi(seed=1)
    assert store.get(e.id).phi_sha256 == e.phi_sha256


def test_memorize_inserts_on_a_miss_and_merges_on_a_hit(make_store):
    store = make_store(threshold=0.8)
    q = unit(0)
    w1 = store.memorize("k", make_phi(value=1.0), SIG, quality=0.5, embedding=q)
    assert w1.action == "insert"
    [hit] = store.recall(at_cosine(q, unit(1), 0.9), SIG)
    assert hit.entry_id == w1.entry_id and hit.similarity == pytest.approx(0.9, abs=1e-5)
    w2 = store.memorize("k'", make_phi(value=3.0), SIG, quality=0.7, hit=hit)
    assert (w2.action, w2.entry_id) == ("update", w1.entry_id)
    vals = load(store.load_phi(w1.entry_id))
    s = hit.similarity
    for v in vals.values():
        np.testing.assert_allclose(v, (1.0 + s * 3.0) / (1 + s), rtol=1e-6)
    # the hit's entry was evicted meanwhile: the write becomes an insert
    store.delete(w1.entry_id)
    w3 = store.memorize("k", make_phi(value=2.0), SIG, hit=hit, embedding=q)
    assert w3.action == "insert" and w3.entry_id != w1.entry_id


def test_corrupted_blob_fails_alone(make_store):
    store = make_store(threshold=-1.0, top_k=10)
    ids = [store.insert(f"scene {i}", make_phi(seed=i), SIG, embedding=unit(i)).entry_id for i in range(4)]
    bad, flipped, gone = ids[0], ids[1], ids[2]
    # truncate one φ, flip one byte of another (same length), delete a third's φ row
    _raw_update(store, update(PhiRow).where(PhiRow.entry_id == bad).values(data=make_phi(seed=0)[:40]))
    data = bytearray(make_phi(seed=1))
    data[-1] ^= 0xFF
    _raw_update(store, update(PhiRow).where(PhiRow.entry_id == flipped).values(data=bytes(data)))
    from sqlalchemy import delete
    _raw_update(store, delete(PhiRow).where(PhiRow.entry_id == gone))

    with pytest.raises(CorruptEntryError, match=bad) as ei:
        store.load_phi(bad)
    assert ei.value.entry_id == bad and "checksum" in ei.value.problem
    with pytest.raises(CorruptEntryError, match=f"{flipped}.*checksum"):
        store.load_phi(flipped)
    with pytest.raises(CorruptEntryError, match=f"{gone}.*missing"):
        store.load_phi(gone)
    # the rest of the store works: recall, load, insert, update
    assert store.load_phi(ids[3]) == make_phi(seed=3)
    assert [h.entry_id for h in store.recall(unit(3), SIG, top_k=1)] == [ids[3]]
    assert len(store.recall(unit(3), SIG)) == 4
    new = store.insert("new", make_phi(seed=9), SIG, embedding=unit(9)).entry_id
    assert store.load_phi(new) == make_phi(seed=9)
    with pytest.raises(CorruptEntryError):
        store.update(bad, make_phi(seed=5), similarity=0.5)  # cannot merge into a damaged φ
    assert store.memorize("x", make_phi(seed=5), SIG, hit=store.recall(unit(0), SIG, top_k=1)[0]).action == "update"
    assert store.load_phi(bad) == make_phi(seed=5)  # memorize replaced the damaged φ
    problems = {p.entry_id: p.problem for p in store.verify()}
    assert set(problems) == {flipped, gone}
    res = store.prune(invalid=True)
    assert sorted(p.entry_id for p in res.invalid) == sorted([flipped, gone])
    assert sorted(e.id for e in store.list_entries()) == sorted([bad, ids[3], new])
    assert store.verify() == []


def test_corrupted_embedding_is_skipped_by_recall(make_store):
    store = make_store(threshold=-1.0, top_k=10)
    ids = [store.insert(f"s{i}", make_phi(seed=i), SIG, embedding=unit(i)).entry_id for i in range(3)]
    _raw_update(store, update(EntryRow).where(EntryRow.id == ids[0]).values(embedding=b"\x01\x02\x03"))
    _raw_update(store, update(EntryRow).where(EntryRow.id == ids[1]).values(
        embedding=(unit(1) * 5).astype("<f4").tobytes()))
    # bump the generation as any store write would, so the cached matrix is rebuilt
    store.insert("s3", make_phi(seed=3), SIG, embedding=unit(3))
    hits = store.recall(unit(2), SIG)
    assert ids[2] in [h.entry_id for h in hits] and ids[0] not in [h.entry_id for h in hits]
    assert ids[1] not in [h.entry_id for h in hits]
    assert {p.entry_id for p in store.verify()} == {ids[0], ids[1]}


def test_a_newer_schema_is_refused(make_store):
    store = make_store()
    _raw_update(store, update(MetaRow).values(schema_version=99))
    with pytest.raises(SchemaVersionError, match="schema version 99"):
        make_store()


def test_recall_sees_writes_of_another_store(make_store):
    """Two stores on one database stand for two processes: the generation invalidates the cache."""
    a, b = make_store(threshold=0.9), make_store(threshold=0.9)
    assert a.recall(unit(0), SIG) == []
    x = b.insert("x", make_phi(), SIG, embedding=unit(0)).entry_id
    assert [h.entry_id for h in a.recall(unit(0), SIG)] == [x]
    b.delete(x)
    assert a.recall(unit(0), SIG) == []
    with a.session() as s:
        assert s.execute(select(MetaRow.generation)).scalar_one() == 2


def test_resolve_id_prefixes(make_store):
    from ttom.memory.errors import AmbiguousIdError

    store = make_store()
    a = store.insert("k", make_phi(), SIG, embedding=unit(0), entry_id="abcd1" + "0" * 27).entry_id
    b = store.insert("k", make_phi(), SIG, embedding=unit(0), entry_id="abcd2" + "0" * 27).entry_id
    assert store.resolve_id("abcd1") == a and store.resolve_id(b.upper()) == b
    with pytest.raises(AmbiguousIdError, match="abcd"):
        store.resolve_id("abcd")
    with pytest.raises(EntryNotFoundError, match="no memory entry"):
        store.resolve_id("ffff")
    for bad in ("abc", "not-an-id"):  # too short, not hex: refused before any query
        with pytest.raises(EntryNotFoundError, match="not a memory entry id"):
            store.resolve_id(bad)


def test_bad_settings_are_refused(db):
    for kw, msg in [({"capacity": 0}, "capacity"), ({"threshold": 2.0}, "threshold"), ({"top_k": 0}, "top_k")]:
        args = {"capacity": 10, "threshold": 0.5, "top_k": 1} | kw
        with pytest.raises(MemoryStoreError, match=msg):
            MemoryStore(db.url, schema=db.schema, **args)


def test_unreachable_or_unknown_databases_give_clear_errors(tmp_path):
    with pytest.raises(MemoryStoreError, match="only sqlite"):
        MemoryStore("mysql://x/y", capacity=1, threshold=0.5, top_k=1)
    t0 = time.monotonic()
    with pytest.raises(MemoryStoreError, match="cannot open the memory database"):
        MemoryStore("postgresql+psycopg://nobody@127.0.0.1:1/none", capacity=1, threshold=0.5, top_k=1)
    assert time.monotonic() - t0 < 10


def test_default_url_comes_from_the_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("TTOM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TTOM_MEMORY_CAPACITY", "7")
    from ttom.config import get_settings

    get_settings.cache_clear()
    with MemoryStore() as store:
        assert store.capacity == 7 and store.dialect == "sqlite"
        assert (tmp_path / "cache" / "memory.sqlite").exists()


def _cached_keys(store: MemoryStore) -> dict:
    """What the store's key cache holds, per group: {id: embedding bytes}."""
    with store.session() as s:
        idx = store._current_index(s)
    return {k: dict(zip(g.ids, (r.tobytes() for r in g.mat), strict=True)) for k, g in idx.groups.items() if g.ids}


@pytest.mark.parametrize("keep", [10_000, 3])
def test_incremental_key_cache_matches_a_full_reload(make_store, monkeypatch, tmp_path, keep):
    """Store A keeps its key cache across writes by store B; after every write it must equal a fresh load.

    keep=3 trims the removal log so often that A falls behind it and must reload in full.
    """
    from ttom.memory import models

    monkeypatch.setattr(models, "REMOVALS_KEEP", keep)
    rnd = np.random.default_rng(1)
    a, b = make_store(capacity=8, threshold=-1.0), make_store(capacity=8, threshold=-1.0)
    live: list[str] = []
    for step in range(40):
        op = rnd.random()
        if op < 0.55 or not live:
            sig = SIG if step % 3 else OTHER_SIG
            res = b.insert(f"k{step}", make_phi(seed=step, sig=sig), sig,
                           embedding=unit(step))
            live = [i for i in live if i not in res.evicted] + [res.entry_id]
        elif op < 0.75:
            victim = live.pop(int(rnd.integers(len(live))))
            assert b.delete(victim)
        elif op < 0.9:
            b.record_use(live[int(rnd.integers(len(live)))])  # no new generation
        else:
            b.export_archive(tmp_path / "x.zip")  # re-import with replace: same ids, new seqs
            b.import_archive(tmp_path / "x.zip", replace=True)
        if step % 2:  # A sometimes misses several generations at once
            fresh = make_store(capacity=8)
            assert _cached_keys(a) == _cached_keys(fresh), step
            fresh.close()
    assert sorted(i for g in _cached_keys(a).values() for i in g) == sorted(live)
