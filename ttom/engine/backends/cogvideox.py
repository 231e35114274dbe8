"""CogVideoX (2B, 5B, 1.5-5B) on diffusers' ``CogVideoXTransformer3DModel``.

Joint attention ``attn1`` over ``[text; video]`` with text first; RoPE on the video part only
(5B, 1.5); latents laid out (B, F, C, H, W). Also serves pixel-space models (``vae=None``), such
as the bundled shapes model, whose "latents" are the frames themselves in [-1, 1].
"""

from __future__ import annotations

import torch

from ttom.engine.attention import CogVideoXCaptureProcessor
from ttom.engine.backends.base import Backend, PromptEncoding, VideoSpec


class CogVideoXBackend(Backend):
    family = "cogvideox"
    block_prefix = "transformer_blocks"
    attn_name = "attn1"
    processor_cls = CogVideoXCaptureProcessor

    @staticmethod
    def release_scheduler():
        """The scheduler CogVideoX ships with (its scheduler_config.json: DDIM, v-prediction, zero-SNR, trailing)."""
        from diffusers import CogVideoXDDIMScheduler

        return CogVideoXDDIMScheduler(
            beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, prediction_type="v_prediction",
            rescale_betas_zero_snr=True, snr_shift_scale=1.0, timestep_spacing="trailing", clip_sample=False,
            set_alpha_to_one=True)

    @property
    def patch_hw(self) -> int:
        return self.transformer.config.patch_size

    @property
    def patch_t(self) -> int:
        return self.transformer.config.patch_size_t or 1

    @property
    def spatial_factor(self) -> int:
        if self.vae is None:
            return 1
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def temporal_factor(self) -> int:
        return int(self.vae.config.temporal_compression_ratio) if self.vae is not None else 1

    def check_spec(self, spec: VideoSpec) -> None:
        super().check_spec(spec)
        if self.latent_frames(spec) % self.patch_t:
            from ttom.errors import ConfigError

            raise ConfigError(f"{self.name}: the latent frame count {self.latent_frames(spec)} must be a multiple of "
                              f"patch_size_t={self.patch_t}; choose num_frames accordingly")

    def _encode(self, prompt: str) -> PromptEncoding:
        # As CogVideoXPipeline: pad to the maximum length, no attention mask (pads are real keys).
        tok = self._tokenize(prompt)
        ids = tok.input_ids.to(self.text_encoder.device)
        with torch.no_grad():
            embeds = self.text_encoder(ids)[0]
        return PromptEncoding(embeds.to(self.device, self.dtype), tok.input_ids[0].tolist(), prompt)

    def token_grid(self, spec: VideoSpec) -> tuple[int, int, int]:
        s = self.spatial_factor * self.patch_hw
        return self.latent_frames(spec) // self.patch_t, spec.height // s, spec.width // s

    def latent_shape(self, spec: VideoSpec) -> tuple[int, ...]:
        c = self.transformer.config.in_channels
        s = self.spatial_factor
        return (1, self.latent_frames(spec), c, spec.height // s, spec.width // s)

    def forward_kwargs(self, spec: VideoSpec) -> dict:
        cfg = self.transformer.config
        if not cfg.use_rotary_positional_embeddings:
            return {"image_rotary_emb": None}
        from diffusers.models.embeddings import get_3d_rotary_pos_embed
        from diffusers.pipelines.cogvideo.pipeline_cogvideox import get_resize_crop_region_for_grid

        _, gh, gw = self.token_grid(spec)
        base_w, base_h = cfg.sample_width // cfg.patch_size, cfg.sample_height // cfg.patch_size
        if cfg.patch_size_t is None:  # CogVideoX 1.0, as CogVideoXPipeline
            crops = get_resize_crop_region_for_grid((gh, gw), base_w, base_h)
            cos, sin = get_3d_rotary_pos_embed(embed_dim=cfg.attention_head_dim, crops_coords=crops,
                                               grid_size=(gh, gw), temporal_size=self.latent_frames(spec),
                                               device=self.device)
        else:  # CogVideoX 1.5
            cos, sin = get_3d_rotary_pos_embed(embed_dim=cfg.attention_head_dim, crops_coords=None,
                                               grid_size=(gh, gw), temporal_size=self.latent_frames(spec) // self.patch_t,
                                               grid_type="slice", max_size=(base_h, base_w), device=self.device)
        return {"image_rotary_emb": (cos.to(self.dtype), sin.to(self.dtype))}

    def _decode(self, latents: torch.Tensor) -> torch.Tensor:
        if self.vae is None:
            return latents[0].permute(1, 0, 2, 3)  # (F, C, H, W) → (C, F, H, W)
        z = latents.permute(0, 2, 1, 3, 4).to(self.vae.dtype) / self.vae.config.scaling_factor
        return self.vae.decode(z).sample[0]  # (C, F, H, W)
