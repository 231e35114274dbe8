import pytest
import torch

from ttom.engine import adapters
from ttom.engine.loss import attention_mass_inside, normalize_maps
from ttom.engine.masks import instance_boxes, layout_targets
from ttom.engine.tto import TTOConfig, TTOSession, generate, phi_branches_cond
from ttom.errors import ConfigError, WeightsNotFoundError
from ttom.layout import Layout, static_object


def _inputs(backend, layout, step=1):
    spec = backend.defaults.video
    latents = backend.prepare_latents(spec, torch.Generator().manual_seed(0))
    cond = backend.encode_prompt(layout.generation_prompt()).embeds
    extra = backend.forward_kwargs(spec)
    backend.scheduler.set_timesteps(10)
    return spec, latents, backend.scheduler.timesteps[step], cond, extra


def _mass_inside(session, backend, layout, spec, latents, t, cond, extra):
    with torch.no_grad():
        session.loss(latents, t, cond, extra)
    g = len(session.token_groups)
    maps = session.recorder.maps[session.layers[0]][0].T.reshape(g, *session.grid)
    hard, present = layout_targets(layout, session.grid, kind="box")
    return attention_mass_inside(maps, (hard > 0).float(), present)


def test_loss_halves_within_30_iterations_and_mass_moves_into_boxes(backend, layout):
    spec, latents, t, cond, extra = _inputs(backend, layout)
    cfg = TTOConfig(mode="fresh", iterations=30, lr=1e-2, loss_threshold=0.0)
    session = TTOSession(backend, layout, spec, cfg, None)
    try:
        before = _mass_inside(session, backend, layout, spec, latents, t, cond, extra)
        losses = session.optimise(latents, t, cond, extra)
        after = _mass_inside(session, backend, layout, spec, latents, t, cond, extra)
    finally:
        session.close()
    assert len(losses) == 30
    assert losses[-1] <= 0.5 * losses[0], losses
    assert after > before + 0.05, (before, after)


def test_only_phi_gets_gradients_and_base_weights_stay_bit_identical(backend, layout):
    base = {k: v.clone() for k, v in backend.transformer.state_dict().items()}
    spec, latents, t, cond, extra = _inputs(backend, layout)
    session = TTOSession(backend, layout, spec, TTOConfig(mode="fresh", rank=4), None)
    try:
        loss = session.loss(latents, t, cond, extra)
        loss.backward()
        named = dict(backend.transformer.named_parameters())
        with_grad = {n for n, p in named.items() if p.grad is not None}
        assert with_grad and all("lora_" in n for n in with_grad)
        assert all(not p.requires_grad for n, p in named.items() if "lora_" not in n)
        session.optimizer.zero_grad()
    finally:
        session.close()
    generate(backend, layout, TTOConfig(steps=2, iterations=3, lr=1e-2), steps=3)
    after = backend.transformer.state_dict()
    assert set(after) == set(base)
    assert all(torch.equal(base[k], after[k]) for k in base)


def test_truncated_forward_gives_the_same_loss_and_gradients(backend, layout):
    spec, latents, t, cond, extra = _inputs(backend, layout)
    results = []
    for truncate in (True, False):
        session = TTOSession(backend, layout, spec, TTOConfig(mode="fresh", rank=4, truncate=truncate, layers=(1,)), None)
        try:
            with torch.no_grad():
                for p in session.params:
                    p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
            loss = session.loss(latents, t, cond, extra)
            grads = torch.autograd.grad(loss, session.params, allow_unused=True)
            results.append((loss.detach(), [g if g is not None else torch.zeros_like(p) for g, p in zip(grads, session.params)]))
        finally:
            session.close()
    (l1, g1), (l2, g2) = results
    assert torch.allclose(l1, l2, atol=1e-7)
    assert all(torch.allclose(a, b, atol=1e-7) for a, b in zip(g1, g2))


