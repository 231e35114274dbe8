"""The ``transformers`` backend: GroundingDINO detects each phrase, SAM2 (video) tracks it.

Checkpoints load with ``from_pretrained(name_or_local_folder, local_files_only=True,
use_safetensors=True)``: a local folder or the local Hugging Face cache, never the network and
never a pickle. torchvision is not needed: SAM2's frames are resized and normalised here (its
processors require torchvision), and GroundingDINO's processor falls back to its PIL image
processor. A torchvision that is installed but broken (a CUDA wheel over a CPU torch) breaks
transformers' imports, so it is checked first and named in the error.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

import numpy as np

from ttom.critic.grounders.pipeline import DetectTrackGrounder, Prompt, TrackerOutput
from ttom.errors import TtomError, WeightsNotFoundError
from ttom.layout import Box

DEFAULT_DETECTOR = "IDEA-Research/grounding-dino-tiny"
DEFAULT_TRACKER = "facebook/sam2.1-hiera-tiny"
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def check_torchvision() -> bool:
    """False when torchvision is absent (fine); raises TtomError when it is installed but broken."""
    if importlib.util.find_spec("torchvision") is None:
        return False
    try:
        import torchvision.ops  # noqa: F401  (fails when its compiled ops do not match torch)
    except Exception as e:  # noqa: BLE001 - any failure here means the same fix
        import torch

        raise TtomError(
            f"torchvision is installed but does not work with torch {torch.__version__} ({type(e).__name__}: {e}); "
            "it breaks transformers' GroundingDINO/SAM2 imports. ttom does not need torchvision: "
            "`pip uninstall torchvision`, or install the torchvision build that matches your torch."
        ) from None
    return True


def resolve_device(device: str | None) -> str:
    import torch

    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise TtomError(f"device {device!r} asked for, but torch sees no CUDA device; use --device cpu")
    return device


def _load(loader: Any, name: str, what: str, option: str, **kwargs: Any) -> Any:
    try:
        return loader.from_pretrained(name, local_files_only=True, **kwargs)
    except (OSError, ValueError) as e:
        raise WeightsNotFoundError(
            f"{what} weights {name!r} not found in a local folder or the local Hugging Face cache "
            f"({str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}).",
            fix=f"Pass a local folder with {option} PATH, or download once where the hub is reachable "
                f"(`hf download {name}`) and copy the cache here."
        ) from None


class GroundingDinoDetector:
    """Text-prompted boxes with ``GroundingDinoForObjectDetection``, one caption per phrase."""

    def __init__(
        self,
        checkpoint: str = DEFAULT_DETECTOR,
        device: str | None = "auto",
        box_threshold: float = 0.35,
        text_threshold: float = 0.25,
        image_size: int | None = None,
        model: Any = None,
        processor: Any = None,
    ) -> None:
        # box 0.35 / text 0.25: T2V-CompBench's spatial setting and the GroundingDINO demo's.
        # image_size: shortest edge the processor resizes to (default 800, ~20-50 s a frame on a
        #   CPU for the tiny model; smaller is faster and coarser).
        check_torchvision()
        from transformers import AutoProcessor, GroundingDinoForObjectDetection

        self.checkpoint = checkpoint
        self.device = resolve_device(device)
        self.box_threshold = box_threshold
        self.text_threshold = text_threshold
        self.model = model if model is not None else _load(
            GroundingDinoForObjectDetection, checkpoint, "GroundingDINO", "--detector", use_safetensors=True)
        self.processor = processor if processor is not None else _load(
            AutoProcessor, checkpoint, "GroundingDINO processor", "--detector")
        self.model.to(self.device).eval()
        if image_size is not None:
            self.processor.image_processor.size = {"shortest_edge": image_size, "longest_edge": int(image_size * 1.667)}
        self.image_size = image_size

    def detect(self, images: Sequence[np.ndarray], phrase: str) -> list[list[tuple[Box, float]]]:
        import torch

        if not images:
            return []
        # GroundingDINO wants lower case, '.'-terminated phrases
        text = " ".join(phrase.lower().split()).rstrip(".") + "."
        inputs = self.processor(images=list(images), text=[text] * len(images), return_tensors="pt")
        inputs = {k: v.to(self.device) if hasattr(v, "to") else v for k, v in inputs.items()}
        with torch.inference_mode():
            out = self.model(**inputs)
        sizes = [(im.shape[0], im.shape[1]) for im in images]
        # threshold= (not box_threshold=, which raises TypeError in transformers 5)
        results = self.processor.post_process_grounded_object_detection(
            out, inputs["input_ids"], threshold=self.box_threshold, text_threshold=self.text_threshold,
            target_sizes=sizes,
        )
        dets: list[list[tuple[Box, float]]] = []
        for res, (h, w) in zip(results, sizes, strict=True):
            found = []
            for box, score in zip(res["boxes"].tolist(), res["scores"].tolist(), strict=True):
                x0, y0, x1, y1 = (min(max(v, 0.0), 1.0) for v in (box[0] / w, box[1] / h, box[2] / w, box[3] / h))
                if x1 > x0 and y1 > y0:
                    found.append(((x0, y0, x1, y1), float(score)))
            dets.append(found)
        return dets

    def provenance(self) -> dict[str, Any]:
        return {"model": "GroundingDinoForObjectDetection", "checkpoint": self.checkpoint,
                "box_threshold": self.box_threshold, "text_threshold": self.text_threshold,
                "image_size": self.image_size, "device": self.device}


class Sam2VideoTracker:
    """Box-prompted video tracking with ``Sam2VideoModel`` and its inference session."""

    def __init__(self, checkpoint: str = DEFAULT_TRACKER, device: str | None = "auto", model: Any = None) -> None:
        check_torchvision()
        import torch
        from transformers import Sam2VideoModel

        self.checkpoint = checkpoint
        self.device = resolve_device(device)
        self.model = model if model is not None else _load(
            Sam2VideoModel, checkpoint, "SAM2 video", "--tracker", use_safetensors=True)
        self.model.to(self.device).eval()
        self.dtype = torch.float32

    def _session(self, frames: np.ndarray) -> Any:
        """The preprocessing of Sam2VideoVideoProcessor without torchvision: resize, ImageNet norm."""
        import torch
        import torch.nn.functional as F
        from transformers.models.sam2_video.modeling_sam2_video import Sam2VideoInferenceSession

        size = self.model.config.image_size
        s_h, s_w = (size, size) if isinstance(size, int) else tuple(size)
        n, h, w, _ = frames.shape
        video = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255.0  # (F, 3, H, W)
        video = F.interpolate(video, (s_h, s_w), mode="bilinear", antialias=True, align_corners=False)
        mean = torch.tensor(_IMAGENET_MEAN)[None, :, None, None]
        std = torch.tensor(_IMAGENET_STD)[None, :, None, None]
        video = (video - mean) / std
        return Sam2VideoInferenceSession(
            video=video, video_height=h, video_width=w, inference_device=self.device, dtype=self.dtype,
        ), (s_h, s_w)

    def track(self, frames: np.ndarray, prompts: Sequence[Prompt]) -> dict[int, TrackerOutput]:
        import torch
        import torch.nn.functional as F

        n, h, w, _ = frames.shape
        if not prompts:
            return {}
        session, (s_h, s_w) = self._session(frames)
        by_frame: dict[int, list[Prompt]] = {}
        for p in prompts:
            by_frame.setdefault(p.frame, []).append(p)
        start = {p.obj_id: p.frame for p in prompts}
        masks = {p.obj_id: np.zeros((n, h, w), bool) for p in prompts}
        scores = {p.obj_id: np.zeros(n, np.float32) for p in prompts}
        present = {p.obj_id: np.zeros(n, bool) for p in prompts}

        def record(out: Any, reverse: bool) -> None:
            f = int(out.frame_idx)
            logits = F.interpolate(out.pred_masks.float(), (h, w), mode="bilinear", align_corners=False)
            for k, oid in enumerate(out.object_ids):  # insertion order: map by id, not position
                # forward results from an object's own prompt frame on, reverse results before it
                if reverse != (f < start[oid]):
                    continue
                m = (logits[k, 0] > 0).cpu().numpy()
                obj_logit = float(out.object_score_logits[k].reshape(-1)[0])
                masks[oid][f] = m
                present[oid][f] = bool(m.any()) and obj_logit > 0
                scores[oid][f] = float(torch.sigmoid(torch.tensor(obj_logit)))

        with torch.inference_mode():
            for f in sorted(by_frame):
                ps = by_frame[f]
                ids = [p.obj_id for p in ps]
                for p in ps:
                    idx = session.obj_id_to_idx(p.obj_id)
                    x0, y0, x1, y1 = p.box
                    # a box is two points labelled 2 (top-left) and 3 (bottom-right), in model pixels
                    coords = torch.tensor([[[[x0 * s_w, y0 * s_h], [x1 * s_w, y1 * s_h]]]], dtype=torch.float32)
                    labels = torch.tensor([[[2, 3]]], dtype=torch.int32)
                    session.add_point_inputs(idx, f, {"point_coords": coords, "point_labels": labels})
                    session.remove_mask_inputs(idx, f)
                # all objects of a frame at once, then a forward on it (the add call overwrites the list)
                session.obj_with_new_inputs = ids
                self.model(inference_session=session, frame_idx=f)
            first, last = min(by_frame), max(by_frame)
            for out in self.model.propagate_in_video_iterator(session, start_frame_idx=first):
                record(out, reverse=False)
            if last > 0:
                for out in self.model.propagate_in_video_iterator(session, start_frame_idx=last, reverse=True):
                    record(out, reverse=True)
        return {oid: TrackerOutput(masks[oid], scores[oid], present[oid]) for oid in masks}

    def provenance(self) -> dict[str, Any]:
        return {"model": "Sam2VideoModel", "checkpoint": self.checkpoint, "device": self.device}


class TransformersGrounder(DetectTrackGrounder):
    """Backend ``transformers``: GroundingDINO on keyframes + SAM2 video tracking."""

    def __init__(
        self,
        detector: str = DEFAULT_DETECTOR,
        tracker: str = DEFAULT_TRACKER,
        device: str | None = "auto",
        box_threshold: float = 0.35,
        text_threshold: float = 0.25,
        image_size: int | None = None,
        num_keyframes: int = 8,
        detector_model: Any = None,
        detector_processor: Any = None,
        tracker_model: Any = None,
    ) -> None:
        det = GroundingDinoDetector(detector, device, box_threshold, text_threshold, image_size,
                                    model=detector_model, processor=detector_processor)
        trk = Sam2VideoTracker(tracker, device, model=tracker_model)
        super().__init__("transformers", det, trk, num_keyframes=num_keyframes)
