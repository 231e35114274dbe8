"""``ttom bench gpu``: what TTOM costs at real model size, with random weights at the published configs.

No weights can be downloaded where this runs, and none are needed to measure cost: the real
diffusers transformer classes are built at their published sizes (CogVideoX-5B, Wan2.1 1.3B and
14B) straight on the GPU in bf16 with random weights, and the engine's own ``generate`` runs them.
Text comes from a random embedding table of the text encoder's width (4096) behind a real word-level
tokenizer, so object tokens are found as for a real prompt. There is no VAE: the engine runs in
latent space at the latent size of the real video (49×480×720 → 13×60×90 for CogVideoX;
81×480×832 → 21×60×104 for Wan), which is everything the transformer sees.

One run per model measures, in one process:

1. a plain CFG generation of ``steps`` denoising steps (transformer time; the baseline);
2. one TTO iteration (forward to the supervised block, backward to φ, AdamW step) for each of the
   engine's options, median of ``repeats``, with its peak memory: truncated (the default), φ
   computed in fp32 as peft would, checkpointing every block, the full-depth forward of the
   official code, φ in the supervised block only (for scale: a different method), and the least
   checkpointing that keeps the peak within ``memory_cap`` × plain generation's peak;
3. TTO end to end on the official schedule (5 steps × 8 iterations, the early stop disabled so
   every iteration runs: the worst case), at the fastest setting and at the memory-capped one;
4. a memory hit: φ loaded, no optimisation (``skip``);
5. optionally (``speed_options``), a plain CFG step and a TTO iteration under global options that
   change plain generation too: cuDNN attention, compiled blocks;
6. the supervised block alone: the stock block, and the block as TTO runs it (capture processor
   recording, stopped once the maps exist), forward and forward+backward, with memory.

Ratios are to the plain generation. With fewer than 50 steps the 50-step figures are extrapolated
(TTO's cost is a fixed number of iterations; every denoising step costs the same), and say so.
"""

from __future__ import annotations

import math
import re
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from ttom.engine.backends.base import Backend, BackendDefaults, VideoSpec
from ttom.layout import Layout

GIB = 1024**3


@dataclass(frozen=True)
class Arch:
    """A published transformer config and the latent size of the model's release video."""

    name: str
    family: str  # cogvideox | wan
    config: dict
    latent: tuple[int, int, int]  # latent frames, height, width
    video: str  # the pixel video it stands for, for the table
    text_len: int
    text_dim: int = 4096


# transformer/config.json of the releases (diffusers names); see ../shared/research/diffusers_internals.md
_COG5B = dict(num_attention_heads=48, attention_head_dim=64, in_channels=16, out_channels=16, flip_sin_to_cos=True,
              freq_shift=0, time_embed_dim=512, text_embed_dim=4096, num_layers=42, dropout=0.0, attention_bias=True,
              sample_width=90, sample_height=60, sample_frames=49, patch_size=2, temporal_compression_ratio=4,
              max_text_seq_length=226, activation_fn="gelu-approximate", timestep_activation_fn="silu",
              norm_elementwise_affine=True, norm_eps=1e-5, spatial_interpolation_scale=1.875,
              temporal_interpolation_scale=1.0, use_rotary_positional_embeddings=True,
              use_learned_positional_embeddings=False)
_WAN = dict(patch_size=(1, 2, 2), attention_head_dim=128, in_channels=16, out_channels=16, text_dim=4096, freq_dim=256,
            cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024)

ARCHS: dict[str, Arch] = {
    "cogvideox-5b": Arch("cogvideox-5b", "cogvideox", _COG5B, (13, 60, 90), "49×480×720", 226),
    "wan2.1-1.3b": Arch("wan2.1-1.3b", "wan", dict(_WAN, num_attention_heads=12, ffn_dim=8960, num_layers=30),
                        (21, 60, 104), "81×480×832", 512),
    "wan2.1-14b": Arch("wan2.1-14b", "wan", dict(_WAN, num_attention_heads=40, ffn_dim=13824, num_layers=40),
                       (21, 60, 104), "81×480×832", 512),
}

