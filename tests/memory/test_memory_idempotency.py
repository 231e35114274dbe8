"""Memorize is idempotent across a resume (issue 18, item 6), and schema 1 files are migrated to 2."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import load
from sqlalchemy import select, text

from tests.helpers.memhelpers import SIG, at_cosine, make_phi, unit
from ttom.memory import DuplicateWriteError
from ttom.memory.models import SCHEMA_VERSION, MetaRow, WriteRow


def test_a_repeated_insert_writes_nothing(make_store):
    store = make_store()
    first = store.insert("k", make_phi(seed=1), SIG, embedding=unit(0), request_key="thread-a:1:1")
    with pytest.raises(DuplicateWriteError, match=first.entry_id) as ei:
        store.insert("k", make_phi(seed=1), SIG, embedding=unit(0), request_key="thread-a:1:1")
    assert (ei.value.entry_id, ei.value.action) == (first.entry_id, "insert")
    assert store.count() == 1 and store.stats().inserted_total == 1
    # another key is another write
    store.insert("k", make_phi(seed=1), SIG, embedding=unit(0), request_key="thread-a:2:1")
    assert store.count() == 2


def test_memorize_after_a_resume_does_not_insert_twice(make_store):
    """A kill between the memory's commit and the checkpoint: the resumed run memorizes again."""
    store = make_store(threshold=0.8)
    w1 = store.memorize("k", make_phi(seed=1), SIG, quality=0.5, embedding=unit(0), request_key="t:1:2")
    w2 = store.memorize("k", make_phi(seed=1), SIG, quality=0.5, embedding=unit(0), request_key="t:1:2")
    assert (w1.action, w1.replayed) == ("insert", False)
    assert (w2.action, w2.entry_id, w2.replayed) == ("insert", w1.entry_id, True)
    assert store.count() == 1 and store.stats().inserted_total == 1
    # without a key the store cannot tell: a second entry (the old behaviour, kept for callers without one)
    store.memorize("k", make_phi(seed=1), SIG, embedding=unit(0))
    assert store.count() == 2


def test_memorize_on_a_hit_applies_the_update_once(make_store):
    store = make_store(threshold=0.8)
    q = unit(0)
    e = store.insert("k", make_phi(value=1.0), SIG, quality=0.4, embedding=q).entry
    [hit] = store.recall(at_cosine(q, unit(1), 0.9), SIG)
    s = hit.similarity
    for n in range(3):  # the first call and two resumes
        w = store.memorize("k'", make_phi(value=3.0), SIG, quality=0.8, hit=hit, request_key="t:7:1")
        assert (w.action, w.entry_id, w.replayed) == ("update", e.id, n > 0)
    for v in load(store.load_phi(e.id)).values():
        np.testing.assert_allclose(v, (1.0 + s * 3.0) / (1 + s), rtol=1e-6)  # merged once, not three times
    assert store.get(e.id).quality == pytest.approx((0.4 + s * 0.8) / (1 + s))
    # the entry is evicted before the resume: still no new entry
    store.delete(e.id)
    w = store.memorize("k'", make_phi(value=3.0), SIG, hit=hit, request_key="t:7:1")
    assert (w.action, w.entry_id, w.replayed) == ("update", e.id, True) and store.count() == 0


def test_request_keys_are_checked_and_long_ones_hashed(make_store):
    store = make_store()
    with pytest.raises(ValueError, match="request_key"):
        store.insert("k", make_phi(), SIG, embedding=unit(0), request_key="  ")
    long_key = "x" * 500
    store.insert("k", make_phi(), SIG, embedding=unit(0), request_key=long_key)
    with pytest.raises(DuplicateWriteError):
        store.insert("k", make_phi(), SIG, embedding=unit(0), request_key=long_key)


def test_the_writes_log_is_trimmed(make_store, monkeypatch):
    from ttom.memory import models

    monkeypatch.setattr(models, "WRITES_KEEP", 3)
    store = make_store()
    for i in range(8):
        store.insert("k", make_phi(seed=i), SIG, embedding=unit(i), request_key=f"t:{i}:1")
    with store.session() as s:
        keys = list(s.scalars(select(WriteRow.request_key).order_by(WriteRow.seq)))
    assert len(keys) < 8 and keys[-1] == "t:7:1"


def _downgrade_to_schema_1(store) -> None:
    """Make the store's database exactly what schema 1 (ttom before this change) wrote."""
    prefix = f'"{store.schema}".' if store.schema else ""
    with store.engine.begin() as c:
        c.execute(text(f"DROP TABLE {prefix}ttom_memory_writes"))
        for column in ("problem", "scene_json", "structure_hash"):  # schema 3 added the last two
            c.execute(text(f"ALTER TABLE {prefix}ttom_memory_entries DROP COLUMN {column}"))
        c.execute(text(f"UPDATE {prefix}ttom_memory_meta SET schema_version = 1"))


def test_a_schema_1_memory_is_migrated_and_keeps_everything(make_store):
    old = make_store(threshold=0.9)
    ids = [old.insert(f"s{i}", make_phi(seed=i), SIG, quality=i / 10, embedding=unit(i)).entry_id for i in range(3)]
    old.record_use(ids[1])
    before = {e.id: e for e in old.list_entries()}
    old.close()
    _downgrade_to_schema_1(old)

    new = make_store(threshold=0.9)  # opening migrates, in one transaction
    with new.session() as s:
        assert s.scalar(select(MetaRow.schema_version)) == SCHEMA_VERSION == 3
    assert {e.id: e for e in new.list_entries()} == before
    assert all(new.load_phi(i) == make_phi(seed=n) for n, i in enumerate(ids)) and new.verify() == []
    assert [h.entry_id for h in new.recall(unit(2), SIG)] == [ids[2]]
    w = new.memorize("s9", make_phi(seed=9), SIG, embedding=unit(9), request_key="t:1:1")
    assert new.memorize("s9", make_phi(seed=9), SIG, embedding=unit(9), request_key="t:1:1").replayed
    assert new.count() == 4 and w.action == "insert"
