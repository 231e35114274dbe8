"""φ: the LoRA parameters TTO optimises, and their safetensors form.

φ is a peft LoRA on chosen projections of chosen blocks (default, as the official Wan recipe:
q/k/v/out of the text attention of blocks 0..L, r = alpha = 32). It is injected with diffusers'
``add_adapter`` (which freezes every base parameter) and kept in fp32 even on a bf16 model, so
AdamW's small steps are not rounded away. It is *computed* in the model's dtype: each LoRA factor
casts its fp32 weight to the input's dtype for the matmul (``MasterWeightLinear``), as mixed
precision training does. peft's default instead casts every LoRA'd layer's input to fp32, and
autograd then keeps one fp32 copy of the input per LoRA'd projection for the backward pass (on
CogVideoX-5B about 0.65 GiB per block); here q/k/v share the one bf16 input they already have.

The exported bytes are a safetensors file in the layout diffusers writes with
``save_lora_weights``: keys ``transformer.<module>.lora_A.weight`` / ``lora_B.weight`` and the
LoRA config (keys prefixed ``transformer.``) under the metadata key ``lora_adapter_metadata``, so plain diffusers loads it with
``transformer.load_lora_adapter(path, prefix="transformer")`` or ``pipe.load_lora_weights``.
ttom adds its signature (backend, model id, blocks, modules, rank, alpha) under ``ttom_signature``
and checks it before loading: φ learned on one model must never be loaded into another.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import torch

from ttom.errors import TtomError

ADAPTER_NAME = "ttom"
PREFIX = "transformer."
FORMAT_VERSION = 1
SIGNATURE_KEY = "ttom_signature"


class SignatureMismatchError(TtomError):
    """φ was learned on a different model or adapter layout than the one it is loaded into."""


class PhiFormatError(TtomError):
    """Bytes that are not a readable ttom φ (corrupted, truncated, or not safetensors)."""


@dataclass(frozen=True)
class AdapterSpec:
    """Where φ goes and how big it is."""

    blocks: tuple[int, ...]
    modules: tuple[str, ...] = ("to_q", "to_k", "to_v", "to_out.0")
    rank: int = 32
    alpha: float = 32.0

    def __post_init__(self):
        if not self.blocks:
            raise ValueError("AdapterSpec.blocks must name at least one block")
        if self.rank < 1:
            raise ValueError(f"AdapterSpec.rank must be >= 1, got {self.rank}")


@dataclass(frozen=True)
class Signature:
    """What must match before φ is loaded."""

    backend: str
    model_id: str
    blocks: list[int]
    modules: list[str]
    rank: int
    alpha: float
    format: int = FORMAT_VERSION
    attention: str = field(default="")  # the attention module φ sits in: attn1 / attn2

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: dict) -> Signature:
        try:
            return cls(backend=d["backend"], model_id=d["model_id"], blocks=[int(b) for b in d["blocks"]],
                       modules=list(d["modules"]), rank=int(d["rank"]), alpha=float(d["alpha"]),
                       format=int(d.get("format", FORMAT_VERSION)), attention=d.get("attention", ""))
        except (KeyError, TypeError, ValueError) as e:
            raise PhiFormatError(f"φ signature is incomplete or malformed ({e}): {d}") from None

    def mismatch(self, other: Signature) -> list[str]:
        a, b = self.to_dict(), other.to_dict()
        return [f"{k}: stored {b[k]!r}, running {a[k]!r}" for k in a if a[k] != b[k]]


class MasterWeightLinear(torch.nn.Linear):
    """A LoRA factor that keeps its weight in fp32 and multiplies in the input's dtype."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias.to(x.dtype)
        return torch.nn.functional.linear(x, self.weight.to(x.dtype), bias)


def _compute_in_model_dtype(transformer: torch.nn.Module) -> None:
    from peft.tuners.lora import LoraLayer

    for module in transformer.modules():
        if isinstance(module, LoraLayer) and ADAPTER_NAME in module.lora_A:
            module.cast_input_dtype_enabled = False  # peft: do not cast the input to φ's fp32
            for factor in (module.lora_A[ADAPTER_NAME], module.lora_B[ADAPTER_NAME]):
                if type(factor) is torch.nn.Linear:
                    factor.__class__ = MasterWeightLinear


def target_modules_regex(block_prefix: str, attn_name: str, spec: AdapterSpec) -> str:
    blocks = "|".join(str(b) for b in sorted(spec.blocks))
    mods = "|".join(m.replace(".", r"\.") for m in spec.modules)
    return rf"{block_prefix}\.({blocks})\.{attn_name}\.({mods})"


def add_phi(transformer: torch.nn.Module, block_prefix: str, attn_name: str, spec: AdapterSpec,
            seed: int | None = 0) -> list[torch.nn.Parameter]:
    """Inject fresh φ (B = 0, so the model starts unchanged), fp32, trainable; returns its parameters."""
    from peft import LoraConfig

    if ADAPTER_NAME in getattr(transformer, "peft_config", {}):
        remove_phi(transformer)
    n_blocks = len(getattr(transformer, block_prefix))
    bad = [b for b in spec.blocks if not 0 <= b < n_blocks]
    if bad:
        raise TtomError(f"adapter blocks {bad} do not exist: the model has blocks 0..{n_blocks - 1}")
    config = LoraConfig(r=spec.rank, lora_alpha=spec.alpha, init_lora_weights=True,
                        target_modules=target_modules_regex(block_prefix, attn_name, spec))
    # peft draws lora_A from the global RNG; seed it so a fresh φ is reproducible, then restore.
    state = torch.random.get_rng_state()
    if seed is not None:
        torch.manual_seed(seed)
    try:
        transformer.add_adapter(config, adapter_name=ADAPTER_NAME)
    finally:
        torch.random.set_rng_state(state)
    # peft keeps a LoRA wrapper's "disabled" flag across delete/re-inject: switch φ on explicitly.
    transformer.enable_adapters()
    params = phi_parameters(transformer)
    for p in params:
        p.data = p.data.float()
        p.requires_grad_(True)
    _compute_in_model_dtype(transformer)
    return params


