"""The TTO + denoising loop.

The engine owns the loop (diffusers pipelines run ``__call__`` under no_grad and call back only
after ``scheduler.step``), so TTO can run before step 0 on the conditional branch alone:

    for each denoising step i:
        if i < k and φ is being optimised:                        # TTO, conditional branch only
            repeat ≤ n times: loss = JSD(attention maps, layout) [+ λ·instance term];
                              stop if loss < threshold;
                              loss.backward(); AdamW.step()        # optimiser state kept across steps
        if i == k: turn φ off                                     # base model from step k on
        CFG forward with φ (in both branches, or the conditional one: phi_branches) → scheduler.step

Modes (ARCHITECTURE.md, report ``tto.mode``): ``fresh`` (new φ, optimised), ``warm`` (φ from
memory, optimised further), ``skip`` (φ from memory, no optimisation), ``off`` (plain model).
Defaults follow the official Wan recipe: k = 5, n = 8, lr 1e-3, threshold 0.03, LoRA r = alpha
= 32 on q/k/v/out of the text attention of blocks 0..L.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from ttom.engine import adapters
from ttom.engine.attention import AttentionRecorder, StopForward, capture
from ttom.engine.backends.base import Backend, VideoSpec
from ttom.engine.loss import alignment_terms, instance_loss, term_mean
from ttom.engine.masks import instance_boxes, layout_targets
from ttom.engine.tokens import SCOPES
from ttom.errors import ConfigError
from ttom.layout import Layout

if TYPE_CHECKING:
    from ttom.engine.backends import ModelCard

MODES = ("fresh", "warm", "skip", "off")
STOP_STATISTICS = ("mean", "worst")
PHI_BRANCHES = ("both", "cond", "auto")
ProgressFn = Callable[[dict], None]


@dataclass
class TTOConfig:
    """How φ is used and optimised. None = the backend's recipe."""

    mode: str = "fresh"
    steps: int = 5  # TTO before each of the first k denoising steps
    iterations: int = 8  # at most n iterations per step
    lr: float = 1e-3
    weight_decay: float = 0.01
    loss_threshold: float = 0.03  # stop a step's iterations once the loss is below this
    # Which statistic the early stop compares with loss_threshold: "mean", the loss itself (the mean JSD
    # over objects and frames), or "worst", its largest term (every object in every frame near its box).
    stop_on: str = "mean"
    # p of the power mean over the (object, frame) JSD terms (loss.term_mean): 1 = the plain mean; larger
    # leans the gradient toward the objects and frames furthest from their boxes.
    term_power: float = 1.0
    # Which branches of classifier-free guidance φ acts in while it is on: "both" (φ is part of the model)
    # or "cond" (the unconditional branch stays the plain model). The guided prediction is
    # u + s·(c − u); with φ in both branches an effect δ that φ has alike on both enters it once
    # (u + δ + s·(c − u)), with φ in the conditional branch only it enters s times (u + s·(c + δ − u)):
    # guidance then amplifies what TTO taught φ, as it amplifies what the text says. It amplifies φ's side
    # effects too, and where one name's attention map covers several boxes (instances of one name) it merges
    # them (docs/shapes.md): "auto" is "cond" for a layout whose every name has one instance, "both" otherwise.
    phi_branches: str = "both"
    layers: tuple[int, ...] | None = None  # supervised blocks (the loss reads their attention)
    adapter_blocks: tuple[int, ...] | None = None  # φ's blocks; default 0..max(layers)
    rank: int | None = None
    alpha: float | None = None
    modules: tuple[str, ...] | None = None
    phi_steps: int | None = None  # φ active for steps < this (default: = steps)
    normalization: str | None = None  # joint | text (see attention.py)
    token_scope: str | None = None  # name | phrase | clause: which prompt words an object's map reads (tokens.py)
    truncate: bool = True  # stop the loss forward once the deepest supervised block's maps exist
    # Recompute instead of keep the TTO forward's activations: True = every block, n = the first n
    # blocks (the backward path's memory falls by about one block's activations per block).
    gradient_checkpointing: bool | int = False
    seed: int = 0  # φ's initialisation
    # Weight of each object's term in the loss, by layout object id (missing ids weigh 1; None =
    # the plain mean). Instances of one name share one attention map, so a name weighs the largest
    # weight among its instances. The critic loop raises the weights of the objects it flagged.
    object_weights: dict[int, float] | None = None
    # λ of the loss's instance term (loss.py): each object's box holds at least its share of its
    # name's attention, instance by instance and frame by frame. 0 = the JSD alone. The early stop
    # and the reported losses read the sum: a layout is matched when both terms are small.
    instance_weight: float = 0.0

    def __post_init__(self):
        if self.mode not in MODES:
            raise ConfigError(f"tto mode must be one of {MODES}, got {self.mode!r}")
        for name in ("steps", "iterations"):
            if getattr(self, name) < 0:
                raise ConfigError(f"tto {name} must be >= 0, got {getattr(self, name)}")
        if not self.term_power >= 1:
            raise ConfigError(f"tto term_power must be >= 1, got {self.term_power}")
        if self.phi_branches not in PHI_BRANCHES:
            raise ConfigError(f"tto phi_branches must be one of {PHI_BRANCHES}, got {self.phi_branches!r}")
        if self.stop_on not in STOP_STATISTICS:
            raise ConfigError(f"tto stop_on must be one of {STOP_STATISTICS}, got {self.stop_on!r}")
        if self.token_scope is not None and self.token_scope not in SCOPES:
            raise ConfigError(f"tto token_scope must be one of {SCOPES}, got {self.token_scope!r}")
        if not self.instance_weight >= 0:
            raise ConfigError(f"tto instance_weight must be >= 0, got {self.instance_weight}")
        if self.object_weights is not None and any(w < 0 for w in self.object_weights.values()):
            raise ConfigError(f"tto object_weights must be >= 0, got {self.object_weights}")
        if int(self.gradient_checkpointing) < 0:
            raise ConfigError(f"tto gradient_checkpointing must be a bool or a block count >= 0, "
                              f"got {self.gradient_checkpointing}")


