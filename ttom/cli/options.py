"""Options shared by the commands, in one place.

``run_options`` gives ``ttom generate`` and ``ttom chat`` one option set (the ``RunOptions`` of a
request): a command decorated with it receives them as one ``options`` dict. Every choice option
is a ``Literal`` type (the device a checked pattern), so a bad value is refused when the command line is
parsed (exit 2, the choices named) and ``--help`` lists the choices.
"""

from __future__ import annotations

import functools
import inspect
import re
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from ttom.config import DEVICE_PATTERN

MODEL_HELP = ("Backend: shapes (bundled), tiny-cogvideox, tiny-wan, cogvideox-2b, cogvideox-5b, cogvideox1.5-5b, "
              "wan2.1-1.3b, wan2.1-14b, or a local diffusers folder.")
# Choice options are Literal types: typer checks them when the command line is parsed and lists them in --help.
PlannerName = Literal["auto", "offline", "llm"]
CriticName = Literal["auto", "shapes", "transformers", "sam2", "off"]
TTOMode = Literal["fresh", "warm", "skip", "off"]
MemoryMode = Literal["skip", "warm"]
ReoptimizePolicy = Literal["reseed", "escalate"]
DtypeName = Literal["auto", "fp32", "bf16", "fp16"]
Format = Literal["json", "jsonl"]
_DEVICE = re.compile(DEVICE_PATTERN)


def check_device(value: str | None) -> str | None:
    if value is not None and not _DEVICE.fullmatch(value):
        raise typer.BadParameter(f"{value!r} is not a device: use auto, cpu, mps, cuda or cuda:N")
    return value


def parse_names(text: str | None) -> tuple[str, ...] | None:
    """'motion, spatial' → ('motion', 'spatial'); None or only commas → None."""
    names = tuple(x.strip() for x in (text or "").split(",") if x.strip())
    return names or None


def parse_ints(text: str | None, what: str) -> tuple[int, ...] | None:
    """'3' or '14,15' → (14, 15); a ``ConfigError`` naming the option otherwise."""
    if text is None:
        return None
    try:
        values = tuple(int(x) for x in text.replace(" ", "").split(",") if x)
    except ValueError:
        values = ()
    if not values or min(values) < 0:
        from ttom.errors import ConfigError

        raise ConfigError(f"{what} must be comma-separated integers >= 0, got {text!r}")
    return values


def parse_checkpointing(value: str | None) -> bool | int | None:
    """``--checkpointing``: 'all' → every block, N → the first N blocks, unset → the run's default."""
    if value is None:
        return None
    if value.strip().lower() == "all":
        return True
    if value.strip().isdigit():
        return int(value)
    from ttom.errors import ConfigError

    raise ConfigError(f"--checkpointing takes 'all' or a number of blocks, got {value!r}")


JSON_OPT = typer.Option(False, "--json", help="Print JSON instead of a table.")
Device = Annotated[str, typer.Option("--device", help="auto | cpu | mps | cuda | cuda:N", callback=check_device)]
Dtype = Annotated[DtypeName, typer.Option("--dtype", help="Model precision.")]

