"""Stored rows as the dataclasses the store returns; a row that cannot be read is named, never fatal."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ttom.memory.models import EntryRow
from ttom.memory.types import MemoryEntry, Problem


class BadRowError(ValueError):
    """A stored row whose values cannot be read (bad JSON, a text that is not a time, …)."""


def as_time(value: Any, what: str, required: bool = True) -> datetime | None:
    if value is None and not required:
        return None
    if not isinstance(value, datetime):
        raise BadRowError(f"{what} {str(value)[:40]!r} is not a time")
    return value


def to_entry(row: EntryRow) -> MemoryEntry:
    """The row as a MemoryEntry; BadRowError naming the unreadable field (SQLite stores any value anywhere)."""
    try:
        signature = json.loads(row.signature_json)
    except (TypeError, ValueError):
        raise BadRowError(f"its adapter signature is not JSON ({str(row.signature_json)[:40]!r})") from None
    if not isinstance(signature, dict):
        raise BadRowError("its adapter signature is not a JSON object")
    try:
        quality = None if row.quality is None else float(row.quality)
        numbers = int(row.use_count), int(row.dim), int(row.phi_nbytes)
    except (TypeError, ValueError):
        raise BadRowError(f"a number is not a number (quality {row.quality!r}, uses {row.use_count!r}, "
                          f"dim {row.dim!r}, φ bytes {row.phi_nbytes!r})") from None
    if quality is not None and not math.isfinite(quality):
        raise BadRowError(f"quality {quality} is not finite")
    if not all(isinstance(v, str) for v in (row.id, row.key_text, row.signature_hash, row.embedder, row.phi_sha256)):
        raise BadRowError("a text field holds something else")
    scene = None
    if row.scene_json is not None:
        try:
            scene = json.loads(row.scene_json)
        except (TypeError, ValueError):
            raise BadRowError(f"its scene is not JSON ({str(row.scene_json)[:40]!r})") from None
        if not isinstance(scene, dict):
            raise BadRowError("its scene is not a JSON object")
    return MemoryEntry(
        id=row.id, key_text=row.key_text, signature=signature, signature_hash=row.signature_hash, quality=quality,
        use_count=numbers[0], created_at=as_time(row.created_at, "created_at"),
        updated_at=as_time(row.updated_at, "updated_at"),
        last_used_at=as_time(row.last_used_at, "last_used_at", required=False),
        embedder=row.embedder, dim=numbers[1], phi_nbytes=numbers[2], phi_sha256=row.phi_sha256, problem=row.problem,
        scene=scene, structure_hash=row.structure_hash,
    )


def entries_of(rows: Sequence[EntryRow]) -> tuple[list[MemoryEntry], list[Problem]]:
    """Rows as entries, and the unreadable ones as problems (one bad row never hides the others)."""
    entries, bad = [], []
    for row in rows:
        try:
            entries.append(to_entry(row))
        except BadRowError as e:
            bad.append(Problem(row.id if isinstance(row.id, str) else None, f"unreadable row: {e}"))
    return entries, bad


def check_quality(quality: float | None) -> float | None:
    if quality is None:
        return None
    q = float(quality)
    if not math.isfinite(q):
        raise ValueError(f"quality must be a finite number, got {quality!r}")
    return q