def choose_mode(forced: str | None, reoptimise: tuple[str, str | None] | None = None,
                recalled: tuple[str, str | None] | None = None) -> tuple[str, str | None]:
    """The TTO mode of a round, and the φ file it starts from.

    ``forced``: the request's mode (``off`` = the plain model; ``warm``/``skip`` need φ);
    ``reoptimise``: (mode, φ path) the critic's re-optimisation asked for; ``recalled``: (mode, φ
    path) from the memory or a φ file. Precedence: off, then re-optimisation, then recalled φ, then
    fresh.
    """
    if forced is not None and forced not in MODES:
        raise ConfigError(f"tto mode must be one of {MODES}, got {forced!r}")
    if forced == "off":
        return "off", None
    if reoptimise:
        return reoptimise[0], reoptimise[1]
    if recalled and recalled[1]:
        return recalled[0], recalled[1]
    if forced in ("warm", "skip"):
        raise ConfigError(f"tto mode {forced!r} needs φ to start from: pass a φ file, or let memory find one")
    return "fresh", None


@contextmanager
def checkpointing(backend: Backend, setting: bool | int) -> Iterator[None]:
    """Gradient checkpointing of every block (True) or of the first ``setting`` blocks, undone on exit.

    diffusers' transformers route each block through ``_gradient_checkpointing_func`` when
    checkpointing is on; a function that checkpoints only the chosen blocks gives the partial form.
    """
    if not setting:
        yield
        return
    transformer = backend.transformer
    if setting is True or setting >= backend.num_blocks:
        transformer.enable_gradient_checkpointing()
    else:
        from torch.utils.checkpoint import checkpoint

        chosen = {id(b) for b in backend.blocks[:setting]}

        def some_blocks(block, *args):
            return checkpoint(block, *args, use_reentrant=False) if id(block) in chosen else block(*args)

        transformer.enable_gradient_checkpointing(gradient_checkpointing_func=some_blocks)
    try:
        yield
    finally:
        transformer.disable_gradient_checkpointing()


