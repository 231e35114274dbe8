import pytest
import torch

from ttom.engine.attention import AttentionRecorder, capture, logsumexp_keys, object_maps
from ttom.engine.tto import TTOConfig, TTOSession


def test_logsumexp_value_and_gradients_match_autograd():
    torch.manual_seed(0)
    q = torch.randn(2, 3, 40, 8, dtype=torch.float64, requires_grad=True)
    k = torch.randn(2, 3, 55, 8, dtype=torch.float64, requires_grad=True)
    g = torch.randn(2, 3, 40)
    ours = logsumexp_keys(q, k, 0.35)
    gq, gk = torch.autograd.grad((ours * g).sum(), (q, k))
    ref = torch.logsumexp(q @ k.transpose(-1, -2) * 0.35, -1)
    rq, rk = torch.autograd.grad((ref * g).sum(), (q, k))
    assert torch.allclose(ours.double(), ref, atol=1e-5)
    assert torch.allclose(gq, rq, atol=1e-6) and torch.allclose(gk, rk, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the fused CUDA path needs a GPU")
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_logsumexp_fused_cuda_path_matches_fp64_reference(dtype):
    """On CUDA the LSE comes from the flash kernel and the backward from SDPA: check both at bf16 tolerance."""
    torch.manual_seed(0)
    q64 = torch.randn(1, 4, 1500, 64, dtype=torch.float64)
    k64 = torch.randn(1, 4, 1700, 64, dtype=torch.float64)
    g = torch.randn(1, 4, 1500, dtype=torch.float64)
    q = q64.to("cuda", dtype).requires_grad_(True)
    k = k64.to("cuda", dtype).requires_grad_(True)
    ours = logsumexp_keys(q, k, 0.125)
    gq, gk = torch.autograd.grad((ours * g.to("cuda", ours.dtype)).sum(), (q, k))
    q64, k64 = q.detach().double().cpu().requires_grad_(True), k.detach().double().cpu().requires_grad_(True)
    ref = torch.logsumexp(q64 @ k64.transpose(-1, -2) * 0.125, -1)
    rq, rk = torch.autograd.grad((ref * g).sum(), (q64, k64))

    def rel(a, b):
        return float((a.double().cpu() - b).norm() / b.norm())

    assert ours.dtype == torch.float32
    assert rel(ours, ref) < 1e-3 and rel(gq, rq) < 2e-2 and rel(gk, rk) < 2e-2


def test_object_maps_equal_full_softmax_reference():
    torch.manual_seed(1)
    q = torch.randn(1, 2, 30, 8, requires_grad=True)
    k = torch.randn(1, 2, 46, 8, requires_grad=True)  # 16 text keys first, then 30 video keys
    groups = [[1, 2], [5]]
    from ttom.engine.attention import naive_object_maps

    fast = object_maps(q, k, k[:, :, :16], groups, 0.3)
    ref = naive_object_maps(q, k, 0, groups, 0.3)
    assert torch.allclose(fast, ref, atol=1e-6)
    w = torch.randn_like(fast)
    for a, b in zip(torch.autograd.grad((fast * w).sum(), (q, k)), torch.autograd.grad((ref * w).sum(), (q, k))):
        assert torch.allclose(a, b, atol=1e-6)


def _forward(backend, layout, latents, t, cond, extra):
    return backend.predict(latents, t, cond, extra)


def test_capture_leaves_the_block_output_unchanged(backend, layout):
    spec = backend.defaults.video
    gen = torch.Generator().manual_seed(0)
    latents = backend.prepare_latents(spec, gen)
    cond = backend.encode_prompt(layout.prompt).embeds
    extra = backend.forward_kwargs(spec)
    backend.scheduler.set_timesteps(10)
    t = backend.scheduler.timesteps[2]
    with torch.no_grad():
        stock = backend.predict(latents, t, cond, extra)
        rec = AttentionRecorder([[3], [10]], "joint" if backend.family == "cogvideox" else "text")
        mods = {i: backend.attn_module(i) for i in range(backend.num_blocks)}
        with capture(mods, backend.processor_cls, rec):
            rec.active = True
            captured = backend.predict(latents, t, cond, extra)
    assert torch.equal(stock, captured)
    assert sorted(rec.maps) == list(range(backend.num_blocks))
    n_video = spec.num_frames // 4 + 1
    grid = backend.token_grid(spec)
    assert rec.maps[0].shape == (1, grid[0] * grid[1] * grid[2], 2) and n_video == grid[0]
    # processors are restored
    assert all(type(m.processor).__name__ != backend.processor_cls.__name__ for m in mods.values())


def test_exact_cogvideox_map_equals_naive_reference_in_the_model(backends, layout):
    backend = backends["tiny-cogvideox"]
    spec = backend.defaults.video
    session = TTOSession(backend, layout, spec, TTOConfig(mode="fresh", layers=(1, 2), rank=4), None)
    try:
        with torch.no_grad():  # make φ non-trivial so gradients reach every LoRA matrix
            for p in session.params:
                p.add_(0.05 * torch.randn_like(p))
        latents = backend.prepare_latents(spec, torch.Generator().manual_seed(0))
        cond = backend.encode_prompt(layout.prompt).embeds
        extra = backend.forward_kwargs(spec)
        backend.scheduler.set_timesteps(10)
        t = backend.scheduler.timesteps[1]
        results = []
        for reference in (False, True):
            session.recorder.reference = reference
            loss = session.loss(latents, t, cond, extra)
            grads = [g if g is not None else torch.zeros_like(p) for g, p in
                     zip(torch.autograd.grad(loss, session.params, allow_unused=True), session.params)]
            results.append((loss.detach(), grads, {k: v.detach().clone() for k, v in session.recorder.maps.items()}))
        (l1, g1, m1), (l2, g2, m2) = results
        assert torch.allclose(l1, l2, atol=1e-6)
        for k in m1:
            assert torch.allclose(m1[k], m2[k], atol=1e-6)
        assert all(torch.allclose(a, b, atol=1e-6, rtol=1e-4) for a, b in zip(g1, g2))
        assert sum(float(g.abs().sum()) for g in g1) > 0
    finally:
        session.close()


@pytest.mark.parametrize("normalization", ["joint", "text"])
def test_text_normalisation_is_a_different_documented_map(backends, layout, normalization):
    """'text' renormalises over the text keys only: on CogVideoX the map sums over all text keys to 1."""
    backend = backends["tiny-cogvideox"]
    spec = backend.defaults.video
    latents = backend.prepare_latents(spec, torch.Generator().manual_seed(0))
    all_text = [list(range(backend.max_text_len))]
    rec = AttentionRecorder(all_text, normalization)
    backend.scheduler.set_timesteps(10)
    with torch.no_grad(), capture({1: backend.attn_module(1)}, backend.processor_cls, rec):
        rec.active = True
        backend.predict(latents, backend.scheduler.timesteps[0], backend.encode_prompt("a dog").embeds,
                        backend.forward_kwargs(spec))
    total = rec.maps[1][0, :, 0] * backend.max_text_len  # mean over tokens → sum over tokens
    if normalization == "text":
        assert torch.allclose(total, torch.ones_like(total), atol=1e-5)
    else:
        assert (total < 1 - 1e-3).all()  # part of the attention goes to video keys


def test_capture_restores_the_original_processors_after_an_error(backends):
    # capture() must restore the exact processor objects it replaced, also when the body raises
    backend = backends["tiny-wan"]
    before = {i: backend.attn_module(i).processor for i in range(backend.num_blocks)}
    rec = AttentionRecorder([[1]], "text")
    with pytest.raises(RuntimeError):
        with capture({0: backend.attn_module(0)}, backend.processor_cls, rec):
            raise RuntimeError("boom")
    after = {i: backend.attn_module(i).processor for i in range(backend.num_blocks)}
    assert before == after
