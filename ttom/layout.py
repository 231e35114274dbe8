"""The Layout contract: one box track per object, in normalised space and time.

Every part of ttom reads and writes this (ARCHITECTURE.md, "Layout contract"):

- ``box`` is ``[x0, y0, x1, y1]`` in [0, 1], origin top-left, y downwards;
- ``t`` is normalised time, 0 = first frame, 1 = last frame;
- between keyframes a box is interpolated linearly; before the first and after the last
  keyframe the object is absent;
- N instances of one class are N objects with the same ``name`` and distinct ids.

Only pydantic and the standard library are imported here, so ``ttom plan`` stays fast.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Box = tuple[float, float, float, float]

# Two keyframe times closer than this are the same instant; a frame time within it of a
# keyframe's time counts as inside the track (frame times are computed in floating point).
TIME_EPS = 1e-6
# Bounds on what a layout may hold: input from LLMs and remote callers is checked against them.
MAX_OBJECTS = 32  # more boxes than a 480p video can separate; the offline planner and validator are quadratic
MAX_OBJECT_ID = 10_000
MAX_KEYFRAMES = 256
MAX_TEXT = 200  # a name or phrase
MAX_PROMPT = 4_000


class LayoutError(ValueError):
    """A layout that does not satisfy the contract; the message names the bad field."""


class Keyframe(BaseModel):
    """One box of an object's track at normalised time ``t``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    t: Annotated[float, Field(ge=0.0, le=1.0, description="normalised time, 0 = first frame, 1 = last")]
    box: Annotated[
        Box,
        Field(description="[x0, y0, x1, y1] normalised to [0, 1], origin top-left, y downwards"),
    ]

    @field_validator("box")
    @classmethod
    def _box_in_range(cls, box: Box) -> Box:
        x0, y0, x1, y1 = box
        for name, v in zip(("x0", "y0", "x1", "y1"), box):
            if not (0.0 <= v <= 1.0):
                raise ValueError(f"{name}={v} is outside [0, 1]; boxes are normalised [x0, y0, x1, y1]")
        if x1 <= x0:
            raise ValueError(f"x1={x1} must be greater than x0={x0} (box [x0, y0, x1, y1])")
        if y1 <= y0:
            raise ValueError(f"y1={y1} must be greater than y0={y0} (box [x0, y0, x1, y1])")
        return box


