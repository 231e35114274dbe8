"""φ blobs and adapter signatures: validation, canonical form, and the update rule.

φ is stored as the bytes of a safetensors file (never pickle). The header is checked here in
pure Python (no torch) so that inserting, listing and verifying stay cheap; only the update rule,
which does arithmetic on the tensors, imports torch.

Layout of a safetensors file (https://github.com/huggingface/safetensors#format):
``u64 little-endian N`` + ``N bytes of JSON header`` + ``data``; the header maps each tensor
name to ``{"dtype", "shape", "data_offsets": [begin, end]}`` relative to the data section, plus an
optional ``"__metadata__"`` map of strings. The tensors must tile the data section exactly.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ttom.memory.errors import InvalidPhiError, PhiMismatchError, SignatureError

# Bytes per element of every safetensors dtype ttom can meet (sub-byte types are not supported).
DTYPE_SIZES: dict[str, int] = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}
FLOAT_DTYPES = {"F16", "BF16", "F32", "F64"}
# The engine writes the running model's signature into φ's metadata under this key (engine/adapters.py).
SIGNATURE_METADATA_KEY = "ttom_signature"
# A header larger than this is not a LoRA: refuse it before json.loads (safetensors itself uses 100 MB).
MAX_HEADER_BYTES = 100_000_000


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str
    shape: tuple[int, ...]
    nbytes: int


@dataclass(frozen=True)
class PhiInfo:
    """What the safetensors header of a φ says."""

    tensors: tuple[TensorInfo, ...]
    metadata: dict[str, str]
    nbytes: int

    @property
    def n_params(self) -> int:
        return sum(math.prod(t.shape) for t in self.tensors)


def inspect_phi(data: bytes | bytearray | memoryview) -> PhiInfo:
    """Parse and check a safetensors file held in memory; ValueError (with the reason) when it is not one."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"expected bytes, got {type(data).__name__}")
    buf = memoryview(data)
    if len(buf) < 8:
        raise ValueError(f"{len(buf)} bytes is too short for a safetensors file")
    n = int.from_bytes(buf[:8], "little")
    if n > MAX_HEADER_BYTES or 8 + n > len(buf):
        raise ValueError(f"header length {n} does not fit in {len(buf)} bytes")
    try:
        header = json.loads(bytes(buf[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"header is not JSON ({e})") from None
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise ValueError("__metadata__ must map strings to strings")
    if not header:
        raise ValueError("holds no tensors")
    data_len = len(buf) - 8 - n
    tensors: list[TensorInfo] = []
    spans: list[tuple[int, int, str]] = []
    for name, spec in header.items():
        if not isinstance(spec, dict):
            raise ValueError(f"tensor {name!r}: entry is not an object")
        dtype, shape, offsets = spec.get("dtype"), spec.get("shape"), spec.get("data_offsets")
        if dtype not in DTYPE_SIZES:
            raise ValueError(f"tensor {name!r}: unsupported dtype {dtype!r}")
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise ValueError(f"tensor {name!r}: bad shape {shape!r}")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
            raise ValueError(f"tensor {name!r}: bad data_offsets {offsets!r}")
        begin, end = offsets
        nbytes = math.prod(shape) * DTYPE_SIZES[dtype]
        if not 0 <= begin <= end <= data_len or end - begin != nbytes:
            raise ValueError(f"tensor {name!r}: data_offsets {offsets} do not match shape {shape} {dtype} "
                             f"within {data_len} data bytes")
        tensors.append(TensorInfo(name, dtype, tuple(shape), nbytes))
        spans.append((begin, end, name))
    # The tensors must tile the data section: no gap, no overlap, nothing after the last one.
    pos = 0
    for begin, end, name in sorted(spans):
        if begin != pos:
            raise ValueError(f"tensor {name!r}: data starts at {begin}, expected {pos} (gap or overlap)")
        pos = end
    if pos != data_len:
        raise ValueError(f"{data_len - pos} trailing bytes after the last tensor")
    return PhiInfo(tuple(sorted(tensors, key=lambda t: t.name)), dict(metadata), len(buf))


def validate_phi(data: Any) -> PhiInfo:
    """``inspect_phi`` for bytes offered to the store: InvalidPhiError, with the reason, when they are bad."""
    try:
        return inspect_phi(data)
    except ValueError as e:
        raise InvalidPhiError(f"φ is not a valid safetensors file: {e}") from None


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def phi_to_bytes(phi: Any) -> bytes:
    """Accept φ as safetensors bytes, or as a dict of torch tensors / numpy arrays (serialised here)."""
    if isinstance(phi, (bytes, bytearray, memoryview)):
        return bytes(phi)
    if isinstance(phi, Mapping) and phi:
        first = next(iter(phi.values()))
        if type(first).__module__.startswith("torch"):
            from safetensors.torch import save

            return save({k: v.detach().cpu().contiguous() for k, v in phi.items()})
        if type(first).__module__.startswith("numpy"):
            import numpy as np
            from safetensors.numpy import save as np_save

            return np_save({k: np.ascontiguousarray(v) for k, v in phi.items()})
    raise InvalidPhiError(f"φ must be safetensors bytes or a non-empty dict of tensors, got {type(phi).__name__}")


# --- adapter signature ---------------------------------------------------------------------------

def _canonical_value(v: Any, path: str) -> Any:
    if isinstance(v, Mapping):
        out = {}
        for k, x in v.items():
            if not isinstance(k, str):
                raise SignatureError(f"adapter signature key {path}{k!r} is not a string")
            out[k] = _canonical_value(x, f"{path}{k}.")
        return out
    if isinstance(v, (list, tuple)):
        return [_canonical_value(x, path) for x in v]
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise SignatureError(f"adapter signature value at {path or 'top'} is not finite: {v}")
        # JSON does not tell 32 from 32.0; the engine writes alpha as a float, a user may not.
        return int(v) if v.is_integer() else v
    raise SignatureError(f"adapter signature value at {path or 'top'} is not JSON: {type(v).__name__}")


def canonical_signature(signature: Any) -> tuple[dict, str, str]:
    """(normalised dict, canonical JSON, sha256 of it) for an adapter signature.

    The signature is opaque to the memory: two are equal when their canonical JSON is (keys
    sorted, no whitespace, integral floats written as integers).
    """
    if hasattr(signature, "to_dict"):  # ttom.engine.adapters.Signature
        signature = signature.to_dict()
    elif hasattr(signature, "model_dump"):
        signature = signature.model_dump()
    if isinstance(signature, str):
        try:
            signature = json.loads(signature)
        except json.JSONDecodeError as e:
            raise SignatureError(f"adapter signature is not JSON: {e}") from None
    if not isinstance(signature, Mapping) or not signature:
        raise SignatureError(f"adapter signature must be a non-empty JSON object, got {signature!r:.200}")
    norm = _canonical_value(signature, "")
    text = json.dumps(norm, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return norm, text, hashlib.sha256(text.encode("utf-8")).hexdigest()


def signature_in_phi(info: PhiInfo) -> str | None:
    return info.metadata.get(SIGNATURE_METADATA_KEY)


# --- the update rule -------------------------------------------------------------------------------

def weighted_mean(old: bytes, new: bytes, similarity: float) -> bytes:
    """φ = (old + s·new) / (1 + s), tensor by tensor (official TTOM code, ``merge_lora_checkpoints``).

    Computed in float64 and cast back to the stored dtype. The stored φ's metadata (and with it the
    signature and LoRA config) is kept. PhiMismatchError when names, shapes or dtypes differ.
    """
    s = float(similarity)
    if not math.isfinite(s) or not 0.0 <= s <= 1.0:
        raise ValueError(f"similarity must be in [0, 1] for the weighted-mean update, got {similarity!r}")
    a, b = inspect_phi(old), inspect_phi(new)
    a_t = {t.name: t for t in a.tensors}
    b_t = {t.name: t for t in b.tensors}
    if a_t.keys() != b_t.keys():
        only_old = sorted(a_t.keys() - b_t.keys())[:3]
        only_new = sorted(b_t.keys() - a_t.keys())[:3]
        raise PhiMismatchError(f"φ tensors differ: only in the stored φ {only_old}, only in the new φ {only_new}")
    for name, t in a_t.items():
        u = b_t[name]
        if t.shape != u.shape:
            raise PhiMismatchError(f"φ tensor {name!r}: stored shape {list(t.shape)}, new shape {list(u.shape)}")
        if t.dtype not in FLOAT_DTYPES or u.dtype not in FLOAT_DTYPES:
            raise PhiMismatchError(f"φ tensor {name!r}: cannot average dtypes {t.dtype} and {u.dtype}")

    from safetensors.torch import load, save  # torch only here: the arithmetic needs bf16 support

    old_t, new_t = load(bytes(old)), load(bytes(new))
    merged = {
        k: ((old_t[k].double() + s * new_t[k].double()) / (1.0 + s)).to(old_t[k].dtype).contiguous()
        for k in sorted(old_t)
    }
    return save(merged, metadata=a.metadata or None)
