"""Wan2.1 (1.3B, 14B) on diffusers' ``WanTransformer3DModel``.

Video-only self-attention ``attn1`` and a separate cross-attention ``attn2`` over 512 umT5 text
tokens (the real tokens, then zero padding, as WanPipeline); TTO reads ``attn2``. Latents are laid
out (B, C, F, H, W).
"""

from __future__ import annotations

import torch

from ttom.engine.attention import WanCaptureProcessor
from ttom.engine.backends.base import Backend, PromptEncoding, VideoSpec


class WanBackend(Backend):
    family = "wan"
    block_prefix = "blocks"
    attn_name = "attn2"
    processor_cls = WanCaptureProcessor

    @staticmethod
    def release_scheduler():
        """The scheduler Wan2.1 ships with (UniPC on flow sigmas, shift 3)."""
        from diffusers import UniPCMultistepScheduler

        return UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                       num_train_timesteps=1000, flow_shift=3.0)

    @property
    def patch_hw(self) -> int:
        return self.transformer.config.patch_size[1]

    @property
    def spatial_factor(self) -> int:
        return int(self.vae.config.scale_factor_spatial) if self.vae is not None else 1

    @property
    def temporal_factor(self) -> int:
        return int(self.vae.config.scale_factor_temporal) if self.vae is not None else 1

    def _encode(self, prompt: str) -> PromptEncoding:
        # As WanPipeline._get_t5_prompt_embeds: encode with the mask, keep the real tokens, zero-pad.
        tok = self._tokenize(prompt)
        ids, mask = tok.input_ids, tok.attention_mask
        n = int(mask.sum())
        with torch.no_grad():
            states = self.text_encoder(ids.to(self.text_encoder.device), mask.to(self.text_encoder.device)).last_hidden_state
        states = states[0, :n]
        embeds = torch.cat([states, states.new_zeros(self.max_text_len - n, states.shape[1])])[None]
        return PromptEncoding(embeds.to(self.device, self.dtype), ids[0].tolist(), prompt)

    def token_grid(self, spec: VideoSpec) -> tuple[int, int, int]:
        pt = self.transformer.config.patch_size[0]
        s = self.spatial_factor * self.patch_hw
        return self.latent_frames(spec) // pt, spec.height // s, spec.width // s

    def latent_shape(self, spec: VideoSpec) -> tuple[int, ...]:
        c = self.transformer.config.in_channels
        s = self.spatial_factor
        return (1, c, self.latent_frames(spec), spec.height // s, spec.width // s)

    def _decode(self, latents: torch.Tensor) -> torch.Tensor:
        if self.vae is None:
            return latents[0]
        cfg = self.vae.config
        mean = torch.tensor(cfg.latents_mean).view(1, cfg.z_dim, 1, 1, 1).to(latents.device, self.vae.dtype)
        std = torch.tensor(cfg.latents_std).view(1, cfg.z_dim, 1, 1, 1).to(latents.device, self.vae.dtype)
        z = latents.to(self.vae.dtype) * std + mean
        return self.vae.decode(z, return_dict=False)[0][0]  # (C, F, H, W)
