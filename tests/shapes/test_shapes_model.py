"""The bundled shapes model: shipped weights, consistent text features, a real trained model, training code."""

import json

import pytest
import torch

from ttom.shapes import model as shapes_model


@pytest.fixture(scope="module")
def backend():
    from ttom.engine.backends import load_backend

    return load_backend("shapes", "cpu")


def test_weights_ship_within_budget_and_recipe_names_real_blocks(backend):
    size = sum(p.stat().st_size for p in shapes_model.ASSET_DIR.iterdir())
    assert size <= 25 * 2**20
    recipe = json.loads((shapes_model.ASSET_DIR / "ttom.json").read_text())
    assert all(0 <= b < backend.num_blocks for b in recipe["layers"])
    assert backend.defaults.layers == tuple(recipe["layers"]) and backend.vae is None
    from ttom.engine.tto import adapter_spec, recipe_config

    spec = adapter_spec(backend, recipe_config(backend))  # the TTO recipe's φ goes where ttom.json says
    assert spec.blocks == tuple(recipe["tto"].get("adapter_blocks", range(max(recipe["layers"]) + 1)))
    assert all(0 <= b < backend.num_blocks for b in spec.blocks)
    assert sum(p.numel() for p in backend.transformer.parameters()) == pytest.approx(6.1e6, rel=0.05)


def test_training_features_equal_the_backend_prompt_encoding(backend):
    prompts = ["a red circle to the left of a blue square", ""]
    states = shapes_model.caption_states(prompts)
    for i, p in enumerate(prompts):
        assert torch.equal(states[i:i + 1], backend.encode_prompt(p).embeds.float())


@pytest.mark.parametrize("caption, phrases", [("a red square", ["a red square"]),
                                              ("a blue circle and a yellow triangle", ["a blue circle", "a yellow triangle"])])
def test_the_trained_model_draws_what_the_caption_names(backend, caption, phrases):
    from ttom.critic.critique import critique
    from ttom.engine.tto import TTOConfig, generate
    from ttom.planning.plan import plan

    layout = plan(caption, planner="offline").layout
    frames = generate(backend, layout, TTOConfig(mode="off"), seed=0).frames
    assert frames.shape == (8, 24, 24, 3)
    report = critique(frames, layout, backend="shapes").summary()
    present = {o["name"]: o["present"] for o in report["objects"]}
    assert all(v >= 0.5 for v in present.values()), report  # each named colour-shape is there most of the time
    assert len(present) == len(phrases)


def test_training_runs_and_writes_a_loadable_model(tmp_path):
    from ttom.engine.tto import TTOConfig, generate
    from ttom.layout import Layout, static_object
    from ttom.shapes import train

    states = tmp_path / "states.safetensors"
    train.precompute(states)
    out = tmp_path / "model"
    train.main(["fit", "--states", str(states), "--out", str(out), "--max-steps", "2", "--batch", "2",
                "--workers", "1", "--device", "cpu"])
    log = json.loads((out / "train_log.json").read_text())
    assert log["steps"] == 2 and log["final_loss"] > 0
    from ttom.engine.backends.shapes import load_shapes_backend

    b = load_shapes_backend(torch.device("cpu"), torch.float32, folder=out)
    layout = Layout(prompt="a red circle", objects=[static_object(0, "circle", [0.1, 0.1, 0.4, 0.4], "a red circle")])
    r = generate(b, layout, TTOConfig(steps=1, iterations=2, layers=(5,), rank=4), steps=2)
    assert r.frames.shape == (8, 24, 24, 3) and len(r.losses) == 1
