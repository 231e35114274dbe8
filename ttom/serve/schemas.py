"""The API's request and response bodies (pydantic; FastAPI validates requests and writes the OpenAPI schema).

The fields follow OpenAI's video API, which vLLM-Omni and SGLang Diffusion also serve (``id``,
``object``, ``model``, ``status``, ``progress`` in percent, ``created_at``, ``completed_at``,
``error``, ``remixed_from_video_id``), so their clients fit; ttom's own knobs are ``options`` (the
``RunOptions`` of ``ttom generate``), ``layout`` and ``thread_id``, and a job says more: its
``stage`` (round, step, loss, ...), the critic's verdict and the memory's action in ``result``, and
``assets`` (URLs of its files).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ttom.agents.state import RunOptions

_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
Status = Literal["queued", "in_progress", "waiting", "completed", "failed", "cancelled"]


def _check_layout(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    from ttom.layout import Layout, LayoutError

    try:
        return Layout.parse(value).to_dict()
    except (LayoutError, ValueError, TypeError, KeyError) as e:
        raise ValueError(f"not a valid layout: {e}") from None


class VideoCreate(BaseModel):
    """``POST /v1/videos``: a new video, or (with ``thread_id``) an edit of a thread's last video."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=4000, description="the scene, or on a thread an edit such as "
                                                                   "'make the dog bigger'")
    model: str | None = Field(None, min_length=1, max_length=200,
                              description="the video model (OpenAI's field; same as options.model)")
    size: str | None = Field(None, pattern=r"^\d{1,4}x\d{1,4}$", description="WIDTHxHEIGHT (options.width, height)")
    layout: dict[str, Any] | None = Field(None, description="follow this layout (ttom's Layout contract) instead "
                                                            "of planning one")
    options: RunOptions = Field(default_factory=RunOptions, description="the run's options (ttom generate's)")
    thread_id: str | None = Field(None, pattern=_ID, description="continue this thread (an earlier job's "
                                                                 "thread_id): edit its last video")

    _layout = field_validator("layout")(_check_layout)


class RemixCreate(BaseModel):
    """``POST /v1/videos/{id}/remix``: an edit of that job's video, as a new job on its thread."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=4000, description="the edit, e.g. 'make the dog bigger'")
    options: RunOptions | None = Field(None, description="options for the edit; default: the earlier job's")


class ResumeBody(BaseModel):
    """``POST /v1/videos/{id}/resume``: continue a job.

    A job that waits for its layout's approval needs ``answer`` ('approve' or 'reject') or an edited
    ``layout``; a failed or cancelled job takes neither and continues from its last checkpoint.
    """

    model_config = ConfigDict(extra="forbid")

    answer: Literal["approve", "reject"] | None = None
    layout: dict[str, Any] | None = Field(None, description="the approved layout, edited (Layout contract)")

    _layout = field_validator("layout")(_check_layout)


class JobError(BaseModel):
    code: str
    message: str


class VideoJob(BaseModel):
    """A video job."""

    id: str
    object: Literal["video"] = "video"
    model: str
    status: Status
    progress: int = Field(description="percent, 0-100 (only grows)")
    created_at: int
    started_at: int | None = None
    completed_at: int | None = None
    prompt: str
    thread_id: str = Field(description="the agent thread: pass it (or POST .../remix) to edit this video")
    remixed_from_video_id: str | None = None
    attempts: int = Field(description="workers that took the job (more than 1: it was resumed or moved)")
    cancel_requested: bool = False
    stage: dict[str, Any] = Field(description="what it does now: name (plan, memory, generate, tto, step, critic, "
                                              "memorize, report, ...), round, max_rounds, step, steps, iteration, "
                                              "loss, decision, message")
    error: JobError | None = None
    approval: dict[str, Any] | None = Field(None, description="while waiting: the question, the layout and its "
                                                              "validation")
    result: dict[str, Any] | None = Field(None, description="when completed: report.json (accepted, rounds, "
                                                            "delivered_round, critic, memory, timings, history), "
                                                            "and summary")
    assets: dict[str, str] = Field(default_factory=dict, description="asset name -> URL")
    events_url: str


class VideoList(BaseModel):
    object: Literal["list"] = "list"
    data: list[VideoJob]
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool = False


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    workers: int
    ready: int = Field(description="workers that have started (a Ray actor answers once its resources are free)")
    busy: int
    jobs: dict[str, int]