@pytest.mark.parametrize("setting", [True, 1])
def test_gradient_checkpointing_gives_the_same_loss_trajectory(backends, layout, setting):
    backend = backends["tiny-wan"]
    kw = dict(steps=2, iterations=4, lr=1e-2, loss_threshold=0.0, rank=4)
    plain = generate(backend, layout, TTOConfig(**kw), steps=3)
    ckpt = generate(backend, layout, TTOConfig(**kw, gradient_checkpointing=setting), steps=3)
    assert [len(x) for x in plain.losses] == [len(x) for x in ckpt.losses] == [4, 4]
    assert sum(plain.losses, []) == pytest.approx(sum(ckpt.losses, []), abs=1e-6)
    assert not backend.transformer.gradient_checkpointing  # switched off again afterwards


def test_checkpointing_more_blocks_keeps_less_for_the_backward(backend, layout):
    from ttom.engine.tto import checkpointing

    spec, latents, t, cond, extra = _inputs(backend, layout)
    session = TTOSession(backend, layout, spec, TTOConfig(mode="fresh", rank=4, layers=(2,)), None)
    kept = []
    try:
        for setting in (False, 1, 2, True):  # none, the first block, the first two, all
            with checkpointing(backend, setting):
                kept.append(_saved_bytes(lambda: session.loss(latents, t, cond, extra)))
    finally:
        session.close()
    assert kept[0] > kept[1] > kept[2] > kept[3]
    with pytest.raises(ConfigError, match="gradient_checkpointing"):
        TTOConfig(gradient_checkpointing=-1)


def test_phi_export_import_is_bit_exact_and_loads_in_plain_diffusers(backend, layout, tmp_path):
    spec, latents, t, cond, extra = _inputs(backend, layout)
    tr = backend.transformer
    spec_a = adapters.AdapterSpec(blocks=(0, 1), rank=4, alpha=4)
    params = adapters.add_phi(tr, backend.block_prefix, backend.attn_name, spec_a)
    with torch.no_grad():
        for p in params:
            p.add_(0.1 * torch.randn_like(p))
        out_a = backend.predict(latents, t, cond, extra)
    sig = backend.signature(spec_a)
    data = adapters.export_phi(tr, sig)
    adapters.remove_phi(tr)
    with torch.no_grad():
        plain = backend.predict(latents, t, cond, extra)
    assert not torch.equal(plain, out_a)
    try:
        adapters.import_phi(tr, data, sig, backend.block_prefix, backend.attn_name)
        with torch.no_grad():
            out_b = backend.predict(latents, t, cond, extra)
        assert torch.equal(out_a, out_b)
    finally:
        adapters.remove_phi(tr)
    # plain diffusers reads the same file
    (tmp_path / "pytorch_lora_weights.safetensors").write_bytes(data)
    tr.load_lora_adapter(str(tmp_path), prefix="transformer", adapter_name="plain", use_safetensors=True)
    try:
        with torch.no_grad():
            out_c = backend.predict(latents, t, cond, extra)
        assert torch.allclose(out_a, out_c, atol=1e-6)
    finally:
        tr.delete_adapters("plain")


def test_wrong_signature_and_corrupted_phi_are_refused(backends, layout):
    cog, wan = backends["tiny-cogvideox"], backends["tiny-wan"]
    spec_a = adapters.AdapterSpec(blocks=(0,), rank=4, alpha=4)
    adapters.add_phi(cog.transformer, cog.block_prefix, cog.attn_name, spec_a)
    data = adapters.export_phi(cog.transformer, cog.signature(spec_a))
    adapters.remove_phi(cog.transformer)
    with pytest.raises(adapters.SignatureMismatchError, match="backend: stored 'cogvideox', running 'wan'"):
        adapters.import_phi(wan.transformer, data, wan.signature(spec_a), wan.block_prefix, wan.attn_name)
    other_rank = adapters.AdapterSpec(blocks=(0,), rank=8, alpha=4)
    with pytest.raises(adapters.SignatureMismatchError, match="rank"):
        adapters.import_phi(cog.transformer, data, cog.signature(other_rank), cog.block_prefix, cog.attn_name)
    with pytest.raises(adapters.PhiFormatError):
        adapters.read_phi(data[:40] + b"\x00garbage" + data[48:])
    with pytest.raises(adapters.PhiFormatError):
        adapters.read_phi(b"")
    # the model is untouched by refused loads
    assert not adapters.has_phi(wan.transformer) and not adapters.has_phi(cog.transformer)


