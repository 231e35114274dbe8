"""The ``sam2`` backend: GroundingDINO (transformers) detects, Meta's ``sam2`` package tracks.

Optional (extra ``ttom[sam2]``). The package batches objects, which made it ~1.65x faster than
the transformers port on a CPU (research note critic.md §2.2). Install torch first, then
``SAM2_BUILD_CUDA=0 pip install --no-build-isolation 'sam2>=1.1'`` so pip does not replace torch.
Its video predictor does not import torchvision.

Weights: a ``.safetensors`` file holding the model's state dict. ttom never unpickles, so the
official ``sam2.1_hiera_*.pt`` files must be converted once (see ``Sam2PackageTracker``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ttom.critic.grounders.hf import DEFAULT_DETECTOR, GroundingDinoDetector, resolve_device
from ttom.critic.grounders.pipeline import DetectTrackGrounder, Prompt, TrackerOutput
from ttom.errors import TtomError, WeightsNotFoundError

DEFAULT_SAM2_CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"
_CONVERT = (
    "python -c \"import torch, safetensors.torch as st; "
    "st.save_file(torch.load('sam2.1_hiera_tiny.pt', weights_only=True)['model'], 'sam2.1_hiera_tiny.safetensors')\""
)


def import_sam2() -> Any:
    try:
        import sam2
        from sam2.build_sam import build_sam2_video_predictor  # noqa: F401
    except ImportError as e:
        raise TtomError(
            f"the sam2 backend needs the optional `sam2` package ({e}). Install torch first, then "
            "`SAM2_BUILD_CUDA=0 pip install --no-build-isolation 'ttom[sam2]'`; or use --backend transformers."
        ) from None
    return sam2


class Sam2PackageTracker:
    """Box-prompted tracking with ``sam2.build_sam.build_sam2_video_predictor``."""

    def __init__(
        self,
        checkpoint: str | None = None,
        config: str = DEFAULT_SAM2_CONFIG,
        device: str | None = "auto",
        hydra_overrides: Sequence[str] = (),
        random_weights: bool = False,
    ) -> None:
        # random_weights: build without a checkpoint (smoke tests only; the masks are noise)
        import_sam2()
        from sam2.build_sam import build_sam2_video_predictor

        self.device = resolve_device(device)
        self.config = config
        if checkpoint is None and not random_weights:
            raise WeightsNotFoundError(
                "the sam2 backend needs a checkpoint:",
                fix=f"pass --sam2-checkpoint PATH to a .safetensors state dict (convert the official .pt once: {_CONVERT})")
        self.checkpoint = checkpoint or "random"
        self.predictor = build_sam2_video_predictor(
            config, ckpt_path=None, device=self.device, hydra_overrides_extra=list(hydra_overrides))
        if checkpoint is not None:
            self._load(Path(checkpoint))

    def _load(self, path: Path) -> None:
        from safetensors.torch import load_file

        if path.suffix == ".pt" or path.suffix == ".pth":
            raise WeightsNotFoundError(f"{path} is a pickle; ttom loads safetensors only. Convert it once: {_CONVERT}")
        if not path.is_file():
            raise WeightsNotFoundError(f"sam2 checkpoint {path} does not exist (a .safetensors state dict)")
        state = load_file(str(path))
        missing, unexpected = self.predictor.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise TtomError(
                f"{path} does not fit {self.config}: {len(missing)} missing keys (e.g. {missing[:3]}), "
                f"{len(unexpected)} unexpected (e.g. {unexpected[:3]}); pass the config of its size with --sam2-config"
            )

    def track(self, frames: np.ndarray, prompts: Sequence[Prompt]) -> dict[int, TrackerOutput]:
        import torch
        from PIL import Image

        n, h, w, _ = frames.shape
        if not prompts:
            return {}
        start = {p.obj_id: p.frame for p in prompts}
        masks = {p.obj_id: np.zeros((n, h, w), bool) for p in prompts}
        scores = {p.obj_id: np.zeros(n, np.float32) for p in prompts}
        present = {p.obj_id: np.zeros(n, bool) for p in prompts}
        # init_state reads only a folder of JPEGs named by frame number (or an mp4 through decord)
        with tempfile.TemporaryDirectory(prefix="ttom-sam2-") as tmp, torch.inference_mode():
            for i, frame in enumerate(frames):
                Image.fromarray(frame).save(Path(tmp) / f"{i:05d}.jpg", quality=95)
            state = self.predictor.init_state(video_path=tmp)
            for p in prompts:
                x0, y0, x1, y1 = p.box
                self.predictor.add_new_points_or_box(
                    state, frame_idx=p.frame, obj_id=p.obj_id, box=np.array([x0 * w, y0 * h, x1 * w, y1 * h]))

            def record(f: int, obj_ids: Sequence[int], logits: Any, reverse: bool) -> None:
                for k, oid in enumerate(obj_ids):
                    if reverse != (f < start[oid]):
                        continue
                    lg = logits[k, 0].float()
                    m = (lg > 0).cpu().numpy()
                    masks[oid][f] = m
                    present[oid][f] = bool(m.any())
                    scores[oid][f] = float(torch.sigmoid(lg.max()))

            first, last = min(start.values()), max(start.values())
            for f, ids, logits in self.predictor.propagate_in_video(state, start_frame_idx=first):
                record(int(f), ids, logits, reverse=False)
            if last > 0:
                for f, ids, logits in self.predictor.propagate_in_video(state, start_frame_idx=last, reverse=True):
                    record(int(f), ids, logits, reverse=True)
        return {oid: TrackerOutput(masks[oid], scores[oid], present[oid]) for oid in masks}

    def provenance(self) -> dict[str, Any]:
        return {"model": "sam2 SAM2VideoPredictor", "config": self.config, "checkpoint": self.checkpoint,
                "device": self.device}


class Sam2Grounder(DetectTrackGrounder):
    """Backend ``sam2``: GroundingDINO (transformers) on keyframes + the ``sam2`` package's tracker."""

    def __init__(
        self,
        detector: str = DEFAULT_DETECTOR,
        sam2_checkpoint: str | None = None,
        sam2_config: str = DEFAULT_SAM2_CONFIG,
        device: str | None = "auto",
        box_threshold: float = 0.35,
        text_threshold: float = 0.25,
        image_size: int | None = None,
        num_keyframes: int = 8,
        detector_model: Any = None,
        detector_processor: Any = None,
        hydra_overrides: Sequence[str] = (),
        random_weights: bool = False,
    ) -> None:
        trk = Sam2PackageTracker(sam2_checkpoint, sam2_config, device, hydra_overrides, random_weights)
        det = GroundingDinoDetector(detector, device, box_threshold, text_threshold, image_size,
                                    model=detector_model, processor=detector_processor)
        super().__init__("sam2", det, trk, num_keyframes=num_keyframes)