PROMPT = "a red car drives to the left while a brown dog runs to the right on a quiet street"
LAYOUT = {
    "prompt": PROMPT,
    "objects": [
        {"id": 0, "name": "car", "phrase": "a red car",
         "keyframes": [{"t": 0, "box": [0.55, 0.45, 0.95, 0.85]}, {"t": 1, "box": [0.05, 0.45, 0.45, 0.85]}]},
        {"id": 1, "name": "dog", "phrase": "a brown dog",
         "keyframes": [{"t": 0, "box": [0.05, 0.1, 0.35, 0.4]}, {"t": 1, "box": [0.6, 0.1, 0.9, 0.4]}]},
    ],
    "background": "street",
}

# Memory cap of the checkpointed operating point, as a multiple of plain generation's peak.
MEMORY_CAP = 1.5

# --------------------------------------------------------------------------------------------
# A real transformer at a published size, random weights, built on the device
# --------------------------------------------------------------------------------------------
class RandomTextEncoder(torch.nn.Module):
    """Token ids → random (but fixed) states of the text encoder's width; a stand-in for T5/umT5 weights."""

    def __init__(self, vocab_size: int, dim: int):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab_size, dim)
        torch.nn.init.normal_(self.embed.weight, std=0.1)

    @property
    def device(self) -> torch.device:
        return self.embed.weight.device

    def forward(self, input_ids, attention_mask=None):
        from transformers.modeling_outputs import BaseModelOutput

        return BaseModelOutput(last_hidden_state=self.embed(input_ids))


def word_tokenizer(texts: list[str], max_length: int):
    """A real (word-level) fast tokenizer whose vocabulary is the words of ``texts``."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = sorted({w for t in texts for w in re.findall(r"\w+|[^\w\s]", t.lower())})
    vocab = {"[PAD]": 0, "[UNK]": 1, **{w: i + 2 for i, w in enumerate(words)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]",
                                   model_max_length=max_length)


def build_transformer(arch: Arch, device: torch.device, dtype: torch.dtype, seed: int = 0) -> torch.nn.Module:
    """The diffusers transformer of ``arch`` with random weights, created directly on ``device`` in ``dtype``.

    Creating it on the GPU in bf16 takes seconds; a random init of 14 B parameters on the CPU
    would take many minutes, and an fp32 copy of Wan-14B would not fit beside the bf16 one.
    """
    if arch.family == "cogvideox":
        from diffusers import CogVideoXTransformer3DModel as cls
    else:
        from diffusers import WanTransformer3DModel as cls
    torch.manual_seed(seed)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = cls(**arch.config)
    finally:
        torch.set_default_dtype(previous)
    return model


def random_backend(arch: Arch, device: torch.device, dtype: torch.dtype = torch.bfloat16, seed: int = 0) -> Backend:
    """A Backend around the random transformer: the engine runs it as it runs a loaded model."""
    from ttom.engine.backends import MODELS

    transformer = build_transformer(arch, device, dtype, seed)
    tokenizer = word_tokenizer([PROMPT], arch.text_len)
    text = RandomTextEncoder(len(tokenizer), arch.text_dim).to(device=device, dtype=dtype)
    card = MODELS.get(arch.name)
    layers = card.defaults.layers if card else (min(3, arch.config["num_layers"] - 1),)
    guidance = card.defaults.guidance_scale if card else 5.0
    normalization = card.defaults.normalization if card else ("text" if arch.family == "wan" else "joint")
    f, h, w = arch.latent
    defaults = BackendDefaults(video=VideoSpec(f, h, w), steps=50, guidance_scale=guidance, layers=tuple(layers),
                               normalization=normalization)
    if arch.family == "cogvideox":
        from ttom.engine.backends.cogvideox import CogVideoXBackend as cls
    else:
        from ttom.engine.backends.wan import WanBackend as cls
    scheduler = cls.release_scheduler()
    return cls(name=arch.name, model_id=f"random/{arch.name}", transformer=transformer, text_encoder=text,
               tokenizer=tokenizer, vae=None, scheduler=scheduler, defaults=defaults, device=device, dtype=dtype,
               max_text_len=arch.text_len)


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def _peak_gib(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    return torch.cuda.max_memory_allocated(device) / GIB


def _timed(device: torch.device, fn: Callable[[], object]) -> tuple[float, object]:
    _sync(device)
    t0 = time.perf_counter()
    out = fn()
    _sync(device)
    return time.perf_counter() - t0, out


def _median_ms(device: torch.device, fn: Callable[[], object], repeats: int) -> float:
    return 1000 * statistics.median(_timed(device, fn)[0] for _ in range(repeats))


@dataclass
class ModelResult:
    arch: str
    video: str
    params_b: float
    tokens: int  # video tokens
    text_tokens: int
    layers: list[int]
    steps: int
    tto_steps: int
    iterations: int
    memory_cap: float = MEMORY_CAP
    weights_gib: float | None = None
    # end-to-end runs: name → {s, opt_s, peak_gib, iterations, loss: [first, last], config}
    runs: dict[str, dict] = field(default_factory=dict)
    step_ms: float = 0.0  # one CFG denoising step (batch 2), median
    iteration: dict[str, dict] = field(default_factory=dict)  # variant → {ms, peak_gib, config}
    block: dict[str, float | None] = field(default_factory=dict)
    # global speed options: name → {step_ms, iteration_ms, error}; they change plain generation too
    speed: dict[str, dict] = field(default_factory=dict)
    device: str = ""
    command: str = ""
    family: str = ""  # cogvideox | wan

    # ----- derived: every ratio is to a plain generation of 50 steps ------------------------
    def plain50_s(self) -> float:
        return self.runs["plain"]["s"] / self.steps * 50

    def run50_s(self, name: str) -> float:
        """A run's time at 50 steps: TTO and φ add a fixed cost on top of identical denoising steps."""
        return self.plain50_s() + (self.runs[name]["s"] - self.runs["plain"]["s"])

    def ratio(self, name: str) -> float:
        return self.run50_s(name) / self.plain50_s()

    def peak_ratio(self, peak: float | None) -> float | None:
        plain = self.runs["plain"]["peak_gib"]
        return None if peak is None or not plain else peak / plain

    def schedule_ratio(self, variant: str) -> float:
        """Projected TTO/plain ratio if every one of the 5×8 iterations cost what ``variant`` costs."""
        extra = self.tto_steps * self.iterations * self.iteration[variant]["ms"] / 1000
        return (self.plain50_s() + extra) / self.plain50_s()


