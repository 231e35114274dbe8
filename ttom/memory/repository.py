"""Data access of the parameter memory: functions that take a Session and never commit.

The caller (``MemoryStore``) owns the transaction: one unit of work, one transaction, so a crash
at any point leaves either all of a write or none of it. Functions that add or remove entries
lock the meta row first (``lock_meta``); that is what serialises inserts, deletes and evictions on
PostgreSQL and keeps the entry count at or under capacity. On SQLite the store opens write
transactions with ``BEGIN IMMEDIATE``, which serialises every writer before it reads anything.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timezone
from typing import Literal

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.orm import Session

from ttom.memory import models
from ttom.memory.errors import SchemaVersionError
from ttom.memory.models import META_ID, SCHEMA_VERSION, EntryRow, MetaRow, PhiRow, RemovalRow, WriteRow

Order = Literal["recent", "uses", "quality", "created", "lfu"]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# --- meta -------------------------------------------------------------------------------------------

def ensure_meta(s: Session) -> MetaRow:
    """The meta row, created on a fresh database; SchemaVersionError for a newer schema."""
    meta = s.get(MetaRow, META_ID)
    if meta is None:
        meta = MetaRow(id=META_ID, schema_version=SCHEMA_VERSION, generation=0, inserted_total=0,
                       deleted_total=0, evicted_total=0, removals_trimmed_upto=0, created_at=utcnow())
        s.add(meta)
        s.flush()
    elif meta.schema_version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"the memory database has schema version {meta.schema_version}, but this ttom reads up to "
            f"version {SCHEMA_VERSION}: upgrade ttom, or point TTOM_DATABASE_URL at another database"
        )
    # Older versions are migrated by the store (it owns the DDL), then their version is raised here.
    return meta


def lock_meta(s: Session) -> MetaRow:
    """Lock the meta row for the rest of the transaction (FOR UPDATE on PostgreSQL)."""
    return s.execute(select(MetaRow).where(MetaRow.id == META_ID).with_for_update()).scalar_one()


def get_meta(s: Session) -> MetaRow:
    return s.execute(select(MetaRow).where(MetaRow.id == META_ID)).scalar_one()


# --- reads ------------------------------------------------------------------------------------------

def index_state(s: Session) -> tuple[int, int]:
    """(generation, removals_trimmed_upto): what a cached key matrix is checked against."""
    gen, trimmed = s.execute(
        select(MetaRow.generation, MetaRow.removals_trimmed_upto).where(MetaRow.id == META_ID)
    ).one()
    return int(gen), int(trimmed)


def index_rows(s: Session, after_seq: int = 0) -> Sequence:
    """(seq, id, signature_hash, embedder, dim, embedding, structure_hash) of recallable entries with
    seq > after_seq (quarantined ones are left out), in one query."""
    return s.execute(
        select(EntryRow.seq, EntryRow.id, EntryRow.signature_hash, EntryRow.embedder, EntryRow.dim,
               EntryRow.embedding, EntryRow.structure_hash)
        .where(EntryRow.seq > after_seq, EntryRow.problem.is_(None)).order_by(EntryRow.seq)
    ).all()


def removals_after(s: Session, after: int) -> tuple[list[int], int]:
    """(entry seqs removed, log position) for removal-log rows after position ``after``."""
    rows = s.execute(select(RemovalRow.seq, RemovalRow.entry_seq).where(RemovalRow.seq > after)
                     .order_by(RemovalRow.seq)).all()
    return [int(r.entry_seq) for r in rows], (int(rows[-1].seq) if rows else after)


def removal_position(s: Session) -> int:
    return int(s.execute(select(func.coalesce(func.max(RemovalRow.seq), 0))).scalar_one())


def get_entry(s: Session, entry_id: str, for_update: bool = False) -> EntryRow | None:
    stmt = select(EntryRow).where(EntryRow.id == entry_id)
    if for_update:
        stmt = stmt.with_for_update()
    return s.execute(stmt).scalar_one_or_none()


def get_entries(s: Session, entry_ids: Collection[str]) -> dict[str, EntryRow]:
    if not entry_ids:
        return {}
    rows = s.execute(select(EntryRow).where(EntryRow.id.in_(list(entry_ids)))).scalars()
    return {r.id: r for r in rows}


def hit_rows(s: Session, entry_ids: Collection[str], scenes: bool = False) -> dict[str, Row]:
    """The columns a recall hit shows (and, with ``scenes``, its scene JSON), as plain rows (no ORM
    objects: recall is latency-bound)."""
    cols = [EntryRow.id, EntryRow.key_text, EntryRow.quality, EntryRow.use_count, EntryRow.signature_hash,
            EntryRow.created_at, EntryRow.last_used_at]
    if scenes:
        cols += [EntryRow.scene_json, EntryRow.structure_hash]
    rows = s.execute(select(*cols).where(EntryRow.id.in_(list(entry_ids)))).all()
    return {r.id: r for r in rows}


def ids_with_prefix(s: Session, prefix: str, limit: int = 2) -> list[str]:
    # Ids are lowercase hex, so a prefix has no LIKE wildcards once it is checked to be hex.
    return list(s.execute(select(EntryRow.id).where(EntryRow.id.like(prefix + "%")).limit(limit)).scalars())


def list_entries(s: Session, order: Order = "recent", limit: int | None = None,
                 signature_hash: str | None = None) -> list[EntryRow]:
    last = func.coalesce(EntryRow.last_used_at, EntryRow.created_at)
    orders = {
        "recent": (last.desc(), EntryRow.seq.desc()),
        "uses": (EntryRow.use_count.desc(), last.desc(), EntryRow.seq.desc()),
        "quality": (EntryRow.quality.desc().nulls_last(), EntryRow.seq.desc()),
        "created": (EntryRow.seq.desc(),),
        "lfu": lfu_order(),
    }
    stmt = select(EntryRow).order_by(*orders[order])
    if signature_hash:
        stmt = stmt.where(EntryRow.signature_hash == signature_hash)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(s.execute(stmt).scalars())


def count_entries(s: Session) -> int:
    return s.execute(select(func.count()).select_from(EntryRow)).scalar_one()


def get_phi(s: Session, entry_id: str) -> bytes | None:
    data = s.execute(select(PhiRow.data).where(PhiRow.entry_id == entry_id)).scalar_one_or_none()
    return None if data is None else bytes(data)


def signature_groups(s: Session) -> list[tuple[str, str, int]]:
    """(signature_hash, signature_json, entries) per adapter signature, largest group first."""
    rows = s.execute(
        select(EntryRow.signature_hash, func.min(EntryRow.signature_json), func.count())
        .group_by(EntryRow.signature_hash).order_by(func.count().desc())
    ).all()
    return [(h, j, n) for h, j, n in rows]


def totals(s: Session) -> tuple[int, int, int, datetime | None, datetime | None]:
    """(entries, φ bytes, uses, oldest created_at, newest created_at)."""
    n, nbytes, uses, oldest, newest = s.execute(
        select(func.count(), func.coalesce(func.sum(EntryRow.phi_nbytes), 0),
               func.coalesce(func.sum(EntryRow.use_count), 0), func.min(EntryRow.created_at),
               func.max(EntryRow.created_at))
    ).one()
    return int(n), int(nbytes), int(uses), oldest, newest


def orphan_phi_ids(s: Session) -> list[str]:
    return list(s.execute(select(PhiRow.entry_id).where(PhiRow.entry_id.not_in(select(EntryRow.id)))).scalars())


def entries_without_phi(s: Session) -> list[str]:
    return list(s.execute(select(EntryRow.id).where(EntryRow.id.not_in(select(PhiRow.entry_id)))).scalars())


# --- writes -----------------------------------------------------------------------------------------

def lfu_order() -> tuple:
    """Least frequently used first; ties: least recently used (never used = its creation time), then oldest."""
    return (EntryRow.use_count.asc(), func.coalesce(EntryRow.last_used_at, EntryRow.created_at).asc(),
            EntryRow.seq.asc())


def add_entry(s: Session, row: EntryRow, phi: bytes, meta: MetaRow) -> None:
    """Add one entry and its φ; the caller holds the meta lock (``lock_meta``)."""
    s.add(row)
    s.flush()  # the entry row first: φ's foreign key points at it
    s.add(PhiRow(entry_id=row.id, data=phi))
    meta.inserted_total += 1
    meta.generation += 1
    s.flush()


def evict_lfu(s: Session, capacity: int, meta: MetaRow, keep: Collection[str] = ()) -> list[str]:
    """Delete least-frequently-used entries until at most ``capacity`` remain; returns their ids.

    ``keep`` (the entries just written in this transaction) is never evicted: a new entry has no
    uses yet and would otherwise always be the first victim. The caller holds the meta lock, so
    no other writer adds entries between the count and the delete.
    """
    excess = count_entries(s) - capacity
    if excess <= 0:
        return []
    stmt = select(EntryRow.id).order_by(*lfu_order()).limit(excess)
    if keep:
        stmt = stmt.where(EntryRow.id.not_in(list(keep)))
    victims = list(s.execute(stmt).scalars())
    if victims:
        _delete_ids(s, victims, meta)
        meta.evicted_total += len(victims)
        meta.generation += 1
        s.flush()
    return victims


def delete_entry(s: Session, entry_id: str, meta: MetaRow) -> bool:
    """Delete one entry and its φ; the caller holds the meta lock. False when it did not exist."""
    n = _delete_ids(s, [entry_id], meta)
    if n:
        meta.deleted_total += n
        meta.generation += 1
        s.flush()
    return bool(n)


def _delete_ids(s: Session, ids: list[str], meta: MetaRow) -> int:
    """Delete entries and their φ, and log their seqs for the readers' key caches."""
    doomed = list(s.execute(select(EntryRow.seq).where(EntryRow.id.in_(ids))).scalars())
    if not doomed:
        return 0
    # φ first, explicitly: SQLite only honours ON DELETE CASCADE with PRAGMA foreign_keys on.
    s.execute(delete(PhiRow).where(PhiRow.entry_id.in_(ids)).execution_options(synchronize_session=False))
    s.execute(delete(EntryRow).where(EntryRow.seq.in_(doomed)).execution_options(synchronize_session=False))
    s.execute(insert(RemovalRow), [{"entry_seq": q} for q in doomed])
    _trim_removals(s, meta)
    return len(doomed)


