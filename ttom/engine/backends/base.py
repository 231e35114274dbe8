"""What the TTO engine needs from a video diffusion model, and the parts every backend shares."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ttom.engine.adapters import AdapterSpec, Signature
from ttom.errors import ConfigError, WeightsNotFoundError


@dataclass(frozen=True)
class VideoSpec:
    """Pixel size of the video to generate."""

    num_frames: int
    height: int
    width: int
    fps: int = 8

    @property
    def aspect(self) -> float:
        """Width / height: the frame the planner sizes boxes for."""
        return self.width / self.height


@dataclass(frozen=True)
class PromptEncoding:
    embeds: torch.Tensor  # (1, T, D) text states the transformer is conditioned on
    ids: list[int]  # the token ids behind them (padding included), for token matching
    text: str


@dataclass
class BackendDefaults:
    """A model's recipe: video size, sampler, and where TTO reads and writes."""

    video: VideoSpec
    steps: int = 50
    guidance_scale: float = 6.0
    layers: tuple[int, ...] = (3,)  # blocks whose attention the loss reads
    rank: int = 32
    alpha: float = 32.0
    modules: tuple[str, ...] = ("to_q", "to_k", "to_v", "to_out.0")
    normalization: str = "joint"
    extra: dict = field(default_factory=dict)


class Backend:
    """A loaded model: transformer, text encoder, tokenizer, VAE (None = pixel space) and scheduler.

    Subclasses say how latents are laid out, how the transformer is called, and how to decode.
    """

    family: str = ""
    block_prefix: str = ""  # attribute holding the transformer blocks
    attn_name: str = ""  # attention module TTO reads (and where φ goes by default)
    processor_cls: type = object

    def __init__(self, name: str, model_id: str, transformer, text_encoder, tokenizer, vae, scheduler,
                 defaults: BackendDefaults, device: torch.device, dtype: torch.dtype, max_text_len: int):
        self.name = name
        self.model_id = model_id
        self.transformer = transformer
        self.text_encoder = text_encoder
        self.tokenizer = tokenizer
        self.vae = vae
        self.scheduler = scheduler
        self.defaults = defaults
        self.device = device
        self.dtype = dtype
        self.max_text_len = max_text_len
        self._prompt_cache: dict[str, PromptEncoding] = {}
        for m in (transformer, text_encoder, vae):
            if m is not None:
                m.requires_grad_(False)
                m.eval()

    # ----- structure --------------------------------------------------------------------------
    @property
    def blocks(self) -> torch.nn.ModuleList:
        return getattr(self.transformer, self.block_prefix)

    @property
    def num_blocks(self) -> int:
        return len(self.blocks)

    def attn_module(self, block: int) -> torch.nn.Module:
        if not 0 <= block < self.num_blocks:
            raise ConfigError(f"{self.name} has blocks 0..{self.num_blocks - 1}; block {block} does not exist")
        return getattr(self.blocks[block], self.attn_name)

    def signature(self, spec: AdapterSpec) -> Signature:
        return signature_for(self.family, self.model_id, self.attn_name, spec)

    # ----- text -------------------------------------------------------------------------------
    def encode_prompt(self, prompt: str) -> PromptEncoding:
        if prompt not in self._prompt_cache:
            self._prompt_cache[prompt] = self._encode(prompt)
        return self._prompt_cache[prompt]

    def object_tokens(self, layout, scope: str = "name") -> dict[str, list[int]]:
        """Token positions of each object name in the text the model is conditioned on (one group per name),
        widened to its phrase or clause by ``scope`` (``ttom.engine.tokens.described_token_groups``)."""
        from ttom.engine.tokens import described_token_groups

        prompt = layout.generation_prompt()
        return described_token_groups(self.tokenizer, prompt, self.encode_prompt(prompt).ids, layout, scope,
                                      max_length=self.max_text_len)

    def _tokenize(self, prompt: str):
        return self.tokenizer(prompt, padding="max_length", max_length=self.max_text_len, truncation=True,
                              add_special_tokens=True, return_attention_mask=True, return_tensors="pt")

    def _encode(self, prompt: str) -> PromptEncoding:
        raise NotImplementedError

    # ----- latents ----------------------------------------------------------------------------
    def check_spec(self, spec: VideoSpec) -> None:
        t, s = self.temporal_factor, self.spatial_factor * self.patch_hw
        if (spec.num_frames - 1) % t != 0:
            raise ConfigError(f"{self.name}: num_frames - 1 must be divisible by {t}; got {spec.num_frames} "
                              f"(try {((spec.num_frames - 1) // t) * t + 1})")
        if spec.height % s or spec.width % s:
            raise ConfigError(f"{self.name}: height and width must be multiples of {s}; got {spec.height}x{spec.width}")

    @property
    def temporal_factor(self) -> int:
        return 4 if self.vae is not None else 1

    @property
    def spatial_factor(self) -> int:
        return 8 if self.vae is not None else 1

    @property
    def patch_hw(self) -> int:
        raise NotImplementedError

    def latent_frames(self, spec: VideoSpec) -> int:
        return (spec.num_frames - 1) // self.temporal_factor + 1

    def token_grid(self, spec: VideoSpec) -> tuple[int, int, int]:
        """(frames, rows, cols) of video tokens, in the order the transformer flattens them."""
        raise NotImplementedError

    def latent_shape(self, spec: VideoSpec) -> tuple[int, ...]:
        """Shape of the initial latents (batch 1), in the transformer's own layout."""
        raise NotImplementedError

    def prepare_latents(self, spec: VideoSpec, generator: torch.Generator) -> torch.Tensor:
        """Initial noise, drawn on the CPU from ``generator`` (the same video on every device)."""
        x = torch.randn(self.latent_shape(spec), generator=generator, dtype=torch.float32)
        return (x * getattr(self.scheduler, "init_noise_sigma", 1.0)).to(self.device, self.dtype)

    def forward_kwargs(self, spec: VideoSpec) -> dict:
        """Extra keyword arguments of the transformer call that depend only on the video size."""
        return {}

    def predict(self, latents: torch.Tensor, t: torch.Tensor, embeds: torch.Tensor, extra: dict) -> torch.Tensor:
        """The transformer's prediction for ``latents`` at timestep ``t`` (batch = len(embeds))."""
        timestep = t.expand(latents.shape[0]).to(self.device)
        return self.transformer(hidden_states=latents, encoder_hidden_states=embeds, timestep=timestep,
                                return_dict=False, **extra)[0]

    def decode(self, latents: torch.Tensor) -> np.ndarray:
        """Latents → uint8 frames (F, H, W, 3)."""
        with torch.no_grad():
            return to_uint8(self._decode(latents))

    def _decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents (batch 1) → the video (C, F, H, W) in [-1, 1]: the VAE's, or the latents themselves in pixel space."""
        raise NotImplementedError


