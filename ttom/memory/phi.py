"""φ blobs and adapter signatures: validation, canonical form, and the update rule.

φ is stored as the bytes of a safetensors file (never pickle). Everything the memory asks of φ
is checked here, in one place, for the store, the archive import and ``prune --invalid`` alike:

- ``inspect_phi``: a well-formed safetensors file (header, offsets, no trailing bytes);
- ``check_phi``: also ttom's adapter signature in its metadata, tensor names, shapes and dtypes
  that fit that signature's layout (blocks, modules, rank), and finite values;
- ``check_stored_phi``: ``check_phi`` plus the entry's checksum and signature, as CorruptEntryError.

The checks are pure Python and numpy (no torch), so inserting, listing and verifying stay cheap;
only the update rule, which does arithmetic on the tensors, imports torch.

Layout of a safetensors file (https://github.com/huggingface/safetensors#format):
``u64 little-endian N`` + ``N bytes of JSON header`` + ``data``; the header maps each tensor
name to ``{"dtype", "shape", "data_offsets": [begin, end]}`` relative to the data section, plus an
optional ``"__metadata__"`` map of strings. The tensors must tile the data section exactly.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ttom.memory.errors import CorruptEntryError, InvalidPhiError, PhiMismatchError, SignatureError

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
    begin: int = 0  # offset of the tensor's data in the data section


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
        tensors.append(TensorInfo(name, dtype, tuple(shape), nbytes, begin))
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


def phi_to_bytes(phi: Any, signature: Any = None) -> bytes:
    """Accept φ as safetensors bytes, or as a dict of torch tensors / numpy arrays (serialised here,
    with ``signature`` written into the metadata as the engine does)."""
    if isinstance(phi, (bytes, bytearray, memoryview)):
        return bytes(phi)
    metadata = None
    if signature is not None:
        metadata = {SIGNATURE_METADATA_KEY: canonical_signature(signature)[1]}
    if isinstance(phi, Mapping) and phi:
        first = next(iter(phi.values()))
        if type(first).__module__.startswith("torch"):
            from safetensors.torch import save

            return save({k: v.detach().cpu().contiguous() for k, v in phi.items()}, metadata=metadata)
        if type(first).__module__.startswith("numpy"):
            from safetensors.numpy import save as np_save

            return np_save({k: np.ascontiguousarray(v) for k, v in phi.items()}, metadata=metadata)
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


# --- what the memory asks of φ ----------------------------------------------------------------------

# The engine's tensor names (engine/adapters.py, diffusers' save_lora_weights layout):
# transformer.<block list>.<block>.<attention>.<module>.lora_A|B.weight, e.g.
# transformer.blocks.3.attn2.to_out.0.lora_B.weight (Wan) or transformer.transformer_blocks.0.attn1.to_q…
LORA_NAME = re.compile(r"^transformer\.(?P<blocks>[A-Za-z_]\w*)\.(?P<block>\d+)\.(?P<attn>[A-Za-z_]\w*)\."
                       r"(?P<module>.+)\.lora_(?P<factor>[AB])\.weight$")
# The bits of a non-finite value (exponent all ones: inf or NaN), per float dtype, read as unsigned ints.
_EXPONENT = {"F16": ("<u2", 0x7C00), "BF16": ("<u2", 0x7F80), "F32": ("<u4", 0x7F800000),
             "F64": ("<u8", 0x7FF0000000000000)}
_CHUNK = 1 << 22  # elements per finiteness check: bounds the temporary arrays (16-32 MB)


def _signature_layout(sig: dict) -> tuple[list[int], list[str], int, str | None]:
    """(blocks, modules, rank, attention or None) of an engine adapter signature; SignatureError if it has none."""
    try:
        blocks = sig["blocks"]
        modules = sig["modules"]
        rank = sig["rank"]
        if (not isinstance(blocks, list) or not blocks or not isinstance(modules, list) or not modules
                or not all(isinstance(b, int) and not isinstance(b, bool) and b >= 0 for b in blocks)
                or not all(isinstance(m, str) and m for m in modules)
                or not isinstance(rank, int) or isinstance(rank, bool) or rank < 1):
            raise TypeError
    except (KeyError, TypeError):
        raise SignatureError("the adapter signature does not describe a LoRA layout: it needs 'blocks' (block "
                             "numbers), 'modules' (names) and 'rank' (>= 1), as the engine writes them; got "
                             f"{json.dumps(sig, sort_keys=True)[:200]}") from None
    attention = sig.get("attention")
    return blocks, modules, rank, attention if isinstance(attention, str) and attention else None


def check_layout(info: PhiInfo, signature: Any) -> None:
    """Tensor names, shapes and dtypes against the signature's layout; InvalidPhiError naming the first misfit.

    Every (block, module) of the signature has exactly one ``lora_A`` of shape (rank, in) and one
    ``lora_B`` of shape (out, rank), in a float dtype; a module has the same in/out size in every
    block (one model); nothing else is in φ.
    """
    sig = canonical_signature(signature)[0]
    blocks, modules, rank, attention = _signature_layout(sig)
    expected = {(b, m, f) for b in blocks for m in modules for f in "AB"}
    found: dict[tuple[int, str, str], TensorInfo] = {}
    places: set[tuple[str, str]] = set()
    for t in info.tensors:
        m = LORA_NAME.match(t.name)
        if m is None:
            raise InvalidPhiError(f"φ tensor {t.name!r} is not named as a LoRA factor "
                                  "(transformer.<blocks>.<i>.<attention>.<module>.lora_A|lora_B.weight)")
        key = (int(m["block"]), m["module"], m["factor"])
        if key not in expected:
            raise InvalidPhiError(f"φ tensor {t.name!r} is not in the adapter signature's layout (blocks {blocks}, "
                                  f"modules {modules})")
        if attention is not None and m["attn"] != attention:
            raise InvalidPhiError(f"φ tensor {t.name!r} is not in the signature's attention {attention!r}")
        if t.dtype not in FLOAT_DTYPES:
            raise InvalidPhiError(f"φ tensor {t.name!r} has dtype {t.dtype}; LoRA factors are floats "
                                  f"({', '.join(sorted(FLOAT_DTYPES))})")
        r_axis = 0 if m["factor"] == "A" else 1
        if len(t.shape) != 2 or t.shape[r_axis] != rank or t.shape[1 - r_axis] < 1:
            want = "(rank, in)" if m["factor"] == "A" else "(out, rank)"
            raise InvalidPhiError(f"φ tensor {t.name!r} has shape {list(t.shape)}; lora_{m['factor']} must be "
                                  f"{want} with rank {rank}")
        found[key] = t
        places.add((m["blocks"], m["attn"]))
    missing = sorted(expected - found.keys())
    if missing:
        b, mod, f = missing[0]
        raise InvalidPhiError(f"φ lacks {len(missing)} of the {len(expected)} tensors of its adapter signature, "
                              f"e.g. block {b} {mod} lora_{f}")
    if len(places) > 1:
        raise InvalidPhiError(f"φ tensors sit in several places of the model: {sorted(places)}")
    for mod in modules:  # one model: a module's sizes are the same in every block
        for f, axis in (("A", 1), ("B", 0)):
            sizes = {found[(b, mod, f)].shape[axis] for b in blocks}
            if len(sizes) > 1:
                raise InvalidPhiError(f"φ's {mod} lora_{f} factors have different sizes across blocks: {sorted(sizes)}")


def nonfinite_tensors(data: bytes | bytearray | memoryview, info: PhiInfo) -> list[str]:
    """Names of float tensors holding a NaN or an infinity (read from the bits; no torch, any float dtype)."""
    buf = memoryview(data)
    base = 8 + int.from_bytes(buf[:8], "little")
    bad = []
    for t in info.tensors:
        if t.dtype not in _EXPONENT or not t.nbytes:
            continue
        code, mask = _EXPONENT[t.dtype]
        arr = np.frombuffer(buf, dtype=code, count=t.nbytes // DTYPE_SIZES[t.dtype], offset=base + t.begin)
        for i in range(0, arr.size, _CHUNK):
            part = arr[i:i + _CHUNK]
            if np.any((part & part.dtype.type(mask)) == mask):
                bad.append(t.name)
                break
    return bad


def check_phi(data: Any, signature: Any = None, *, values: bool = True) -> PhiInfo:
    """Everything the memory asks of φ before it is stored, imported or used.

    A well-formed safetensors file that carries ttom's adapter signature in its metadata (the
    engine writes it; the engine refuses φ without one), equal to ``signature`` when that is given,
    with the tensors of that signature's layout (``check_layout``) and, with ``values``, finite
    values. InvalidPhiError or SignatureError with the reason; nothing is stored.
    """
    info = validate_phi(data)
    in_phi = signature_in_phi(info)
    if in_phi is None:
        raise SignatureError(f"φ carries no adapter signature (no {SIGNATURE_METADATA_KEY!r} in its safetensors "
                             "metadata): the engine writes one; φ without it cannot be checked or loaded")
    _, in_json, in_hash = canonical_signature(in_phi)
    if signature is not None:
        _, sig_json, sig_hash = canonical_signature(signature)
        if sig_hash != in_hash:
            raise SignatureError(f"the adapter signature given ({sig_json}) differs from the one in φ's metadata "
                                 f"({in_json})")
    check_layout(info, in_json)
    if values:
        bad = nonfinite_tensors(data, info)
        if bad:
            raise InvalidPhiError(f"φ holds NaN or infinite values in {len(bad)} tensor(s), e.g. {bad[0]!r}")
    return info


def check_stored_phi(entry_id: str, data: bytes | None, sha: str, signature_hash: str, *,
                     values: bool = True) -> bytes:
    """A stored φ, checked (presence, checksum, ``check_phi`` against the entry's signature); CorruptEntryError."""
    if data is None:
        raise CorruptEntryError(entry_id, "its φ blob is missing")
    found = sha256(data)
    if found != sha:
        raise CorruptEntryError(entry_id, f"φ checksum mismatch (stored sha256 {sha[:12]}…, found {found[:12]}…)")
    try:
        info = check_phi(data, values=values)
    except (InvalidPhiError, SignatureError) as e:
        raise CorruptEntryError(entry_id, str(e)) from None
    if canonical_signature(signature_in_phi(info))[2] != signature_hash:
        raise CorruptEntryError(entry_id, "the adapter signature in φ differs from the entry's")
    return data


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
