"""Helpers shared by the memory tests and their worker subprocesses (importable without pytest)."""

from __future__ import annotations

import functools
import os

import numpy as np

PG_URL = os.environ.get("TTOM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

SIG = {"backend": "cogvideox", "model_id": "THUDM/CogVideoX-5b", "blocks": [0, 1, 2, 3],
       "modules": ["to_q", "to_k", "to_v", "to_out.0"], "rank": 32, "alpha": 32.0, "format": 1}
OTHER_SIG = {**SIG, "rank": 16}
DIM = 384


@functools.cache
def pg_unreachable() -> str | None:
    """None when the test PostgreSQL server answers, else the reason (shown in the skip)."""
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as c:
            c.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as e:  # any failure to connect means: not reachable from here
        return f"PostgreSQL at {PG_URL} is unreachable ({type(e).__name__}: {str(e).splitlines()[0]})"


def unit(seed: int, dim: int = DIM) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


def at_cosine(base: np.ndarray, other: np.ndarray, cos: float) -> np.ndarray:
    """A unit vector whose cosine with the unit vector ``base`` is exactly ``cos``."""
    o = other - (other @ base) * base
    o /= np.linalg.norm(o)
    return (cos * base + np.sqrt(1 - cos * cos) * o).astype(np.float32)


def make_phi(value: float | None = None, seed: int = 0, shapes: dict | None = None, dtype=np.float32) -> bytes:
    from safetensors.numpy import save

    shapes = shapes or {"transformer.blocks.0.attn1.to_q.lora_A.weight": (4, 8),
                        "transformer.blocks.0.attn1.to_q.lora_B.weight": (8, 4)}
    rng = np.random.default_rng(seed)
    return save({k: (np.full(s, value, dtype) if value is not None else rng.normal(size=s).astype(dtype))
                 for k, s in shapes.items()})
