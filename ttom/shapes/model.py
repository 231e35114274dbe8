"""The bundled shapes model: a small pixel-space CogVideoX transformer for the shapes world.

A diffusers ``CogVideoXTransformer3DModel`` (so the engine's CogVideoX path, joint attention and
all, runs on a trained model) that denoises the frames themselves (3 channels, no VAE), conditioned
on the token states of the packaged MiniLM. Trained with rectified flow (``ttom/shapes/train.py``):
x_t = (1 − σ)·x0 + σ·ε, the model predicts ε − x0, timestep = 1000·σ; sampled with diffusers'
``FlowMatchEulerDiscreteScheduler`` (shift 1), whose step is exactly that Euler update.

The weights ship in ``ttom/assets/shapes/`` as a diffusers model folder (config.json +
safetensors) with ``ttom.json``, the recipe the engine uses (video size, steps, CFG, the probed
supervised block, φ's rank, TTO schedule); ``ttom.engine.backends.shapes`` loads them as a backend.
"""

from __future__ import annotations

from pathlib import Path

import torch

ASSET_DIR = Path(__file__).resolve().parents[1] / "assets" / "shapes"
MODEL_ID = "ttom/shapes-v4"  # v4: v3 trained further; a new id, so φ* memorised for older weights never loads

# Video 24x24 px, 8 frames, patch 2: 12x12 tokens per frame, 1,152 video tokens. At 32 px the
# CFG forward on a 2-core CPU took ~1.5 s (2,048 tokens, attention-bound); at 24 px ~0.3 s,
# which keeps a TTO generation well under a minute.
VIDEO = {"num_frames": 8, "height": 24, "width": 24, "fps": 4}
TEXT_LEN = 24
TRANSFORMER_CONFIG = dict(
    num_attention_heads=6, attention_head_dim=32, in_channels=3, out_channels=3, time_embed_dim=128,
    text_embed_dim=384, num_layers=8, sample_width=VIDEO["width"], sample_height=VIDEO["height"],
    sample_frames=VIDEO["num_frames"], patch_size=2, temporal_compression_ratio=1, max_text_seq_length=TEXT_LEN,
    use_rotary_positional_embeddings=False,
)
# The engine's recipe for this model; `layers` is replaced by the probe's best block after training.
RECIPE = dict(video=VIDEO, steps=20, guidance_scale=4.0, layers=[3], rank=8, alpha=8.0,
              modules=["to_q", "to_k", "to_v", "to_out.0"], normalization="joint")
TTO_DEFAULTS = dict(steps=4, iterations=8, lr=1e-3, loss_threshold=0.05)


def build_transformer():
    from diffusers import CogVideoXTransformer3DModel

    return CogVideoXTransformer3DModel(**TRANSFORMER_CONFIG)


def make_scheduler():
    from diffusers import FlowMatchEulerDiscreteScheduler

    return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0)


def caption_states(texts: list[str], batch: int = 256) -> torch.Tensor:
    """MiniLM token states exactly as the backend encodes a prompt: (N, TEXT_LEN, 384) float32.

    Padded to TEXT_LEN with no attention mask, as CogVideoXPipeline does for T5: the pads are
    real keys, in training and at generation alike.
    """
    from ttom.minilm import load_minilm

    tokenizer, encoder = load_minilm()
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), batch):
            ids = tokenizer(texts[i:i + batch], padding="max_length", max_length=TEXT_LEN, truncation=True,
                            add_special_tokens=True, return_tensors="pt").input_ids
            out.append(encoder(ids)[0].float())
    return torch.cat(out)