def _capture_inputs(backend: Backend, block: int, latents, t, cond, extra) -> tuple[tuple, dict]:
    """The (args, kwargs) the supervised block receives in a conditional forward."""
    from ttom.engine.attention import StopForward

    seen: dict = {}

    def pre(_m, args, kwargs):
        seen["args"], seen["kwargs"] = args, kwargs
        raise StopForward

    handle = backend.blocks[block].register_forward_pre_hook(pre, with_kwargs=True)
    try:
        with torch.no_grad():
            backend.predict(latents, t, cond, extra)
    except StopForward:
        pass
    finally:
        handle.remove()
    return seen["args"], seen["kwargs"]


def _block_bench(backend: Backend, layout: Layout, spec: VideoSpec, latents, t, cond, extra, repeats: int) -> dict:
    """The supervised block alone: stock, and as TTO runs it (recording maps, stopping once they exist)."""
    from ttom.engine.attention import AttentionRecorder, StopForward, capture
    from ttom.engine.loss import alignment_loss
    from ttom.engine.masks import layout_targets

    dev = backend.device
    layer = max(backend.defaults.layers)
    block = backend.blocks[layer]
    args, kwargs = _capture_inputs(backend, layer, latents, t, cond, extra)
    groups = backend.object_tokens(layout)
    grid = backend.token_grid(spec)
    targets, present = layout_targets(layout, grid, layout.names, device=dev)
    recorder = AttentionRecorder([groups[n] for n in layout.names], backend.defaults.normalization)
    hidden = args[0] if args else kwargs["hidden_states"]

    def call(h):
        try:
            out = block(h, *args[1:], **kwargs) if args else block(**{**kwargs, "hidden_states": h})
        except StopForward:  # the capture processor stops the block once the maps are recorded
            return None
        return out[0] if isinstance(out, tuple) else out

    def stock_fwd():
        with torch.no_grad():
            call(hidden)

    def stock_fwd_bwd():
        h = hidden.detach().requires_grad_(True)
        call(h).float().square().mean().backward()

    def measured(fn) -> tuple[float, float | None]:
        fn()
        _reset_peak(dev)
        base = torch.cuda.memory_allocated(dev) / GIB if dev.type == "cuda" else None
        ms = _median_ms(dev, fn, repeats)
        peak = _peak_gib(dev)
        return ms, None if peak is None else peak - base

    out: dict[str, float | None] = {}
    out["stock_fwd_ms"], _ = measured(stock_fwd)
    out["stock_fwd_bwd_ms"], out["stock_extra_gib"] = measured(stock_fwd_bwd)
    recorder.stop_at = layer
    with capture({layer: backend.attn_module(layer)}, backend.processor_cls, recorder):
        def capture_fwd():
            recorder.active = True
            with torch.no_grad():
                call(hidden)
            recorder.active = False

        def capture_fwd_bwd():
            recorder.active = True
            call(hidden.detach().requires_grad_(True))
            maps = recorder.maps[layer][0].T.reshape(len(groups), *grid)
            alignment_loss([maps], targets, present).backward()
            recorder.active = False

        out["capture_fwd_ms"], _ = measured(capture_fwd)
        out["capture_fwd_bwd_ms"], out["capture_extra_gib"] = measured(capture_fwd_bwd)
    # The whole attention matrix of the attention the capture reads, bf16, all heads: CogVideoX's joint
    # attention is N×N over [text; video]; Wan's cross-attention is N_video × its text keys.
    queries = math.prod(grid)
    keys = queries + backend.max_text_len if backend.family == "cogvideox" else backend.max_text_len
    out["full_map_gib"] = queries * keys * backend.attn_module(layer).heads * 2 / GIB
    return out