def signature_for(family: str, model_id: str, attn_name: str, spec: AdapterSpec) -> Signature:
    """The signature φ with ``spec`` carries on this model (what memory recall must match)."""
    return Signature(backend=family, model_id=model_id, blocks=sorted(spec.blocks), modules=list(spec.modules),
                     rank=spec.rank, alpha=float(spec.alpha), attention=attn_name)


def to_uint8(video: torch.Tensor) -> np.ndarray:
    """(C, F, H, W) in [-1, 1] → (F, H, W, 3) uint8."""
    v = ((video.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return v.permute(1, 2, 3, 0).cpu().numpy()


def resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    d = torch.device(device)
    if d.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device} was asked for but CUDA is not available here; use --device cpu")
    return d


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype in (None, "auto"):
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    table = {"fp32": torch.float32, "float32": torch.float32, "bf16": torch.bfloat16, "bfloat16": torch.bfloat16,
             "fp16": torch.float16, "float16": torch.float16}
    if dtype not in table:
        raise ConfigError(f"unknown dtype {dtype!r}; use one of {sorted(table)}")
    return table[dtype]


def load_pipeline(pipeline_cls, source: str | Path, dtype: torch.dtype):
    """``from_pretrained`` from a local folder or the local Hugging Face cache, never the network."""
    src = str(source)
    try:
        return pipeline_cls.from_pretrained(src, dtype=dtype, local_files_only=True)
    except (OSError, ValueError) as e:
        where = "folder" if Path(src).exists() else "local Hugging Face cache"
        raise WeightsNotFoundError(
            f"weights for {src} not found or incomplete in the {where} ({type(e).__name__}: {str(e).splitlines()[0][:200]}). "
            f"Download them where there is internet (huggingface-cli download {src}) and copy the cache here, "
            "or pass --model PATH to a folder with model_index.json."
        ) from None


def default_video_for(sample_frames: int, height: int, width: int) -> VideoSpec:
    return VideoSpec(num_frames=sample_frames, height=height, width=width)


def ceil_div(a: int, b: int) -> int:
    return int(math.ceil(a / b))
