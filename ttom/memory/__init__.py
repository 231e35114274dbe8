"""The parameter memory: φ* adapters keyed by abstracted scene descriptions (TTOM section 4).

    from ttom.memory import MemoryStore
    store = MemoryStore()                                  # settings: TTOM_DATABASE_URL, TTOM_MEMORY_*
    hits = store.recall(key_text, signature)               # [] on a miss
    phi = store.load_phi(hits[0].entry_id); store.record_use(hits[0].entry_id)
    store.memorize(key_text, phi_star, signature, quality=score, hit=hits[0] if hits else None)

Names are imported lazily so that ``import ttom.cli.memory`` (and ``ttom --help``) stays free of
SQLAlchemy and numpy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "MemoryStore": "ttom.memory.store",
    "MemoryEntry": "ttom.memory.types",
    "MemoryHit": "ttom.memory.types",
    "MemoryStats": "ttom.memory.types",
    "MemoryWrite": "ttom.memory.types",
    "InsertResult": "ttom.memory.types",
    "PruneResult": "ttom.memory.types",
    "Problem": "ttom.memory.types",
    "KeyEmbedder": "ttom.memory.embedder",
    "MiniLMEmbedder": "ttom.memory.embedder",
    "SentenceTransformerEmbedder": "ttom.memory.embedder",
    "MemoryStoreError": "ttom.memory.errors",
    "EntryNotFoundError": "ttom.memory.errors",
    "CorruptEntryError": "ttom.memory.errors",
    "InvalidPhiError": "ttom.memory.errors",
    "PhiMismatchError": "ttom.memory.errors",
    "SignatureError": "ttom.memory.errors",
    "SchemaVersionError": "ttom.memory.errors",
    "CorruptDatabaseError": "ttom.memory.errors",
    "DuplicateWriteError": "ttom.memory.errors",
    "PhiRecall": "ttom.memory.types",
    "ArchiveError": "ttom.memory.errors",
}

__all__ = [
    "ArchiveError",
    "CorruptDatabaseError",
    "CorruptEntryError",
    "DuplicateWriteError",
    "EntryNotFoundError",
    "InsertResult",
    "InvalidPhiError",
    "KeyEmbedder",
    "MemoryEntry",
    "MemoryHit",
    "MemoryStats",
    "MemoryStore",
    "MemoryStoreError",
    "MemoryWrite",
    "MiniLMEmbedder",
    "PhiMismatchError",
    "PhiRecall",
    "Problem",
    "PruneResult",
    "SchemaVersionError",
    "SentenceTransformerEmbedder",
    "SignatureError",
]

if TYPE_CHECKING:
    from ttom.memory.embedder import KeyEmbedder, MiniLMEmbedder, SentenceTransformerEmbedder
    from ttom.memory.errors import (
        ArchiveError,
        CorruptDatabaseError,
        CorruptEntryError,
        DuplicateWriteError,
        EntryNotFoundError,
        InvalidPhiError,
        MemoryStoreError,
        PhiMismatchError,
        SchemaVersionError,
        SignatureError,
    )
    from ttom.memory.store import MemoryStore
    from ttom.memory.types import (
        InsertResult,
        MemoryEntry,
        MemoryHit,
        MemoryStats,
        MemoryWrite,
        PhiRecall,
        Problem,
        PruneResult,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ttom.memory' has no attribute {name!r}")
    return getattr(import_module(module), name)
