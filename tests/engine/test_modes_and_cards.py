"""Choosing a round's TTO mode, and φ's signature from a model's card (no weights loaded)."""

from __future__ import annotations

import dataclasses

import pytest

from ttom.engine.tto import TTOConfig, choose_mode
from ttom.errors import ConfigError


def test_off_wins_over_everything():
    assert choose_mode("off", reoptimise=("warm", "phi.safetensors"), recalled=("skip", "m.safetensors")) == ("off", None)


def test_reoptimisation_wins_over_a_recalled_phi():
    assert choose_mode(None, reoptimise=("warm", "round1.safetensors"), recalled=("skip", "m.safetensors")) == (
        "warm", "round1.safetensors")


def test_recalled_phi_is_used_with_its_mode():
    assert choose_mode(None, recalled=("skip", "m.safetensors")) == ("skip", "m.safetensors")
    assert choose_mode("warm", recalled=("warm", "given.safetensors")) == ("warm", "given.safetensors")


def test_a_recall_without_phi_is_fresh():
    assert choose_mode(None, recalled=(None, None)) == ("fresh", None)
    assert choose_mode(None) == ("fresh", None)
    assert choose_mode("fresh") == ("fresh", None)


@pytest.mark.parametrize("mode", ["warm", "skip"])
def test_warm_or_skip_without_phi_is_refused(mode):
    with pytest.raises(ConfigError, match="needs φ"):
        choose_mode(mode)


def test_an_unknown_mode_is_refused():
    with pytest.raises(ConfigError, match="tto mode must be one of"):
        choose_mode("lukewarm")


def test_run_options_use_ttoconfig_names():
    from ttom.agents.state import TTOOptions

    names = {f.name for f in dataclasses.fields(TTOConfig)}
    assert set(TTOOptions.model_fields) <= names
    assert set(TTOOptions().config_overrides()) <= names


@pytest.mark.parametrize("model", ["tiny-cogvideox", "tiny-wan", "shapes"])
def test_signature_from_the_card_equals_the_loaded_backends(model):
    from ttom.engine.backends import describe, load_backend
    from ttom.engine.tto import expected_signature, recipe_config

    card = describe(model)
    backend = load_backend(model, device="cpu")
    for overrides in ({}, {"rank": 2, "layers": (1,)}):
        assert expected_signature(card, recipe_config(card, **overrides)) == expected_signature(
            backend, recipe_config(backend, **overrides))


def test_signature_from_a_folder_reads_no_weights(tmp_path):
    """A pipeline folder with its index and recipe but no weight files still has a card."""
    import json

    from ttom.engine.backends import describe
    from ttom.engine.tto import expected_signature, recipe_config

    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "WanPipeline", "ttom_model_id": "me/wan"}))
    card = describe(str(tmp_path))
    sig = expected_signature(card, recipe_config(card))
    assert sig["backend"] == "wan" and sig["model_id"] == "me/wan" and sig["attention"] == "attn2"
    (tmp_path / "model_index.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not readable JSON"):
        describe(str(tmp_path))
