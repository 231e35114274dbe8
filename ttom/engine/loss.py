"""The alignment loss: Jensen–Shannon divergence between attention and layout distributions.

L = mean over supervised layers ℓ, object names g and present latent frames f of
JSD(Ā_{ℓ,g,f} ‖ B̄_{g,f}) with natural logarithms, where Ā is the attention map normalised over
the frame's cells and B̄ the layout target (masks.py). Frames where an object is absent are left
out of the mean (the official code keeps them as a constant ½·ln 2 with no gradient, which only
shifts the early-stop threshold).

Optional per-name weights w_g turn the mean into a weighted mean, Σ w_g·JSD / Σ w_g over the same
terms: the critic loop puts more weight on the objects a round failed to place (all weights 1 is
the plain mean above).

The terms themselves (``alignment_terms``) also give the early stop its second statistic: the worst
term, one object in one frame furthest from its box (``TTOConfig.stop_on = "worst"``).
"""

from __future__ import annotations

import torch

EPS = 1e-8


def normalize_maps(maps: torch.Tensor) -> torch.Tensor:
    """(…, F, H, W) non-negative maps → per-frame distributions over the H·W cells."""
    maps = maps.clamp_min(0)
    return maps / (maps.sum(dim=(-2, -1), keepdim=True) + EPS)


def jsd(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """JSD of distributions over the last two dims (natural log): (…, H, W) × (…, H, W) → (…)."""
    m = 0.5 * (p + q)
    kl_pm = torch.where(p > 0, p * (torch.log(p + EPS) - torch.log(m + EPS)), torch.zeros_like(p))
    kl_qm = torch.where(q > 0, q * (torch.log(q + EPS) - torch.log(m + EPS)), torch.zeros_like(q))
    return 0.5 * (kl_pm.sum(dim=(-2, -1)) + kl_qm.sum(dim=(-2, -1)))


def alignment_terms(maps: list[torch.Tensor], targets: torch.Tensor, present: torch.Tensor) -> list[torch.Tensor]:
    """The JSD of each name in each present frame, one (n_present,) tensor per supervised layer.

    maps: one (G, F, H, W) attention map per supervised layer; targets (G, F, H, W); present (G, F).
    """
    if not maps:
        raise ValueError("no attention maps were recorded; is a supervised block inside the forward?")
    if not present.any():
        raise ValueError("no object is present in any frame of the layout; nothing to align")
    return [jsd(normalize_maps(m.float()), targets)[present] for m in maps]


def alignment_loss(maps: list[torch.Tensor], targets: torch.Tensor, present: torch.Tensor,
                   weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean JSD over layers, names and present frames (weighted by name when ``weights`` is given).

    maps, targets, present as in ``alignment_terms``; weights: (G,) non-negative, None = all 1.
    """
    return term_mean(alignment_terms(maps, targets, present), present, weights)


def term_mean(terms: list[torch.Tensor], present: torch.Tensor, weights: torch.Tensor | None,
              power: float = 1.0) -> torch.Tensor:
    """The mean of per-layer terms over the present (row, frame) pairs, weighted by row when ``weights``
    (one per row of ``present``) is given. ``power`` p > 1 makes it the power mean (mean of tᵖ)^(1/p):
    on the same scale as the terms, between their mean and their largest, and its gradient leans
    toward the largest terms (each term's share grows as t^(p-1))."""
    if power != 1.0:
        m = term_mean([t.clamp_min(0) ** power for t in terms], present, weights)
        return m.clamp_min(EPS) ** (1.0 / power)
    if weights is None:
        return torch.cat(terms).mean()
    w = weights.to(present.device, torch.float32)[:, None].expand_as(present)[present]  # (n_present,)
    if float(w.sum()) <= 0:
        raise ValueError("the object weights are all zero on the present frames; nothing to align")
    return torch.cat([t * w for t in terms]).sum() / (w.sum() * len(terms))


def attention_mass_inside(maps: torch.Tensor, targets_hard: torch.Tensor, present: torch.Tensor) -> float:
    """Share of each name's (normalised) attention that falls inside its boxes, averaged over present frames."""
    p = normalize_maps(maps.float())
    inside = (p * targets_hard).sum(dim=(-2, -1))
    return float(inside[present].mean())


def instance_loss(maps: list[torch.Tensor], masks: torch.Tensor, name_index: torch.Tensor, share: torch.Tensor,
                  weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over layers, objects and present frames of relu(1 − mass inside the box / target share)²
    (module docstring); objects weighted by ``weights`` (K,) when given.

    maps: one (G, F, H, W) map per layer; masks (K, F, H, W), name_index (K,), share (K, F) from
    ``masks.instance_boxes``.
    """
    present = share > 0
    if not present.any():
        raise ValueError("no object is present in any frame of the layout; nothing to align")
    terms = []
    for m in maps:
        inside = (normalize_maps(m.float())[name_index] * masks).sum(dim=(-2, -1))  # (K, F)
        terms.append((1 - inside / share.clamp_min(EPS)).clamp_min(0)[present] ** 2)
    return term_mean(terms, present, weights)