def blocks_to_checkpoint(peak_none: float | None, peak_all: float | None, budget: float | None, path: int) -> int:
    """How many of the ``path`` blocks to checkpoint so the peak fits ``budget`` (0: none needed or unknown).

    Each checkpointed block frees about the same memory, so the peak falls linearly from
    ``peak_none`` (none checkpointed) to ``peak_all`` (all): take the first count whose estimate fits.
    """
    if None in (peak_none, peak_all, budget) or peak_none <= budget:
        return 0
    per_block = (peak_none - peak_all) / path
    if per_block <= 0:
        return path
    return min(path, math.ceil((peak_none - budget) / per_block))


SPEED_OPTIONS = ("cudnn-attention", "compile")


@contextmanager
def speed_option(backend: Backend, name: str) -> Iterator[None]:
    """A global speed option for plain generation and TTO alike: cuDNN attention, or compiled blocks."""
    if name == "cudnn-attention":
        from torch.nn.attention import SDPBackend, sdpa_kernel

        with sdpa_kernel([SDPBackend.CUDNN_ATTENTION]):
            yield
    elif name == "compile":
        import torch._dynamo

        limit = torch._dynamo.config.cache_size_limit
        torch._dynamo.config.cache_size_limit = max(limit, 64)  # φ, capture and grad mode give a few variants
        for block in backend.blocks:  # regional compilation, as diffusers' compile_repeated_blocks
            block.compile()
        try:
            yield
        finally:
            for block in backend.blocks:
                block._compiled_call_impl = None
            torch._dynamo.config.cache_size_limit = limit
    else:
        raise ValueError(f"unknown speed option {name!r}; choose from {SPEED_OPTIONS}")


def _peft_fp32_compute(transformer) -> None:
    """Undo the engine's mixed-precision φ: compute it as peft does by default (input cast to fp32)."""
    for m in transformer.modules():
        if hasattr(m, "cast_input_dtype_enabled"):
            m.cast_input_dtype_enabled = True


