"""The agent graph's state: JSON-able data only (layout dicts, file paths, scores, memory ids).

Anything a checkpointer (SQLite, PostgreSQL) can persist and a resumed run can read back: no
tensors, no frames, no φ bytes (those go to files in the run folder, referenced by path).

``AgentInput`` is what a caller sends (CLI, LangChain tool, MCP, ``langgraph dev``): a ``prompt``, or
``messages`` in the LangGraph chat convention (``ttom.agents.chat``: the last human message is the
request, and the answer is an AI message; messages are LangChain objects, which every LangGraph
checkpointer serialises, the one exception to plain JSON in the state); ``AgentState``
is everything the nodes read and write; ``AgentOutput`` is what a run returns. ``RunOptions`` are
the knobs of one request, validated once by the plan node and kept in state as a dict, so a resumed
run uses the same ones. ``AgentContext`` is the per-invocation runtime context (not persisted):
settings, and optionally a judge object for the critic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import NotRequired, TypedDict

from ttom.config import DEVICE_PATTERN


class TTOOptions(BaseModel):
    """The TTO knobs one request may override; the names are ``ttom.engine.tto.TTOConfig``'s own.

    None = the model's TTO recipe (the shapes model's own ``ttom.json``; else the official Wan
    recipe: 5 steps × 8 iterations, lr 1e-3, stop below 0.03).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["fresh", "warm", "skip", "off"] | None = Field(
        None, description="force the first round's mode (default: fresh; warm/skip from a φ file or memory); off = "
                          "the plain model")
    steps: int | None = Field(None, ge=0, le=1000, description="TTO before each of the first K denoising steps")
    iterations: int | None = Field(None, ge=0, le=1000, description="at most N optimisation iterations per TTO step")
    lr: float | None = Field(None, gt=0, le=1.0, allow_inf_nan=False)
    loss_threshold: float | None = Field(None, ge=0, allow_inf_nan=False)
    layers: list[Annotated[int, Field(ge=0, le=1023)]] | None = Field(None, max_length=64, description="supervised blocks")
    rank: int | None = Field(None, ge=1, le=1024)
    gradient_checkpointing: bool | Annotated[int, Field(ge=0)] = Field(
        False, description="True: every block; N: the first N blocks")

    @property
    def enabled(self) -> bool:
        """Whether any round optimises or loads φ."""
        return self.mode != "off"

    @property
    def can_optimise(self) -> bool:
        """Whether a re-optimisation round can change φ."""
        return self.enabled and self.steps != 0 and self.iterations != 0

    def config_overrides(self) -> dict[str, Any]:
        """Keyword overrides for ``ttom.engine.tto.recipe_config`` (None = the recipe's)."""
        d = self.model_dump(exclude={"mode"})
        d["layers"] = tuple(self.layers) if self.layers else None
        return d


class RunOptions(BaseModel):
    """What one request may set; None = the model's recipe or the settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = Field(None, min_length=1, max_length=4096,
                              description="backend name or local model folder; None = TTOM_MODEL")
    device: str = Field("auto", pattern=f"^({DEVICE_PATTERN})$")
    dtype: Literal["auto", "fp32", "float32", "bf16", "bfloat16", "fp16", "float16"] = "auto"
    seed: int = Field(0, ge=0, lt=2**63, description="noise seed of the first round")
    steps: int | None = Field(None, ge=1, le=1000, description="denoising steps")
    guidance: float | None = Field(None, ge=0, le=100, allow_inf_nan=False)
    frames: int | None = Field(None, ge=1, le=1025)
    height: int | None = Field(None, ge=8, le=4096)
    width: int | None = Field(None, ge=8, le=4096)
    tto: TTOOptions = Field(default_factory=lambda: TTOOptions(), description="TTO overrides (TTOConfig's names)")
    phi: str | None = Field(None, description="start from φ in this safetensors file (instead of memory)")
    planner: Literal["auto", "offline", "llm"] = "auto"
    memory: bool = Field(True, description="recall φ from the parameter memory and memorize the accepted φ*")
    memorize_rejected: bool = Field(
        False, description="also memorize the best round's φ* when the critic accepted none (with its score, in a "
                           "separate best-effort pool that is only ever used to warm-start, never to skip TTO)")
    memory_mode: Literal["skip", "warm"] = Field("skip", description="on a memory hit: load φ (skip) or continue it")
    max_rounds: int = Field(3, ge=1, le=20, description="at most this many generations (first + re-optimisations "
                                                         "and regenerations after a layout repair); round k uses "
                                                         "seed + k - 1")
    max_repairs: int = Field(2, ge=0, le=20, description="at most this many layout repairs per request")
    reoptimize: Literal["reseed", "escalate"] = Field(
        "reseed", description="a re-optimisation round: fresh noise and fresh φ with the recipe (reseed), or the "
                              "critic's targets weighted up, an escalated optimisation and a warm start (escalate); "
                              "docs/loop.md")
    approve: bool = Field(False, description="pause for a human to approve or edit the layout before the GPU work")
    critic: Literal["auto", "shapes", "transformers", "sam2", "off"] = "auto"
    critic_thresholds: dict[str, float] = Field(default_factory=dict, description="CriticConfig overrides")
    out_dir: str | None = Field(None, min_length=1, description="output folder; None = <cache_dir>/runs/<thread id>")


def check_options(options: dict[str, Any] | None) -> RunOptions:
    """``RunOptions`` from a caller's dict; a ``ConfigError`` naming every bad field otherwise."""
    from pydantic import ValidationError

    from ttom.errors import ConfigError

    try:
        return RunOptions.model_validate(options or {})
    except ValidationError as e:
        bad = "; ".join(f"{'.'.join(map(str, er['loc'])) or 'options'}: {er['msg']}" for er in e.errors()[:8])
        raise ConfigError(f"bad options: {bad}") from None


