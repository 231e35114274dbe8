"""``ttom critic`` on files."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from ttom.cli import app
from ttom.shapes import world as w
from ttom.video import write_video


def test_critic_command_prints_the_report(tmp_path):
    lay = w.sample_scene(np.random.default_rng(4), ["motion"]).layout
    (tmp_path / "layout.json").write_text(lay.to_json())
    write_video(w.render(lay, frames=8, size=32), tmp_path / "video.gif")
    res = CliRunner().invoke(app, ["critic", str(tmp_path / "video.gif"), "--layout", str(tmp_path / "layout.json"),
                                   "--overlay", str(tmp_path / "ov.png")])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output)
    assert rep["backend"] == "shapes" and rep["decision"] == "accept"
    assert (tmp_path / "ov.png").is_file()
    full = CliRunner().invoke(app, ["critic", str(tmp_path / "video.gif"), "-l", str(tmp_path / "layout.json"),
                                    "--backend", "shapes", "--full"])
    assert "thresholds" in json.loads(full.output)["provenance"]


def test_critic_command_rejects_a_bad_backend(tmp_path):
    lay = w.sample_scene(np.random.default_rng(4), ["motion"]).layout
    (tmp_path / "layout.json").write_text(lay.to_json())
    res = CliRunner().invoke(app, ["critic", "v.mp4", "--layout", str(tmp_path / "layout.json"), "-b", "yolo"],
                             env={"COLUMNS": "200"})
    # refused when the command line is parsed (exit 2), the choices named
    assert res.exit_code == 2 and "'yolo' is not one of 'auto', 'transformers', 'sam2', 'shapes'" in res.output
