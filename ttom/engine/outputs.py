"""What ``ttom generate`` writes: video.mp4, video.gif, overlay.png and report.json.

The videos and the overlay are for people: upscaled (nearest neighbour) to at least
``VIEW_MIN_SIDE`` pixels on the short side. The model's own frames are not changed; the agent
keeps them losslessly for the critic (``frames.npy``)."""

from __future__ import annotations

import json
from pathlib import Path

from ttom.engine.tto import GenerationResult
from ttom.layout import Layout
from ttom.video import VIEW_MIN_SIDE, contact_sheet, draw_boxes, for_viewing, view_factor, write_video


def overlay_frames(frames, layout: Layout, min_side: int = VIEW_MIN_SIDE):
    """Frames (upscaled so small videos stay readable) with the planned boxes drawn on them."""
    factor = view_factor(frames.shape[1], frames.shape[2], min_side)
    big = for_viewing(frames, min_side)
    tracks = layout.frame_boxes(len(frames))
    ids = [o.id for o in layout.objects]
    labels = [f"{o.id}:{o.name}" for o in layout.objects]
    return draw_boxes(big, [tracks[i] for i in ids], labels=labels, width=max(1, factor // 2))


def write_outputs(out_dir: str | Path, result: GenerationResult, layout: Layout, model: str,
                  memory: dict | None = None, critic: dict | None = None, rounds: int = 1,
                  timings: dict | None = None, save_phi: bool = True) -> dict:
    """Write the outputs of one generation and return the report (as written to report.json)."""
    from PIL import Image

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fps = result.spec.fps
    view = for_viewing(result.frames)
    write_video(view, out / "video.mp4", fps=fps)
    write_video(view, out / "video.gif", fps=fps)
    Image.fromarray(contact_sheet(overlay_frames(result.frames, layout), columns=min(8, len(result.frames)))).save(
        out / "overlay.png")
    (out / "layout.json").write_text(layout.to_json(), encoding="utf-8")
    if save_phi and result.phi is not None:
        # diffusers' file name, so `pipe.load_lora_weights(out)` finds it
        (out / "pytorch_lora_weights.safetensors").write_bytes(result.phi)
    report = {
        "prompt": layout.prompt,
        "model": model,
        "seed": result.seed,
        "layout": layout.to_dict(),
        "video": "video.mp4",
        "tto": result.tto_report(),
        "memory": memory or {"hit": False, "entry_id": None, "similarity": None, "action": "none"},
        "critic": critic,
        "rounds": rounds,
        "timings": {k: round(v, 3) for k, v in (timings or {"tto": result.timings.get("tto", 0.0),
                                                           "denoise": result.timings.get("denoise", 0.0),
                                                           "decode": result.timings.get("decode", 0.0)}).items()},
        "video_spec": {"num_frames": result.spec.num_frames, "height": result.spec.height, "width": result.spec.width,
                       "fps": fps, "steps": result.steps, "guidance_scale": result.guidance_scale},
    }
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return report
