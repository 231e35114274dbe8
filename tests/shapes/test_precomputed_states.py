"""The shapes model without the MiniLM weights: token states precomputed on a machine that has them."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import save_file

from ttom import minilm
from ttom.errors import WeightsNotFoundError
from ttom.shapes import model as shapes_model


@pytest.fixture
def precomputed(tmp_path, monkeypatch):
    """A states file for two captions and a tokenizer folder without the model's weights."""
    captions = ["a red circle", "a blue square to the left of a red circle"]
    states = shapes_model.caption_states(["", *captions]).half()
    path = tmp_path / "states.safetensors"
    save_file({"states": states.contiguous()}, str(path), metadata={"captions": json.dumps(captions)})
    folder = tmp_path / "tokenizer"
    src = minilm.minilm_path()
    shutil.copytree(src, folder, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    assert not any(p.suffix in (".safetensors", ".bin") for p in folder.rglob("*"))
    monkeypatch.setenv(minilm.STATES_ENV, str(path))
    monkeypatch.setenv(minilm.PATH_ENV, str(folder))
    minilm.load_minilm.cache_clear()
    yield captions, states
    minilm.load_minilm.cache_clear()


def test_the_backend_encodes_known_captions_with_the_precomputed_states(precomputed):
    from ttom.engine.backends.shapes import load_shapes_backend

    captions, states = precomputed
    backend = load_shapes_backend(torch.device("cpu"), torch.float32)
    assert isinstance(backend.text_encoder, minilm.PrecomputedStates)
    for i, text in enumerate(["", *captions]):
        assert torch.equal(backend.encode_prompt(text).embeds[0], states[i].float())
    # the token positions of the objects still come from the real tokenizer
    assert backend.encode_prompt(captions[1]).ids[:3] == backend.tokenizer(captions[1]).input_ids[:3]


def test_an_unknown_text_is_one_clear_error_naming_it(precomputed):
    tokenizer, encoder = minilm.load_minilm()
    ids = tokenizer(["a green triangle"], padding="max_length", max_length=encoder.text_len,
                    return_tensors="pt").input_ids
    with pytest.raises(WeightsNotFoundError, match="'a green triangle' is not in the precomputed MiniLM states"):
        encoder(ids)


def test_a_missing_states_file_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv(minilm.STATES_ENV, str(tmp_path / "nope.safetensors"))
    minilm.load_minilm.cache_clear()
    try:
        with pytest.raises(WeightsNotFoundError, match="nope.safetensors"):
            minilm.load_minilm()
    finally:
        minilm.load_minilm.cache_clear()


def test_precompute_writes_into_a_folder_it_creates(tmp_path, monkeypatch):
    from safetensors import safe_open

    from ttom.shapes import train, world

    monkeypatch.setattr(world, "training_captions", lambda: ["a red circle", "a blue square"])
    out = tmp_path / "new" / "states.safetensors"
    train.precompute(out)
    with safe_open(str(out), "pt") as f:
        assert f.get_tensor("states").shape[:2] == (3, shapes_model.TEXT_LEN)  # the empty caption first
        assert json.loads(f.metadata()["captions"]) == ["a red circle", "a blue square"]
