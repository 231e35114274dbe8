"""benchmarks/shapes_train/cpu_reference.py: this machine's units of work on the bundled model."""

import json

import torch

from tests.helpers.scripts import load_script


def test_it_times_both_units_and_leaves_the_model_as_it_found_it(capsys):
    from ttom.engine import adapters
    from ttom.engine.backends import load_backend

    ref = load_script("shapes_train/cpu_reference.py")
    backend = load_backend("shapes", "cpu")
    processors = {i: type(backend.attn_module(i).processor) for i in range(backend.num_blocks)}
    weights = lambda: {k.replace(".base_layer.", "."): v.clone()  # noqa: E731
                       for k, v in backend.transformer.state_dict().items()}
    before = weights()
    out = ref.measure(backend, repeat=1)
    assert set(out) == {"cfg_step_s", "tto_iteration_s", "threads"}
    assert out["cfg_step_s"] > 0 and out["tto_iteration_s"] > 0
    assert not adapters.has_phi(backend.transformer)  # the TTO session took φ out again
    assert {i: type(backend.attn_module(i).processor) for i in range(backend.num_blocks)} == processors
    # the same weights (peft's emptied wrappers stay around the projections φ was on: ``base_layer``)
    after = weights()
    assert after.keys() == before.keys() and all(torch.equal(before[k], after[k]) for k in before)


def test_its_command_prints_one_json_line(capsys, tmp_path):
    ref = load_script("shapes_train/cpu_reference.py")
    recipe = tmp_path / "ttom.json"
    from ttom.shapes.model import ASSET_DIR

    recipe.write_text((ASSET_DIR / "ttom.json").read_text())
    ref.main(["--repeat", "1", "--recipe", str(recipe)])
    assert set(json.loads(capsys.readouterr().out)) == {"cfg_step_s", "tto_iteration_s", "threads"}