def _end_to_end(backend, layout, cfg, steps: int, phi: bytes | None = None) -> tuple[dict, object]:
    from ttom.engine.tto import generate

    dev = backend.device
    _reset_peak(dev)
    seconds, result = _timed(dev, lambda: generate(backend, layout, cfg, steps=steps, phi=phi))
    flat = [v for s in result.losses for v in s]
    run = {"s": seconds, "opt_s": result.timings.get("tto", 0.0), "peak_gib": _peak_gib(dev),
           "iterations": len(flat), "loss": [flat[0], flat[-1]] if flat else [],
           "config": {k: v for k, v in vars(cfg).items() if k not in ("seed",)}}
    return run, result


def run_model(arch: Arch, device: torch.device | str = "cuda", *, steps: int = 50, tto_steps: int = 5,
              iterations: int = 8, repeats: int = 5, memory_cap: float = MEMORY_CAP,
              speed_options: tuple[str, ...] = (), progress: Callable[[str], None] = print) -> ModelResult:
    """Measure one architecture: plain, the engine's TTO options one iteration each, TTO end to end
    at the fastest setting and at the least checkpointing that keeps the peak within ``memory_cap`` ×
    plain's, a memory hit, and the supervised block alone."""
    from ttom.engine.tto import TTOConfig, TTOSession, checkpointing

    dev = torch.device(device)
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    say = lambda m: progress(f"{arch.name}: {m}")  # noqa: E731
    say(f"building the transformer with random weights on {dev}")
    backend = random_backend(arch, dev, dtype)
    layout = Layout.parse(LAYOUT)
    spec = backend.defaults.video
    path = max(backend.defaults.layers) + 1  # blocks the truncated forward and backward run through
    res = ModelResult(arch=arch.name, video=arch.video, family=arch.family,
                      params_b=sum(p.numel() for p in backend.transformer.parameters()) / 1e9,
                      tokens=math.prod(backend.token_grid(spec)), text_tokens=arch.text_len,
                      layers=list(backend.defaults.layers), steps=steps, tto_steps=tto_steps, iterations=iterations,
                      memory_cap=memory_cap)
    res.device = device_line(dev)
    if dev.type == "cuda":
        res.weights_gib = torch.cuda.memory_allocated(dev) / GIB
    # loss_threshold < 0: no early stop, so every one of the tto_steps × iterations runs.
    base = dict(mode="fresh", steps=tto_steps, iterations=iterations, loss_threshold=-1.0)

    say("warm-up")
    _end_to_end(backend, layout, TTOConfig(**{**base, "steps": 1, "iterations": 1}), 2)
    say(f"plain generation, {steps} steps")
    res.runs["plain"], _ = _end_to_end(backend, layout, TTOConfig(mode="off"), steps)
    say(f"  {res.runs['plain']['s']:.1f} s")

    # One CFG step and one TTO iteration per engine option, at the first timestep
    backend.scheduler.set_timesteps(steps, device=dev)
    t = backend.scheduler.timesteps[0]
    latents = backend.prepare_latents(spec, torch.Generator("cpu").manual_seed(0))
    cond = backend.encode_prompt(layout.generation_prompt()).embeds
    both = torch.cat([backend.encode_prompt("").embeds, cond])
    extra = backend.forward_kwargs(spec)

    def cfg_step():
        with torch.no_grad():
            backend.predict(torch.cat([latents] * 2), t, both, extra)

    res.step_ms = _median_ms(dev, cfg_step, repeats)

    def time_iteration(fp32_phi: bool = False, warmups: int = 1, **options) -> tuple[float, float | None]:
        """Median time and peak memory of one TTO iteration with these TTOConfig ``options``."""
        cfg = TTOConfig(**{**base, "steps": 1, "iterations": 1, **options})
        with checkpointing(backend, cfg.gradient_checkpointing):
            session = TTOSession(backend, layout, spec, cfg, None)
            try:
                if fp32_phi:
                    _peft_fp32_compute(backend.transformer)
                for _ in range(warmups):  # warm-up (compiles, and the optimiser's state)
                    session.optimise(latents, t, cond, extra)
                _reset_peak(dev)
                ms = _median_ms(dev, lambda: session.optimise(latents, t, cond, extra), repeats)
                return ms, _peak_gib(dev)
            finally:
                session.close()

    def iteration(name: str, fp32_phi: bool = False, **options) -> dict:
        entry = {"ms": None, "peak_gib": None, "config": options, "fp32_phi": fp32_phi}
        try:
            entry["ms"], entry["peak_gib"] = time_iteration(fp32_phi, **options)
        except torch.OutOfMemoryError:
            pass  # recorded as "out of memory"
        if dev.type == "cuda":
            torch.cuda.empty_cache()
        res.iteration[name] = entry
        say(f"  one TTO iteration, {name}: " + ("out of memory" if entry["ms"] is None else
                                                 f"{entry['ms']:.0f} ms, peak {_gib(entry['peak_gib'])}"))
        return entry

    fast = iteration("truncated")
    iteration("truncated, φ computed in fp32 (peft's default)", fp32_phi=True)
    full = iteration(f"truncated, checkpointing all {path} blocks", gradient_checkpointing=True)
    iteration("full depth, checkpointing (as the official code)", truncate=False, gradient_checkpointing=True)
    last = path - 1  # for scale only: a different method (φ in one block), quality untested at this size
    iteration(f"φ in block {last} only (not the official placement)", adapter_blocks=(last,))

    # The least checkpointing within the memory cap
    budget = None if res.runs["plain"]["peak_gib"] is None else memory_cap * res.runs["plain"]["peak_gib"]
    capped = blocks_to_checkpoint(fast["peak_gib"], full["peak_gib"], budget, path)
    if 0 < capped < path:
        entry = iteration(f"truncated, checkpointing the first {capped} blocks", gradient_checkpointing=capped)
        if entry["peak_gib"] is not None and entry["peak_gib"] > budget and capped + 1 < path:  # the estimate fell short
            capped += 1
            iteration(f"truncated, checkpointing the first {capped} blocks", gradient_checkpointing=capped)

    # End to end: TTO at the fastest setting, at the memory-capped one, and a memory hit
    say(f"TTO generation ({tto_steps}×{iterations}), fastest setting")
    res.runs["TTO"], result = _end_to_end(backend, layout, TTOConfig(**base), steps)
    say(f"  {res.runs['TTO']['s']:.1f} s")
    if capped:
        name = f"TTO, ≤{memory_cap:g}× memory"
        say(f"TTO generation, checkpointing {capped} of {path} blocks")
        res.runs[name], _ = _end_to_end(backend, layout, TTOConfig(**base, gradient_checkpointing=capped), steps)
        say(f"  {res.runs[name]['s']:.1f} s")
    say("memory hit (skip)")
    res.runs["memory hit (skip)"], _ = _end_to_end(backend, layout, TTOConfig(**{**base, "mode": "skip"}), steps,
                                                   phi=result.phi)
    say(f"  {res.runs['memory hit (skip)']['s']:.1f} s")

    for option in speed_options:  # last: compiled code and backend choices must not leak into the rest
        entry: dict = {"step_ms": None, "iteration_ms": None, "error": None}
        try:
            with speed_option(backend, option):
                cfg_step()  # warm-up (compiles)
                entry["step_ms"] = _median_ms(dev, cfg_step, repeats)
                entry["iteration_ms"], _ = time_iteration(warmups=2)
        except Exception as e:  # an option that does not work here is reported, not fatal
            entry["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"
        res.speed[option] = entry
        say(f"  {option}: {entry}")

    say("the supervised block alone")
    res.block = _block_bench(backend, layout, spec, latents, t, cond, extra, repeats)
    return res


def release_memory() -> None:
    """Give the last model's memory back before building the next one."""
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------
def _gib(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1f} GiB"


def _pct(r: float) -> str:
    return f"{(r - 1) * 100:+.1f}%"


def _times(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}×"


def summary_table(results: list[ModelResult]) -> tuple[list[str], list[list]]:
    headers = ["model", "run", "time (50 steps)", "vs plain", "of which TTO", "peak memory", "peak vs plain",
               "loss first → last"]
    rows = []
    for r in results:
        est = "" if r.steps == 50 else "*"
        for name, run in r.runs.items():
            ckpt = run["config"].get("gradient_checkpointing")
            label = name if not ckpt or name == "plain" else f"{name} (checkpointing {ckpt} blocks)"
            loss = " → ".join(f"{v:.3f}" for v in run["loss"]) if run["loss"] else ""
            rows.append([f"{r.arch} ({r.params_b:.2f} B, {r.tokens:,} tokens)", label,
                         f"{r.run50_s(name):.1f} s{est}", "" if name == "plain" else _pct(r.ratio(name)),
                         f"{run['opt_s']:.1f} s ({run['iterations']} it.)" if run["iterations"] else "",
                         _gib(run["peak_gib"]), _times(r.peak_ratio(run["peak_gib"])), loss])
    return headers, rows


def variant_table(results: list[ModelResult]) -> tuple[list[str], list[list]]:
    headers = ["model", "engine option", "one TTO iteration", "peak memory", "peak vs plain",
               "projected TTO vs plain (5×8)"]
    rows = []
    for r in results:
        rows.append([r.arch, "(one plain CFG step, for scale)", f"{r.step_ms:.0f} ms", "", "", ""])
        for name, v in r.iteration.items():
            if v["ms"] is None:
                rows.append([r.arch, name, "out of memory", "", "", ""])
            else:
                rows.append([r.arch, name, f"{v['ms']:.0f} ms", _gib(v["peak_gib"]), _times(r.peak_ratio(v["peak_gib"])),
                             _pct(r.schedule_ratio(name))])
    return headers, rows


def speed_table(results: list[ModelResult]) -> tuple[list[str], list[list]]:
    headers = ["model", "global option", "plain CFG step", "one TTO iteration", "projected TTO vs plain (5×8)"]
    rows = []
    for r in results:
        if not r.speed:
            continue
        base_it = r.iteration.get("truncated", {}).get("ms")
        rows.append([r.arch, "(none)", f"{r.step_ms:.0f} ms", f"{base_it:.0f} ms" if base_it else "n/a",
                     _pct(1 + r.tto_steps * r.iterations * base_it / (50 * r.step_ms)) if base_it else ""])
        for name, v in r.speed.items():
            if v["error"] or not v["step_ms"] or not v["iteration_ms"]:
                rows.append([r.arch, name, v["error"] or "n/a", "", ""])
                continue
            rows.append([r.arch, name, f"{v['step_ms']:.0f} ms", f"{v['iteration_ms']:.0f} ms",
                         _pct(1 + r.tto_steps * r.iterations * v["iteration_ms"] / (50 * v["step_ms"]))])
    return headers, rows


def block_table(results: list[ModelResult]) -> tuple[list[str], list[list]]:
    headers = ["model", "block", "stock fwd", "TTO's fwd (capture)", "stock fwd+bwd", "TTO's fwd+bwd (capture)",
               "memory above inputs: stock → capture", "the read attention's full map would be"]
    rows = []
    for r in results:
        b = r.block
        rows.append([r.arch, max(r.layers), f"{b['stock_fwd_ms']:.1f} ms",
                     f"{b['capture_fwd_ms']:.1f} ms ({_pct(b['capture_fwd_ms'] / b['stock_fwd_ms'])})",
                     f"{b['stock_fwd_bwd_ms']:.1f} ms",
                     f"{b['capture_fwd_bwd_ms']:.1f} ms ({_pct(b['capture_fwd_bwd_ms'] / b['stock_fwd_bwd_ms'])})",
                     f"{_gib(b['stock_extra_gib'])} → {_gib(b['capture_extra_gib'])}",
                     f"{_gib(b['full_map_gib'])} ({'N×N, joint' if r.family == 'cogvideox' else 'N × text keys'})"])
    return headers, rows


def device_line(device: torch.device | str = "cuda") -> str:
    import platform

    dev = torch.device(device)
    if dev.type == "cuda":
        p = torch.cuda.get_device_properties(dev)
        return (f"{p.name} ({p.total_memory / GIB:.0f} GiB, {p.multi_processor_count} SMs), torch {torch.__version__}, "
                f"CUDA {torch.version.cuda}, Python {platform.python_version()}")
    return f"CPU ({platform.machine()}), torch {torch.__version__}"
