"""The parameter memory: φ* adapters keyed by abstracted scene descriptions (TTOM section 4).

    from ttom.memory import MemoryStore
    store = MemoryStore()                                  # settings: TTOM_DATABASE_URL, TTOM_MEMORY_*
    got = store.recall_phi(key_text, signature, layout=layout)   # got.hit None on a miss; got.hit.mode skip | warm
    store.memorize(key_text, phi_star, signature, quality=score, hit=got.hit, layout=layout)

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
    "PrecomputedEmbedder": "ttom.memory.embedder",
    "Scene": "ttom.memory.match",
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
    "PrecomputedEmbedder",
    "Problem",
    "PruneResult",
    "Scene",
    "SchemaVersionError",
    "SentenceTransformerEmbedder",
    "SignatureError",
]

if TYPE_CHECKING:
    from ttom.memory.embedder import (
        KeyEmbedder,
        MiniLMEmbedder,
        PrecomputedEmbedder,
        SentenceTransformerEmbedder,
    )
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
    from ttom.memory.match import Scene
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