def test_modes_fresh_skip_warm_off(backends, layout):
    backend = backends["tiny-cogvideox"]
    kw = dict(steps=2, iterations=3, lr=1e-2, loss_threshold=0.0, rank=4)
    fresh = generate(backend, layout, TTOConfig(mode="fresh", **kw), steps=4, seed=3)
    assert [len(s) for s in fresh.losses] == [3, 3] and fresh.phi and fresh.signature["backend"] == "cogvideox"
    skip = generate(backend, layout, TTOConfig(mode="skip", **kw), steps=4, seed=3, phi=fresh.phi)
    assert skip.losses == [] and skip.phi == fresh.phi
    warm = generate(backend, layout, TTOConfig(mode="warm", **kw), steps=4, seed=3, phi=fresh.phi)
    assert len(warm.losses) == 2 and warm.phi != fresh.phi
    # warm starts where fresh ended: its first loss is below fresh's first loss
    assert warm.losses[0][0] < fresh.losses[0][0]
    off = generate(backend, layout, TTOConfig(mode="off"), steps=4, seed=3)
    assert off.phi is None and off.losses == []
    assert not (off.frames == fresh.frames).all()
    with pytest.raises(ConfigError, match="needs φ"):
        generate(backend, layout, TTOConfig(mode="skip"), steps=2)
    with pytest.raises(ConfigError, match="mode"):
        TTOConfig(mode="sometimes")


def test_early_stop_at_the_loss_threshold(backends, layout):
    backend = backends["tiny-wan"]
    r = generate(backend, layout, TTOConfig(steps=3, iterations=8, lr=1e-2, loss_threshold=10.0, rank=4), steps=3)
    # every step stops at its first iteration, before any update: the loss is below 10 at once
    assert [len(s) for s in r.losses] == [1, 1, 1]
    r2 = generate(backend, layout, TTOConfig(steps=3, iterations=8, lr=1e-2, loss_threshold=0.0, rank=4), steps=3)
    assert [len(s) for s in r2.losses] == [8, 8, 8]


def test_the_worst_term_stop_keeps_optimising_while_one_object_frame_is_far_from_its_box(backend, layout):
    spec, latents, t, cond, extra = _inputs(backend, layout)

    def run(stop_on, threshold=None):
        session = TTOSession(backend, layout, spec, TTOConfig(iterations=6, lr=1e-2, loss_threshold=threshold or 0.0,
                                                              stop_on=stop_on), None)
        try:
            if threshold is None:
                with torch.no_grad():
                    mean = float(session.loss(latents, t, cond, extra))
                return mean, float(session.worst_term)
            return session.optimise(latents, t, cond, extra)
        finally:
            session.close()

    mean, worst = run("mean")
    assert worst > mean  # the layout's objects and frames are not equally far from their boxes
    between = (mean + worst) / 2
    assert len(run("mean", between)) == 1  # the mean is already below: no update
    assert len(run("worst", between)) > 1  # the worst term is not
    with pytest.raises(ConfigError, match="stop_on"):
        TTOConfig(stop_on="median")
    with pytest.raises(ConfigError, match="term_power"):
        TTOConfig(term_power=0.5)


def test_phi_in_the_conditional_branch_only_leaves_the_unconditional_prediction_plain(backends, layout):
    from peft.tuners.lora import LoraLayer

    backend = backends["tiny-cogvideox"]
    kw = dict(steps=2, iterations=3, lr=1e-2, loss_threshold=0.0, rank=4)
    phi = generate(backend, layout, TTOConfig(**kw), steps=4, seed=3).phi
    cond = backend.encode_prompt(layout.generation_prompt()).embeds
    stock = backend.predict
    calls = []

    def spy(latents, t, embeds, extra):
        on = any(not m.disable_adapters for m in backend.transformer.modules() if isinstance(m, LoraLayer))
        branch = "both" if len(embeds) == 2 else ("cond" if torch.equal(embeds, cond) else "uncond")
        calls.append((branch, on))
        return stock(latents, t, embeds, extra)

    def run(branches, phi_steps=2):
        calls.clear()
        backend.predict = spy
        try:
            return generate(backend, layout, TTOConfig(mode="skip", phi_steps=phi_steps, phi_branches=branches, **kw),
                            steps=4, seed=3, phi=phi).frames
        finally:
            del backend.predict

    both = run("both")
    assert calls == [("both", True)] * 2 + [("both", False)] * 2
    only_cond = run("cond")
    # while φ is on, the unconditional half runs on the plain model and the conditional half with φ
    assert calls == [("uncond", False), ("cond", True)] * 2 + [("both", False)] * 2
    assert not (both == only_cond).all()  # guidance now amplifies φ's effect: a different video
    assert (run("both", phi_steps=0) == run("cond", phi_steps=0)).all()  # φ never on: the same video
    # auto: the conditional branch only where every name has one instance (this layout's two names do)
    assert len(layout.names) == len(layout.objects) and (run("auto") == only_cond).all()
    twins = Layout.parse({**layout.model_dump(), "objects": [{**o.model_dump(), "name": "ball"} for o in layout.objects]})
    assert phi_branches_cond("auto", layout) and not phi_branches_cond("auto", twins)
    assert phi_branches_cond("cond", twins) and not phi_branches_cond("both", layout)
    with pytest.raises(ConfigError, match="phi_branches"):
        TTOConfig(phi_branches="uncond")