def adapter_spec(backend: Backend | ModelCard, cfg: TTOConfig) -> adapters.AdapterSpec:
    """Where φ goes for this config: blocks 0..max(supervised layers) unless given, the recipe's modules and rank.

    ``backend`` may be a loaded backend or a model's card: only the recipe is read."""
    d = backend.defaults
    layers = cfg.layers or d.layers
    blocks = cfg.adapter_blocks or tuple(range(max(layers) + 1))
    return adapters.AdapterSpec(blocks=tuple(blocks), modules=tuple(cfg.modules or d.modules), rank=cfg.rank or d.rank,
                                alpha=cfg.alpha or d.alpha)


def expected_signature(backend: Backend | ModelCard, cfg: TTOConfig) -> dict:
    """The signature fresh φ will carry: what memory recall must match, known before generating (and,
    from the model's card, without loading any weights)."""
    return backend.signature(adapter_spec(backend, cfg)).to_dict()


def recipe_config(backend: Backend | ModelCard, **overrides) -> TTOConfig:
    """TTOConfig from the backend's own TTO recipe (``defaults.extra['tto']``), then ``overrides``.

    Values left None in ``overrides`` keep the recipe's (or the official Wan recipe's) defaults.
    """
    fields = dict(backend.defaults.extra.get("tto", {}))
    fields.update({k: v for k, v in overrides.items() if v is not None})
    return TTOConfig(**fields)


def weights_by_id(layout: Layout, object_weights: dict[int, float]) -> dict[int, float]:
    """Each layout object's loss weight by id (1 unless given); an id the layout lacks is a ConfigError."""
    object_weights = {int(k): float(v) for k, v in object_weights.items()}  # JSON state keeps keys as strings
    ids = {o.id for o in layout.objects}
    unknown = sorted(set(object_weights) - ids)
    if unknown:
        raise ConfigError(f"tto object_weights name objects {unknown} that the layout does not have (ids {sorted(ids)})")
    return {o.id: object_weights.get(o.id, 1.0) for o in layout.objects}


def name_weights(layout: Layout, object_weights: dict[int, float] | None, device=None) -> torch.Tensor | None:
    """(G,) loss weights for the layout's names from per-object weights (largest among a name's instances)."""
    if not object_weights:
        return None
    by_id = weights_by_id(layout, object_weights)
    by_name: dict[str, float] = {}
    for o in layout.objects:
        by_name[o.name] = max(by_name.get(o.name, by_id[o.id]), by_id[o.id])
    return torch.tensor([by_name[n] for n in layout.names], device=device, dtype=torch.float32)


def phi_branches_cond(setting: str, layout: Layout) -> bool:
    """Whether φ stays out of the unconditional branch of guidance for this layout (``TTOConfig.phi_branches``)."""
    if setting == "auto":
        return len(layout.names) == len(layout.objects)  # every name has one instance
    return setting == "cond"


@dataclass
class GenerationResult:
    frames: np.ndarray  # (F, H, W, 3) uint8
    spec: VideoSpec
    mode: str
    layers: list[int]
    losses: list[list[float]]  # one list per optimised denoising step, one value per iteration
    phi: bytes | None  # φ* after generation (fresh / warm / skip), safetensors bytes
    signature: dict | None
    token_groups: dict[str, list[int]]
    timings: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    steps: int = 0
    guidance_scale: float = 0.0
    stopped: str | None = None  # why TTO stopped early (a non-finite loss or φ): φ was switched off, not kept

    def tto_report(self) -> dict:
        report = {"mode": self.mode, "layers": self.layers, "losses": [[round(v, 5) for v in s] for s in self.losses],
                  "seconds": round(self.timings.get("tto", 0.0), 3)}
        if self.stopped:
            report["stopped"] = self.stopped
        return report


