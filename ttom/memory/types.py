"""What leaves the memory package: plain dataclasses, never ORM rows."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in d.items()}


@dataclass(frozen=True)
class MemoryEntry:
    """One remembered φ* and what it was learned for (the φ bytes themselves: ``store.load_phi(id)``)."""

    id: str
    key_text: str  # the abstracted scene description the key embedding was made from
    signature: dict[str, Any]  # adapter signature φ fits (opaque JSON from the engine)
    signature_hash: str  # sha256 of the canonical JSON of ``signature``
    quality: float | None  # the critic's score of the video made with φ (higher is better)
    use_count: int
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime | None  # None until the first recorded use
    embedder: str
    dim: int
    phi_nbytes: int
    phi_sha256: str
    problem: str | None = None  # set when the entry failed a check on use: not recalled any more
    # the layout φ was learned on, its structure and slots (``ttom.memory.match``); None when stored without one
    scene: dict[str, Any] | None = None
    structure_hash: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class MemoryHit:
    """An entry returned by recall: its key's cosine similarity to the query key and, for a recall with a
    layout, the geometric similarity of the two layouts and the mode it allows (``skip`` or ``warm``)."""

    entry_id: str
    similarity: float
    key_text: str
    quality: float | None
    use_count: int
    signature_hash: str
    created_at: datetime
    last_used_at: datetime | None
    geometry: float | None = None  # None: no layout to compare (a text-only recall, or an entry stored without one)
    mode: Literal["skip", "warm"] | None = None  # None for a text-only recall

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class RecallRef:
    """The entry a request recalled, as its state keeps it: what ``MemoryStore.memorize`` needs to update it."""

    entry_id: str
    similarity: float
    geometry: float | None = None
    mode: Literal["skip", "warm"] | None = None


@dataclass(frozen=True)
class InsertResult:
    entry: MemoryEntry
    evicted: list[str] = field(default_factory=list)  # ids removed by LFU eviction in the same transaction

    @property
    def entry_id(self) -> str:
        return self.entry.id


@dataclass(frozen=True)
class MemoryWrite:
    """What ``MemoryStore.memorize`` did, in the shape report.json's ``memory`` part wants."""

    action: Literal["insert", "update"]
    entry_id: str
    similarity: float | None
    evicted: list[str] = field(default_factory=list)
    replayed: bool = False  # this request_key's write had been applied before: nothing was written now

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PhiRecall:
    """What ``MemoryStore.recall_phi`` found: the best usable hit and its φ, or none, and why."""

    hit: MemoryHit | None
    phi: bytes | None
    notes: list[str] = field(default_factory=list)  # hits passed over (damaged, poisoned, vanished)


@dataclass(frozen=True)
class Problem:
    """A failed check on one entry (or on the store, with entry_id None)."""

    entry_id: str | None
    problem: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PruneResult:
    evicted: list[str]  # LFU victims to get down to capacity
    invalid: list[Problem]  # entries that failed their checks (removed unless dry_run)
    dry_run: bool

    def to_dict(self) -> dict[str, Any]:
        return {"evicted": self.evicted, "invalid": [p.to_dict() for p in self.invalid], "dry_run": self.dry_run}


@dataclass(frozen=True)
class MemoryStats:
    url: str  # password hidden
    dialect: str
    schema_version: int
    entries: int
    capacity: int
    phi_bytes: int
    total_uses: int
    generation: int
    inserted_total: int
    deleted_total: int
    evicted_total: int
    signatures: list[dict[str, Any]]  # one row per adapter signature: hash, a short label, entries
    oldest: datetime | None
    newest: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))
