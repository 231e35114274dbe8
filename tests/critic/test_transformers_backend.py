"""The transformers call path end to end on tiny random GroundingDINO and SAM2 (shapes and ids only)."""

from __future__ import annotations

import builtins
import importlib.util

import numpy as np
import pytest

from ttom.critic.grounders.base import queries_from_layout
from ttom.critic.grounders.hf import (
    GroundingDinoDetector,
    Sam2VideoTracker,
    TransformersGrounder,
    check_torchvision,
)
from ttom.critic.grounders.pipeline import Prompt
from ttom.errors import TtomError, WeightsNotFoundError
from ttom.shapes import world as w


def _video(category="relation", frames=6, size=40):
    lay = w.sample_scene(np.random.default_rng(0), [category]).layout
    return lay, w.render(lay, frames=frames, size=size)


def test_detector_boxes_are_normalised(tiny_hf_models):
    gd, proc, _ = tiny_hf_models
    det = GroundingDinoDetector("tiny", "cpu", box_threshold=0.0, text_threshold=0.0, model=gd, processor=proc)
    _, video = _video()
    out = det.detect([video[0], video[3]], "a red circle")
    assert len(out) == 2
    for frame in out:
        assert 0 < len(frame) <= gd.config.num_queries
        for (x0, y0, x1, y1), score in frame:
            assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1 and 0 <= score <= 1


def test_tracker_covers_every_frame_by_id(tiny_hf_models):
    _, _, sam = tiny_hf_models
    trk = Sam2VideoTracker("tiny", "cpu", model=sam)
    _, video = _video(frames=6)
    # out-of-order ids, and an object first prompted on a later frame (filled by the reverse pass)
    prompts = [Prompt(9, 0, (0.1, 0.1, 0.4, 0.4)), Prompt(3, 0, (0.5, 0.5, 0.9, 0.9)), Prompt(5, 4, (0.2, 0.5, 0.5, 0.9))]
    out = trk.track(video, prompts)
    assert set(out) == {9, 3, 5}
    for o in out.values():
        assert o.masks.shape == (6, 40, 40) and o.masks.dtype == bool
        assert o.scores.shape == (6,) and o.present.shape == (6,)
        assert (o.scores > 0).all()  # every frame was visited (forward from 0, reverse from 4)


def test_grounder_end_to_end(tiny_hf_models):
    gd, proc, sam = tiny_hf_models
    g = TransformersGrounder("tiny-gd", "tiny-sam2", "cpu", box_threshold=0.0, text_threshold=0.0,
                             num_keyframes=3, detector_model=gd, detector_processor=proc, tracker_model=sam)
    lay, video = _video(frames=6)
    res = g.ground(video, queries_from_layout(lay))
    assert res.backend == "transformers" and res.num_frames == 6 and (res.height, res.width) == (40, 40)
    assert res.provenance["keyframes"] == [0, 2, 5]
    assert res.provenance["detector"]["checkpoint"] == "tiny-gd"
    phrases = {o.phrase for o in lay.objects}
    assert {t.phrase for t in res.tracks} <= phrases
    # at most max(2*expected, expected+2) instances per phrase, ids unique
    for p in phrases:
        assert 1 <= len(res.tracks_for(p)) <= 3
    assert len({t.instance_id for t in res.tracks}) == len(res.tracks)
    for t in res.tracks:
        assert len(t.boxes) == len(t.scores) == 6 and t.masks.shape == (6, 40, 40)


def test_loading_from_local_folders(tiny_hf_models, tmp_path):
    """from_pretrained(local folder, local_files_only, safetensors), as for real checkpoints."""
    gd, proc, sam = tiny_hf_models
    gd.save_pretrained(tmp_path / "gd", safe_serialization=True)
    proc.save_pretrained(tmp_path / "gd")
    sam.save_pretrained(tmp_path / "sam", safe_serialization=True)
    assert (tmp_path / "gd" / "model.safetensors").is_file()
    det = GroundingDinoDetector(str(tmp_path / "gd"), "cpu")
    trk = Sam2VideoTracker(str(tmp_path / "sam"), "cpu")
    assert det.model.config.num_queries == 20 and trk.model.config.image_size == 128
    _, video = _video(frames=3)
    assert len(det.detect([video[0]], "a red circle")) == 1


def test_missing_weights_name_the_checkpoint_and_the_fix(tmp_path):
    with pytest.raises(WeightsNotFoundError, match=r"GroundingDINO weights .*nowhere.*--detector PATH"):
        GroundingDinoDetector(str(tmp_path / "nowhere"), "cpu")
    with pytest.raises(WeightsNotFoundError, match=r"SAM2 video weights 'facebook/sam2.1-hiera-nope'.*--tracker PATH"):
        Sam2VideoTracker("facebook/sam2.1-hiera-nope", "cpu")


def test_broken_torchvision_is_named(monkeypatch):
    real_find, real_import = importlib.util.find_spec, builtins.__import__

    def find_spec(name, *a, **k):
        return object() if name == "torchvision" else real_find(name, *a, **k)

    def fake_import(name, *a, **k):
        if name.startswith("torchvision"):
            raise RuntimeError("operator torchvision::nms does not exist")
        return real_import(name, *a, **k)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(TtomError, match="torchvision is installed but does not work.*pip uninstall torchvision"):
        check_torchvision()


def test_torchvision_absent_is_fine():
    if importlib.util.find_spec("torchvision") is None:
        assert check_torchvision() is False
