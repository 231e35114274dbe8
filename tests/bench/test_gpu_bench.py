"""``ttom bench gpu`` at toy size on the CPU: the real transformer classes, the engine's own loop."""

import dataclasses
import json
import subprocess
import sys
from dataclasses import replace

import pytest
import torch

from ttom.bench import gpu

TINY = {
    "cogvideox": replace(gpu.ARCHS["cogvideox-5b"], name="toy-cogvideox", latent=(3, 12, 16), text_len=32, text_dim=64,
                         config=dict(gpu.ARCHS["cogvideox-5b"].config, num_attention_heads=2, attention_head_dim=16,
                                     time_embed_dim=16, num_layers=4, sample_width=16, sample_height=12,
                                     sample_frames=9, text_embed_dim=64)),
    "wan": replace(gpu.ARCHS["wan2.1-1.3b"], name="toy-wan", latent=(3, 12, 16), text_len=32, text_dim=64,
                   config=dict(gpu.ARCHS["wan2.1-1.3b"].config, num_attention_heads=2, attention_head_dim=16,
                               ffn_dim=64, num_layers=4, text_dim=64, freq_dim=32, rope_max_seq_len=32)),
}


def test_published_configs_give_the_published_sizes():
    """The configs are the releases' own: parameter counts as published (5.6 B, 1.4 B, 14.3 B) without building them."""
    from diffusers import CogVideoXTransformer3DModel, WanTransformer3DModel

    expected = {"cogvideox-5b": 5.57, "wan2.1-1.3b": 1.42, "wan2.1-14b": 14.29}
    for name, arch in gpu.ARCHS.items():
        cls = CogVideoXTransformer3DModel if arch.family == "cogvideox" else WanTransformer3DModel
        with torch.device("meta"):
            model = cls(**arch.config)
        assert sum(p.numel() for p in model.parameters()) / 1e9 == pytest.approx(expected[name], abs=0.01), name


def test_random_backend_is_built_in_the_requested_dtype_and_restores_the_default():
    backend = gpu.random_backend(TINY["cogvideox"], torch.device("cpu"), torch.bfloat16)
    assert type(backend.transformer).__name__ == "CogVideoXTransformer3DModel"
    assert {p.dtype for p in backend.transformer.parameters()} == {torch.bfloat16}
    assert torch.get_default_dtype() == torch.float32
    enc = backend.encode_prompt(gpu.PROMPT)
    assert enc.embeds.shape == (1, 32, 64) and enc.embeds.dtype == torch.bfloat16
    assert backend.token_grid(backend.defaults.video) == (3, 6, 8)


def test_blocks_to_checkpoint_fits_the_budget_linearly():
    assert gpu.blocks_to_checkpoint(10.0, 4.0, 12.0, 6) == 0  # fits without
    assert gpu.blocks_to_checkpoint(10.0, 4.0, 8.0, 6) == 2  # 1 GiB per block: 2 blocks free 2 GiB
    assert gpu.blocks_to_checkpoint(10.0, 4.0, 7.5, 6) == 3
    assert gpu.blocks_to_checkpoint(10.0, 4.0, 3.0, 6) == 6  # cannot fit: all
    assert gpu.blocks_to_checkpoint(None, 4.0, 3.0, 6) == 0  # no memory figures (CPU)


@pytest.fixture(scope="module")
def result():
    return gpu.run_model(TINY["wan"], "cpu", steps=2, tto_steps=1, iterations=2, repeats=1, progress=lambda _m: None)


def test_run_model_measures_each_run_option_and_the_block(result):
    assert set(result.runs) == {"plain", "TTO", "memory hit (skip)"}  # no memory figures on the CPU: no capped run
    assert result.runs["TTO"]["iterations"] == 2 and result.runs["plain"]["iterations"] == 0
    assert all(run["s"] > 0 for run in result.runs.values())
    names = list(result.iteration)
    assert names[0] == "truncated" and any("official" in n for n in names) and any("fp32" in n for n in names)
    assert all(v["ms"] > 0 for v in result.iteration.values())
    full = next(v for n, v in result.iteration.items() if "official" in n)
    assert full["config"] == {"truncate": False, "gradient_checkpointing": True}
    assert result.block["stock_fwd_ms"] > 0 and result.block["capture_fwd_bwd_ms"] > 0
    # ratios are to plain generation extrapolated to 50 steps
    plain50 = result.runs["plain"]["s"] / 2 * 50
    assert result.plain50_s() == pytest.approx(plain50)
    assert result.ratio("TTO") == pytest.approx((plain50 + result.runs["TTO"]["s"] - result.runs["plain"]["s"]) / plain50)


def test_tables_and_the_cli_from_saved_results(result, tmp_path, monkeypatch):
    for table in (gpu.summary_table, gpu.variant_table, gpu.block_table):
        headers, rows = table([result])
        assert rows and all(len(r) == len(headers) for r in rows)
    assert gpu.speed_table([result])[1] == []  # no speed options were measured
    saved = tmp_path / "r.json"
    saved.write_text(json.dumps([dataclasses.asdict(result)]))
    doc = tmp_path / "benchmarks.md"
    monkeypatch.setattr("ttom.bench.report.default_doc_path", lambda: doc)
    from typer.testing import CliRunner

    from ttom.cli import app

    out = CliRunner().invoke(app, ["bench", "gpu", "--from-json", str(saved)])
    assert out.exit_code == 0, out.output
    text = doc.read_text()
    assert "<!-- bench:gpu -->" in text and "toy-wan" in text and "One TTO iteration by engine option" in text


@pytest.mark.parametrize("args, message", [
    (["--models", "sdxl"], "unknown model"),
    (["--models", "wan2.1-1.3b", "--steps", "3"], "fewer than --tto-steps"),
    (["--speed-options", "turbo"], "unknown speed option"),
])
def test_bad_options_get_one_clear_line(args, message):
    r = subprocess.run([sys.executable, "-m", "ttom.cli", "bench", "gpu", *args], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and message in r.stderr + r.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_without_cuda_it_says_so():
    r = subprocess.run([sys.executable, "-m", "ttom.cli", "bench", "gpu", "--models", "wan2.1-1.3b"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "needs a CUDA GPU" in r.stderr + r.stdout
