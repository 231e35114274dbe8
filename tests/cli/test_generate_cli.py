import json

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.engine.conftest import TWO_OBJECTS
from ttom.cli import app
from ttom.video import read_video

runner = CliRunner()


@pytest.mark.parametrize("model", ["tiny-cogvideox", "tiny-wan"])
@pytest.mark.parametrize("tto", [True, False])
def test_generate_writes_video_overlay_and_report(tmp_path, model, tto):
    layout_path = tmp_path / "layout.json"
    layout_path.write_text(json.dumps(TWO_OBJECTS))
    out = tmp_path / "out"
    args = ["generate", TWO_OBJECTS["prompt"], "--model", model, "--layout", str(layout_path), "--out", str(out),
            "--steps", "4", "--tto-steps", "2", "--tto-iterations", "3", "--device", "cpu", "--max-rounds", "1"]
    if not tto:
        args.append("--no-tto")
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    frames = read_video(out / "video.mp4")
    assert frames.shape == (9, 192, 192, 3)  # the model's 64x64 frames, upscaled x3 for viewing
    assert read_video(out / "video.gif").shape == (9, 192, 192, 3)
    assert report_frames_size(out) == (64, 64)
    assert (out / "overlay.png").stat().st_size > 0
    report = json.loads((out / "report.json").read_text())
    assert report["model"] == model and report["video"] == "video.mp4"
    assert report["layout"] == TWO_OBJECTS
    if tto:
        assert report["tto"]["mode"] == "fresh"
        assert [len(s) for s in report["tto"]["losses"]] == [3, 3]
        assert all(isinstance(v, float) for s in report["tto"]["losses"] for v in s)
        assert (out / "pytorch_lora_weights.safetensors").exists()
    else:
        assert report["tto"] == {"mode": "off", "layers": [], "losses": [], "seconds": 0.0}
        assert not (out / "pytorch_lora_weights.safetensors").exists()
    assert np.asarray(frames).std() > 0  # noise, not a blank video


def test_generate_reuses_phi_from_a_previous_run(tmp_path):
    layout_path = tmp_path / "layout.json"
    layout_path.write_text(json.dumps(TWO_OBJECTS))
    base = ["generate", TWO_OBJECTS["prompt"], "--model", "tiny-cogvideox", "--layout", str(layout_path),
            "--steps", "3", "--tto-steps", "1", "--tto-iterations", "2", "--device", "cpu", "--max-rounds", "1"]
    first = runner.invoke(app, [*base, "--out", str(tmp_path / "a")])
    assert first.exit_code == 0, first.output
    phi = tmp_path / "a" / "pytorch_lora_weights.safetensors"
    skip = runner.invoke(app, [*base, "--out", str(tmp_path / "b"), "--phi", str(phi), "--tto-mode", "skip"])
    assert skip.exit_code == 0, skip.output
    assert json.loads((tmp_path / "b" / "report.json").read_text())["tto"]["mode"] == "skip"
    wrong = runner.invoke(app, [*base, "--model", "tiny-wan", "--out", str(tmp_path / "c"), "--phi", str(phi)])
    assert wrong.exit_code != 0
    assert "does not fit the running model" in str(wrong.exception) + wrong.output


def test_probe_prints_a_table_of_blocks(tmp_path):
    layout_path = tmp_path / "layouts.jsonl"
    layout_path.write_text(json.dumps(TWO_OBJECTS) + "\n")
    result = runner.invoke(app, ["probe", "--model", "tiny-wan", "--layouts", str(layout_path), "--steps", "3",
                                 "--at-steps", "0,2", "--against", "plan", "--json", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout[result.stdout.index("["):])
    assert sorted(r["block"] for r in rows) == [0, 1, 2, 3]
    assert all(0.0 <= r["soft_iou"] <= 1.0 and r["samples"] == 2 for r in rows)
    assert [r["soft_iou"] for r in rows] == sorted((r["soft_iou"] for r in rows), reverse=True)


def test_generate_plans_and_reads_an_irregular_plural(tmp_path):
    """The planner names the object "person"; the engine reads the attention of the prompt's "people"."""
    out = tmp_path / "out"
    result = runner.invoke(app, ["generate", "Three people sit around a table", "--model", "tiny-cogvideox",
                                 "--out", str(out), "--critic", "off", "--steps", "2", "--tto-steps", "1",
                                 "--tto-iterations", "1", "--device", "cpu", "--max-rounds", "1"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert [o["name"] for o in report["layout"]["objects"]].count("person") == 3
    assert report["tto"]["mode"] == "fresh"


def report_frames_size(out):
    spec = json.loads((out / "report.json").read_text())["video_spec"]
    return spec["height"], spec["width"]
