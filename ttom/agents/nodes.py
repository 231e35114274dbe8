"""The agent graph's nodes (``verb_noun``, each returning a partial state update) and routers.

Nodes call into the planner, the memory, the engine and the critic; ``graph.py`` only wires them.
The GPU work (``generate_video``) writes its outputs to the round's folder and puts paths and small
results in the state; φ bytes and frames live in files (safetensors, .npy without pickle).

Progress goes to LangGraph's custom stream (``get_stream_writer``) as dicts with an ``event`` key:
``plan``, ``validate``, ``repair``, ``approve``, ``memory``, ``generate`` (then the engine's own
``tto`` / ``step`` / ``done``), ``critic``, ``reoptimize``, ``memorize``, ``report``.
"""

from __future__ import annotations

import json
import shutil
import time
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from langgraph.config import get_config, get_stream_writer
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from ttom.agents.state import AgentContext, AgentState, RunOptions, check_options
from ttom.errors import ConfigError
from ttom.layout import Keyframe, Layout
from ttom.planning.errors import PlannerError

# files of a round that make up the request's result (copied to the run folder when it ends)
RESULT_FILES = ("video.mp4", "video.gif", "overlay.png", "layout.json", "pytorch_lora_weights.safetensors",
                "critic.png")


# ----- helpers ---------------------------------------------------------------------------------
def _settings(runtime: Runtime[AgentContext] | None):
    from ttom.config import get_settings

    ctx = runtime.context if runtime is not None else None
    return (ctx.settings if ctx is not None and ctx.settings is not None else None) or get_settings()


def _options(state: AgentState) -> RunOptions:
    """The request's options, validated once per distinct value (the plan node checks them first)."""
    return _parse_options(json.dumps(state.get("options") or {}, sort_keys=True))


@lru_cache(maxsize=64)
def _parse_options(text: str) -> RunOptions:
    return RunOptions.model_validate_json(text)


def _emit(event: str, **data: Any) -> None:
    get_stream_writer()({"event": event, **data})


def _layout(state: AgentState) -> Layout:
    return Layout.parse(state["current_layout"])


def _backend(opts: RunOptions, settings):
    from ttom.engine.backends import load_backend

    return load_backend(opts.model or settings.model, device=opts.device, dtype=opts.dtype)


@lru_cache(maxsize=4)
def _store_for(url: str):
    from ttom.memory import MemoryStore

    return MemoryStore(url)


def _store(settings):
    from ttom.memory import MemoryStore

    if settings.memory_url.startswith("sqlite"):
        return _store_for(settings.memory_url)  # one engine per file and process
    return MemoryStore(settings=settings)


def _add_timing(state: AgentState, **seconds: float) -> dict[str, float]:
    t = dict(state.get("timings") or {})
    for k, v in seconds.items():
        t[k] = round(t.get(k, 0.0) + v, 3)
    return t


def _thread_id() -> str:
    try:
        return str(get_config().get("configurable", {}).get("thread_id") or "default")
    except RuntimeError:
        return "default"


def check_model(name: str) -> None:
    """A clear error for a model that is neither a known name nor a folder (before any planning)."""
    from ttom.engine.backends import ALIASES, available_models

    if name in available_models() or name in ALIASES or Path(name).expanduser().is_dir():
        return
    raise ConfigError(f"unknown model {name!r}: use one of {available_models()} or a folder with model_index.json")