class AgentInput(TypedDict):
    """A request: a ``prompt``, or the last human message of ``messages`` (the chat convention)."""

    prompt: NotRequired[str]  # the scene ("a red car drives left ...") or, on a thread with a video, an edit ("make the dog bigger")
    layout: NotRequired[dict[str, Any] | None]  # follow this layout (the Layout contract) instead of planning one
    options: NotRequired[dict[str, Any]]  # RunOptions fields
    messages: NotRequired[Annotated[list[AnyMessage], add_messages]]  # the chat: the last human message is the request


class AgentState(AgentInput, total=False):
    """Everything the nodes share. Per-request fields are reset by the plan node."""

    # --- plan, validate, repair
    answered_message: str | None  # id of the last human message a run took as its request
    scene_prompt: str  # the prompt the layout is planned for (an edit keeps or rewrites the previous one)
    current_layout: dict[str, Any]  # the working layout (the Layout contract)
    plan: dict[str, Any]  # planner, notes, seconds, edit applied
    validation: dict[str, Any]  # ok, errors, warnings (strings)
    repairs: int  # layout repairs done for this request
    repair_reason: Literal["validator", "critic"] | None
    # --- memory
    key: str  # the abstracted scene description (memory key)
    signature: dict[str, Any]  # the adapter signature φ will have
    recall: dict[str, Any]  # hit, entry_id, similarity, phi_path, mode
    # --- generation rounds
    run_dir: str
    requests: int  # requests handled on this thread (chat turns)
    round: int  # generations done for this request
    next_tto: dict[str, Any] | None  # set by reoptimize: mode and φ to start from
    generation: dict[str, Any]  # the latest round: dir, frames, video, phi_path, tto report, timings
    critic: dict[str, Any] | None  # the latest critic summary (report.json's critic part)
    critic_history: list[dict[str, Any]]  # every round's critic summary, oldest first
    history: list[dict[str, Any]]  # every round: decision, miou, reasons, seed, mode, knobs, dir, video, φ path
    decision: str | None
    accepted: bool | None  # set at the end: the delivered round was accepted (None: no critic judged)
    # --- results
    memory: dict[str, Any]  # report.json's memory part
    timings: dict[str, float]
    report_path: str
    video: str


class AgentOutput(TypedDict, total=False):
    """What a run returns (``messages``: the chat, with the AI answer, when the request came as a message)."""

    messages: Annotated[list[AnyMessage], add_messages]
    scene_prompt: str
    current_layout: dict[str, Any]
    video: str
    report_path: str
    run_dir: str
    decision: str | None
    accepted: bool | None
    critic: dict[str, Any] | None
    memory: dict[str, Any]
    round: int


@dataclass
class AgentContext:
    """Per-invocation runtime context (never checkpointed).

    ``settings``: a ``ttom.config.Settings`` (default: the process settings). ``critic``: a
    ``VideoGrounder`` object to judge videos with instead of the one ``options.critic`` names (a
    detector of one's own, or a test's judge). ``stop``: called inside the GPU nodes between units
    of work (before a round, each TTO iteration, each denoising step, before the critic); it raises
    to stop the run there (a service's cancel): the node fails, its checkpoint stays resumable, and
    finished nodes are not redone.
    """

    settings: Any = None
    critic: Any = None
    stop: Any = None
