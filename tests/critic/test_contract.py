"""One contract, every installed backend: same inputs, same structure out."""

from __future__ import annotations

import numpy as np
import pytest

from ttom.critic.critique import CriticReport, critique
from ttom.critic.grounders import available_backends, get_grounder
from ttom.critic.grounders.base import Grounding, VideoGrounder, queries_from_layout
from ttom.shapes import world as w

# image_size 256 for the sam2 package's random-weight hiera-tiny (RoPE sizes follow: 256 / 16)
SAM2_TINY = ["++model.image_size=256", "++model.memory_attention.layer.self_attention.feat_sizes=[16,16]",
             "++model.memory_attention.layer.cross_attention.feat_sizes=[16,16]"]


def _build(name, tiny_hf_models):
    if name == "shapes":
        return get_grounder("shapes")
    gd, proc, sam = tiny_hf_models
    common = dict(device="cpu", box_threshold=0.0, text_threshold=0.0, num_keyframes=3,
                  detector_model=gd, detector_processor=proc)
    if name == "transformers":
        return get_grounder("transformers", detector="tiny", tracker="tiny", tracker_model=sam, **common)
    return get_grounder("sam2", detector="tiny", hydra_overrides=SAM2_TINY, random_weights=True, **common)


@pytest.mark.parametrize("name", ["shapes", "transformers", "sam2"])
def test_backend_contract(name, request):
    if name not in available_backends():
        pytest.skip(f"backend {name!r} is not installed (its optional package is missing)")
    g = _build(name, request.getfixturevalue("tiny_hf_models") if name != "shapes" else None)
    assert isinstance(g, VideoGrounder) and g.name == name
    lay = w.sample_scene(np.random.default_rng(2), ["binding"]).layout
    video = w.render(lay, frames=5, size=32)
    res = g.ground(video, queries_from_layout(lay))
    assert isinstance(res, Grounding) and res.backend == name
    assert (res.num_frames, res.height, res.width) == (5, 32, 32)
    assert res.tracks and isinstance(res.provenance, dict) and res.provenance
    phrases = {o.phrase for o in lay.objects}
    for t in res.tracks:
        assert t.phrase in phrases and len(t.boxes) == len(t.scores) == 5
        for b in t.boxes:
            assert b is None or (0 <= b[0] < b[2] <= 1 and 0 <= b[1] < b[3] <= 1)
    rep = critique(video, lay, backend=g)
    assert isinstance(rep, CriticReport) and rep.backend == name
    s = rep.summary()
    assert set(s) >= {"backend", "decision", "reasons", "miou", "objects", "counts_ok", "relations_ok"}
    assert s["decision"] in ("accept", "reoptimize", "repair") and s["reasons"]
    assert [set(o) for o in s["objects"]] == [{"id", "name", "miou", "present", "direction_ok"}] * len(lay.objects)


def test_sam2_backend_without_the_package_says_how_to_install(monkeypatch):
    import builtins

    from ttom.errors import TtomError

    real_import = builtins.__import__

    def no_sam2(name, *a, **k):
        if name == "sam2" or name.startswith("sam2."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_sam2)
    with pytest.raises(TtomError, match=r"optional `sam2` package.*ttom\[sam2\]"):
        get_grounder("sam2", random_weights=True)


def test_unknown_backend():
    with pytest.raises(ValueError, match="choose one of transformers, sam2, shapes"):
        get_grounder("yolo")
