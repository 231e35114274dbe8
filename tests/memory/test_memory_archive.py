"""Export and import: a zip of JSON and safetensors; a bad archive writes nothing."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.helpers.memhelpers import OTHER_SIG, SIG, make_phi, unit
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


def _bomb(src, tmp_path, expand_to: int):
    """A real export of one entry whose φ member is replaced by ``expand_to`` zero bytes (deflated to
    a few KB); the manifest's checksum matches them, so only the size limit can stop the read."""
    entry_id = src.insert("scene", make_phi(seed=1), SIG, embedding=unit(1)).entry_id
    src.export_archive(tmp_path / "good.zip")
    zeros = bytes(expand_to)
    from ttom.memory.phi import sha256

    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(tmp_path / "good.zip") as zin, zipfile.ZipFile(bomb, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.startswith("phi/"):
                zout.writestr(info.filename, zeros, compress_type=zipfile.ZIP_DEFLATED)
                continue
            if info.filename == "manifest.json":
                manifest = json.loads(data)
                manifest["entries"][0]["phi_sha256"] = sha256(zeros)
                data = json.dumps(manifest).encode()
            zout.writestr(info.filename, data)
    return bomb, entry_id


def test_a_zip_bomb_is_refused_before_it_is_read(make_store, tmp_path):
    import tracemalloc

    bomb, entry_id = _bomb(make_store(), tmp_path, 32 * 1024**2)
    assert bomb.stat().st_size < 200_000  # 32 MiB of φ in a small file
    dst = make_store(fresh=True)
    tracemalloc.start()
    try:
        with pytest.raises(ArchiveError, match=f"phi/{entry_id}.safetensors.* expands to 33554432 bytes, more than "
                                               "the limit of 1048576"):
            dst.import_archive(bomb, max_phi_bytes=1024**2)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024**2, peak
    assert dst.count() == 0


def test_the_default_phi_limit_is_the_documented_one():
    """1 GiB: five times the largest real φ (Wan2.1-14B, rank 32, q/k/v/out on all 40 blocks, fp32)."""
    from ttom.memory import archive

    wan14b_all_blocks = 40 * 4 * (32 * 5120 + 5120 * 32) * 4
    assert wan14b_all_blocks == 200 * 1024**2
    assert archive.MAX_PHI_BYTES == 1024**3
    docs = (Path(__file__).resolve().parents[2] / "docs" / "memory.md").read_text()
    assert "1 GiB" in docs and "200 MiB" in docs