def _trim_removals(s: Session, meta: MetaRow) -> None:
    """Keep the removal log short: drop all but the last REMOVALS_KEEP rows once it has twice that."""
    top = removal_position(s)
    if top - meta.removals_trimmed_upto > 2 * models.REMOVALS_KEEP:
        cut = top - models.REMOVALS_KEEP
        s.execute(delete(RemovalRow).where(RemovalRow.seq <= cut).execution_options(synchronize_session=False))
        meta.removals_trimmed_upto = cut


def increment_use(s: Session, entry_id: str, now: datetime) -> bool:
    """use_count + 1 as one atomic UPDATE (no read-modify-write, so concurrent uses all count)."""
    res = s.execute(
        update(EntryRow).where(EntryRow.id == entry_id)
        .values(use_count=EntryRow.use_count + 1, last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    return (res.rowcount or 0) == 1


def quarantine(s: Session, entry_id: str, problem: str, meta: MetaRow) -> bool:
    """Mark an entry as failing its checks; recall stops returning it (the caller holds the meta lock).

    Its seq goes into the removal log, so the key caches of every process drop it as they drop a
    deleted entry; the row and its φ stay for ``show`` and ``prune --invalid``.
    """
    seq = s.execute(select(EntryRow.seq).where(EntryRow.id == entry_id, EntryRow.problem.is_(None))).scalar()
    if seq is None:
        return False
    s.execute(update(EntryRow).where(EntryRow.seq == seq).values(problem=problem[:2000])
              .execution_options(synchronize_session=False))
    s.execute(insert(RemovalRow), [{"entry_seq": seq}])
    _trim_removals(s, meta)
    meta.generation += 1
    s.flush()
    return True


def release(s: Session, row: EntryRow, meta: MetaRow) -> None:
    """Take a quarantined entry back into recall (the caller holds the meta lock and the row's lock).

    Key caches dropped its seq and only add seqs past their last one, so every process must reload
    its keys in full once: a log row past every reader's position, marked as the trim point, does that.
    """
    row.problem = None
    s.execute(insert(RemovalRow), [{"entry_seq": row.seq}])
    meta.removals_trimmed_upto = removal_position(s)
    meta.generation += 1
    s.flush()


def get_write(s: Session, request_key: str) -> WriteRow | None:
    return s.execute(select(WriteRow).where(WriteRow.request_key == request_key)).scalar_one_or_none()


def log_write(s: Session, request_key: str, entry_id: str, action: str, now: datetime) -> None:
    """Record an applied write under its idempotency key (unique: a concurrent repeat fails to commit)."""
    s.add(WriteRow(request_key=request_key, entry_id=entry_id, action=action, created_at=now))
    s.flush()


def trim_writes(s: Session) -> None:
    """Keep the last WRITES_KEEP idempotency keys (the caller holds the meta lock)."""
    low, top = s.execute(select(func.min(WriteRow.seq), func.max(WriteRow.seq))).one()
    if top is not None and top - low >= 2 * models.WRITES_KEEP:
        s.execute(delete(WriteRow).where(WriteRow.seq <= top - models.WRITES_KEEP)
                  .execution_options(synchronize_session=False))


def replace_phi(s: Session, row: EntryRow, phi: bytes, sha: str, quality: float | None, now: datetime) -> None:
    """Overwrite an entry's φ (the caller locked ``row`` with ``get_entry(..., for_update=True)``)."""
    res = s.execute(update(PhiRow).where(PhiRow.entry_id == row.id).values(data=phi)
                    .execution_options(synchronize_session=False))
    if not res.rowcount:  # the φ row was lost (a repair by hand): replacing restores it
        s.add(PhiRow(entry_id=row.id, data=phi))
    row.phi_sha256 = sha
    row.phi_nbytes = len(phi)
    row.quality = quality
    row.updated_at = now
    s.flush()


def add_entries_bulk(s: Session, entries: Sequence[dict], phis: Sequence[dict], meta: MetaRow) -> None:
    """Insert many entries in one statement per table (filling benchmarks); the caller holds the meta lock.

    ``entries``: column dicts of ``EntryRow``; ``phis``: ``{"entry_id", "data"}`` dicts.
    """
    s.execute(insert(EntryRow), list(entries))
    s.execute(insert(PhiRow), list(phis))
    meta.inserted_total += len(entries)
    meta.generation += 1
    s.flush()
