"""Backends by name: real models from a local folder or the local hub cache, and tiny random ones.

``load_backend("cogvideox-5b")`` loads THUDM/CogVideoX-5b with ``from_pretrained`` from the local
cache; ``load_backend("/path/to/folder")`` reads the folder's ``model_index.json``;
``tiny-cogvideox`` and ``tiny-wan`` are built here with seeded random weights (their videos are
noise; they exist to run the whole engine in seconds). ``shapes`` is the bundled shapes model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from ttom.engine.adapters import Signature
from ttom.engine.backends.base import (
    Backend,
    BackendDefaults,
    VideoSpec,
    load_pipeline,
    resolve_device,
    resolve_dtype,
    signature_for,
)
from ttom.errors import ConfigError


@dataclass(frozen=True)
class ModelCard:
    """What a model is, known without loading any weights: its family, where its weights are, its
    recipe, and the id φ's signature carries (None = ``repo``)."""

    family: str
    repo: str
    defaults: BackendDefaults
    model_id: str | None = None

    @property
    def backend_cls(self) -> type[Backend]:
        if self.family == "cogvideox":
            from ttom.engine.backends.cogvideox import CogVideoXBackend

            return CogVideoXBackend
        from ttom.engine.backends.wan import WanBackend

        return WanBackend

    def signature(self, spec) -> Signature:
        return signature_for(self.family, self.model_id or self.repo, self.backend_cls.attn_name, spec)


MODELS: dict[str, ModelCard] = {
    # CogVideoX: DDIM "trailing", CFG 6, 49 frames at 480x720 (the release settings). The
    # supervised block is the middle of the stack, as the official CogVideoX branch chose it;
    # `ttom probe` measures which blocks agree best with layouts.
    "cogvideox-2b": ModelCard("cogvideox", "THUDM/CogVideoX-2b",
                              BackendDefaults(VideoSpec(49, 480, 720), 50, 6.0, layers=(14,))),
    "cogvideox-5b": ModelCard("cogvideox", "THUDM/CogVideoX-5b",
                              BackendDefaults(VideoSpec(49, 480, 720), 50, 6.0, layers=(20,))),
    "cogvideox1.5-5b": ModelCard("cogvideox", "THUDM/CogVideoX1.5-5B",
                                 BackendDefaults(VideoSpec(81, 768, 1360, fps=16), 50, 6.0, layers=(20,))),
    # Wan2.1: block 3 as the official TTOM code, CFG 5, 81 frames at 480x832.
    "wan2.1-1.3b": ModelCard("wan", "Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
                             BackendDefaults(VideoSpec(81, 480, 832, fps=16), 50, 5.0, layers=(3,), normalization="text")),
    "wan2.1-14b": ModelCard("wan", "Wan-AI/Wan2.1-T2V-14B-Diffusers",
                            BackendDefaults(VideoSpec(81, 480, 832, fps=16), 50, 5.0, layers=(3,), normalization="text")),
}
TINY = ("tiny-cogvideox", "tiny-wan")
ALIASES = {"cogvideox": "cogvideox-5b", "wan": "wan2.1-1.3b", "wan2.1": "wan2.1-1.3b"}


def available_models() -> list[str]:
    return ["shapes", *TINY, *MODELS]


def describe(model: str) -> ModelCard:
    """The card of a model by registry name, tiny name, ``shapes`` or local folder: no weights are read."""
    name = ALIASES.get(model, model)
    if name in TINY:
        from ttom.engine.backends.tiny import tiny_defaults

        return ModelCard(name.removeprefix("tiny-"), f"ttom/{name}", tiny_defaults(name))
    if name == "shapes":
        from ttom.engine.backends.shapes import load_recipe, shapes_defaults
        from ttom.shapes.model import ASSET_DIR, MODEL_ID

        recipe = load_recipe(ASSET_DIR)
        return ModelCard("cogvideox", str(ASSET_DIR), shapes_defaults(recipe), recipe.get("model_id", MODEL_ID))
    if name in MODELS:
        return MODELS[name]
    path = Path(name).expanduser()
    if path.is_dir():
        index = path / "model_index.json"
        if not index.is_file():
            raise ConfigError(f"{path} has no model_index.json; it is not a diffusers model folder")
        cls = _read_json(index).get("_class_name", "")
        family = "cogvideox" if cls.startswith("CogVideoX") else "wan" if cls.startswith("Wan") else None
        if family is None:
            raise ConfigError(f"{path}: pipeline {cls!r} is not supported; ttom runs CogVideoX and Wan pipelines")
        return ModelCard(family, str(path), _defaults_from_folder(path, family), _model_id(str(path)))
    raise ConfigError(f"unknown model {model!r}: use one of {available_models()} or a folder with model_index.json")


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ConfigError(f"{path} is not readable JSON ({type(e).__name__}: {str(e)[:120]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    return data


def load_backend(model: str, device: str | torch.device | None = "auto", dtype: str | torch.dtype | None = "auto") -> Backend:
    """A backend by registry name, tiny name, or local folder (cached per process)."""
    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev)
    return _load(ALIASES.get(model, model), str(dev), dt)


@lru_cache(maxsize=4)
def _load(model: str, device: str, dtype: torch.dtype) -> Backend:
    dev = torch.device(device)
    if model == "tiny-cogvideox":
        from ttom.engine.backends.tiny import tiny_cogvideox

        return tiny_cogvideox(dev, dtype)
    if model == "tiny-wan":
        from ttom.engine.backends.tiny import tiny_wan

        return tiny_wan(dev, dtype)
    if model == "shapes":
        from ttom.engine.backends.shapes import load_shapes_backend

        return load_shapes_backend(dev, dtype)
    card = describe(model)
    name = model if model in MODELS else card.repo
    return _from_pipeline(card, name, dev, dtype)


def _defaults_from_folder(path: Path, family: str) -> BackendDefaults:
    """Recipe for a folder: its own ttom.json if it has one, else the family's default recipe."""
    own = path / "ttom.json"
    if own.is_file():
        d = _read_json(own)
        v = d.pop("video")
        return BackendDefaults(video=VideoSpec(**v), **{k: tuple(x) if isinstance(x, list) else x for k, x in d.items()})
    card = MODELS["cogvideox-5b" if family == "cogvideox" else "wan2.1-1.3b"]
    return card.defaults


def _from_pipeline(card: ModelCard, name: str, device: torch.device, dtype: torch.dtype) -> Backend:
    source, defaults = card.repo, card.defaults
    if card.family == "cogvideox":
        from diffusers import CogVideoXPipeline

        from ttom.engine.backends.cogvideox import CogVideoXBackend as cls

        pipe = load_pipeline(CogVideoXPipeline, source, dtype)
        max_len = pipe.transformer.config.max_text_seq_length
    else:
        from diffusers import WanPipeline

        from ttom.engine.backends.wan import WanBackend as cls

        pipe = load_pipeline(WanPipeline, source, dtype)
        max_len = int(defaults.extra.get("max_text_len", 512))
    pipe.to(device)
    return cls(name=name, model_id=card.model_id or source, transformer=pipe.transformer, text_encoder=pipe.text_encoder,
               tokenizer=pipe.tokenizer, vae=pipe.vae, scheduler=pipe.scheduler, defaults=defaults, device=device,
               dtype=dtype, max_text_len=max_len)


def _model_id(source: str) -> str:
    """A stable id for the signature: the hub id, or the folder's name_or_path from its index."""
    p = Path(source)
    if p.is_dir():
        return _read_json(p / "model_index.json").get("ttom_model_id") or p.resolve().name
    return source
