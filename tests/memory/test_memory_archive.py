"""Export and import: a zip of JSON and safetensors; a bad archive writes nothing."""

from __future__ import annotations

import json
import zipfile

import pytest
from memhelpers import OTHER_SIG, SIG, make_phi, unit

from ttom.memory import ArchiveError


def _entries(store):
    return {e.id: e for e in store.list_entries()}


def test_export_import_round_trip(make_store, tmp_path):
    src = make_store(capacity=100)
    ids = [src.insert(f"scene {i}", make_phi(seed=i, sig=SIG if i % 2 else OTHER_SIG), SIG if i % 2 else OTHER_SIG,
                      quality=i / 10,
                      embedding=unit(i)).entry_id for i in range(5)]
    src.record_use(ids[0])
    path = tmp_path / "mem.zip"
    assert src.export_archive(path) == 5
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        assert {"manifest.json", "embeddings.safetensors"} | {f"phi/{i}.safetensors" for i in ids} == names
        assert not any(n.endswith((".pkl", ".pt", ".pth", ".bin")) for n in names)

    dst = make_store(fresh=True, capacity=100)
    res = dst.import_archive(path)
    assert sorted(res.imported) == sorted(ids) and res.skipped == [] and res.evicted == []
    a, b = _entries(src), _entries(dst)
    assert a == b  # every field, times and use counts included
    for i in ids:
        assert dst.load_phi(i) == src.load_phi(i)
    assert [h.entry_id for h in dst.recall(unit(3), SIG, threshold=0.99)] == [ids[3]]
    assert dst.verify() == []
    # importing again skips what is there; --replace overwrites
    again = dst.import_archive(path)
    assert again.imported == [] and sorted(again.skipped) == sorted(ids)
    rep = dst.import_archive(path, replace=True)
    assert sorted(rep.replaced) == sorted(ids) and dst.count() == 5 and dst.verify() == []


def test_import_past_capacity_evicts_by_lfu(make_store, tmp_path):
    src = make_store(capacity=100)
    ids = [src.insert(str(i), make_phi(seed=i), SIG, embedding=unit(i)).entry_id for i in range(4)]
    for n, i in enumerate(ids):
        for _ in range(n):
            src.record_use(i)
    src.export_archive(tmp_path / "m.zip")
    dst = make_store(fresh=True, capacity=2)
    res = dst.import_archive(tmp_path / "m.zip")
    assert sorted(res.evicted) == sorted(ids[:2]) and sorted(_entries(dst)) == sorted(ids[2:])


def _tamper(src, dst, fn):
    changed = False
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            orig = zin.read(info)
            data = fn(info.filename, orig)
            changed |= data != orig
            if data is not None:
                zout.writestr(info.filename, data)
    assert changed, "the tampering did not change the archive"


@pytest.mark.parametrize("what, fn, message", [
    ("flipped φ byte", lambda n, d: (d[:-1] + bytes([d[-1] ^ 1])) if n.startswith("phi/") else d, "checksum"),
    ("missing φ", lambda n, d: None if n.startswith("phi/") else d, "no member"),
    ("bad manifest", lambda n, d: b"{" if n == "manifest.json" else d, "not JSON"),
    ("wrong format", lambda n, d: json.dumps({"format": "x"}).encode() if n == "manifest.json" else d, "format"),
    ("bad quality", lambda n, d: d.replace(b'"quality": 0.2', b'"quality": "high"') if n == "manifest.json" else d,
     "quality"),
    ("bad signature", lambda n, d: d.replace(b'"rank": 4', b'"rank": NaN') if n == "manifest.json" else d,
     "signature|JSON"),
    ("bad embeddings", lambda n, d: d[:50] if n == "embeddings.safetensors" else d, "embeddings"),
])
def test_a_bad_archive_writes_nothing(make_store, tmp_path, what, fn, message):
    src = make_store()
    for i in range(3):
        src.insert(str(i), make_phi(seed=i), SIG, quality=i / 10, embedding=unit(i))
    src.export_archive(tmp_path / "good.zip")
    _tamper(tmp_path / "good.zip", tmp_path / "bad.zip", fn)
    dst = make_store(fresh=True)
    keep = dst.insert("already here", make_phi(seed=9), SIG, embedding=unit(9)).entry_id
    with pytest.raises(ArchiveError, match=message):
        dst.import_archive(tmp_path / "bad.zip")
    assert list(_entries(dst)) == [keep] and dst.verify() == []


def test_not_an_archive(make_store, tmp_path):
    store = make_store()
    (tmp_path / "x.zip").write_bytes(b"hello")
    with pytest.raises(ArchiveError, match="not a zip"):
        store.import_archive(tmp_path / "x.zip")
    with pytest.raises(ArchiveError, match="no such file"):
        store.import_archive(tmp_path / "missing.zip")
