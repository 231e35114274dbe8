"""The key embeddings of the store, held in memory for recall and brought up to date incrementally.

All recallable entries' key embeddings are read in one query into one float32 matrix per
(adapter signature, embedder, dimension), with each entry's structure hash beside its row, and
cached until the store's *generation* changes (every insert, delete, eviction or quarantine bumps
it, in the same transaction). After writes (by this process or another) the cache catches up:
entries whose ``seq`` is past the last one it holds are added, and seqs in the removal log past its
position are dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ttom.memory.types import Problem

log = logging.getLogger("ttom.memory")

GroupKey = tuple[str, str, int]  # (signature hash, embedder name, dim)


@dataclass(frozen=True)
class Group:
    """The keys of one (signature, embedder, dimension): row i is entry ``ids[i]``."""

    seqs: np.ndarray  # (n,) int64, entry seqs
    ids: list[str]
    mat: np.ndarray  # (n, dim) float32, unit rows
    structures: np.ndarray  # (n,) object: each entry's structure hash, None for an entry stored without a layout

    def keep(self, mask: np.ndarray) -> Group:
        return Group(self.seqs[mask], [i for i, k in zip(self.ids, mask, strict=True) if k], self.mat[mask],
                     self.structures[mask])

    def join(self, other: Group) -> Group:
        return Group(np.concatenate([self.seqs, other.seqs]), self.ids + other.ids,
                     np.concatenate([self.mat, other.mat]), np.concatenate([self.structures, other.structures]))


@dataclass(frozen=True)
class KeyIndex:
    """The key embeddings of one generation of the store, grouped for recall.

    ``max_seq`` (last entry seen) and ``removal_pos`` (last removal-log row seen) let the next
    generation be reached incrementally: add entries after ``max_seq``, drop the seqs logged
    after ``removal_pos``.
    """

    generation: int
    max_seq: int
    removal_pos: int
    groups: dict[GroupKey, Group]
    bad: list[Problem]

    @staticmethod
    def _parse(rows: Sequence) -> tuple[dict[GroupKey, Group], list[Problem]]:
        buckets: dict[GroupKey, tuple[list[int], list[str], list[bytes], list[str | None]]] = {}
        bad: list[Problem] = []
        for seq, entry_id, sig_hash, embedder, dim, blob, structure in rows:
            if blob is None or len(blob) != 4 * dim:
                bad.append(Problem(entry_id, f"embedding has {0 if blob is None else len(blob)} bytes, "
                                             f"expected {4 * dim}"))
                continue
            seqs, ids, blobs, structs = buckets.setdefault((sig_hash, embedder, dim), ([], [], [], []))
            seqs.append(seq)
            ids.append(entry_id)
            blobs.append(bytes(blob))
            structs.append(structure if isinstance(structure, str) else None)
        groups = {}
        for key, (seqs, ids, blobs, structs) in buckets.items():
            mat = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(ids), key[2])
            group = Group(np.asarray(seqs, dtype=np.int64), ids, np.ascontiguousarray(mat, dtype=np.float32),
                          np.asarray(structs, dtype=object))
            # Stored keys are unit vectors; anything else was damaged after it was written.
            norms = np.linalg.norm(mat, axis=1)
            ok = np.isfinite(norms) & (np.abs(norms - 1.0) < 1e-3)
            if not ok.all():
                for i in np.flatnonzero(~ok):
                    bad.append(Problem(ids[i], "embedding is not a finite unit vector"))
                group = group.keep(ok)
            groups[key] = group
        for p in bad:
            log.warning("memory entry %s skipped by recall: %s", p.entry_id, p.problem)
        return groups, bad

    @classmethod
    def build(cls, generation: int, removal_pos: int, rows: Sequence) -> KeyIndex:
        groups, bad = cls._parse(rows)
        return cls(generation, max((r[0] for r in rows), default=0), removal_pos, groups, bad)

    def advance(self, generation: int, removal_pos: int, removed: list[int], rows: Sequence) -> KeyIndex:
        """The next generation: this one, less the removed seqs, plus the new rows."""
        groups = dict(self.groups)
        if removed:
            gone = np.asarray(removed, dtype=np.int64)
            for key, g in self.groups.items():
                keep = ~np.isin(g.seqs, gone)
                if not keep.all():
                    groups[key] = g.keep(keep)
        added, bad = self._parse(rows)
        for key, g in added.items():
            old = groups.get(key)
            groups[key] = g if old is None else old.join(g)
        max_seq = max(self.max_seq, max((r[0] for r in rows), default=0))
        return KeyIndex(generation, max_seq, removal_pos, groups, self.bad + bad)

