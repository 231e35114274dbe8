"""The parameter memory M = {g(C): φ*_C} (TTOM, arXiv 2510.07940, section 4 of the research notes).

``MemoryStore`` owns the engine and the transactions; every public method is one unit of work in
one transaction, built from the session functions in ``repository``. What it returns are plain
dataclasses (``ttom.memory.types``). The other modules: ``db`` (the engine: SQLite and PostgreSQL
settings), ``schema`` (creating and migrating the tables), ``index`` (the cached key matrix), ``rows`` (rows to dataclasses), ``match`` (structure
and geometry: when a stored scene is a hit, and in which mode), ``phi`` (what φ must be),
``archive`` (export and import).

Concurrency (several processes, one database):

- SQLite: WAL journal (readers never block the writer), ``busy_timeout`` so a writer waits for
  the lock instead of failing, and ``BEGIN IMMEDIATE`` for every write transaction, so writers
  are serialised *before* they read (no lost update, no upgrade deadlock).
- PostgreSQL: inserts, deletes, evictions and imports lock the meta row (``SELECT … FOR UPDATE``)
  first, so they run one at a time; a use is one atomic ``UPDATE … SET use_count = use_count + 1``;
  an update of φ locks its entry row.
- Capacity bound: the count and the eviction happen under that lock in the same transaction as
  the insert, so a committed state never holds more than ``capacity`` entries (bound: 0 extra)
  as long as every writer uses the same capacity. A writer configured with a larger capacity
  can leave up to its own capacity; the next insert or ``prune`` by a smaller one evicts down.
- Crash safety: a write is one transaction, so kill -9 at any point leaves all of it or none.
- ``recall_phi`` (recall, load φ, count the use) is one write transaction: an entry deleted or
  evicted by another process is either seen whole (φ and use) or not at all (a miss, noted).

Recall: the key embeddings of all entries are read in one query into one float32 matrix per
(adapter signature, embedder) and cached until the store's *generation* changes (``index``). A
recall then costs one tiny query for the generation, one matrix-vector product, and one query for
the candidate rows. With a layout, only candidates of the request's scene structure are fetched
(their structure hashes sit beside the matrix), and each one's layout is compared with the
request's (``match.geometry``): the mode follows that similarity.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from ttom.memory import phi as phi_mod
from ttom.memory import repository as repo
from ttom.memory import schema as schema_mod
from ttom.memory.db import (
    SQLITE_DAMAGED,
    damaged_file_message,
    make_engine,
    mask_url,
    sqlite_path,
)
from ttom.memory.embedder import KeyEmbedder, default_embedder, normalize_rows
from ttom.memory.errors import (
    AmbiguousIdError,
    CorruptDatabaseError,
    CorruptEntryError,
    DuplicateWriteError,
    EntryNotFoundError,
    MemoryStoreError,
    SchemaVersionError,
    SignatureError,
)
from ttom.memory.index import KeyIndex
from ttom.memory.match import Scene, check_thresholds, geometry, mode_for
from ttom.memory.models import META_ID, SCHEMA_VERSION, EntryRow, MetaRow
from ttom.memory.rows import BadRowError, as_time, check_quality, entries_of, to_entry
from ttom.memory.types import (
    InsertResult,
    MemoryEntry,
    MemoryHit,
    MemoryStats,
    MemoryWrite,
    PhiRecall,
    Problem,
    PruneResult,
    RecallRef,
)

if TYPE_CHECKING:
    from ttom.config import Settings
    from ttom.layout import Layout
    from ttom.memory.archive import ImportResult

log = logging.getLogger("ttom.memory")

ID_RE = re.compile(r"^[0-9a-f]{32}$")
# A recall with a layout looks at this many nearest keys of the request's structure (the text only ranks).
CANDIDATES = 32
# recall_phi tries at most this many hits (best first) before it gives up and reports a miss.
PHI_TRIES = 5


@lru_cache(maxsize=4096)
def _stored_scene(text: str, structure_hash: str) -> Scene:
    """A stored scene, parsed once per process (an entry's scene never changes; the text is the key)."""
    return Scene.from_json(text, structure_hash)


class MemoryStore:
    """Adapters φ* keyed by scene descriptions, with recall by structure and geometry and LFU eviction.

    ``url`` defaults to the settings' ``memory_url`` (SQLite in the cache dir, or
    ``TTOM_DATABASE_URL``); ``capacity``, ``threshold`` (the key cosine a candidate needs),
    ``top_k``, ``geometry_skip`` and ``geometry_warm`` (the layout similarity a skip and a warm start
    need) to the settings' ``memory_*``. ``schema`` puts the tables in a PostgreSQL schema (created
    if missing).
    """

    def __init__(self, url: str | None = None, *, capacity: int | None = None, threshold: float | None = None,
                 top_k: int | None = None, embedder: KeyEmbedder | None = None, schema: str | None = None,
                 geometry_skip: float | None = None, geometry_warm: float | None = None,
                 settings: Settings | None = None):
        if settings is None and None in (url, capacity, threshold, top_k, geometry_skip, geometry_warm):
            from ttom.config import get_settings

            settings = get_settings()
        self.url = url or settings.memory_url
        self.capacity = int(capacity if capacity is not None else settings.memory_capacity)
        self.threshold = float(threshold if threshold is not None else settings.memory_threshold)
        self.top_k = int(top_k if top_k is not None else settings.memory_top_k)
        self.geometry_skip = float(geometry_skip if geometry_skip is not None else settings.memory_geometry_skip)
        self.geometry_warm = float(geometry_warm if geometry_warm is not None else settings.memory_geometry_warm)
        try:
            check_thresholds(self.geometry_skip, self.geometry_warm)
        except ValueError as e:
            raise MemoryStoreError(str(e)) from None
        if self.capacity < 1:
            raise MemoryStoreError(f"memory capacity must be >= 1, got {self.capacity}")
        if not -1.0 <= self.threshold <= 1.0:
            raise MemoryStoreError(f"memory threshold is a cosine similarity in [-1, 1], got {self.threshold}")
        if self.top_k < 1:
            raise MemoryStoreError(f"memory top_k must be >= 1, got {self.top_k}")
        self.schema = schema
        self._embedder = embedder
        self._path = sqlite_path(self.url)
        self.engine = make_engine(self.url, schema)
        self._write_engine = self.engine.execution_options(ttom_write=True)
        self._index: KeyIndex | None = None
        self._index_lock = threading.Lock()
        if self._path is not None and not self._path.exists():
            self._create_sqlite_file(self._path)
        elif self._path is not None and self._path.is_file() and self._path.stat().st_size == 0:
            # Never ours: a new memory is linked into place complete (see _create_sqlite_file). Something
            # else truncated or made it; re-initialising it would hide that, so say so instead.
            raise CorruptDatabaseError(damaged_file_message(self._path, "is an empty file (0 bytes), not a ttom memory"))
        self._init_schema()

    # --- plumbing ---------------------------------------------------------------------------------

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def embedder(self) -> KeyEmbedder:
        if self._embedder is None:
            self._embedder = default_embedder()
        return self._embedder

    def __repr__(self) -> str:
        return f"MemoryStore({mask_url(self.url)!r}, capacity={self.capacity})"

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    def _db_error(self, e: DatabaseError, prefix: str = "memory database") -> MemoryStoreError:
        """One line for a database failure: a damaged SQLite file names the file and the remedy."""
        orig = getattr(e, "orig", None)
        if getattr(orig, "sqlite_errorname", None) in SQLITE_DAMAGED:
            return CorruptDatabaseError(damaged_file_message(self._path or mask_url(self.url),
                                                              f"is damaged or not a database ({orig})"))
        return MemoryStoreError(f"{prefix} {mask_url(self.url)}: {orig}")

    @staticmethod
    def _damaged(e: DatabaseError) -> bool:
        return getattr(getattr(e, "orig", None), "sqlite_errorname", None) in SQLITE_DAMAGED

    @contextmanager
    def session(self, write: bool = False, snapshot: bool = False) -> Iterator[Session]:
        """One unit of work in one transaction: committed on success, rolled back on any error.

        ``write=True`` takes SQLite's write lock at BEGIN (see the module docstring); reads take
        none, so they never wait behind a writer. ``snapshot=True`` makes every read see one state
        (REPEATABLE READ on PostgreSQL; a SQLite read transaction is a snapshot already).
        """
        engine = self._write_engine if write else self.engine
        if snapshot and self.dialect == "postgresql":
            engine = engine.execution_options(isolation_level="REPEATABLE READ")
        try:
            with Session(engine, expire_on_commit=False) as s, s.begin():
                yield s
        except OperationalError as e:
            raise self._db_error(e) from e
        except DatabaseError as e:
            if self._damaged(e):
                raise self._db_error(e) from e
            raise

    def _init_schema(self) -> None:
        """Check the schema in a read transaction (no write lock: opening the store for ``ls`` never waits
        behind a writer); create or migrate it, under the write lock, only when it is missing or older."""
        if self._schema_version() == SCHEMA_VERSION:
            return
        self._create_schema(self._write_engine)

    def _schema_version(self) -> int | None:
        """The stored schema version; None when there is no (complete) schema yet."""
        try:
            with self.engine.connect() as conn:
                return conn.execute(select(MetaRow.schema_version).where(MetaRow.id == META_ID)).scalar()
        except (OperationalError, ProgrammingError) as e:  # no such table, no such schema, unreachable
            if self._damaged(e):
                raise self._db_error(e) from e
            return None
        except DatabaseError as e:
            raise self._db_error(e, "cannot open the memory database") from e

    def _create_schema(self, engine: Engine) -> None:
        """Create the tables and the meta row, or migrate an older schema; refuse a newer one."""
        try:
            with engine.begin() as conn:
                old = schema_mod.create_or_migrate(conn, self.schema)
        except SchemaVersionError:
            raise
        except DatabaseError as e:
            raise self._db_error(e, "cannot open the memory database") from e
        if old is not None:
            log.info("memory database %s migrated from schema version %d to %d", mask_url(self.url), old,
                     SCHEMA_VERSION)

    def _create_sqlite_file(self, path: Path) -> None:
        """A new SQLite memory, linked into place complete (``schema.build_sqlite_file``)."""
        schema_mod.build_sqlite_file(path, lambda url: make_engine(url, None), self._create_schema)

    def _query_vector(self, key: str | np.ndarray) -> np.ndarray:
        if isinstance(key, str):
            if not key.strip():
                raise ValueError("the memory key text is empty")
            return self.embedder.embed([key])[0]
        vec = normalize_rows(np.asarray(key, dtype=np.float32))
        if vec.shape[0] != 1 or vec.shape[1] != self.embedder.dim:
            raise ValueError(f"key embedding must have shape ({self.embedder.dim},), got {np.shape(key)}")
        return vec[0]

    def resolve_id(self, id_or_prefix: str) -> str:
        """A full entry id from an id or a unique prefix of at least 4 characters."""
        p = id_or_prefix.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{4,32}", p):
            raise EntryNotFoundError(f"{id_or_prefix!r} is not a memory entry id (32 hex characters, or a "
                                     "prefix of at least 4)")
        with self.session() as s:
            found = repo.ids_with_prefix(s, p, limit=3)
        if not found:
            raise EntryNotFoundError(f"no memory entry with id {id_or_prefix!r}")
        if len(found) > 1 and p not in found:
            raise AmbiguousIdError(f"id prefix {id_or_prefix!r} matches several entries ({', '.join(found[:2])}, "
                                   "…): give more characters")
        return p if p in found else found[0]

    # --- write ------------------------------------------------------------------------------------

    @staticmethod
    def _check_request_key(request_key: str | None) -> str | None:
        """The key as stored: itself, or its sha256 when longer than the column (200 characters)."""
        if request_key is None:
            return None
        if not isinstance(request_key, str) or not request_key.strip():
            raise ValueError(f"request_key must be a non-empty text, got {request_key!r:.80}")
        return request_key if len(request_key) <= 200 else "sha256:" + hashlib.sha256(request_key.encode()).hexdigest()

    @staticmethod
    def _refuse_repeat(s: Session, request_key: str | None) -> None:
        """DuplicateWriteError when a write with this idempotency key was applied already."""
        if request_key is not None:
            prev = repo.get_write(s, request_key)
            if prev is not None:
                raise DuplicateWriteError(request_key, prev.entry_id, prev.action)

    @contextmanager
    def _write_once(self, request_key: str | None) -> Iterator[None]:
        """A write transaction whose idempotency key another process logged first (PostgreSQL: a unique
        violation at commit) becomes DuplicateWriteError, as the check inside the transaction would."""
        try:
            yield
        except IntegrityError:
            if request_key is not None:
                with self.session() as s:
                    self._refuse_repeat(s, request_key)
            raise

    def insert(self, key_text: str, phi: Any, signature: Any = None, *, quality: float | None = None,
               embedding: np.ndarray | None = None, entry_id: str | None = None,
               request_key: str | None = None, layout: Layout | dict | None = None) -> InsertResult:
        """Remember φ under ``key_text``; evicts LFU entries beyond capacity in the same transaction.

        ``phi``: safetensors bytes with the engine's adapter signature in the metadata (or a dict of
        tensors, serialised here with ``signature``); checked by ``phi.check_phi`` (layout, dtypes,
        finite values). ``signature``: the adapter signature; when omitted, the one in φ's metadata.
        ``embedding``: the key's embedding, if already computed (else the store's embedder embeds
        ``key_text``). ``request_key``: an idempotency key (e.g. thread and round): a second insert
        with the same key raises DuplicateWriteError and writes nothing. ``layout``: the layout φ was
        learned on (``ttom.layout.Layout`` or its dict); stored with its scene structure, so that recall
        can compare structures and geometry. An entry without one is only ever a warm start.
        """
        request_key = self._check_request_key(request_key)
        row, data = self._new_row(key_text, phi, signature, quality, embedding, entry_id, layout)
        with self._write_once(request_key), self.session(write=True) as s:
            meta = repo.lock_meta(s)
            self._refuse_repeat(s, request_key)
            if repo.get_entry(s, row.id) is not None:
                raise MemoryStoreError(f"memory entry {row.id} already exists")
            repo.add_entry(s, row, data, meta)
            if request_key is not None:
                repo.log_write(s, request_key, row.id, "insert", row.created_at)
                repo.trim_writes(s)
            evicted = repo.evict_lfu(s, self.capacity, meta, keep={row.id})
            entry = to_entry(row)
        if evicted:
            log.info("memory: evicted %d entr%s (LFU): %s", len(evicted), "y" if len(evicted) == 1 else "ies",
                     ", ".join(evicted))
        return InsertResult(entry, evicted)

    def _new_row(self, key_text: str, phi: Any, signature: Any, quality: float | None,
                 embedding: np.ndarray | None, entry_id: str | None,
                 layout: Layout | dict | None = None) -> tuple[EntryRow, bytes]:
        """Validate everything about a new entry before any transaction starts."""
        if not isinstance(key_text, str) or not key_text.strip():
            raise ValueError("the memory key text is empty")
        data = phi_mod.phi_to_bytes(phi, signature)
        info = phi_mod.check_phi(data, signature)
        _, sig_json, sig_hash = phi_mod.canonical_signature(phi_mod.signature_in_phi(info))
        vec = self._query_vector(key_text if embedding is None else embedding)
        scene = None if layout is None else Scene.of(layout)
        entry_id = entry_id or uuid.uuid4().hex
        if not ID_RE.match(entry_id):
            raise ValueError(f"memory entry id must be 32 lowercase hex characters, got {entry_id!r}")
        now = repo.utcnow()
        row = EntryRow(
            id=entry_id, key_text=key_text, embedder=self.embedder.name, dim=int(vec.shape[0]),
            embedding=vec.astype("<f4").tobytes(), signature_json=sig_json, signature_hash=sig_hash,
            quality=check_quality(quality), use_count=0, created_at=now, updated_at=now, last_used_at=None,
            phi_sha256=phi_mod.sha256(data), phi_nbytes=len(data),
            scene_json=None if scene is None else scene.to_json(),
            structure_hash=None if scene is None else scene.structure_hash,
        )
        return row, data

    def update(self, entry_id: str, phi: Any, *, similarity: float | None = None,
               mode: Literal["mean", "replace"] = "mean", quality: float | None = None,
               request_key: str | None = None) -> MemoryEntry:
        """Merge a freshly optimised φ into an entry.

        ``mode="mean"``: φ ← (φ_old + s·φ_new) / (1 + s) per tensor, s = ``similarity`` of the hit
        (names and shapes must match); ``quality`` merges by the same rule. ``mode="replace"``:
        φ ← φ_new, quality ← ``quality`` (and a quarantined entry is recalled again). The key and
        the use count are kept. The new φ must pass ``phi.check_phi`` for the entry's signature.
        ``request_key``: as for ``insert``; a repeated update raises DuplicateWriteError and changes nothing.
        """
        if mode not in ("mean", "replace"):
            raise ValueError(f"update mode must be 'mean' or 'replace', got {mode!r}")
        if mode == "mean" and similarity is None:
            raise ValueError("update mode 'mean' needs the similarity of the hit")
        request_key = self._check_request_key(request_key)
        quality = check_quality(quality)
        current = self.get(entry_id)
        data = phi_mod.phi_to_bytes(phi, current.signature)
        try:
            phi_mod.check_phi(data, current.signature)
        except SignatureError as e:
            raise SignatureError(f"memory entry {entry_id}: {e}") from None
        with self._write_once(request_key), self.session(write=True) as s:
            self._refuse_repeat(s, request_key)
            # Releasing a quarantined entry needs the meta lock: take it before the row's, as writers
            # that add or remove entries do (the same lock order everywhere: no deadlock on PostgreSQL).
            meta = repo.lock_meta(s) if mode == "replace" and current.problem is not None else None
            row = repo.get_entry(s, entry_id, for_update=True)
            if row is None:
                raise EntryNotFoundError(f"no memory entry with id {entry_id!r}")
            if row.signature_hash != current.signature_hash:
                raise SignatureError(f"memory entry {entry_id} was replaced by another signature meanwhile")
            if mode == "mean":
                old = phi_mod.check_stored_phi(row.id, repo.get_phi(s, entry_id), row.phi_sha256, row.signature_hash)
                merged = phi_mod.weighted_mean(old, data, similarity)
                if quality is not None and row.quality is not None:
                    quality = (row.quality + similarity * quality) / (1.0 + similarity)
                elif quality is None:
                    quality = row.quality
            else:
                merged = data
                if row.problem is not None:  # a good φ again: back in recall
                    repo.release(s, row, meta or repo.lock_meta(s))
            repo.replace_phi(s, row, merged, phi_mod.sha256(merged), quality, repo.utcnow())
            if request_key is not None:
                repo.log_write(s, request_key, entry_id, "update", row.updated_at)
            return to_entry(row)

    def record_use(self, entry_id: str) -> MemoryEntry:
        """Count one use of an entry (its φ was loaded into a generation) and stamp last_used_at."""
        with self.session(write=True) as s:
            if not repo.increment_use(s, entry_id, repo.utcnow()):
                raise EntryNotFoundError(f"no memory entry with id {entry_id!r} (deleted or evicted?)")
            return self._entry(repo.get_entry(s, entry_id))

    def delete(self, entry_id: str) -> bool:
        """Remove an entry and its φ; False when there was none."""
        with self.session(write=True) as s:
            meta = repo.lock_meta(s)
            return repo.delete_entry(s, entry_id, meta)

    def quarantine(self, entry_id: str, problem: str) -> bool:
        """Take an entry out of recall because it failed a check (kept for ``show``; ``prune --invalid``
        removes it); False when it is gone or quarantined already."""
        with self.session(write=True) as s:
            meta = repo.lock_meta(s)
            done = repo.quarantine(s, entry_id, problem, meta)
        if done:
            log.warning("memory entry %s quarantined: %s", entry_id, problem)
        return done

    def memorize(self, key_text: str, phi: Any, signature: Any = None, *, quality: float | None = None,
                 hit: MemoryHit | RecallRef | None = None, embedding: np.ndarray | None = None,
                 request_key: str | None = None, layout: Layout | dict | None = None) -> MemoryWrite:
        """The agent's last step: update the recalled entry (weighted mean) or insert a new one.

        With a ``layout``, an entry stands for its own layout: the hit is updated only when its layout
        is near-identical to this one (``hit.mode == "skip"``); a hit on a merely similar layout (a warm
        start) or on an entry stored without a layout leaves that entry as it is, and φ* goes into a
        new entry for this layout. Without a layout, the hit is updated (the store's earlier rule).
        A hit whose entry has meanwhile been evicted becomes an insert; one whose stored φ is
        corrupted is replaced by the new φ. ``request_key`` (e.g. ``"<thread>:<request>:<round>"``) makes
        the call idempotent: repeated after a resume, it writes nothing and returns the first
        call's write with ``replayed=True``.
        """
        if hit is not None and layout is not None and getattr(hit, "mode", None) != "skip":
            hit = None  # a similar layout's entry keeps its φ; this layout gets its own
        try:
            if hit is not None:
                try:
                    self.update(hit.entry_id, phi, similarity=max(0.0, min(1.0, hit.similarity)), quality=quality,
                                request_key=request_key)
                    return MemoryWrite("update", hit.entry_id, hit.similarity)
                except EntryNotFoundError:
                    pass
                except CorruptEntryError as e:
                    log.warning("%s; replacing it with the new φ", e)
                    self.update(hit.entry_id, phi, mode="replace", quality=quality, request_key=request_key)
                    return MemoryWrite("update", hit.entry_id, hit.similarity)
            res = self.insert(key_text, phi, signature, quality=quality, embedding=embedding, request_key=request_key,
                              layout=layout)
            return MemoryWrite("insert", res.entry_id, None, res.evicted)
        except DuplicateWriteError as e:
            sim = hit.similarity if hit is not None and e.action == "update" else None
            return MemoryWrite(e.action, e.entry_id, sim, replayed=True)

    # --- read -------------------------------------------------------------------------------------

    def recall(self, key: str | np.ndarray, signature: Any, *, top_k: int | None = None,
               threshold: float | None = None, layout: Layout | dict | None = None,
               prompt: str | None = None) -> list[MemoryHit]:
        """Entries for the running model's ``signature`` whose key has cosine similarity ≥ threshold
        to ``key`` (text, or its embedding), at most ``top_k``. Quarantined and unreadable entries are
        left out. Takes no write lock.

        With the request's ``layout`` (and its scene ``prompt`` when that is not ``layout.prompt``),
        a hit must also have the layout's scene structure and a geometric similarity of at least the
        warm threshold (``ttom.memory.match``); each hit then carries that similarity and its mode
        (``skip`` at or above the skip threshold, else ``warm``), and hits are ordered skip first,
        then by key similarity. An entry stored without a layout is a ``warm`` hit only when its key
        text equals ``key``. Without a layout: the key similarity alone, best first (no mode).
        """
        query = self._query(key, layout, prompt, top_k, threshold)
        sig_hash = phi_mod.canonical_signature(signature)[2]
        with self.session() as s:
            return self._find(s, *query, sig_hash)

    def _query(self, key: str | np.ndarray, layout: Layout | dict | None, prompt: str | None,
               top_k: int | None, threshold: float | None) -> tuple:
        """Everything a recall needs that takes no database: (vector, key text, scene, k, threshold)."""
        k = self.top_k if top_k is None else int(top_k)
        thr = self.threshold if threshold is None else float(threshold)
        if k < 1:
            raise ValueError(f"top_k must be >= 1, got {k}")
        q = self._query_vector(key)  # (dim,) unit
        scene = None if layout is None else Scene.of(layout, prompt)
        return q, key if isinstance(key, str) else None, scene, k, thr

    def _find(self, s: Session, q: np.ndarray, key_text: str | None, scene: Scene | None, k: int, thr: float,
              sig_hash: str, bad: list[Problem] | None = None) -> list[MemoryHit]:
        """The hits of a query (``_query``) for the signature hash ``sig_hash``, in the caller's transaction.
        Candidates whose row cannot be read are left out, and added to ``bad`` when it is given."""
        group = self._current_index(s).groups.get((sig_hash, self.embedder.name, int(q.shape[0])))
        if group is None or not group.ids:
            return []
        # (n, dim) x (dim,) -> (n,). einsum, not `mat @ q`: numpy's BLAS matvec runs on every core
        # and, on a busy 2-core machine, waits for them (measured 8 ms vs 0.6 ms at 10k entries).
        sims = np.einsum("ij,j->i", group.mat, q)
        if scene is not None:  # only entries of the request's structure (or stored without a layout) compete
            sims = np.where((group.structures == scene.structure_hash) | (group.structures == None),  # noqa: E711
                            sims, -np.inf)
        # text only: the k best; with a layout: the CANDIDATES best of its structure, judged below
        want = min(k if scene is None else max(k, CANDIDATES), len(group.ids))
        if want < len(group.ids):
            top = np.argpartition(-sims, want - 1)[:want]
            top = top[np.argsort(-sims[top], kind="stable")]
        else:
            top = np.argsort(-sims, kind="stable")
        top = [int(i) for i in top if sims[i] >= thr]
        if not top:
            return []
        rows = repo.hit_rows(s, [group.ids[i] for i in top], scenes=scene is not None)
        hits = []
        skips = 0
        for i in top:
            if scene is not None and skips >= k:
                break  # k near-identical hits in key order: no later candidate can come before them
            row = rows.get(group.ids[i])
            if row is None:  # deleted by another process since this generation: not a hit
                continue
            try:
                geo, mode = self._judge(row, scene, key_text) if scene is not None else (None, None)
                if scene is not None and mode is None:
                    continue
                hits.append(MemoryHit(
                    entry_id=row.id, similarity=float(np.clip(sims[i], -1.0, 1.0)), key_text=row.key_text,
                    quality=None if row.quality is None else float(row.quality), use_count=int(row.use_count),
                    signature_hash=row.signature_hash, created_at=as_time(row.created_at, "created_at"),
                    last_used_at=as_time(row.last_used_at, "last_used_at", required=False),
                    geometry=geo, mode=mode))
                skips += mode == "skip"
            except (BadRowError, TypeError, ValueError) as e:
                log.warning("memory entry %s skipped by recall: unreadable row (%s)", row.id, e)
                if bad is not None:
                    bad.append(Problem(row.id, f"unreadable row: {e}"))
        if scene is not None:  # near-identical layouts first, then by key similarity (a stable sort keeps that)
            hits.sort(key=lambda h: h.mode != "skip")
        return hits[:k]

    def _judge(self, row: Any, scene: Scene, key_text: str | None) -> tuple[float | None, str | None]:
        """(geometry, mode) of a candidate of the request's structure; mode None: not a hit."""
        if row.structure_hash is None:  # stored without a layout (a schema-2 entry): its key text must be ours
            return None, ("warm" if key_text is not None and row.key_text == key_text else None)
        if row.structure_hash != scene.structure_hash:  # changed since the index was read
            return None, None
        geo = geometry(scene, _stored_scene(row.scene_json, row.structure_hash))
        return geo, mode_for(geo, self.geometry_skip, self.geometry_warm)

    def recall_phi(self, key: str | np.ndarray, signature: Any, *, top_k: int | None = None,
                   threshold: float | None = None, layout: Layout | dict | None = None,
                   prompt: str | None = None) -> PhiRecall:
        """Recall (as ``recall``), load the best hit whose φ passes every check (``check_stored_phi``) and
        count its use, in one transaction.

        Up to ``PHI_TRIES`` hits are tried, best first. One deleted or evicted by another process
        before its φ was read is passed over with a note; so is one whose φ is damaged or poisoned
        (NaN, wrong layout, …), which is quarantined once the transaction has ended. With no usable
        hit the result holds no φ: the caller optimises fresh φ and puts the notes in its report.
        """
        query = self._query(key, layout, prompt, max(PHI_TRIES, self.top_k if top_k is None else int(top_k)),
                            threshold)
        sig_hash = phi_mod.canonical_signature(signature)[2]
        notes: list[str] = []
        damaged: list[Problem] = []
        found: PhiRecall | None = None
        # A write transaction: on SQLite it takes the write lock at BEGIN, so nothing changes between the
        # recall and the use count; on PostgreSQL the use is an atomic UPDATE whose row count says whether
        # the entry still exists.
        with self.session(write=True) as s:
            for hit in self._find(s, *query, sig_hash, bad=damaged)[:PHI_TRIES]:
                row = repo.get_entry(s, hit.entry_id)
                if row is None:
                    notes.append(f"memory entry {hit.entry_id} was removed before its φ was loaded")
                    continue
                try:
                    data = phi_mod.check_stored_phi(hit.entry_id, repo.get_phi(s, hit.entry_id), row.phi_sha256,
                                                    row.signature_hash)
                except CorruptEntryError as e:
                    damaged.append(Problem(e.entry_id, e.problem))
                    continue
                if not repo.increment_use(s, hit.entry_id, repo.utcnow()):
                    notes.append(f"memory entry {hit.entry_id} was removed before its φ was loaded")
                    continue
                found = PhiRecall(hit, data, notes)
                break
        for p in damaged:  # after the transaction: quarantine takes the meta lock, which a writer may hold
            notes.append(f"memory entry {p.entry_id} not used and quarantined: {p.problem}")
            try:
                self.quarantine(p.entry_id, p.problem)
            except MemoryStoreError as err:
                log.warning("memory entry %s could not be quarantined: %s", p.entry_id, err)
        if found is not None:
            return PhiRecall(found.hit, found.phi, notes)
        return PhiRecall(None, None, notes)

    def _current_index(self, s: Session) -> KeyIndex:
        """The cached key matrix, brought up to the store's generation in the caller's transaction.

        Reads the removal-log position before the entries: a removal that commits in between
        is then seen (and applied) next time, never skipped.
        """
        gen, trimmed = repo.index_state(s)
        with self._index_lock:
            idx = self._index
            if idx is not None and idx.generation == gen:
                return idx
            if idx is None or idx.removal_pos < trimmed:  # nothing cached, or the log moved past us
                pos = repo.removal_position(s)
                idx = KeyIndex.build(gen, pos, repo.index_rows(s))
            else:
                removed, pos = repo.removals_after(s, idx.removal_pos)
                idx = idx.advance(gen, pos, removed, repo.index_rows(s, after_seq=idx.max_seq))
            self._index = idx
            return idx

    @staticmethod
    def _entry(row: EntryRow) -> MemoryEntry:
        """``_to_entry``, with an unreadable row as the CorruptEntryError of that entry."""
        try:
            return to_entry(row)
        except BadRowError as e:
            raise CorruptEntryError(str(row.id), f"unreadable row: {e}") from None

    def get(self, entry_id: str) -> MemoryEntry:
        with self.session() as s:
            row = repo.get_entry(s, entry_id)
            if row is None:
                raise EntryNotFoundError(f"no memory entry with id {entry_id!r}")
            return self._entry(row)

    def scan(self, order: repo.Order = "recent", limit: int | None = None,
             signature: Any = None) -> tuple[list[MemoryEntry], list[Problem]]:
        """``list_entries``, plus the rows it skipped because they cannot be read."""
        sig_hash = phi_mod.canonical_signature(signature)[2] if signature is not None else None
        with self.session() as s:
            return entries_of(repo.list_entries(s, order, limit, sig_hash))

    def list_entries(self, order: repo.Order = "recent", limit: int | None = None,
                     signature: Any = None) -> list[MemoryEntry]:
        """Entries, most recently used first by default (``order``: recent, uses, quality, created, lfu).

        Unreadable rows are skipped with a warning (``scan`` returns them)."""
        entries, bad = self.scan(order, limit, signature)
        for p in bad:
            log.warning("memory entry %s skipped: %s", p.entry_id, p.problem)
        return entries

    def count(self) -> int:
        with self.session() as s:
            return repo.count_entries(s)

    def load_phi(self, entry_id: str) -> bytes:
        """φ's safetensors bytes, checked (checksum, layout against the entry's signature, finite values);
        CorruptEntryError if it fails (``recall_phi`` then quarantines the entry)."""
        with self.session() as s:
            row = repo.get_entry(s, entry_id)
            if row is None:
                raise EntryNotFoundError(f"no memory entry with id {entry_id!r}")
            data = repo.get_phi(s, entry_id)
            sha, sig_hash = row.phi_sha256, row.signature_hash
        return phi_mod.check_stored_phi(entry_id, data, sha, sig_hash)

    def load_phi_tensors(self, entry_id: str) -> dict[str, Any]:
        """φ as a dict of torch tensors (imports torch)."""
        from safetensors.torch import load

        return load(self.load_phi(entry_id))

    # --- maintenance ------------------------------------------------------------------------------

    def verify(self) -> list[Problem]:
        """Check every entry (readable row, φ checksum, layout and values, embedding, signature,
        quarantine) and the store's totals. Reads only."""
        problems: list[Problem] = []
        with self.session() as s:
            meta = repo.get_meta(s)
            n = repo.count_entries(s)
            expected = meta.inserted_total - meta.deleted_total - meta.evicted_total
            if expected != n:
                problems.append(Problem(None, f"{n} entries, but the totals say {expected} (inserted "
                                              f"{meta.inserted_total} - deleted {meta.deleted_total} - "
                                              f"evicted {meta.evicted_total}): rows were changed outside ttom"))
            for orphan in repo.orphan_phi_ids(s):
                problems.append(Problem(orphan, "φ blob without an entry"))
            problems.extend(KeyIndex.build(meta.generation, 0, repo.index_rows(s)).bad)
            rows = repo.list_entries(s, "created")
            readable, bad_rows = entries_of(rows)
            problems.extend(bad_rows)
            for e in readable:
                if e.problem is not None:
                    problems.append(Problem(e.id, f"quarantined: {e.problem}"))
                    continue
                if e.scene is not None or e.structure_hash is not None:
                    try:
                        Scene.from_json(json.dumps(e.scene), e.structure_hash)
                    except ValueError as err:
                        problems.append(Problem(e.id, str(err)))
                try:
                    phi_mod.check_stored_phi(e.id, repo.get_phi(s, e.id), e.phi_sha256, e.signature_hash)
                except CorruptEntryError as err:
                    problems.append(Problem(e.id, err.problem))
                try:
                    if phi_mod.canonical_signature(e.signature)[2] != e.signature_hash:
                        problems.append(Problem(e.id, "adapter signature does not match its hash"))
                except SignatureError as err:
                    problems.append(Problem(e.id, str(err)))
        return problems

    def prune(self, capacity: int | None = None, *, invalid: bool = False, dry_run: bool = False) -> PruneResult:
        """Evict LFU entries down to ``capacity`` (default: the store's); ``invalid`` also removes entries
        that fail ``verify`` (unreadable rows, damaged or poisoned φ, quarantined). ``dry_run`` only reports."""
        cap = self.capacity if capacity is None else int(capacity)
        if cap < 0:
            raise ValueError(f"capacity must be >= 0, got {cap}")
        bad = [p for p in self.verify() if p.entry_id is not None] if invalid else []
        bad_ids = sorted({p.entry_id for p in bad})
        with self.session(write=not dry_run) as s:
            meta = repo.lock_meta(s) if not dry_run else repo.get_meta(s)
            if dry_run:
                excess = repo.count_entries(s) - len(bad_ids) - cap
                victims = [r.id for r in repo.list_entries(s, "lfu") if r.id not in bad_ids][:max(0, excess)]
            else:
                for entry_id in bad_ids:
                    repo.delete_entry(s, entry_id, meta)
                victims = repo.evict_lfu(s, cap, meta)
        return PruneResult(victims, bad, dry_run)

    def stats(self) -> MemoryStats:
        with self.session() as s:
            meta = repo.get_meta(s)
            n, nbytes, uses, oldest, newest = repo.totals(s)
            groups = []
            for sig_hash, sig_json, count in repo.signature_groups(s):
                try:
                    sig = json.loads(sig_json)
                    label = " ".join(str(sig[k]) for k in ("backend", "model_id", "rank") if k in sig) or sig_json
                except (json.JSONDecodeError, TypeError):
                    label = str(sig_json)
                groups.append({"signature_hash": sig_hash, "label": label[:80], "entries": count})
            return MemoryStats(
                url=mask_url(self.url), dialect=self.dialect, schema_version=meta.schema_version, entries=n,
                capacity=self.capacity, phi_bytes=nbytes, total_uses=uses, generation=meta.generation,
                inserted_total=meta.inserted_total, deleted_total=meta.deleted_total,
                evicted_total=meta.evicted_total, signatures=groups,
                oldest=oldest if isinstance(oldest, datetime) else None,
                newest=newest if isinstance(newest, datetime) else None,
            )

    def export_archive(self, path: str | Path) -> int:
        """Write every entry to a zip (JSON manifest + safetensors; no pickle); returns the count."""
        from ttom.memory.archive import export_archive

        return export_archive(self, Path(path))

    def import_archive(self, path: str | Path, *, replace: bool = False,
                       max_phi_bytes: int | None = None) -> ImportResult:
        """Read an export; everything is validated before anything is written (one transaction).

        ``max_phi_bytes``: the most one φ member may expand to (default ``archive.MAX_PHI_BYTES``)."""
        from ttom.memory.archive import MAX_PHI_BYTES, import_archive

        return import_archive(self, Path(path), replace=replace,
                              max_phi_bytes=MAX_PHI_BYTES if max_phi_bytes is None else max_phi_bytes)


__all__ = ["MemoryStore", "SCHEMA_VERSION", "mask_url"]