def test_loading_from_a_folder_and_a_clear_error_when_weights_are_missing(tmp_path, layout):
    from ttom.engine.backends import load_backend
    from ttom.engine.backends.tiny import save_tiny_pipeline

    save_tiny_pipeline("tiny-wan", tmp_path / "tiny-wan")
    b = load_backend(str(tmp_path / "tiny-wan"), "cpu")
    assert b.family == "wan" and b.model_id == "ttom/tiny-wan" and b.max_text_len == 32
    r = generate(b, layout, TTOConfig(steps=1, iterations=2, rank=4), steps=2)
    assert r.frames.shape == (9, 64, 64, 3)
    with pytest.raises(WeightsNotFoundError, match="THUDM/CogVideoX-5b.*--model PATH"):
        load_backend("cogvideox-5b", "cpu")
    with pytest.raises(ConfigError, match="unknown model"):
        load_backend("no-such-model", "cpu")


def test_a_failed_generation_leaves_the_model_plain(backends, layout):
    backend = backends["tiny-cogvideox"]
    kw = dict(steps=1, iterations=1, rank=4)
    phi = generate(backend, layout, TTOConfig(**kw), steps=2).phi
    stock = {i: type(backend.attn_module(i).processor) for i in range(backend.num_blocks)}
    with pytest.raises(adapters.PhiFormatError):
        generate(backend, layout, TTOConfig(mode="warm", **kw), steps=2, phi=phi[: len(phi) // 2])  # truncated
    with pytest.raises(ConfigError, match="also supervised"):
        from ttom.engine.tto import Observer

        generate(backend, layout, TTOConfig(layers=(2,), **kw), steps=2,
                 observer=Observer((2,), (0,), lambda *_: None))
    assert not adapters.has_phi(backend.transformer)
    assert {i: type(backend.attn_module(i).processor) for i in range(backend.num_blocks)} == stock


def _saved_bytes(fn) -> int:
    """Bytes autograd keeps for the backward pass of fn() (each storage counted once)."""
    storages: dict[int, int] = {}

    def pack(t):
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(storages.values())


def test_phi_is_fp32_but_computed_in_the_model_dtype(backends):
    """On a bf16 model φ stays fp32 (AdamW updates it there) while its matmuls run in bf16 on the shared input."""
    import copy

    from ttom.engine import adapters

    transformer = copy.deepcopy(backends["tiny-cogvideox"].transformer).to(torch.bfloat16)
    params = adapters.add_phi(transformer, "transformer_blocks", "attn1", adapters.AdapterSpec(blocks=(1,), rank=4, alpha=4))
    for p in params:
        p.data.normal_(0, 0.02)  # B = 0 at first; give φ a visible effect
    attn = transformer.transformer_blocks[1].attn1
    x = torch.randn(1, 2000, attn.to_q.in_features, dtype=torch.bfloat16, requires_grad=True)

    def projections():
        return sum(m(x).float().sum() for m in (attn.to_q, attn.to_k, attn.to_v, attn.to_out[0]))

    out = projections()
    out.backward()
    assert params and all(p.dtype == torch.float32 and p.grad is not None and p.grad.dtype == torch.float32
                          for p in params)
    mixed = _saved_bytes(projections)
    # The same φ computed as peft does by default (the input cast to fp32 in every projection)
    for m in transformer.modules():
        if hasattr(m, "cast_input_dtype_enabled"):
            m.cast_input_dtype_enabled = True
    reference = projections()
    peft_default = _saved_bytes(projections)
    assert abs(float(out.detach()) - float(reference.detach())) <= 2e-2 * abs(float(reference.detach())) + 1e-1
    assert mixed * 4 <= peft_default  # one shared bf16 input instead of four fp32 copies


def test_object_weights_weight_each_objects_term_in_the_real_models_loss(backends, layout):
    backend = backends["tiny-cogvideox"]
    spec, latents, t, cond, extra = _inputs(backend, layout)

    def loss(weights):
        session = TTOSession(backend, layout, spec, TTOConfig(mode="fresh", rank=4, object_weights=weights), None)
        try:
            with torch.no_grad():
                return float(session.loss(latents, t, cond, extra))
        finally:
            session.close()

    plain, car, dog = loss(None), loss({0: 1.0, 1: 0.0}), loss({"0": 0.0, "1": 1.0})  # keys as JSON state has them
    assert car != pytest.approx(dog, rel=1e-3)  # two different terms, or the test below proves nothing
    assert loss({0: 1.0, 1: 1.0}) == pytest.approx(plain, rel=1e-6)
    # both objects are present in every latent frame, so the weighted mean is (3·car + dog) / 4
    assert loss({0: 3.0}) == pytest.approx((3 * car + dog) / 4, rel=1e-5)
    with pytest.raises(ConfigError, match="objects \\[7\\]"):
        loss({7: 2.0})
    with pytest.raises(ConfigError, match=">= 0"):
        TTOConfig(object_weights={0: -1.0})
    # through generate: the weights reach the TTO loop (same noise, same φ init, another objective)
    a = generate(backend, layout, TTOConfig(steps=1, iterations=2, rank=4), steps=2)
    b = generate(backend, layout, TTOConfig(steps=1, iterations=2, rank=4, object_weights={1: 0.0}), steps=2)
    assert a.losses[0][0] != pytest.approx(b.losses[0][0], rel=1e-4)


def _instance_fill(session, layout, latents, t, cond, extra):
    """Each object's mass inside its own box over its target share, per present frame (the worst one)."""
    with torch.no_grad():
        session.loss(latents, t, cond, extra)
    g = len(session.token_groups)
    maps = normalize_maps(session.recorder.maps[session.layers[0]][0].T.reshape(g, *session.grid).float())
    masks, index, share, _ = instance_boxes(layout, session.grid)
    fill = (maps[index] * masks).sum(dim=(-2, -1)) / share.clamp_min(1e-8)
    return float(fill[share > 0].min())


def test_the_instance_term_fills_the_emptiest_box_of_a_shared_name(backends):
    """Two same-name instances share one map; with the instance term the emptiest box gets more of it."""
    backend = backends["tiny-cogvideox"]
    two = Layout.parse({"prompt": "two cats", "objects": [
        static_object(0, "cat", [0.0, 0.0, 0.4, 0.4]).model_dump(), static_object(1, "cat", [0.6, 0.6, 1.0, 1.0]).model_dump()]})
    spec, latents, t, cond, extra = _inputs(backend, two)
    fills, losses = {}, {}
    for weight in (0.0, 1.0):
        session = TTOSession(backend, two, spec, TTOConfig(mode="fresh", iterations=15, lr=1e-2, loss_threshold=0.0,
                                                            instance_weight=weight), None)
        try:
            before = _instance_fill(session, two, latents, t, cond, extra)
            losses[weight] = session.optimise(latents, t, cond, extra)
            fills[weight] = _instance_fill(session, two, latents, t, cond, extra)
        finally:
            session.close()
    assert losses[1.0][0] > losses[0.0][0]  # the same φ at the start: the sum is the larger loss
    assert fills[1.0] > fills[0.0] > before - 0.05, (before, fills)
    with pytest.raises(ConfigError, match="instance_weight"):
        TTOConfig(instance_weight=-1)
