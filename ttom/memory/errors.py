"""Errors of the parameter memory; each message names the entry or value at fault and what to do."""

from __future__ import annotations

from ttom.errors import TtomError


class MemoryStoreError(TtomError):
    """The memory database cannot be opened or used (base class of the memory's errors)."""


class CorruptDatabaseError(MemoryStoreError):
    """The memory database file is damaged, empty, or not a database: nothing in it is touched."""


class DuplicateWriteError(MemoryStoreError):
    """A write with this idempotency key was applied already (to ``entry_id``, as ``action``)."""

    def __init__(self, request_key: str, entry_id: str, action: str):
        self.request_key = request_key
        self.entry_id = entry_id
        self.action = action
        super().__init__(f"memory write {request_key!r} was applied already ({action} of entry {entry_id})")


class SchemaVersionError(MemoryStoreError):
    """The database was written by a newer ttom (or is not a ttom memory)."""


class EntryNotFoundError(MemoryStoreError, KeyError):
    """No entry has this id (it was deleted, evicted, or never existed)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class AmbiguousIdError(MemoryStoreError):
    """An id prefix matches more than one entry."""


class InvalidPhiError(MemoryStoreError, ValueError):
    """φ bytes offered for storage are not a valid safetensors file (nothing was written)."""


class CorruptEntryError(MemoryStoreError):
    """A stored entry fails its checks (checksum, safetensors header, embedding); other entries are fine."""

    def __init__(self, entry_id: str, problem: str):
        self.entry_id = entry_id
        self.problem = problem
        super().__init__(
            f"memory entry {entry_id} is corrupted: {problem}; remove it with `ttom memory rm {entry_id}` "
            "or `ttom memory prune --invalid`"
        )


class PhiMismatchError(MemoryStoreError, ValueError):
    """Two φ cannot be merged: their tensor names, shapes or dtypes differ."""


class SignatureError(MemoryStoreError, ValueError):
    """An adapter signature that is not a JSON object, or that disagrees with the one inside φ."""


class ArchiveError(MemoryStoreError):
    """An export archive that cannot be imported (nothing was written)."""