class TTOSession:
    """φ, its optimiser, the layout targets and the capture processors for one video.

    The capture processors stay installed on the supervised blocks for the whole session (they
    compute exactly what the stock processors compute, so the denoising forwards are unchanged):
    with gradient checkpointing, the backward pass re-runs the blocks' forward and must find the
    same processors, recording, as the forward did. ``close()`` restores the model.
    """

    def __init__(self, backend: Backend, layout: Layout, spec: VideoSpec, cfg: TTOConfig, phi: bytes | None):
        d = backend.defaults
        self.backend = backend
        self.cfg = cfg
        self.layers = sorted(cfg.layers or d.layers)
        for b in self.layers:
            backend.attn_module(b)  # a clear error for a block that does not exist
        self.normalization = cfg.normalization or d.normalization
        self.adapter_spec = adapter_spec(backend, cfg)

        # Object tokens, in the text the model is conditioned on; one group per distinct name.
        self.token_groups = backend.object_tokens(layout, cfg.token_scope or "name")
        self.grid = backend.token_grid(spec)
        self.targets, self.present = layout_targets(layout, self.grid, layout.names, device=backend.device)
        self.weights = name_weights(layout, cfg.object_weights, device=backend.device)  # (G,) or None
        self.instances = None
        if cfg.instance_weight > 0:
            masks, index, share, ids = instance_boxes(layout, self.grid, layout.names, device=backend.device)
            weights = None
            if cfg.object_weights:
                by_id = weights_by_id(layout, cfg.object_weights)
                weights = torch.tensor([by_id[i] for i in ids], device=backend.device)
            self.instances = (masks, index, share, weights)
        self.recorder = AttentionRecorder([self.token_groups[n] for n in layout.names], self.normalization)
        self._stack = ExitStack()

        # φ
        self.params: list[torch.nn.Parameter] = []
        transformer = backend.transformer
        if cfg.mode == "fresh":
            self.params = adapters.add_phi(transformer, backend.block_prefix, backend.attn_name, self.adapter_spec,
                                           seed=cfg.seed)
        elif cfg.mode in ("warm", "skip"):
            if phi is None:
                raise ConfigError(f"tto mode {cfg.mode!r} needs φ to load (from memory or a file)")
            expected = self._expected_signature(phi)
            self.params = adapters.import_phi(transformer, phi, expected, backend.block_prefix, backend.attn_name)
            if not self.phi_finite():
                raise adapters.PhiFormatError("the φ to load holds NaN or infinite values: it would spoil the video; "
                                              "optimise fresh φ instead (tto mode 'fresh')")
            self.adapter_spec = adapters.AdapterSpec(blocks=tuple(expected.blocks), modules=tuple(expected.modules),
                                                     rank=expected.rank, alpha=expected.alpha)
        self.signature = backend.signature(self.adapter_spec) if cfg.mode != "off" else None
        self.optimizer = (torch.optim.AdamW(self.params, lr=cfg.lr, weight_decay=cfg.weight_decay)
                          if cfg.mode in ("fresh", "warm") and self.params else None)
        self.stopped: str | None = None  # set when a non-finite loss or φ ended the optimisation
        modules = {i: backend.attn_module(i) for i in self.layers}
        self._stack.enter_context(capture(modules, backend.processor_cls, self.recorder))

    def close(self) -> None:
        """Restore the stock processors and remove φ."""
        self._stack.close()
        adapters.remove_phi(self.backend.transformer)

    def _expected_signature(self, phi: bytes) -> adapters.Signature:
        """The running model's signature for φ's own layout (blocks, modules, rank come with φ)."""
        _, stored = adapters.read_phi(phi)
        spec = adapters.AdapterSpec(blocks=tuple(stored.blocks), modules=tuple(stored.modules), rank=stored.rank,
                                    alpha=stored.alpha)
        return self.backend.signature(spec)

    # ----- the loss ---------------------------------------------------------------------------
    def loss(self, latents: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, extra: dict) -> torch.Tensor:
        """JSD between the supervised blocks' attention maps and the layout, on the conditional branch,
        plus λ × the instance term when ``instance_weight`` is set."""
        b = self.backend
        self.recorder.clear()
        self.recorder.active = True  # stays on until the backward is done (see the class docstring)
        # Truncation: the deepest supervised block's processor stops the forward once its maps exist.
        self.recorder.stop_at = max(self.layers) if self.cfg.truncate else None
        try:
            b.predict(latents, t, cond, extra)
        except StopForward:
            pass
        g = len(self.token_groups)
        maps = [self.recorder.maps[i][0].T.reshape(g, *self.grid) for i in self.layers]  # (G, F, H, W)
        terms = alignment_terms(maps, self.targets, self.present)
        self.worst_term = torch.cat(terms).detach().max()  # the early stop's "worst" statistic
        jsd = term_mean(terms, self.present, self.weights, power=self.cfg.term_power)
        if self.instances is None:
            return jsd
        return jsd + self.cfg.instance_weight * instance_loss(maps, *self.instances)

    def phi_finite(self) -> bool:
        """No NaN or infinity in φ (one device sync for all its tensors)."""
        if not self.params:
            return True
        return bool(torch.stack([torch.isfinite(p).all() for p in self.params]).all())

    def optimise(self, latents, t, cond, extra, on_iter: Callable[[int, float], None] | None = None,
                 step: int = 0) -> list[float]:
        """Up to n AdamW steps on φ at this denoising step; returns the loss at each iteration.

        A non-finite loss, or φ turned non-finite by a step, ends the optimisation for this video:
        ``stopped`` says why, and the caller switches φ off (a NaN φ makes a black video).
        """
        losses: list[float] = []
        latents = latents.detach()
        for it in range(self.cfg.iterations):
            self.optimizer.zero_grad(set_to_none=True)
            with torch.enable_grad():
                loss = self.loss(latents, t, cond, extra)
                value = float(loss.detach())
                if not math.isfinite(value):
                    self.stopped = (f"TTO stopped at denoising step {step}, iteration {it}: the loss is {value}; "
                                    "φ was switched off and not kept")
                    break
                losses.append(value)
                if on_iter:
                    on_iter(it, value)
                stat = value if self.cfg.stop_on == "mean" else float(self.worst_term)
                if stat < self.cfg.loss_threshold:
                    break
                loss.backward()
            self.optimizer.step()
            if not self.phi_finite():
                self.stopped = (f"TTO stopped at denoising step {step}, iteration {it}: the optimiser step left φ "
                                "with NaN or infinite values; φ was switched off and not kept")
                break
        self.optimizer.zero_grad(set_to_none=True)
        self.recorder.active = False
        self.recorder.stop_at = None
        return losses


