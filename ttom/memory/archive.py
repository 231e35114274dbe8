"""Export and import of the memory: a zip of JSON metadata and safetensors files (never pickle).

Layout of an archive::

    manifest.json             {"format": "ttom-memory", "version": 1, "exported_at": ..., "entries": [...]}
                              (an entry's "layout": the layout φ was learned on, or null; archives
                              written before layouts were kept have none: their entries warm-start only)
    embeddings.safetensors    one float32 tensor (dim,) per entry, named by the entry id
    phi/<entry id>.safetensors

Import checks the whole archive first (manifest fields, every embedding, and every φ with
``phi.check_phi``: checksum, ttom's adapter signature in its metadata equal to the manifest's,
tensor names, shapes and dtypes of that signature's layout, finite values) and writes nothing
when anything is wrong; then it writes every entry in one transaction, so a crash during import
leaves the store as it was.

Members are streamed and bounded: a φ member may expand to at most ``MAX_PHI_BYTES`` (the size of
its header is checked before it is read, and the bytes are counted as they are read), so a small
archive that claims or inflates to gigabytes is refused before it fills memory.

This module knows the store only through the small ``ArchiveStore`` protocol (a session and a
capacity): it does not import ``store``, and ``store`` imports it only inside its two methods.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import zipfile
import zlib
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from sqlalchemy.orm import Session

from ttom.memory import phi as phi_mod
from ttom.memory import repository as repo
from ttom.memory.errors import ArchiveError, CorruptEntryError, SignatureError
from ttom.memory.models import EntryRow

FORMAT = "ttom-memory"
VERSION = 1
MANIFEST = "manifest.json"
EMBEDDINGS = "embeddings.safetensors"
MAX_MANIFEST_BYTES = 256 * 1024 * 1024
# The largest real φ: Wan2.1-14B (hidden size 5120, 40 blocks), LoRA rank 32 on q/k/v/out of the text
# attention of every block, fp32: 40 blocks × 4 modules × (32×5120 + 5120×32) × 4 bytes = 200 MiB
# (the official recipe puts φ on blocks 0..3 only: 20 MiB). 1 GiB leaves room for rank 64 on both
# attentions of every block (800 MiB) and refuses anything bigger before it is read.
MAX_PHI_BYTES = 1024**3
READ_CHUNK = 1 << 20  # bytes per read of a member


class ArchiveStore(Protocol):
    """What export and import need of a store (``MemoryStore`` has it)."""

    capacity: int

    def session(self, write: bool = False, snapshot: bool = False) -> AbstractContextManager[Session]: ...


@dataclass(frozen=True)
class ImportResult:
    imported: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # ids already in the store (import with replace to overwrite)
    evicted: list[str] = field(default_factory=list)  # LFU victims when the import went past capacity

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


def export_archive(store: ArchiveStore, path: Path) -> int:
    """Write every entry of ``store`` to the zip ``path`` (replaced atomically); returns the count."""
    from safetensors.numpy import save as np_save

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with store.session(snapshot=True) as s, zipfile.ZipFile(tmp, "w") as z:
            entries, vectors = [], {}
            for row in repo.list_entries(s, "created")[::-1]:  # oldest first
                # never export a damaged φ
                data = phi_mod.check_stored_phi(row.id, repo.get_phi(s, row.id), row.phi_sha256, row.signature_hash)
                z.writestr(f"phi/{row.id}.safetensors", data, compress_type=zipfile.ZIP_STORED)
                vectors[row.id] = np.frombuffer(row.embedding, dtype="<f4").copy()
                entries.append({
                    "id": row.id, "key_text": row.key_text, "signature": json.loads(row.signature_json),
                    "signature_hash": row.signature_hash, "quality": row.quality, "use_count": int(row.use_count),
                    "created_at": _iso(row.created_at), "updated_at": _iso(row.updated_at),
                    "last_used_at": _iso(row.last_used_at), "embedder": row.embedder, "dim": int(row.dim),
                    "phi": f"phi/{row.id}.safetensors", "phi_sha256": row.phi_sha256,
                    # the layout φ was learned on (None: stored without one); import recomputes its structure
                    "layout": json.loads(row.scene_json)["layout"] if row.scene_json else None,
                })
            if vectors:
                z.writestr(EMBEDDINGS, np_save(vectors), compress_type=zipfile.ZIP_DEFLATED)
            manifest = {"format": FORMAT, "version": VERSION,
                        "exported_at": datetime.now(timezone.utc).isoformat(), "entries": entries}
            z.writestr(MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False),
                       compress_type=zipfile.ZIP_DEFLATED)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(entries)


# --- import -----------------------------------------------------------------------------------------

def _read_member(z: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """A member's bytes, streamed: refused when its header claims more than ``limit``, and cut off
    the moment more than ``limit`` bytes come out (whatever the header says)."""
    try:
        info = z.getinfo(name)
    except KeyError:
        raise ArchiveError(f"archive has no member {name!r}") from None
    if info.file_size > limit:
        raise ArchiveError(f"archive member {name!r} expands to {info.file_size} bytes, more than the limit of "
                           f"{limit} bytes; not read")
    buf = bytearray()
    try:
        with z.open(info) as f:
            while chunk := f.read(min(READ_CHUNK, limit + 1 - len(buf))):
                buf += chunk
                if len(buf) > limit:
                    raise ArchiveError(f"archive member {name!r} expands past the limit of {limit} bytes; "
                                       "reading stopped")
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError) as e:
        raise ArchiveError(f"archive member {name!r} cannot be read ({e})") from None
    if len(buf) != info.file_size:
        raise ArchiveError(f"archive member {name!r} is truncated")
    return bytes(buf)


def _time(v: Any, what: str, required: bool = True) -> datetime | None:
    if v is None and not required:
        return None
    if not isinstance(v, str):
        raise ValueError(f"{what} must be an ISO 8601 time")
    try:
        dt = datetime.fromisoformat(v)
    except ValueError:
        raise ValueError(f"{what} {v!r} is not an ISO 8601 time") from None
    if dt.tzinfo is None:
        raise ValueError(f"{what} {v!r} has no time zone")
    return dt


def _check_entry(e: Any, vectors: dict[str, np.ndarray]) -> EntryRow:
    """An EntryRow (not yet in any session) from one manifest entry; ValueError naming the field."""
    if not isinstance(e, dict):
        raise ValueError("is not an object")
    entry_id = e.get("id")
    if not isinstance(entry_id, str) or len(entry_id) != 32 or any(c not in "0123456789abcdef" for c in entry_id):
        raise ValueError(f"id {entry_id!r} is not 32 lowercase hex characters")
    key_text = e.get("key_text")
    if not isinstance(key_text, str) or not key_text.strip():
        raise ValueError("key_text is empty")
    try:
        _, sig_json, sig_hash = phi_mod.canonical_signature(e.get("signature"))
    except SignatureError as err:
        raise ValueError(str(err)) from None
    if e.get("signature_hash") not in (None, sig_hash):
        raise ValueError("signature_hash does not match the signature")
    quality = e.get("quality")
    if quality is not None and (isinstance(quality, bool) or not isinstance(quality, (int, float))
                                or not math.isfinite(quality)):
        raise ValueError(f"quality {quality!r} is not a finite number")
    uses = e.get("use_count", 0)
    if isinstance(uses, bool) or not isinstance(uses, int) or uses < 0:
        raise ValueError(f"use_count {uses!r} is not a non-negative integer")
    embedder, dim = e.get("embedder"), e.get("dim")
    if not isinstance(embedder, str) or not embedder:
        raise ValueError("embedder is missing")
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(f"dim {dim!r} is not a positive integer")
    vec = vectors.get(entry_id)
    if vec is None:
        raise ValueError("has no embedding in embeddings.safetensors")
    if vec.dtype != np.float32 or vec.shape != (dim,):
        raise ValueError(f"embedding is {vec.dtype} {list(vec.shape)}, expected float32 [{dim}]")
    norm = float(np.linalg.norm(vec))
    if not math.isfinite(norm) or abs(norm - 1.0) > 1e-3:
        raise ValueError(f"embedding is not a unit vector (norm {norm})")
    sha = e.get("phi_sha256")
    if not isinstance(sha, str) or len(sha) != 64:
        raise ValueError("phi_sha256 is missing")
    if e.get("phi") != f"phi/{entry_id}.safetensors":
        raise ValueError(f"phi member {e.get('phi')!r} should be phi/{entry_id}.safetensors")
    created = _time(e.get("created_at"), "created_at")
    scene = None
    if e.get("layout") is not None:  # checked as any layout from outside is, then its structure recomputed here
        from ttom.layout import Layout, LayoutError
        from ttom.memory.match import Scene

        try:
            scene = Scene.of(Layout.parse(e["layout"]))
        except (LayoutError, ValueError, TypeError) as err:
            raise ValueError(f"layout is not a layout ({str(err).splitlines()[0][:160]})") from None
    return EntryRow(
        id=entry_id, key_text=key_text, embedder=embedder, dim=dim, embedding=vec.astype("<f4").tobytes(),
        signature_json=sig_json, signature_hash=sig_hash, quality=None if quality is None else float(quality),
        use_count=uses, created_at=created, updated_at=_time(e.get("updated_at"), "updated_at"),
        last_used_at=_time(e.get("last_used_at"), "last_used_at", required=False), phi_sha256=sha, phi_nbytes=0,
        scene_json=None if scene is None else scene.to_json(), structure_hash=None if scene is None else scene.structure_hash,
    )


def _check_phi(z: zipfile.ZipFile, row: EntryRow, limit: int) -> bytes:
    data = _read_member(z, f"phi/{row.id}.safetensors", limit)
    if phi_mod.sha256(data) != row.phi_sha256:
        raise ArchiveError(f"archive entry {row.id}: φ checksum does not match the manifest")
    try:
        phi_mod.check_stored_phi(row.id, data, row.phi_sha256, row.signature_hash)
    except CorruptEntryError as e:
        raise ArchiveError(f"archive entry {row.id}: {e.problem}") from None
    return data


def import_archive(store: ArchiveStore, path: Path, *, replace: bool = False,
                   max_phi_bytes: int = MAX_PHI_BYTES) -> ImportResult:
    """Import an archive written by ``export_archive`` into ``store``: all entries or none."""
    from safetensors.numpy import load as np_load

    path = Path(path)
    if not path.is_file():
        raise ArchiveError(f"{path}: no such file")
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise ArchiveError(f"{path} is not a ttom memory archive (not a zip: {e})") from None
    with z:
        # 1. The manifest and the embeddings.
        try:
            manifest = json.loads(_read_member(z, MANIFEST, MAX_MANIFEST_BYTES))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ArchiveError(f"{path}: manifest.json is not JSON ({e})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise ArchiveError(f"{path} is not a ttom memory archive (manifest format is not {FORMAT!r})")
        if manifest.get("version") != VERSION:
            raise ArchiveError(f"{path}: archive version {manifest.get('version')!r}; this ttom reads version {VERSION}")
        entries = manifest.get("entries")
        if not isinstance(entries, list):
            raise ArchiveError(f"{path}: manifest has no entry list")
        vectors: dict[str, np.ndarray] = {}
        if entries:
            raw = _read_member(z, EMBEDDINGS, MAX_MANIFEST_BYTES)
            try:
                phi_mod.inspect_phi(raw)  # the same strict header check as for φ, before numpy reads it
                vectors = np_load(raw)
            except Exception as e:
                raise ArchiveError(f"{path}: embeddings.safetensors is not readable ({e})") from None

        # 2. Every entry and every φ, before anything is written.
        rows: list[EntryRow] = []
        seen: set[str] = set()
        for i, e in enumerate(entries):
            try:
                row = _check_entry(e, vectors)
            except ValueError as err:
                raise ArchiveError(f"{path}: entry {i} ({(e or {}).get('id', '?') if isinstance(e, dict) else '?'}) "
                                   f"{err}") from None
            if row.id in seen:
                raise ArchiveError(f"{path}: entry id {row.id} appears twice")
            seen.add(row.id)
            row.phi_nbytes = len(_check_phi(z, row, max_phi_bytes))  # read, checked, dropped: φ can be large
            rows.append(row)

        # 3. One transaction; φ is read again and re-checked (the file could change in between).
        result = ImportResult()
        with store.session(write=True) as s:
            meta = repo.lock_meta(s)
            existing = set(repo.get_entries(s, [r.id for r in rows]))
            for row in rows:
                if row.id in existing:
                    if not replace:
                        result.skipped.append(row.id)
                        continue
                    repo.delete_entry(s, row.id, meta)
                    result.replaced.append(row.id)
                else:
                    result.imported.append(row.id)
                repo.add_entry(s, row, _check_phi(z, row, max_phi_bytes), meta)
            # No keep-list: imported entries carry their use counts, so LFU can weigh them fairly.
            result.evicted.extend(repo.evict_lfu(s, store.capacity, meta))
    return result
