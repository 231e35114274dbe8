"""Poisoned φ (issue 18, item 2): NaN or infinite values, wrong shapes, an integer dtype, renamed or
missing tensors, no signature. Refused by insert and import, flagged by ``prune --invalid``, passed
over (and quarantined) at recall; the engine stops TTO on a non-finite loss or φ."""

from __future__ import annotations

import ast
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import update

from tests.helpers.memhelpers import SIG, lora_shapes, make_phi, one_error_line, ttom_cli, unit
from ttom.memory import ArchiveError, MemoryStoreError
from ttom.memory.models import EntryRow, PhiRow
from ttom.memory.phi import check_phi, sha256

A, B = lora_shapes()

POISONS = {
    "nan": (lambda: make_phi(value=float("nan")), "NaN or infinite"),
    "inf": (lambda: make_phi(value=float("inf")), "NaN or infinite"),
    "nan in one float16 value": (lambda: _one_bad_value(np.float16), "NaN or infinite"),
    "wrong rank": (lambda: make_phi(shapes={A: (3, 8), B: (8, 3)}), "rank 4"),
    "wrong shape": (lambda: make_phi(shapes={A: (4, 8, 1), B: (8, 4)}), "shape"),
    "integer dtype": (lambda: make_phi(dtype=np.int32), "dtype I32"),
    "renamed tensor": (lambda: make_phi(shapes={A.replace("to_q", "to_k"): (4, 8), B: (8, 4)}), "not in the adapter"),
    "not a LoRA name": (lambda: make_phi(shapes={"w": (4, 8), B: (8, 4)}), "not named as a LoRA"),
    "missing tensor": (lambda: make_phi(shapes={A: (4, 8)}), "lacks 1 of the 2"),
    "no signature": (lambda: make_phi(sig=None), "no adapter signature"),
}


def _one_bad_value(dtype) -> bytes:
    from safetensors.numpy import save

    a = np.ones((4, 8), dtype)
    a[2, 5] = np.nan
    return save({A: a, B: np.ones((8, 4), dtype)}, metadata={"ttom_signature": json.dumps(SIG)})


def test_archive_and_store_do_not_import_each_other():
    """φ validation lives in phi.py; archive.py reaches the store through a protocol, not by import."""
    src = Path(__file__).resolve().parents[2] / "ttom" / "memory" / "archive.py"
    imported = {n.module for n in ast.walk(ast.parse(src.read_text())) if isinstance(n, ast.ImportFrom)}
    assert "ttom.memory.store" not in imported
    assert "_checked_phi" not in src.read_text()


def test_good_phi_passes():
    info = check_phi(make_phi(), SIG)
    assert [t.name for t in info.tensors] == sorted([A, B])


@pytest.mark.parametrize("what", list(POISONS))
def test_insert_refuses_poisoned_phi(make_store, what):
    store = make_store()
    make, message = POISONS[what]
    with pytest.raises(MemoryStoreError, match=message):
        store.insert("k", make(), SIG, embedding=unit(0))
    assert store.count() == 0 and store.stats().inserted_total == 0


def _poisoned_archive(store, tmp_path: Path, poison: bytes) -> tuple[Path, str]:
    """An export of one good entry whose φ member is swapped for ``poison``, checksum fixed up (as a
    careful attacker, or an older ttom's export of a poisoned entry, would have it)."""
    entry_id = store.insert("scene", make_phi(seed=1), SIG, embedding=unit(1)).entry_id
    good = tmp_path / "good.zip"
    store.export_archive(good)
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bad, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == f"phi/{entry_id}.safetensors":
                data = poison
            elif info.filename == "manifest.json":
                manifest = json.loads(data)
                manifest["entries"][0]["phi_sha256"] = sha256(poison)
                data = json.dumps(manifest).encode()
            zout.writestr(info.filename, data)
    return bad, entry_id


@pytest.mark.parametrize("what", list(POISONS))
def test_import_refuses_poisoned_phi(make_store, tmp_path, what):
    make, message = POISONS[what]
    bad, entry_id = _poisoned_archive(make_store(), tmp_path, make())
    dst = make_store(fresh=True)
    with pytest.raises(ArchiveError, match=f"{entry_id}.*{message}"):
        dst.import_archive(bad)
    assert dst.count() == 0


@pytest.mark.parametrize("what", ["nan", "integer dtype", "renamed tensor", "no signature"])
def test_memory_import_command_says_one_line(db, make_store, tmp_path, what):
    if db.kind != "sqlite":
        pytest.skip("the command line is the same on PostgreSQL")
    make, message = POISONS[what]
    bad, entry_id = _poisoned_archive(make_store(), tmp_path, make())
    target = tmp_path / "target.sqlite"
    p = ttom_cli("memory", "--db", f"sqlite:///{target}", "import", str(bad), cache_dir=str(tmp_path / "c"))
    line = one_error_line(p)
    assert entry_id in line and message.split()[0] in line


def _poison_in_place(store, entry_id: str, poison: bytes) -> None:
    """What a pre-hardening import left behind: a poisoned φ with a matching checksum."""
    with store.engine.begin() as c:
        c.execute(update(PhiRow).where(PhiRow.entry_id == entry_id).values(data=poison))
        c.execute(update(EntryRow).where(EntryRow.id == entry_id).values(phi_sha256=sha256(poison),
                                                                          phi_nbytes=len(poison)))


