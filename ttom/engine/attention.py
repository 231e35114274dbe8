"""Attention capture: differentiable video → object-token maps from chosen transformer blocks.

A capture processor replaces the stock processor of a supervised block (diffusers' own way of
hooking attention: ``attn.set_processor``). It computes exactly what the stock processor computes
and, while its recorder is active, also the map of every object: the attention probability that
each video query puts on the object's text tokens, averaged over heads and over the object's
tokens. The N×N attention matrix is never materialised: only the logits of the K selected text
keys are formed, ``(B, heads, N_video, K)``, and the softmax denominator comes from a
differentiable log-sum-exp (``LogSumExp``) whose forward and backward run through fused
attention kernels in O(N) memory.

Normalisations:

- ``joint`` (CogVideoX default, exact): CogVideoX attends jointly over ``[text; video]`` keys, so
  the probability of text token t is ``exp(s_xt − LSE_x)`` with the LSE over *all* keys.
- ``text``: softmax over the text keys only. For Wan's cross-attention this *is* the exact map
  (its keys are the text tokens, padding included). For CogVideoX it is a cheaper, different
  quantity: it drops the per-location share of attention that goes to text, which does not
  cancel under spatial normalisation. Offered for CogVideoX as an option, not the default.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F


# --------------------------------------------------------------------------------------------
# Differentiable log-sum-exp over keys, without the N×N matrix
# --------------------------------------------------------------------------------------------
def _lse_forward(q: torch.Tensor, k: torch.Tensor, scale: float, chunk: int = 1024) -> torch.Tensor:
    """log Σ_j exp(scale·q_i·k_j) for every query: (B, H, Nq, D) × (B, H, Nk, D) → (B, H, Nq) fp32."""
    if q.device.type == "cpu" and q.dtype in (torch.float32, torch.bfloat16, torch.float16):
        # The fused CPU flash kernel returns the LSE it computes anyway (it has no autograd for it).
        _, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(q, k, k, 0.0, False, scale=scale)[:2]
        return lse.float()
    if q.device.type == "cuda" and q.dtype in (torch.float16, torch.bfloat16) and q.shape[-1] <= 256:
        lse = torch.ops.aten._scaled_dot_product_flash_attention(q, k, k, 0.0, False, False, scale=scale)[1]
        return lse.float()
    out = []
    for s in range(0, q.shape[2], chunk):  # chunked fallback: O(chunk·Nk) memory per head
        logits = torch.matmul(q[:, :, s:s + chunk].float(), k.float().transpose(-1, -2)) * scale
        out.append(torch.logsumexp(logits, dim=-1))
    return torch.cat(out, dim=2)


class LogSumExp(torch.autograd.Function):
    """LSE_i = log Σ_j exp(scale·q_i·k_j) with an exact O(N)-memory backward.

    With P = softmax(scale·q kᵀ) and upstream gradient g (one value per query):
    ∂/∂q_i = scale·g_i·Σ_j P_ij k_j = scale·g_i·SDPA(q, k, k)_i, and
    ∂/∂k_j = scale·Σ_i g_i P_ij q_i = Pᵀ(scale·g⊙q), which is the value-gradient of SDPA(q, k, ·)
    for the output gradient scale·g⊙q. One SDPA forward and backward give both.
    """

    @staticmethod
    def forward(ctx, q: torch.Tensor, k: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.save_for_backward(q, k)
        ctx.scale = scale
        with torch.no_grad():
            return _lse_forward(q, k, scale)

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        q, k = ctx.saved_tensors
        scale = ctx.scale
        with torch.enable_grad():
            v = k.detach().clone().requires_grad_(True)
            out = F.scaled_dot_product_attention(q.detach(), k.detach(), v, scale=scale)  # P·k
            gq = (scale * g[..., None]).to(q.dtype)
            (dk,) = torch.autograd.grad(out, v, grad_outputs=gq * q.detach())
        dq = gq * out.detach()
        return dq, dk, None


def logsumexp_keys(q: torch.Tensor, k: torch.Tensor, scale: float) -> torch.Tensor:
    return LogSumExp.apply(q, k, scale)


def object_maps(q_video: torch.Tensor, k_norm: torch.Tensor, k_text: torch.Tensor,
                groups: Sequence[Sequence[int]], scale: float) -> torch.Tensor:
    """Per-object attention maps.

    q_video (B, H, Nv, D): video queries; k_norm (B, H, N, D): every key of the softmax;
    k_text (B, H, T, D): the text keys, indexed by ``groups`` (one list of token positions per
    object). Returns (B, Nv, G): each video query's probability mass on the object's tokens,
    averaged over heads and tokens.
    """
    sel = sorted({i for g in groups for i in g})
    col = {t: j for j, t in enumerate(sel)}
    idx = torch.tensor(sel, device=k_text.device)
    k_sel = k_text.index_select(2, idx)  # (B, H, K, D)
    logits = torch.matmul(q_video.float(), k_sel.float().transpose(-1, -2)) * scale  # (B, H, Nv, K)
    lse = logsumexp_keys(q_video, k_norm, scale)  # (B, H, Nv)
    probs = torch.exp(logits - lse[..., None]).mean(dim=1)  # (B, Nv, K), mean over heads
    cols = [probs[..., [col[t] for t in g]].mean(dim=-1) for g in groups]
    return torch.stack(cols, dim=-1)  # (B, Nv, G)


def naive_object_maps(q_video: torch.Tensor, k_norm: torch.Tensor, text_offset_in_norm: int,
                      groups: Sequence[Sequence[int]], scale: float) -> torch.Tensor:
    """Reference: the full softmax over all keys, materialised (small cases and tests only)."""
    p = torch.softmax(torch.matmul(q_video.float(), k_norm.float().transpose(-1, -2)) * scale, dim=-1)
    p = p.mean(dim=1)  # (B, Nv, N)
    return torch.stack([p[..., [text_offset_in_norm + t for t in g]].mean(-1) for g in groups], dim=-1)


# --------------------------------------------------------------------------------------------
# Recorder and processors
# --------------------------------------------------------------------------------------------
class AttentionRecorder:
    """Holds what the capture processors need and what they record.

    ``groups``: token positions (in the text sequence) of each object; ``maps[block]``: the
    (B, N_video, G) map of the last forward while ``active``. ``stop_at``: a block whose processor
    raises ``StopForward`` right after recording its maps (TTO's truncated forward: nothing after
    the deepest supervised map, not even the rest of that block, can change the loss).
    """

    def object_maps(self, q_video, k_norm, k_text, text_offset_in_norm: int, scale: float) -> torch.Tensor:
        if self.reference:
            return naive_object_maps(q_video, k_norm, text_offset_in_norm, self.groups, scale)
        return object_maps(q_video, k_norm, k_text, self.groups, scale)

    def __init__(self, groups: Sequence[Sequence[int]], normalization: str = "joint", reference: bool = False):
        if normalization not in ("joint", "text"):
            raise ValueError(f"normalization must be 'joint' or 'text', got {normalization!r}")
        if not groups or any(len(g) == 0 for g in groups):
            raise ValueError("every object needs at least one token position")
        self.groups = [list(g) for g in groups]
        self.normalization = normalization
        self.reference = reference  # materialise the full softmax instead (tests, small cases only)
        self.active = False
        self.stop_at: int | None = None
        self.maps: dict[int, torch.Tensor] = {}

    def clear(self) -> None:
        self.maps.clear()


class CogVideoXCaptureProcessor:
    """``CogVideoXAttnProcessor2_0`` (diffusers 0.42) plus map recording for joint attention."""

    def __init__(self, recorder: AttentionRecorder, block: int):
        self.recorder = recorder
        self.block = block

    def __call__(self, attn, hidden_states, encoder_hidden_states, attention_mask=None, image_rotary_emb=None):
        text_seq_length = encoder_hidden_states.size(1)
        hidden_states = torch.cat([encoder_hidden_states, hidden_states], dim=1)
        batch_size, sequence_length, _ = hidden_states.shape
        if attention_mask is not None:
            attention_mask = attn.prepare_attention_mask(attention_mask, sequence_length, batch_size)
            attention_mask = attention_mask.view(batch_size, attn.heads, -1, attention_mask.shape[-1])

        query = attn.to_q(hidden_states)
        key = attn.to_k(hidden_states)
        value = attn.to_v(hidden_states)
        inner_dim = key.shape[-1]
        head_dim = inner_dim // attn.heads
        # (B, N, H·D) → (B, H, N, D)
        query = query.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
        key = key.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
        value = value.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
        if attn.norm_q is not None:
            query = attn.norm_q(query)
        if attn.norm_k is not None:
            key = attn.norm_k(key)
        if image_rotary_emb is not None:  # RoPE on the video part only (text comes first)
            from diffusers.models.embeddings import apply_rotary_emb

            query[:, :, text_seq_length:] = apply_rotary_emb(query[:, :, text_seq_length:], image_rotary_emb)
            if not attn.is_cross_attention:
                key[:, :, text_seq_length:] = apply_rotary_emb(key[:, :, text_seq_length:], image_rotary_emb)

        if self.recorder.active:
            rec = self.recorder
            k_text = key[:, :, :text_seq_length]
            k_norm = key if rec.normalization == "joint" else k_text
            rec.maps[self.block] = rec.object_maps(query[:, :, text_seq_length:], k_norm, k_text, 0,
                                                   1.0 / math.sqrt(head_dim))
            if rec.stop_at == self.block:
                raise StopForward

        hidden_states = F.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask, dropout_p=0.0,
                                                       is_causal=False)
        hidden_states = hidden_states.transpose(1, 2).reshape(batch_size, -1, attn.heads * head_dim)
        hidden_states = attn.to_out[0](hidden_states)
        hidden_states = attn.to_out[1](hidden_states)
        encoder_hidden_states, hidden_states = hidden_states.split(
            [text_seq_length, hidden_states.size(1) - text_seq_length], dim=1
        )
        return hidden_states, encoder_hidden_states


class WanCaptureProcessor:
    """``WanAttnProcessor`` (diffusers 0.42) for cross-attention ``attn2`` plus map recording.

    The text-key softmax is Wan's own cross-attention, so the recorded map is exact.
    """

    _attention_backend = None
    _parallel_config = None

    def __init__(self, recorder: AttentionRecorder, block: int):
        self.recorder = recorder
        self.block = block

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, rotary_emb=None):
        from diffusers.models.attention_dispatch import dispatch_attention_fn
        from diffusers.models.transformers.transformer_wan import (
            _get_added_kv_projections,
            _get_qkv_projections,
        )

        if encoder_hidden_states is None or rotary_emb is not None:
            raise RuntimeError("WanCaptureProcessor hooks cross-attention (attn2) only")
        encoder_hidden_states_img = None
        if attn.add_k_proj is not None:  # I2V: image context first, then 512 text tokens
            image_context_length = encoder_hidden_states.shape[1] - 512
            encoder_hidden_states_img = encoder_hidden_states[:, :image_context_length]
            encoder_hidden_states = encoder_hidden_states[:, image_context_length:]

        query, key, value = _get_qkv_projections(attn, hidden_states, encoder_hidden_states)
        query = attn.norm_q(query)
        key = attn.norm_k(key)
        # (B, S, H·D) → (B, S, H, D)
        query = query.unflatten(2, (attn.heads, -1))
        key = key.unflatten(2, (attn.heads, -1))
        value = value.unflatten(2, (attn.heads, -1))

        if self.recorder.active:
            q = query.transpose(1, 2)  # (B, H, Nv, D)
            k = key.transpose(1, 2)  # (B, H, T, D)
            self.recorder.maps[self.block] = self.recorder.object_maps(q, k, k, 0, 1.0 / math.sqrt(q.shape[-1]))
            if self.recorder.stop_at == self.block:
                raise StopForward

        hidden_states_img = None
        if encoder_hidden_states_img is not None:
            key_img, value_img = _get_added_kv_projections(attn, encoder_hidden_states_img)
            key_img = attn.norm_added_k(key_img)
            key_img = key_img.unflatten(2, (attn.heads, -1))
            value_img = value_img.unflatten(2, (attn.heads, -1))
            hidden_states_img = dispatch_attention_fn(query, key_img, value_img, attn_mask=None, dropout_p=0.0,
                                                      is_causal=False, backend=self._attention_backend,
                                                      parallel_config=None)
            hidden_states_img = hidden_states_img.flatten(2, 3).type_as(query)

        hidden_states = dispatch_attention_fn(query, key, value, attn_mask=attention_mask, dropout_p=0.0,
                                              is_causal=False, backend=self._attention_backend, parallel_config=None)
        hidden_states = hidden_states.flatten(2, 3).type_as(query)
        if hidden_states_img is not None:
            hidden_states = hidden_states + hidden_states_img
        hidden_states = attn.to_out[0](hidden_states)
        hidden_states = attn.to_out[1](hidden_states)
        return hidden_states


@contextmanager
def capture(attn_modules: dict[int, torch.nn.Module], processor_cls, recorder: AttentionRecorder) -> Iterator[AttentionRecorder]:
    """Install capture processors on ``{block index: attention module}``; restore the originals after."""
    originals = {i: m.processor for i, m in attn_modules.items()}
    try:
        for i, m in attn_modules.items():
            m.set_processor(processor_cls(recorder, i))
        yield recorder
    finally:
        for i, m in attn_modules.items():
            m.set_processor(originals[i])


class StopForward(Exception):
    """Raised once the deepest supervised maps exist: nothing later in the forward can change the loss."""