def phi_parameters(transformer: torch.nn.Module) -> list[torch.nn.Parameter]:
    return [p for n, p in transformer.named_parameters() if f".{ADAPTER_NAME}." in n and "lora_" in n]


def has_phi(transformer: torch.nn.Module) -> bool:
    return ADAPTER_NAME in getattr(transformer, "peft_config", {})


def remove_phi(transformer: torch.nn.Module) -> None:
    if has_phi(transformer):
        transformer.delete_adapters(ADAPTER_NAME)


def set_phi_enabled(transformer: torch.nn.Module, enabled: bool) -> None:
    if not has_phi(transformer):
        return
    if enabled:
        transformer.enable_adapters()
    else:
        transformer.disable_adapters()


def phi_state_dict(transformer: torch.nn.Module) -> dict[str, torch.Tensor]:
    """φ's tensors under diffusers' pipeline-level names (``transformer.…lora_A.weight``)."""
    from peft import get_peft_model_state_dict

    sd = get_peft_model_state_dict(transformer, adapter_name=ADAPTER_NAME)
    return {PREFIX + k: v.detach().float().cpu().contiguous() for k, v in sd.items()}


def export_phi(transformer: torch.nn.Module, signature: Signature) -> bytes:
    """φ as safetensors bytes, loadable by plain diffusers, with ttom's signature in the metadata."""
    from safetensors.torch import save

    if not has_phi(transformer):
        raise TtomError("the model has no φ to export")
    config = transformer.peft_config[ADAPTER_NAME].to_dict()
    # As diffusers' pipeline-level save_lora_weights: config keys carry the component prefix.
    config = {PREFIX + k: (sorted(v) if isinstance(v, set) else v) for k, v in config.items()}
    metadata = {"format": "pt", "lora_adapter_metadata": json.dumps(config, sort_keys=True, default=str),
                SIGNATURE_KEY: signature.to_json()}
    return save(phi_state_dict(transformer), metadata=metadata)


def stamp_phi(data: bytes, **fields) -> bytes:
    """φ with ``fields`` added to the signature in its metadata (e.g. ``best_effort=True``); loading ignores
    them, a memory store matching signatures sees them. Tensors and the rest of the metadata are kept."""
    from safetensors.torch import save

    tensors, sig = read_phi(data)
    header_len = int.from_bytes(bytes(data[:8]), "little")
    metadata = dict(json.loads(bytes(data[8:8 + header_len])).get("__metadata__", {}))
    metadata[SIGNATURE_KEY] = json.dumps({**json.loads(metadata[SIGNATURE_KEY]), **fields}, sort_keys=True,
                                         separators=(",", ":"))
    return save(tensors, metadata=metadata)


def read_phi(data: bytes) -> tuple[dict[str, torch.Tensor], Signature]:
    """Parse φ bytes into tensors and signature; PhiFormatError when they are not a ttom φ."""
    from safetensors.torch import load

    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) < 8:
        raise PhiFormatError("φ data is empty or not bytes")
    try:
        tensors = load(bytes(data))
        # safetensors.torch.load drops metadata; read the header for it.
        header_len = int.from_bytes(bytes(data[:8]), "little")
        header = json.loads(bytes(data[8:8 + header_len]))
        metadata = header.get("__metadata__", {}) or {}
    except Exception as e:  # safetensors raises several error types for bad input
        raise PhiFormatError(f"φ data is not a readable safetensors file: {e}") from None
    if SIGNATURE_KEY not in metadata:
        raise PhiFormatError("φ data has no ttom signature in its metadata")
    try:
        sig = Signature.from_dict(json.loads(metadata[SIGNATURE_KEY]))
    except json.JSONDecodeError as e:
        raise PhiFormatError(f"φ signature is not JSON: {e}") from None
    return tensors, sig


def import_phi(transformer: torch.nn.Module, data: bytes, expected: Signature, block_prefix: str,
               attn_name: str) -> list[torch.nn.Parameter]:
    """Load φ bytes into the model after checking the signature; returns φ's (trainable) parameters."""
    from peft import set_peft_model_state_dict

    tensors, sig = read_phi(data)
    problems = expected.mismatch(sig)
    if problems:
        raise SignatureMismatchError("φ does not fit the running model: " + "; ".join(problems))
    spec = AdapterSpec(blocks=tuple(sig.blocks), modules=tuple(sig.modules), rank=sig.rank, alpha=sig.alpha)
    params = add_phi(transformer, block_prefix, attn_name, spec)
    sd = {k.removeprefix(PREFIX): v for k, v in tensors.items()}
    result = set_peft_model_state_dict(transformer, sd, adapter_name=ADAPTER_NAME)
    unexpected = getattr(result, "unexpected_keys", []) or []
    missing = [k for k in (getattr(result, "missing_keys", []) or []) if "lora_" in k and ADAPTER_NAME in k]
    if unexpected or missing:
        raise PhiFormatError(f"φ tensors do not match the adapter layout (unexpected {unexpected[:3]}, missing {missing[:3]})")
    for p in params:
        p.data = p.data.float()
    return params