def test_prune_invalid_flags_poisoned_entries(make_store):
    store = make_store()
    ids = [store.insert(f"s{i}", make_phi(seed=i), SIG, embedding=unit(i)).entry_id for i in range(len(POISONS) + 1)]
    for entry_id, (make, _) in zip(ids, POISONS.values(), strict=False):
        _poison_in_place(store, entry_id, make())
    found = {p.entry_id: p.problem for p in store.verify()}
    assert set(found) == set(ids[:-1])
    for entry_id, (_, message) in zip(ids, POISONS.values(), strict=False):
        assert message.split()[0] in found[entry_id], (entry_id, found[entry_id])
    res = store.prune(invalid=True)
    assert sorted(p.entry_id for p in res.invalid) == sorted(ids[:-1])
    assert [e.id for e in store.list_entries()] == [ids[-1]] and store.verify() == []


def test_recall_passes_over_and_quarantines_a_poisoned_phi(make_store):
    store = make_store(threshold=0.5, top_k=3)
    other = make_store(threshold=0.5, top_k=3)  # another process, with its own key cache
    q = unit(0)
    poisoned = store.insert("best", make_phi(seed=1), SIG, embedding=q).entry_id
    good = store.insert("second", make_phi(seed=2), SIG, embedding=(0.9 * q + 0.1 * unit(1))).entry_id
    _poison_in_place(store, poisoned, make_phi(value=float("nan")))
    assert [h.entry_id for h in other.recall(q, SIG)] == [poisoned, good]

    got = store.recall_phi(q, SIG)
    assert got.hit.entry_id == good and got.phi == make_phi(seed=2)
    assert len(got.notes) == 1 and poisoned in got.notes[0] and "NaN" in got.notes[0]
    assert store.get(good).use_count == 1 and store.get(poisoned).use_count == 0
    # quarantined: no process recalls it any more; it is kept for `show`, and prune --invalid removes it
    assert [h.entry_id for h in store.recall(q, SIG)] == [good]
    assert [h.entry_id for h in other.recall(q, SIG)] == [good]
    assert "NaN" in store.get(poisoned).problem
    assert [p.entry_id for p in store.verify()] == [poisoned]
    assert [p.entry_id for p in store.prune(invalid=True).invalid] == [poisoned]
    # nothing usable at all: no φ, and the note says why
    _poison_in_place(store, good, make_phi(sig=None))
    empty = store.recall_phi(q, SIG)
    assert empty.hit is None and empty.phi is None and "no adapter signature" in empty.notes[0]


def test_replacing_a_quarantined_entry_brings_it_back(make_store):
    store, other = make_store(threshold=0.5), make_store(threshold=0.5)
    e = store.insert("k", make_phi(seed=1), SIG, embedding=unit(0)).entry_id
    assert other.recall(unit(0), SIG)
    store.quarantine(e, "tested")
    assert store.recall(unit(0), SIG) == [] and other.recall(unit(0), SIG) == []
    store.update(e, make_phi(seed=3), mode="replace")
    assert store.get(e).problem is None and store.verify() == []
    assert [h.entry_id for h in other.recall(unit(0), SIG)] == [e]


def test_memorize_replaces_a_poisoned_hit(make_store):
    """A hit whose stored φ is poisoned is not merged into (NaN would spread): the new φ replaces it."""
    store = make_store(threshold=0.5)
    e = store.insert("k", make_phi(seed=1), SIG, embedding=unit(0)).entry_id
    _poison_in_place(store, e, make_phi(value=float("inf")))
    [hit] = store.recall(unit(0), SIG)
    w = store.memorize("k", make_phi(value=2.0), SIG, hit=hit)
    assert (w.action, w.entry_id) == ("update", e)
    assert store.load_phi(e) == make_phi(value=2.0) and store.verify() == []


# --- the engine's guard ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny():
    from ttom.engine.backends import load_backend
    from ttom.layout import Layout

    backend = load_backend("tiny-cogvideox", device="cpu", dtype=None)
    layout = Layout.model_validate({"prompt": "a red car drives to the left", "objects": [
        {"id": 0, "name": "car", "phrase": "a red car", "keyframes": [{"t": 0, "box": [0.5, 0.5, 0.9, 0.9]},
                                                                       {"t": 1, "box": [0.1, 0.5, 0.4, 0.9]}]}]})
    return backend, layout


def test_tto_stops_on_a_non_finite_phi_and_keeps_the_video_clean(tiny):
    from ttom.engine.tto import TTOConfig, generate

    backend, layout = tiny
    plain = generate(backend, layout, TTOConfig(mode="off"), steps=4)
    # lr = inf: the first AdamW step leaves φ infinite/NaN
    r = generate(backend, layout, TTOConfig(steps=2, iterations=3, lr=float("inf"), loss_threshold=0.0), steps=4)
    assert r.stopped and "NaN or infinite" in r.stopped and "step 0, iteration 0" in r.stopped
    assert r.tto_report()["stopped"] == r.stopped
    assert r.phi is None  # nothing to memorize
    assert all(np.isfinite(v) for step in r.losses for v in step)
    json.dumps(r.tto_report(), allow_nan=False)  # strict JSON: no bare NaN in report.json
    np.testing.assert_array_equal(r.frames, plain.frames)  # the base model's video, not a black one


def test_warm_start_refuses_a_nan_phi(tiny):
    from safetensors.torch import load, save

    from ttom.engine.adapters import PhiFormatError
    from ttom.engine.tto import TTOConfig, generate

    backend, layout = tiny
    good = generate(backend, layout, TTOConfig(steps=1, iterations=1), steps=2)
    assert good.stopped is None and good.phi is not None
    header = json.loads(good.phi[8:8 + int.from_bytes(good.phi[:8], "little")])
    nan = save({k: v.fill_(float("nan")) for k, v in load(good.phi).items()}, metadata=header["__metadata__"])
    with pytest.raises(PhiFormatError, match="NaN"):
        generate(backend, layout, TTOConfig(mode="warm", steps=1, iterations=1), phi=nan, steps=2)