# The run options of ``ttom generate`` and ``ttom chat``: name → (annotation, default). None = not
# given (the model's recipe, the settings or RunOptions' default applies).
_RUN_OPTIONS: dict[str, tuple[Any, Any]] = {
    "model": (Annotated[str | None, typer.Option("--model", "-m", help=MODEL_HELP + " Default: TTOM_MODEL.")], None),
    "seed": (Annotated[int, typer.Option("--seed", help="Noise seed of the first round.")], 0),
    "steps": (Annotated[int | None, typer.Option("--steps", min=1, help="Denoising steps (default: the model's recipe).")], None),
    "guidance": (Annotated[float | None, typer.Option("--guidance", help="Classifier-free guidance scale.")], None),
    "frames": (Annotated[int | None, typer.Option("--frames", min=1, help="Number of frames.")], None),
    "height": (Annotated[int | None, typer.Option("--height", min=8)], None),
    "width": (Annotated[int | None, typer.Option("--width", min=8)], None),
    "no_tto": (Annotated[bool, typer.Option("--no-tto", help="Plain model: no test-time optimisation.")], False),
    "tto_mode": (Annotated[TTOMode | None, typer.Option("--tto-mode",
                                                    help="First round's TTO mode (default fresh; warm with --phi).")], None),
    "tto_steps": (Annotated[int | None, typer.Option("--tto-steps", min=0,
                                                     help="TTO before each of the first K denoising steps.")], None),
    "tto_iterations": (Annotated[int | None, typer.Option("--tto-iterations", "--tto-iters", min=0,
                                                          help="At most N optimisation iterations per TTO step.")], None),
    "lr": (Annotated[float | None, typer.Option("--lr", help="AdamW learning rate for φ (default: the recipe's).")], None),
    "loss_threshold": (Annotated[float | None, typer.Option("--loss-threshold",
                                                            help="Early stop when the loss (or, where the recipe says stop_on worst, its largest object-frame term) is below this.")], None),
    "layers": (Annotated[str | None, typer.Option("--layers", help="Supervised blocks, e.g. '3' or '14,15' "
                                                                   "(default: the model's).")], None),
    "rank": (Annotated[int | None, typer.Option("--rank", min=1, help="LoRA rank of φ.")], None),
    "checkpointing": (Annotated[str | None, typer.Option(
        "--checkpointing", help="Gradient checkpointing in the TTO forward: 'all' blocks or the first N (less GPU "
                                "memory, more time; docs/benchmarks.md has the trade-off).")], None),
    "phi": (Annotated[Path | None, typer.Option("--phi", help="Start from φ in this safetensors file "
                                                              "(with --tto-mode skip|warm).")], None),
    "device": (Device, "auto"),
    "dtype": (Dtype, "auto"),
    "planner": (Annotated[PlannerName | None, typer.Option("--planner",
                                                   help="Layout planner (auto: the LLM when TTOM_LLM_BASE_URL is set).")], None),
    "no_memory": (Annotated[bool, typer.Option("--no-memory", help="Neither recall φ from memory nor memorize φ*.")], False),
    "memorize_rejected": (Annotated[bool, typer.Option(
        "--memorize-rejected", help="When the critic accepts no round, still memorize the best round's φ* (with its "
                                    "score, marked best-effort: later requests may warm-start from it, never skip "
                                    "optimisation with it).")], False),
    "memory_mode": (Annotated[MemoryMode | None, typer.Option("--memory-mode",
                                                       help="On a memory hit: skip (load φ) or warm (continue it).")], None),
    "max_rounds": (Annotated[int | None, typer.Option("--max-rounds", min=1,
                                                      help="At most this many generations per request (3).")], None),
    "reoptimize": (Annotated[ReoptimizePolicy | None, typer.Option(
        "--reoptimize", help="A re-optimisation round: reseed (fresh noise and φ, the recipe; the default, which "
                             "won ttom bench loop) or escalate (the critic's targets weighted up, a stronger "
                             "optimisation, a warm start); docs/loop.md.")], None),
    "critic": (Annotated[CriticName | None, typer.Option("--critic", help="Critic backend.")], None),
    "approve": (Annotated[bool, typer.Option("--approve", help="Show the layout and ask before the GPU work.")], False),
}


def to_run_options(values: dict[str, Any]) -> dict[str, Any]:
    """The ``RunOptions`` dict (``ttom.agents.state``) from the command-line values; unset ones are left out."""
    tto = {"mode": "off" if values["no_tto"] else values["tto_mode"], "steps": values["tto_steps"],
           "iterations": values["tto_iterations"], "lr": values["lr"], "loss_threshold": values["loss_threshold"],
           "layers": list(parse_ints(values["layers"], "--layers") or ()) or None, "rank": values["rank"],
           "gradient_checkpointing": parse_checkpointing(values["checkpointing"])}
    out = {k: values[k] for k in ("model", "seed", "steps", "guidance", "frames", "height", "width", "device", "dtype",
                                  "planner", "memory_mode", "max_rounds", "reoptimize", "critic")}
    out.update(memory=False if values["no_memory"] else None, approve=values["approve"] or None,
               memorize_rejected=values["memorize_rejected"] or None,
               phi=str(values["phi"]) if values["phi"] else None, tto={k: v for k, v in tto.items() if v is not None})
    return {k: v for k, v in out.items() if v is not None and v != {}}


def run_options(command):
    """Add the shared run options to a typer command; it receives them as ``options`` (a RunOptions dict)."""
    sig = inspect.signature(command)
    hints = typing.get_type_hints(command, include_extras=True)  # the command module's names, resolved
    own = [p.replace(annotation=hints.get(p.name, p.annotation)) for p in sig.parameters.values()
           if p.name != "options"]
    shared = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
              for name, (annotation, default) in _RUN_OPTIONS.items()]

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ttom.agents.state import check_options

        values = {name: kwargs.pop(name) for name in _RUN_OPTIONS}
        options = to_run_options(values)
        check_options(options)  # every bound, before anything starts
        return command(*args, options=options, **kwargs)

    params = own + shared
    wrapper.__signature__ = sig.replace(parameters=params, return_annotation=None)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    del wrapper.__wrapped__  # typer must read the signature above, not the command's own
    return wrapper