class LayoutObject(BaseModel):
    """One object instance and its box track."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[int, Field(ge=0, le=MAX_OBJECT_ID, description="unique within the layout")]
    name: Annotated[str, Field(min_length=1, max_length=MAX_TEXT, description="the object noun as the prompt says it, singular")]
    phrase: Annotated[str, Field(min_length=1, max_length=MAX_TEXT, description="the noun phrase with its attributes")]
    keyframes: Annotated[list[Keyframe], Field(min_length=1, max_length=MAX_KEYFRAMES)]

    @field_validator("name", "phrase")
    @classmethod
    def _strip(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("must not be blank")
        return v

    @field_validator("keyframes")
    @classmethod
    def _times_increase(cls, kfs: list[Keyframe]) -> list[Keyframe]:
        for i in range(1, len(kfs)):
            if kfs[i].t <= kfs[i - 1].t + TIME_EPS:
                raise ValueError(
                    f"keyframe {i} has t={kfs[i].t}, not after keyframe {i - 1} (t={kfs[i - 1].t}); "
                    "keyframe times must strictly increase"
                )
        return kfs

    def box_at(self, t: float) -> Box | None:
        """The box at normalised time ``t``, linearly interpolated; None where the object is absent."""
        kfs = self.keyframes
        if t < kfs[0].t - TIME_EPS or t > kfs[-1].t + TIME_EPS:
            return None
        if len(kfs) == 1 or t <= kfs[0].t:
            return kfs[0].box
        for a, b in zip(kfs, kfs[1:]):
            if t <= b.t:
                w = (t - a.t) / (b.t - a.t)
                return tuple((1.0 - w) * p + w * q for p, q in zip(a.box, b.box))  # type: ignore[return-value]
        return kfs[-1].box

    @property
    def start(self) -> float:
        return self.keyframes[0].t

    @property
    def end(self) -> float:
        return self.keyframes[-1].t


def frame_times(num_frames: int) -> list[float]:
    """Normalised time of each of ``num_frames`` evenly spaced frames (0 … 1)."""
    if num_frames < 1:
        raise LayoutError(f"num_frames must be >= 1, got {num_frames}")
    if num_frames == 1:
        return [0.0]
    return [f / (num_frames - 1) for f in range(num_frames)]


class Layout(BaseModel):
    """A spatio-temporal layout: the prompt, one box track per object, and a background."""

    model_config = ConfigDict(extra="forbid")

    prompt: Annotated[str, Field(min_length=1, max_length=MAX_PROMPT)]
    objects: list[LayoutObject] = Field(default_factory=list)
    background: str = ""
    reasoning: str | None = None
    enriched_prompt: str | None = None
    camera: str | None = None

    @field_validator("objects")
    @classmethod
    def _not_too_many(cls, objs: list[LayoutObject]) -> list[LayoutObject]:
        if len(objs) > MAX_OBJECTS:
            raise ValueError(f"{len(objs)} objects; a layout holds at most {MAX_OBJECTS} (a video model cannot place "
                             "more apart): ask for fewer")
        return objs

    @model_validator(mode="after")
    def _unique_ids(self) -> Layout:
        seen: dict[int, int] = {}
        for i, obj in enumerate(self.objects):
            if obj.id in seen:
                raise ValueError(f"objects.{i}.id={obj.id} repeats the id of objects.{seen[obj.id]}; ids must be unique")
            seen[obj.id] = i
        return self

    # ----- construction and serialisation -------------------------------------------------
    @classmethod
    def parse(cls, data: str | bytes | dict[str, Any]) -> Layout:
        """Build from a JSON string or dict; a clear LayoutError naming the bad fields otherwise."""
        try:
            if isinstance(data, (str, bytes)):
                return cls.model_validate_json(data)
            return cls.model_validate(data)
        except ValidationError as e:
            raise LayoutError(_describe(e)) from None

    @classmethod
    def from_file(cls, path: str | Path) -> Layout:
        p = Path(path)
        if not p.is_file():
            raise LayoutError(f"layout file {p} does not exist")
        try:
            return cls.parse(p.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise LayoutError(f"{p}: not a UTF-8 text file (a layout is JSON)") from None
        except OSError as e:
            raise LayoutError(f"{p}: cannot be read ({e.strerror or e})") from None
        except LayoutError as e:
            raise LayoutError(f"{p}: {e}") from None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able dict of the contract (optional fields left out when unset)."""
        d = self.model_dump(mode="json", exclude_none=True)
        for obj in d["objects"]:
            for kf in obj["keyframes"]:
                kf["box"] = [round(v, 6) for v in kf["box"]]
        return d

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    # ----- queries --------------------------------------------------------------------------
    def object(self, obj_id: int) -> LayoutObject:
        for obj in self.objects:
            if obj.id == obj_id:
                return obj
        raise KeyError(f"no object with id {obj_id} in the layout (ids: {[o.id for o in self.objects]})")

    @property
    def names(self) -> list[str]:
        """Distinct object names in order of first appearance."""
        out: list[str] = []
        for obj in self.objects:
            if obj.name not in out:
                out.append(obj.name)
        return out

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for obj in self.objects:
            out[obj.name] = out.get(obj.name, 0) + 1
        return out

    def boxes_at(self, t: float) -> dict[int, Box | None]:
        return {obj.id: obj.box_at(t) for obj in self.objects}

    def frame_boxes(self, num_frames: int) -> dict[int, list[Box | None]]:
        """Per object id, its box in each of ``num_frames`` evenly spaced frames (None = absent)."""
        times = frame_times(num_frames)
        return {obj.id: [obj.box_at(t) for t in times] for obj in self.objects}

    def generation_prompt(self) -> str:
        """The text the generator is conditioned on: the enriched prompt when there is one."""
        return self.enriched_prompt or self.prompt


def _describe(e: ValidationError) -> str:
    parts = []
    for err in e.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "layout"
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    return "invalid layout: " + "; ".join(parts)


def static_object(obj_id: int, name: str, box: Sequence[float], phrase: str | None = None) -> LayoutObject:
    """An object that stays at ``box`` for the whole video."""
    b = tuple(float(v) for v in box)
    return LayoutObject(
        id=obj_id, name=name, phrase=phrase or name, keyframes=[Keyframe(t=0.0, box=b), Keyframe(t=1.0, box=b)]
    )


def load_layouts(lines: Iterable[str]) -> list[Layout]:
    """Layouts from JSON Lines (one layout per non-blank line)."""
    out = []
    for i, line in enumerate(lines, 1):
        if line.strip():
            try:
                out.append(Layout.parse(line))
            except LayoutError as e:
                raise LayoutError(f"line {i}: {e}") from None
    return out
