"""The bundled shapes model as an engine backend (the model itself: ``ttom.shapes.model``)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ttom.engine.backends.base import BackendDefaults, VideoSpec
from ttom.errors import WeightsNotFoundError
from ttom.shapes.model import ASSET_DIR, MODEL_ID, RECIPE, TEXT_LEN, TTO_DEFAULTS, make_scheduler

RECIPE_KEYS = {"video", "steps", "guidance_scale", "layers", "rank", "alpha", "modules", "normalization", "tto",
               "model_id", "probe"}


def load_recipe(folder: Path = ASSET_DIR) -> dict:
    """The model folder's ``ttom.json`` (the built-in recipe when it has none)."""
    path = folder / "ttom.json"
    if not path.is_file():
        return dict(RECIPE)
    recipe = json.loads(path.read_text(encoding="utf-8"))
    unknown = set(recipe) - RECIPE_KEYS
    if unknown:
        raise WeightsNotFoundError(f"{path} has unknown keys {sorted(unknown)}")
    return recipe


def shapes_defaults(recipe: dict) -> BackendDefaults:
    """The engine's recipe for the shapes model, from its ``ttom.json``."""
    return BackendDefaults(
        video=VideoSpec(**recipe["video"]), steps=recipe["steps"], guidance_scale=recipe["guidance_scale"],
        layers=tuple(recipe["layers"]), rank=recipe["rank"], alpha=recipe["alpha"], modules=tuple(recipe["modules"]),
        normalization=recipe["normalization"], extra={"tto": recipe.get("tto", TTO_DEFAULTS)})


def load_shapes_backend(device: torch.device, dtype: torch.dtype, folder: Path | None = None):
    """The shapes model as an engine backend (weights from the package, or ``folder``)."""
    from diffusers import CogVideoXTransformer3DModel

    from ttom.engine.backends.cogvideox import CogVideoXBackend
    from ttom.minilm import load_minilm

    folder = Path(folder or ASSET_DIR)
    if not (folder / "config.json").is_file():
        raise WeightsNotFoundError(
            f"the shapes model's weights are missing from {folder}; reinstall ttom, or train them with "
            "`python -m ttom.shapes.train --out DIR` and pass --model with that folder's parent")
    transformer = CogVideoXTransformer3DModel.from_pretrained(folder, local_files_only=True, use_safetensors=True,
                                                              dtype=dtype).to(device)
    tokenizer, encoder = load_minilm()
    recipe = load_recipe(folder)
    return CogVideoXBackend(name="shapes", model_id=recipe.get("model_id", MODEL_ID), transformer=transformer,
                            text_encoder=encoder.to(device), tokenizer=tokenizer, vae=None, scheduler=make_scheduler(),
                            defaults=shapes_defaults(recipe), device=device, dtype=dtype, max_text_len=TEXT_LEN)
