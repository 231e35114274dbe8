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

from ttom.engine.backends.base import (
    Backend,
    BackendDefaults,
    VideoSpec,
    load_pipeline,
    resolve_device,
    resolve_dtype,
)
from ttom.errors import ConfigError


@dataclass(frozen=True)
class ModelCard:
    family: str
    repo: str
    defaults: BackendDefaults


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
        try:
            from ttom.shapes.model import load_shapes_backend
        except ImportError:
            raise ConfigError("the bundled shapes model is not part of this release yet; use --model tiny-cogvideox "
                              "(runs anywhere, its videos are noise) or a real model (cogvideox-5b, wan2.1-1.3b, ...)") from None
        return load_shapes_backend(dev, dtype)
    if model in MODELS:
        card = MODELS[model]
        return _from_pipeline(card.family, card.repo, model, card.defaults, dev, dtype)
    path = Path(model).expanduser()
    if path.is_dir():
        return _from_folder(path, dev, dtype)
    raise ConfigError(f"unknown model {model!r}: use one of {available_models()} or a folder with model_index.json")


def _from_folder(path: Path, device: torch.device, dtype: torch.dtype) -> Backend:
    index = path / "model_index.json"
    if not index.is_file():
        raise ConfigError(f"{path} has no model_index.json; it is not a diffusers model folder")
    info = json.loads(index.read_text())
    cls = info.get("_class_name", "")
    family = "cogvideox" if cls.startswith("CogVideoX") else "wan" if cls.startswith("Wan") else None
    if family is None:
        raise ConfigError(f"{path}: pipeline {cls!r} is not supported; ttom runs CogVideoX and Wan pipelines")
    defaults = _defaults_from_folder(path, family)
    return _from_pipeline(family, str(path), str(path), defaults, device, dtype)


def _defaults_from_folder(path: Path, family: str) -> BackendDefaults:
    """Recipe for a folder: its own ttom.json if it has one, else the family's default recipe."""
    own = path / "ttom.json"
    if own.is_file():
        d = json.loads(own.read_text())
        v = d.pop("video")
        return BackendDefaults(video=VideoSpec(**v), **{k: tuple(x) if isinstance(x, list) else x for k, x in d.items()})
    card = MODELS["cogvideox-5b" if family == "cogvideox" else "wan2.1-1.3b"]
    return card.defaults


def _from_pipeline(family: str, source: str, name: str, defaults: BackendDefaults, device: torch.device,
                   dtype: torch.dtype) -> Backend:
    if family == "cogvideox":
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
    return cls(name=name, model_id=_model_id(source), transformer=pipe.transformer, text_encoder=pipe.text_encoder,
               tokenizer=pipe.tokenizer, vae=pipe.vae, scheduler=pipe.scheduler, defaults=defaults, device=device,
               dtype=dtype, max_text_len=max_len)


def _model_id(source: str) -> str:
    """A stable id for the signature: the hub id, or the folder's name_or_path from its index."""
    p = Path(source)
    if p.is_dir():
        info = json.loads((p / "model_index.json").read_text())
        return info.get("ttom_model_id") or p.resolve().name
    return source