@dataclass
class Observer:
    """Record the conditional branch's attention maps of ``blocks`` at denoising ``steps`` (for probing).

    ``on_maps(step, {block: (N_video, G) map})`` is called after each observed step.
    """

    blocks: tuple[int, ...]
    steps: tuple[int, ...]
    on_maps: Callable[[int, dict[int, torch.Tensor]], None]
    normalization: str | None = None


def generate(backend: Backend, layout: Layout, tto: TTOConfig | None = None, *, spec: VideoSpec | None = None,
             steps: int | None = None, guidance_scale: float | None = None, seed: int = 0, phi: bytes | None = None,
             negative_prompt: str = "", progress: ProgressFn | None = None,
             observer: Observer | None = None) -> GenerationResult:
    """Generate a video that follows ``layout``; see the module docstring for the loop."""
    # 1. Check inputs
    tto = tto or TTOConfig()
    spec = spec or backend.defaults.video
    steps = steps or backend.defaults.steps
    guidance_scale = backend.defaults.guidance_scale if guidance_scale is None else guidance_scale
    backend.check_spec(spec)
    if not layout.objects and tto.mode != "off":
        raise ConfigError("the layout has no objects: nothing for TTO to align (use mode 'off')")
    emit = progress or (lambda _e: None)
    timings = {"tto": 0.0, "denoise": 0.0}
    transformer = backend.transformer

    # 2. Encode the prompt (the enriched one when the layout has it) and the negative prompt
    cond = backend.encode_prompt(layout.generation_prompt()).embeds
    uncond = backend.encode_prompt(negative_prompt).embeds
    do_cfg = guidance_scale > 1.0
    both = torch.cat([uncond, cond]) if do_cfg else cond
    extra = backend.forward_kwargs(spec)

    # 3. What the observer (probing) records: on blocks that TTO does not supervise
    watch = None
    if observer is not None:
        overlap = set(observer.blocks) & set(tto.layers or backend.defaults.layers) if tto.mode != "off" else set()
        if overlap:
            raise ConfigError(f"observed blocks {sorted(overlap)} are also supervised; observe with mode 'off'")
        groups = backend.object_tokens(layout)
        watch = AttentionRecorder([groups[n] for n in layout.names],
                                  observer.normalization or backend.defaults.normalization)

    # 4. Timesteps and initial latents
    backend.scheduler.set_timesteps(steps, device=backend.device)
    timesteps = backend.scheduler.timesteps
    generator = torch.Generator("cpu").manual_seed(seed)
    latents = backend.prepare_latents(spec, generator)

    # 5. φ, its optimiser, object tokens and layout targets; from here on the model is modified,
    #    and the finally below restores it whatever happens
    phi_steps = tto.steps if tto.phi_steps is None else tto.phi_steps
    losses: list[list[float]] = []
    session: TTOSession | None = None
    stack = ExitStack()
    try:
        stack.enter_context(checkpointing(backend, tto.gradient_checkpointing))
        if tto.mode != "off":
            session = TTOSession(backend, layout, spec, tto, phi)
        if watch is not None:
            stack.enter_context(capture({b: backend.attn_module(b) for b in observer.blocks}, backend.processor_cls, watch))

        # 6. Denoising loop, with TTO before each of the first k steps
        phi_on = session is not None  # φ is in the model and switched on
        cond_only = phi_branches_cond(tto.phi_branches, layout)
        for i, t in enumerate(timesteps):
            if session is not None and session.optimizer is not None and session.stopped is None and i < tto.steps:
                t0 = time.perf_counter()
                step_losses = session.optimise(
                    latents, t, cond, extra, step=i,
                    on_iter=lambda it, v, i=i: emit({"event": "tto", "step": i, "iteration": it, "loss": v}))
                if step_losses:
                    losses.append(step_losses)
                timings["tto"] += time.perf_counter() - t0
                if session.stopped:
                    adapters.set_phi_enabled(transformer, False)  # the base model for the rest of the video
                    phi_on = False
                    emit({"event": "tto_stopped", "step": i, "reason": session.stopped})
            if session is not None and i == phi_steps:
                adapters.set_phi_enabled(transformer, False)  # the base model from step k on
                phi_on = False

            t0 = time.perf_counter()
            if session is not None:
                session.recorder.active = False
            if watch is not None:
                watch.active = i in observer.steps
            with torch.no_grad():
                x = latents
                if hasattr(backend.scheduler, "scale_model_input"):  # flow-matching schedulers have none
                    x = backend.scheduler.scale_model_input(x, t)
                if do_cfg and phi_on and cond_only:  # the unconditional branch without φ
                    adapters.set_phi_enabled(transformer, False)
                    n_uncond = backend.predict(x, t, uncond, extra).float()
                    adapters.set_phi_enabled(transformer, True)
                    n_cond = backend.predict(x, t, cond, extra).float()
                elif do_cfg:
                    n_uncond, n_cond = backend.predict(torch.cat([x] * 2), t, both, extra).float().chunk(2)
                else:
                    noise = backend.predict(x, t, both, extra).float()
                if do_cfg:
                    noise = n_uncond + guidance_scale * (n_cond - n_uncond)
                latents = backend.scheduler.step(noise, t, latents.float(), return_dict=False)[0].to(backend.dtype)
            timings["denoise"] += time.perf_counter() - t0
            if watch is not None and watch.active:
                observer.on_maps(i, {b: m[-1] for b, m in watch.maps.items()})  # [-1]: the conditional half
                watch.active = False
                watch.clear()
            emit({"event": "step", "step": i, "steps": steps})

        # 7. φ* out, then the model back to its plain state
        phi_out = phi if tto.mode == "skip" else None  # skip leaves φ as it was loaded
        if session is not None and session.optimizer is not None and session.stopped is None:
            adapters.set_phi_enabled(transformer, True)
            phi_out = adapters.export_phi(transformer, session.signature)
    finally:
        stack.close()
        if session is not None:
            session.close()
        adapters.remove_phi(transformer)  # also when the session failed half-way through loading φ

    # 8. Decode
    t0 = time.perf_counter()
    frames = backend.decode(latents)
    timings["decode"] = time.perf_counter() - t0
    emit({"event": "done"})
    return GenerationResult(
        frames=frames, spec=spec, mode=tto.mode, layers=session.layers if session else [], losses=losses,
        phi=phi_out, signature=session.signature.to_dict() if session and session.signature else None,
        token_groups=session.token_groups if session else {}, timings=timings, seed=seed, steps=steps,
        guidance_scale=guidance_scale, stopped=session.stopped if session else None,
    )
