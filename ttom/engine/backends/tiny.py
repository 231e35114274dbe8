"""Tiny random-weight CogVideoX and Wan models: the real diffusers classes at toy size.

They run the whole engine in seconds on a CPU (smoke tests, CI, checking an install). Weights are
seeded, so a tiny model is the same in every process; text comes from the packaged MiniLM.
Their videos are noise.
"""

from __future__ import annotations

import torch

from ttom.engine.backends.base import BackendDefaults, VideoSpec
from ttom.minilm import load_minilm

TEXT_LEN = 32
TINY_VIDEO = VideoSpec(num_frames=9, height=64, width=64)


def _seeded(seed: int):
    return torch.random.fork_rng(devices=[])


def tiny_cogvideox_parts(seed: int = 0):
    from diffusers import AutoencoderKLCogVideoX, CogVideoXTransformer3DModel

    tokenizer, text_encoder = load_minilm()
    with _seeded(seed):
        torch.manual_seed(seed)
        transformer = CogVideoXTransformer3DModel(
            num_attention_heads=2, attention_head_dim=16, in_channels=4, out_channels=4, time_embed_dim=16,
            text_embed_dim=text_encoder.config.hidden_size, num_layers=4, sample_width=8, sample_height=8,
            sample_frames=9, patch_size=2, max_text_seq_length=TEXT_LEN, use_rotary_positional_embeddings=True,
        )
        vae = AutoencoderKLCogVideoX(
            block_out_channels=(8, 8, 8, 8), latent_channels=4, layers_per_block=1, norm_num_groups=2,
            temporal_compression_ratio=4, sample_height=64, sample_width=64,
        )
    from ttom.engine.backends.cogvideox import CogVideoXBackend

    scheduler = CogVideoXBackend.release_scheduler()
    return dict(transformer=transformer, vae=vae, scheduler=scheduler, tokenizer=tokenizer, text_encoder=text_encoder)


def tiny_wan_parts(seed: int = 0):
    from diffusers import AutoencoderKLWan, WanTransformer3DModel

    tokenizer, text_encoder = load_minilm()
    with _seeded(seed):
        torch.manual_seed(seed)
        transformer = WanTransformer3DModel(
            patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=16, in_channels=16, out_channels=16,
            text_dim=text_encoder.config.hidden_size, freq_dim=32, ffn_dim=64, num_layers=4, cross_attn_norm=True,
            qk_norm="rms_norm_across_heads", rope_max_seq_len=32,
        )
        vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                               temperal_downsample=[False, True, True])
    from ttom.engine.backends.wan import WanBackend

    scheduler = WanBackend.release_scheduler()
    return dict(transformer=transformer, vae=vae, scheduler=scheduler, tokenizer=tokenizer, text_encoder=text_encoder)


TINY_DEFAULTS = dict(video=TINY_VIDEO, steps=10, guidance_scale=5.0, layers=(2,), rank=4, alpha=4.0)


def tiny_defaults(name: str) -> BackendDefaults:
    """The recipe of ``tiny-cogvideox`` or ``tiny-wan`` (Wan normalises over its text keys)."""
    return BackendDefaults(**TINY_DEFAULTS, normalization="text" if name == "tiny-wan" else "joint")


def tiny_cogvideox(device: torch.device, dtype: torch.dtype):
    from ttom.engine.backends.cogvideox import CogVideoXBackend

    parts = tiny_cogvideox_parts()
    return _build(CogVideoXBackend, "tiny-cogvideox", parts, tiny_defaults("tiny-cogvideox"), device, dtype)


def tiny_wan(device: torch.device, dtype: torch.dtype):
    from ttom.engine.backends.wan import WanBackend

    parts = tiny_wan_parts()
    return _build(WanBackend, "tiny-wan", parts, tiny_defaults("tiny-wan"), device, dtype)


def _build(cls, name, parts, defaults, device, dtype):
    for key in ("transformer", "vae"):
        parts[key] = parts[key].to(device=device)
        if dtype != torch.float32:
            parts[key] = parts[key].to(dtype=dtype)
    parts["text_encoder"] = parts["text_encoder"].to(device)
    return cls(name=name, model_id=f"ttom/{name}", defaults=defaults, device=device, dtype=dtype,
               max_text_len=TEXT_LEN, **parts)


def save_tiny_pipeline(name: str, folder) -> None:
    """Write a tiny model as a diffusers pipeline folder (tests use it to exercise from_pretrained)."""
    import json
    from pathlib import Path

    from diffusers import CogVideoXPipeline, WanPipeline

    parts = tiny_cogvideox_parts() if name == "tiny-cogvideox" else tiny_wan_parts()
    pipe_cls = CogVideoXPipeline if name == "tiny-cogvideox" else WanPipeline
    pipe = pipe_cls(**parts)
    pipe.save_pretrained(folder, safe_serialization=True)
    folder = Path(folder)
    index = json.loads((folder / "model_index.json").read_text())
    index["ttom_model_id"] = f"ttom/{name}"
    (folder / "model_index.json").write_text(json.dumps(index, indent=2))
    d = dict(TINY_DEFAULTS)
    d["video"] = TINY_VIDEO.__dict__
    d["extra"] = {"max_text_len": TEXT_LEN}
    if name == "tiny-wan":
        d["normalization"] = "text"
    (folder / "ttom.json").write_text(json.dumps(d, indent=2))
