"""SQLAlchemy ORM models of the parameter memory (schema version 3).

Five tables:

- ``ttom_memory_meta``: one row (id 1) with the schema version, a *generation* counter that every
  change to the set of keys bumps (recall caches its embedding matrix per generation), and
  running totals used by ``stats`` and the consistency check. Writers that add or remove entries
  lock this row first, which serialises them on PostgreSQL (SQLite serialises all writers anyway).
- ``ttom_memory_entries``: key text, key embedding (float32 bytes), adapter signature, quality,
  use count, times; no φ, so listing and recall never read adapter weights. ``problem`` is set when
  the entry failed a check on use (its φ was poisoned or damaged): recall no longer returns it,
  ``prune --invalid`` removes it. ``scene_json`` holds the layout φ was learned on, its scene
  structure and which slot each object fills; ``structure_hash`` indexes the structure (recall
  compares structures first, then geometry: ``ttom.memory.match``). Both are NULL for an entry
  stored without a layout (every entry of a version-2 memory).
- ``ttom_memory_phi``: the φ* safetensors bytes, one row per entry.
- ``ttom_memory_removals``: a log of removed entries (their ``seq``), so that a process holding
  the key matrix in memory can drop what others deleted without reloading all keys. Trimmed to
  its last ``REMOVALS_KEEP`` rows; a reader that fell further behind reloads everything.
- ``ttom_memory_writes``: the idempotency keys of applied writes (``memorize(request_key=...)``,
  e.g. thread and round), so that a write repeated after a resume is not applied twice. Trimmed
  to its last ``WRITES_KEEP`` rows.

Older versions are migrated in place when a store opens them, in one transaction, every row kept:
version 1 (no ``problem`` column, no writes table) and version 2 (no ``scene_json`` and
``structure_hash`` columns; its entries keep NULL there: recall only warm-starts from them, and only
for a request with the same key text).

``seq`` columns only grow (AUTOINCREMENT on SQLite, a sequence on PostgreSQL), and rows are
added under the meta lock, so they become visible in ``seq`` order: a reader can ask for
"entries after seq N" and miss nothing.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA_VERSION = 3
META_ID = 1
REMOVALS_KEEP = 10_000  # removal log rows kept; readers further behind reload all keys
WRITES_KEEP = 10_000  # idempotency keys kept: a resume repeats a write minutes later, not 10k writes later


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every dialect (SQLite has no time zones: store naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the memory; use datetime.now(timezone.utc)")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)

    def result_processor(self, dialect, coltype):
        """On SQLite, a stored text that is not a time comes back as that text instead of raising.

        SQLite stores times as text, and any text can end up there (a repair by hand, a broken
        disk); SQLAlchemy's parser would then raise while fetching, and one bad row would stop a
        whole listing. The store checks each row (``MemoryEntry`` wants datetimes) and reports the
        bad ones instead.
        """
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def process(value):
            if value is None or isinstance(value, datetime):
                return None if value is None else self.process_result_value(value, dialect)
            try:
                return self.process_result_value(datetime.fromisoformat(value), dialect)
            except (TypeError, ValueError):
                return value

        return process


# BIGINT primary keys autoincrement on PostgreSQL; SQLite only does so for INTEGER PRIMARY KEY.
BigIntKey = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    pass


class MetaRow(Base):
    __tablename__ = "ttom_memory_meta"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schema_version: Mapped[int] = mapped_column(Integer)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)
    inserted_total: Mapped[int] = mapped_column(BigInteger, default=0)
    deleted_total: Mapped[int] = mapped_column(BigInteger, default=0)
    evicted_total: Mapped[int] = mapped_column(BigInteger, default=0)
    removals_trimmed_upto: Mapped[int] = mapped_column(BigInteger, default=0)  # log rows <= this are gone
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class EntryRow(Base):
    __tablename__ = "ttom_memory_entries"

    # seq orders entries by insertion (last tie-break of eviction); id is the public, portable id.
    seq: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    key_text: Mapped[str] = mapped_column(Text)
    embedder: Mapped[str] = mapped_column(String(200))
    dim: Mapped[int] = mapped_column(Integer)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)  # (dim,) float32 little-endian, unit norm
    signature_json: Mapped[str] = mapped_column(Text)  # canonical JSON
    signature_hash: Mapped[str] = mapped_column(String(64), index=True)
    quality: Mapped[float | None] = mapped_column(Float, nullable=True)
    use_count: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    phi_sha256: Mapped[str] = mapped_column(String(64))
    phi_nbytes: Mapped[int] = mapped_column(BigInteger)
    problem: Mapped[str | None] = mapped_column(Text, nullable=True)  # quarantined: why (schema 2)
    scene_json: Mapped[str | None] = mapped_column(Text, nullable=True)  # layout, structure, slots (schema 3)
    structure_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)  # sha256 of the structure (schema 3)

    # AUTOINCREMENT: without it SQLite reuses the largest rowid after a delete, and "entries after
    # seq N" would miss a new entry that took a deleted one's seq.
    __table_args__ = (Index("ix_ttom_memory_entries_lfu", "use_count", "last_used_at"),
                      {"sqlite_autoincrement": True})


class PhiRow(Base):
    __tablename__ = "ttom_memory_phi"

    entry_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("ttom_memory_entries.id", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[bytes] = mapped_column(LargeBinary)  # a safetensors file


class RemovalRow(Base):
    __tablename__ = "ttom_memory_removals"

    seq: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    entry_seq: Mapped[int] = mapped_column(BigInteger)  # EntryRow.seq of the removed entry

    __table_args__ = ({"sqlite_autoincrement": True},)


class WriteRow(Base):
    """An applied write, by its idempotency key (schema 2)."""

    __tablename__ = "ttom_memory_writes"

    seq: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    request_key: Mapped[str] = mapped_column(String(200), unique=True)
    entry_id: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(10))  # insert | update
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = ({"sqlite_autoincrement": True},)
