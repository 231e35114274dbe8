"""Helpers shared by the memory tests and their worker subprocesses (importable without pytest)."""

from __future__ import annotations

import functools
import os

import numpy as np

PG_URL = os.environ.get("TTOM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

# A small engine signature: φ is one LoRA on blocks.0.attn1.to_q, rank 4 (make_phi's default tensors).
SIG = {"backend": "cogvideox", "model_id": "THUDM/CogVideoX-5b", "blocks": [0], "modules": ["to_q"],
       "rank": 4, "alpha": 4.0, "format": 1, "attention": "attn1"}
OTHER_SIG = {**SIG, "model_id": "THUDM/CogVideoX-2b"}
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


def lora_shapes(sig: dict = SIG, hidden: int = 8) -> dict[str, tuple[int, int]]:
    """The tensors the engine writes for ``sig``: lora_A (rank, hidden) and lora_B (hidden, rank) per block and module."""
    r = sig["rank"]
    out = {}
    for b in sig["blocks"]:
        for m in sig["modules"]:
            out[f"transformer.blocks.{b}.{sig['attention']}.{m}.lora_A.weight"] = (r, hidden)
            out[f"transformer.blocks.{b}.{sig['attention']}.{m}.lora_B.weight"] = (hidden, r)
    return out


def make_phi(value: float | None = None, seed: int = 0, shapes: dict | None = None, dtype=np.float32,
             sig: dict | None = SIG, hidden: int = 8) -> bytes:
    """φ as the engine writes it: the tensors of ``sig``'s layout, ``sig`` in the metadata (None: none)."""
    import json

    from safetensors.numpy import save

    shapes = shapes or lora_shapes(sig or SIG, hidden)
    rng = np.random.default_rng(seed)
    metadata = {"ttom_signature": json.dumps(sig)} if sig is not None else None
    return save({k: (np.full(s, value, dtype) if value is not None else rng.normal(size=s).astype(dtype))
                 for k, s in shapes.items()}, metadata=metadata)


def ttom_cli(*args: str, cache_dir: str, timeout: float = 120.0):
    """``ttom ARGS`` in a fresh process (as a user runs it): the CompletedProcess, text output."""
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if not k.startswith("TTOM_")}
    env |= {"TTOM_CACHE_DIR": cache_dir, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run([sys.executable, "-m", "ttom.cli", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def one_error_line(p) -> str:
    """The single ``error: …`` line a failed command printed (asserting exit 2 and no traceback)."""
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in p.stderr, p.stderr
    return lines[0]