# ----- plan, validate, repair, approve ------------------------------------------------------------
def plan_layout(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """A layout for the request: the given one, an edit of the thread's previous one, or a new plan."""
    from ttom.planning.edits import edit_request
    from ttom.planning.plan import plan

    settings = _settings(runtime)
    text = (state.get("prompt") or "").strip()
    if not text:
        raise PlannerError("the prompt is empty; give a sentence describing the scene (or an edit of the last one)")
    opts = check_options(state.get("options"))
    check_model(opts.model or settings.model)
    start = time.perf_counter()
    info: dict[str, Any] = {"request": text}
    given = state.get("layout")
    previous = Layout.parse(state["current_layout"]) if state.get("current_layout") else None
    if given:
        layout = Layout.parse(given)
        info.update(planner="given")
    else:
        edit = edit_request(text, previous)
        if edit is None and previous is not None and _looks_like_edit(text):
            edit = _llm_edit(text, previous, opts, settings)
        if edit is not None and edit.layout is not None:
            layout = edit.layout
            info.update(planner="edit", edit=edit.description)
        else:
            prompt = edit.replan_prompt if edit is not None else text
            result = plan(prompt, planner=opts.planner, settings=settings, check=False)
            layout = result.layout
            info.update(planner=result.planner, notes=result.notes, model=result.model)
            if edit is not None:
                info["edit"] = edit.description
    if not layout.objects:
        raise PlannerError(f"no objects found in {layout.prompt!r} ({info['planner']} planner): name what the video "
                           "should show, e.g. 'a dog runs to the left'")
    info["seconds"] = round(time.perf_counter() - start, 3)
    n = int(state.get("requests", 0)) + 1
    if opts.out_dir:
        run_dir = Path(opts.out_dir)
    else:  # a thread id names a folder: it must stay inside the runs root
        from ttom.paths import check_id, inside

        runs = settings.cache_dir / "runs"
        run_dir = inside(runs, runs / check_id(_thread_id()) / str(n))
    _emit("plan", planner=info["planner"], prompt=layout.prompt, objects=[o.phrase for o in layout.objects],
          edit=info.get("edit"))
    return {
        "options": opts.model_dump(), "scene_prompt": layout.prompt, "current_layout": layout.to_dict(),
        "plan": info, "repairs": 0, "repair_reason": None, "round": 0, "next_tto": None, "recall": {},
        "generation": {}, "critic": None, "critic_history": [], "decision": None, "memory": {},
        "timings": {"plan": info["seconds"]}, "run_dir": str(run_dir), "requests": n, "layout": None,
    }


def _looks_like_edit(text: str) -> bool:
    words = text.lower().split()
    return bool(words) and words[0] in {"make", "move", "now", "add", "remove", "put", "change", "turn", "shift"}


def _llm_edit(text: str, layout: Layout, opts: RunOptions, settings):
    """An edit the offline grammar does not read, by the LLM (when configured), as a repair instruction."""
    from ttom.planning.edits import Edit
    from ttom.planning.llm import LLMPlanner, llm_configured
    from ttom.planning.validate import Finding

    if opts.planner == "offline" or not llm_configured(settings):
        return None
    finding = Finding(code="wrong_position", severity="error", message=f"the user asks for this change: {text}")
    return Edit(f"LLM edit: {text}", layout=LLMPlanner(settings).repair(layout, [finding]))


def validate_layout(state: AgentState) -> dict[str, Any]:
    """Check the layout against its prompt."""
    from ttom.planning.validate import validate

    report = validate(_layout(state), state["scene_prompt"])
    out = {"ok": report.ok, "errors": [str(f) for f in report.errors], "warnings": [str(f) for f in report.warnings]}
    _emit("validate", **out)
    if not report.ok and state.get("repairs", 0) >= _options(state).max_repairs:
        raise PlannerError(f"the layout for {state['scene_prompt']!r} is still invalid after "
                           f"{state.get('repairs', 0)} repairs: {report.summary()}")
    return {"validation": out, "repair_reason": None if report.ok else "validator"}


def repair_layout(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Fix the layout: the validator's findings (LLM, then offline), or the critic's (enlarge what was not drawn)."""
    from ttom.planning.plan import repair
    from ttom.planning.validate import validate

    opts, layout = _options(state), _layout(state)
    start = time.perf_counter()
    if state.get("repair_reason") == "critic":
        targets = {t["id"] for t in (state.get("critic") or {}).get("targets", [])}
        layout = _enlarge(layout, targets or {o.id for o in layout.objects})
        how = f"critic: enlarged objects {sorted(targets)} x1.25"
        if not validate(layout, state["scene_prompt"]).ok:
            layout = repair(layout, planner=opts.planner, settings=_settings(runtime)).layout
    else:
        result = repair(layout, validate(layout, state["scene_prompt"]), planner=opts.planner,
                        settings=_settings(runtime), max_tries=2)
        layout, how = result.layout, f"validator: {result.planner} repair"
    n = state.get("repairs", 0) + 1
    _emit("repair", repairs=n, how=how)
    return {"current_layout": layout.to_dict(), "repairs": n, "recall": {}, "next_tto": None,
            "timings": _add_timing(state, plan=time.perf_counter() - start)}


def _enlarge(layout: Layout, ids: set[int], f: float = 1.25) -> Layout:
    from ttom.planning.edits import scale_box

    objs = [o.model_copy(update={"keyframes": [Keyframe(t=k.t, box=scale_box(k.box, f)) for k in o.keyframes]})
            if o.id in ids else o for o in layout.objects]
    return layout.model_copy(update={"objects": objs})


def approve_layout(state: AgentState) -> dict[str, Any]:
    """Pause for a human: resume with True / "approve", {"layout": {...}} (an edited layout), or False / "reject"."""
    answer = interrupt({"question": "approve this layout before generating? answer approve, reject, or "
                                    "{'layout': edited layout}",
                        "layout": state["current_layout"], "validation": state.get("validation")})
    if isinstance(answer, dict) and answer.get("layout"):
        layout = Layout.parse(answer["layout"])
        _emit("approve", answer="edited")
        return {"current_layout": layout.to_dict(), "scene_prompt": layout.prompt,
                "plan": {**state.get("plan", {}), "edited_by_human": True}}
    if answer is True or str(answer).strip().lower() in ("approve", "approved", "yes", "y", "ok", "true"):
        _emit("approve", answer="approved")
        return {}
    if answer is False or str(answer).strip().lower() in ("reject", "rejected", "no", "n", "false"):
        _emit("approve", answer="rejected")
        return {"decision": "rejected"}
    raise ConfigError(f"approval answer {answer!r} not understood: resume with 'approve', 'reject' or "
                      "{'layout': {...}}")


# ----- memory ------------------------------------------------------------------------------------
def abstract_scene(state: AgentState) -> dict[str, Any]:
    """The memory key: an abstracted description of the scene."""
    from ttom.planning.abstraction import abstract

    return {"key": abstract(_layout(state), state["scene_prompt"]).key}


def tto_config(model, opts: RunOptions, mode: str = "fresh"):
    """The engine's TTOConfig for these options: the model's recipe (a backend's or a card's), overridden
    where the request says."""
    from ttom.engine.tto import recipe_config

    return recipe_config(model, mode=mode, **opts.tto.config_overrides())


def adapter_signature(model: str, opts: RunOptions) -> dict[str, Any]:
    """The signature φ will have, from the model's card: no weights are loaded (what memory recall must match)."""
    from ttom.engine.backends import describe
    from ttom.engine.tto import expected_signature

    card = describe(model)
    return expected_signature(card, tto_config(card, opts))


def recall_memory(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Look for φ learned on a similar scene; on a hit, write it to the run folder for generate."""
    opts, settings = _options(state), _settings(runtime)
    start = time.perf_counter()
    signature = adapter_signature(opts.model or settings.model, opts)
    recall: dict[str, Any] = {"hit": False}
    if opts.phi:
        if not Path(opts.phi).is_file():
            raise ConfigError(f"φ file {opts.phi} does not exist")
        recall.update(skipped="φ given as a file", phi_path=str(opts.phi), mode=opts.tto.mode or "warm")
    elif not opts.memory or opts.tto.mode in ("fresh", "off"):
        recall["skipped"] = "memory off" if not opts.memory else f"tto mode {opts.tto.mode}"
    else:
        # a hit removed meanwhile, or whose φ fails its checks (quarantined), is passed over with a note
        found = _store(settings).recall_phi(state["key"], signature)
        if found.notes:
            recall["notes"] = found.notes
        if found.hit is not None:
            h = found.hit
            path = Path(state["run_dir"]) / "memory_phi.safetensors"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(found.phi)
            recall.update({"hit": True, "entry_id": h.entry_id, "similarity": round(h.similarity, 4),
                           "phi_path": str(path), "mode": opts.tto.mode or opts.memory_mode, "key_text": h.key_text})
    _emit("memory", **{k: v for k, v in recall.items() if k != "phi_path"}, key=state["key"])
    return {"recall": recall, "signature": signature, "timings": _add_timing(state, memory=time.perf_counter() - start)}


# ----- generate, critique, re-optimise -----------------------------------------------------------
def generate_video(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """The GPU TTO tool: optimise φ against the layout and denoise; outputs go to rounds/<k>/."""
    import numpy as np

    from ttom.engine.backends.base import VideoSpec
    from ttom.engine.outputs import write_outputs
    from ttom.engine.tto import choose_mode, generate

    opts, settings = _options(state), _settings(runtime)
    backend = _backend(opts, settings)
    layout = _layout(state)
    k = int(state.get("round", 0)) + 1
    out = Path(state["run_dir"]) / "rounds" / str(k)
    nxt, recall = state.get("next_tto") or {}, state.get("recall") or {}
    mode, phi_path = choose_mode(opts.tto.mode, reoptimise=(nxt["mode"], nxt.get("phi_path")) if nxt else None,
                                 recalled=(recall.get("mode"), recall.get("phi_path")) if recall else None)
    phi = Path(phi_path).read_bytes() if phi_path else None
    cfg = tto_config(backend, opts, mode)
    d = backend.defaults.video
    spec = VideoSpec(num_frames=opts.frames or d.num_frames, height=opts.height or d.height,
                     width=opts.width or d.width, fps=d.fps)
    steps = opts.steps or backend.defaults.steps
    writer = get_stream_writer()
    n_tto = min(cfg.steps, steps) * cfg.iterations if mode in ("fresh", "warm") else 0
    writer({"event": "generate", "round": k, "mode": mode, "steps": steps, "tto_steps": min(cfg.steps, steps),
            "tto_iterations": cfg.iterations, "tto_total": n_tto})
    result = generate(backend, layout, cfg, spec=spec, steps=steps, guidance_scale=opts.guidance, seed=opts.seed,
                      phi=phi, progress=lambda e: writer({**e, "round": k}))
    write_outputs(out, result, layout, opts.model or settings.model)
    np.save(out / "frames.npy", result.frames)  # lossless, for the critic (read back with allow_pickle=False)
    gen = {"round": k, "dir": str(out), "frames": str(out / "frames.npy"), "video": str(out / "video.mp4"),
           "mode": mode, "tto": result.tto_report(), "signature": result.signature,
           "phi_path": str(out / "pytorch_lora_weights.safetensors") if result.phi else None}
    t = result.timings
    return {"round": k, "next_tto": None, "generation": gen,
            "timings": _add_timing(state, tto=t.get("tto", 0.0), denoise=t.get("denoise", 0.0),
                                   decode=t.get("decode", 0.0))}


def critique_video(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Find the layout's objects in the video, score them, and decide: accept, reoptimize or repair."""
    import numpy as np

    from ttom.critic.config import CriticConfig
    from ttom.critic.critique import critique
    from ttom.errors import WeightsNotFoundError

    opts, gen = _options(state), state["generation"]
    judge = runtime.context.critic if runtime.context is not None else None
    start = time.perf_counter()
    if judge is None and opts.critic == "off":
        summary = {"backend": None, "decision": "skipped", "reasons": ["the critic is off (options.critic)"]}
    else:
        frames = np.load(gen["frames"], allow_pickle=False)
        try:
            report = critique(frames, _layout(state), backend=judge or opts.critic,
                              config=CriticConfig(**opts.critic_thresholds), history=state.get("critic_history", []),
                              overlay_path=Path(gen["dir"]) / "critic.png")
            summary = report.summary()
        except (WeightsNotFoundError, ImportError) as e:
            if opts.critic != "auto":
                raise
            summary = {"backend": None, "decision": "skipped",
                       "reasons": [f"no critic available for this scene: {e}"]}
    _emit("critic", round=state["round"], decision=summary["decision"], miou=summary.get("miou"),
          reasons=summary["reasons"])
    return {"critic": summary, "critic_history": [*state.get("critic_history", []), summary],
            "decision": summary["decision"], "repair_reason": "critic" if summary["decision"] == "repair" else None,
            "timings": _add_timing(state, critic=time.perf_counter() - start)}


def reoptimize(state: AgentState) -> dict[str, Any]:
    """Send φ* back for more optimisation: the next round warm-starts from this round's φ*."""
    gen = state["generation"]
    nxt = {"mode": "warm", "phi_path": gen["phi_path"]} if gen.get("phi_path") else {"mode": "fresh"}
    _emit("reoptimize", round=state["round"] + 1, mode=nxt["mode"],
          targets=[t["name"] for t in (state.get("critic") or {}).get("targets", [])])
    return {"next_tto": nxt}


# ----- memorize, report --------------------------------------------------------------------------
def memorize_result(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Write φ* to memory (update the recalled entry, or insert) once accepted or the round budget is spent.

    As ARCHITECTURE.md's graph: a φ* the critic never accepted is still the best effort for a sound
    layout, and a later similar request starts from it; its quality (the critic's mIoU) is stored
    with it. A layout the critic wanted repaired is not memorized.
    """
    opts, gen, recall = _options(state), state["generation"], state.get("recall") or {}
    start = time.perf_counter()
    memory = {"hit": bool(recall.get("hit")), "entry_id": recall.get("entry_id"),
              "similarity": recall.get("similarity"), "action": "none"}
    if recall.get("notes"):
        memory["notes"] = recall["notes"]  # hits passed over: removed meanwhile, or quarantined
    decision = state.get("decision")
    if not opts.memory:
        memory["reason"] = "memory off"
    elif not gen.get("phi_path"):
        memory["reason"] = "no φ (TTO off)"
    elif decision == "repair":
        memory["reason"] = "the critic asked for a layout repair and the budget is spent: φ* not memorized"
    else:
        from ttom.memory.types import RecallRef

        critic = state.get("critic") or {}
        hit = RecallRef(recall["entry_id"], recall["similarity"]) if recall.get("hit") else None
        write = _store(_settings(runtime)).memorize(state["key"], Path(gen["phi_path"]).read_bytes(),
                                                    gen.get("signature"), quality=critic.get("miou"), hit=hit,
                                                    request_key=f"{_thread_id()}:{state.get('requests', 0)}:{state['round']}")
        memory.update(entry_id=write.entry_id, action=write.action, evicted=write.evicted)
    _emit("memorize", **memory)
    return {"memory": memory, "timings": _add_timing(state, memory=time.perf_counter() - start)}


def write_report(state: AgentState) -> dict[str, Any]:
    """The final round's outputs in the run folder, and report.json with the memory and critic parts."""
    gen, run = state["generation"], Path(state["run_dir"])
    src = Path(gen["dir"])
    for name in RESULT_FILES:
        if (src / name).exists():
            shutil.copy2(src / name, run / name)
        elif (run / name).exists():
            (run / name).unlink()  # left from an earlier request in the same folder
    report = json.loads((src / "report.json").read_text(encoding="utf-8"))
    report.update(
        request=state.get("plan", {}).get("request"), memory=state.get("memory"), critic=state.get("critic"),
        rounds=state["round"], timings=state.get("timings", {}), thread_id=_thread_id(),
        plan={k: v for k, v in state.get("plan", {}).items() if k != "request"},
        validation=state.get("validation"), repairs=state.get("repairs", 0),
        history=[{"round": i + 1, "decision": c.get("decision"), "miou": c.get("miou")}
                 for i, c in enumerate(state.get("critic_history", []))],
    )
    path = run / "report.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    _emit("report", path=str(path), video=str(run / "video.mp4"))
    return {"report_path": str(path), "video": str(run / "video.mp4")}


# ----- routers ------------------------------------------------------------------------------------
def route_after_validate(state: AgentState) -> Literal["repair_layout", "approve_layout", "abstract_scene"]:
    if not state["validation"]["ok"]:
        return "repair_layout"
    return "approve_layout" if _options(state).approve else "abstract_scene"


def route_after_approve(state: AgentState) -> Literal["abstract_scene", "__end__"]:
    return "__end__" if state.get("decision") == "rejected" else "abstract_scene"


def route_after_critique(state: AgentState) -> Literal["reoptimize", "repair_layout", "memorize_result"]:
    opts, decision, k = _options(state), state.get("decision"), state.get("round", 0)
    if decision == "reoptimize" and k < opts.max_rounds and opts.tto.can_optimise:
        return "reoptimize"
    if decision == "repair" and k < opts.max_rounds and state.get("repairs", 0) < opts.max_repairs:
        return "repair_layout"
    return "memorize_result"
