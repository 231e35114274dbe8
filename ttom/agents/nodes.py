"""The agent graph's nodes (``verb_noun``, each returning a partial state update) and routers.

Nodes call into the planner, the memory, the engine and the critic; ``graph.py`` only wires them.
The GPU work (``generate_video``) writes its outputs to the round's folder and puts paths and small
results in the state; φ bytes and frames live in files (safetensors, .npy without pickle).

Progress goes to LangGraph's custom stream (``get_stream_writer``) as dicts with an ``event`` key:
``plan``, ``validate``, ``repair``, ``approve``, ``memory``, ``generate`` (then the engine's own
``tto`` / ``step`` / ``done``), ``critic``, ``reoptimize``, ``memorize``, ``report``.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from langgraph.config import get_config, get_stream_writer
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from ttom.agents.chat import rejected_message, request_text, result_message
from ttom.agents.state import AgentContext, AgentState, RunOptions, check_options
from ttom.critic.rounds import Knobs, round_seed
from ttom.errors import ConfigError
from ttom.layout import Layout
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


@lru_cache(maxsize=8)
def _store_for(url: str, capacity: int, threshold: float, top_k: int):
    from ttom.memory import MemoryStore

    return MemoryStore(url, capacity=capacity, threshold=threshold, top_k=top_k)


def _store(settings):
    """The memory store of ``settings``: one per database and process (one engine and connection pool, reused
    by every request, as a long-running service needs)."""
    return _store_for(settings.memory_url, settings.memory_capacity, settings.memory_threshold, settings.memory_top_k)


def _add_timing(state: AgentState, **seconds: float) -> dict[str, float]:
    t = dict(state.get("timings") or {})
    for k, v in seconds.items():
        t[k] = round(t.get(k, 0.0) + v, 3)
    return t


def _check_stop(runtime: Runtime[AgentContext] | None) -> None:
    """The caller's stop hook (``AgentContext.stop``), when it has one: it raises to stop the run here."""
    stop = runtime.context.stop if runtime is not None and runtime.context is not None else None
    if stop is not None:
        stop()


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


def check_critic(opts: RunOptions, layout: Layout, judge: Any = None) -> None:
    """A critic named by the request that cannot run is an error now, before any GPU work, naming the options
    that work. (``auto`` falls back to no critic, with the reason in the report.)"""
    if judge is not None or opts.critic in ("off", "auto"):
        return
    from ttom.critic.critique import resolve_backend
    from ttom.errors import WeightsNotFoundError

    try:
        resolve_backend(opts.critic, layout)  # builds (and caches) the grounder: its weights load now
    except (WeightsNotFoundError, ImportError) as e:
        # the grounder's own fix names `ttom critic`'s options (--detector ...), which a run does not have
        why = (e.what if isinstance(e, WeightsNotFoundError) else str(e)).rstrip(".: ")
        raise ConfigError(f"the critic {opts.critic!r} cannot run: {why}. Run without a critic (--critic off; "
                          "options.critic 'off'), use --critic shapes for shapes-world scenes, or put the weights in "
                          "the local Hugging Face cache.") from None


# ----- plan, validate, repair, approve ------------------------------------------------------------
def plan_layout(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """A layout for the request (``prompt``, or the last human message: ``ttom.agents.chat``): the given one,
    an edit of the thread's previous one, or a new plan."""
    from ttom.planning.edits import edit_request
    from ttom.planning.plan import plan

    settings = _settings(runtime)
    text, message_id = request_text(state)
    if not text:
        raise PlannerError("the prompt is empty; give a sentence describing the scene (or an edit of the last one)")
    opts = check_options(state.get("options"))
    check_model(opts.model or settings.model)
    start = time.perf_counter()
    info: dict[str, Any] = {"request": text, "via": "message" if message_id else "prompt"}
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
            result = plan(prompt, planner=opts.planner, settings=settings, check=False,
                          frame_aspect=frame_aspect(opts.model or settings.model, opts))
            layout = result.layout
            info.update(planner=result.planner, notes=result.notes, model=result.model)
            if edit is not None:
                info["edit"] = edit.description
    if not layout.objects:
        raise PlannerError(f"no objects found in {layout.prompt!r} ({info['planner']} planner): name what the video "
                           "should show, e.g. 'a dog runs to the left'")
    check_critic(opts, layout, runtime.context.critic if runtime.context is not None else None)
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
        "generation": {}, "critic": None, "critic_history": [], "history": [], "decision": None, "accepted": None,
        "memory": {},
        "timings": {"plan": info["seconds"]}, "run_dir": str(run_dir), "requests": n, "layout": None,
        "prompt": text, "answered_message": message_id or state.get("answered_message"),
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
    """Fix the layout: the validator's findings (LLM, then offline), or the critic's (``repair_from_critic``:
    the LLM given the findings, then the offline fix of each: a relation, a direction, a count, an object never
    found)."""
    from ttom.planning.plan import repair, repair_from_critic
    from ttom.planning.validate import validate

    opts, layout, settings = _options(state), _layout(state), _settings(runtime)
    start = time.perf_counter()
    if state.get("repair_reason") == "critic":
        issues = critic_issues(state.get("critic") or {})
        result = repair_from_critic(layout, issues, planner=opts.planner, settings=settings)
        layout = result.layout
        how = (f"critic: {result.planner} of {', '.join(sorted({i.kind for i in issues}))} "
               f"(objects {sorted({k for i in issues for k in i.object_ids})})")
        if result.notes:
            how += f"; {'; '.join(result.notes)}"
        if not validate(layout, state["scene_prompt"]).ok:
            layout = repair(layout, planner=opts.planner, settings=settings).layout
    else:
        result = repair(layout, validate(layout, state["scene_prompt"]), planner=opts.planner,
                        settings=settings, max_tries=2)
        layout, how = result.layout, f"validator: {result.planner} repair"
    n = state.get("repairs", 0) + 1
    _emit("repair", repairs=n, how=how)
    return {"current_layout": layout.to_dict(), "repairs": n, "recall": {}, "next_tto": None,
            "timings": _add_timing(state, plan=time.perf_counter() - start)}


def critic_issues(critic: dict[str, Any]) -> list:
    """The critic's layout findings (``LayoutIssue``s); from its targets when the summary has none (a
    checkpoint written before the findings were reported: an object never found gets a larger box)."""
    from ttom.planning.fixes import LayoutIssue

    issues = [LayoutIssue.model_validate(i) for i in critic.get("layout_issues") or []]
    if not issues:
        issues = [LayoutIssue(kind="absent", object_ids=[t["id"]], message=f"{t['name']} (id {t['id']}): "
                              f"{', '.join(t.get('issues', []))}") for t in critic.get("targets", [])]
    return issues


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
        chat = {"messages": [rejected_message()]} if _via_message(state) else {}
        return {"decision": "rejected", **chat}
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


def frame_aspect(model: str, opts: RunOptions) -> float:
    """The video's width / height (the request's size, else the model's), which the planner sizes boxes for."""
    from ttom.engine.backends import describe

    video = describe(model).defaults.video
    return dataclasses.replace(video, width=opts.width or video.width, height=opts.height or video.height).aspect


def adapter_signature(model: str, opts: RunOptions) -> dict[str, Any]:
    """The signature φ will have, from the model's card: no weights are loaded (what memory recall must match)."""
    from ttom.engine.backends import describe
    from ttom.engine.tto import expected_signature

    card = describe(model)
    return expected_signature(card, tto_config(card, opts))


def best_effort_signature(signature: dict[str, Any] | None) -> dict[str, Any]:
    """The memory signature of a φ* the critic did not accept: a pool of its own, so that a recall for the
    accepted pool never finds it (and so never skips optimisation with it). The memory store has no field
    for "accepted"; the signature is the store's own matching key, so the mark lives there."""
    return {**(signature or {}), "best_effort": True}


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
        # A hit has this layout's scene structure and a similar geometry (ttom.memory.match); the mode follows
        # the geometry: skip for a near-identical layout, warm for a similar one (an edited layout, bigger or
        # moved, is at most similar). The accepted pool first; a best effort the critic never accepted may
        # warm-start, never skip. A hit removed meanwhile, or whose φ fails its checks (quarantined), is passed
        # over with a note.
        store, notes, layout = _store(settings), [], _layout(state)
        found, pool = store.recall_phi(state["key"], signature, layout=layout, prompt=state["scene_prompt"]), "accepted"
        notes += found.notes
        if found.hit is None:
            found, pool = store.recall_phi(state["key"], best_effort_signature(signature), layout=layout,
                                           prompt=state["scene_prompt"]), "best_effort"
            notes += found.notes
        if found.hit is not None:
            h = found.hit
            path = Path(state["run_dir"]) / "memory_phi.safetensors"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(found.phi)
            mode = opts.tto.mode or opts.memory_mode  # a forced tto mode wins; memory_mode is capped by the hit's
            if not opts.tto.mode and mode == "skip" and h.mode != "skip":
                mode = "warm"
                notes.append(_similar_note(h, store.geometry_skip))
            if pool == "best_effort" and mode == "skip":
                mode = "warm"
            recall.update({"hit": True, "entry_id": h.entry_id, "similarity": round(h.similarity, 4),
                           "geometry": None if h.geometry is None else round(h.geometry, 4), "hit_mode": h.mode,
                           "phi_path": str(path), "mode": mode, "key_text": h.key_text, "pool": pool,
                           "quality": h.quality})
        if notes:
            recall["notes"] = notes
    _emit("memory", **{k: v for k, v in recall.items() if k != "phi_path"}, key=state["key"])
    return {"recall": recall, "signature": signature, "timings": _add_timing(state, memory=time.perf_counter() - start)}


def _similar_note(hit, skip_at: float) -> str:
    if hit.geometry is None:
        return (f"memory entry {hit.entry_id} was stored without a layout (an older memory): its φ is a warm "
                "start, not a skip")
    return (f"the remembered layout is similar, not near-identical (geometry {hit.geometry:.2f} < {skip_at:.2f}): "
            "φ from memory is a warm start, not a skip")


# ----- generate, critique, re-optimise -----------------------------------------------------------
def generate_video(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """The GPU TTO tool: optimise φ against the layout and denoise; outputs go to rounds/<k>/."""
    import numpy as np

    from ttom.engine.backends.base import VideoSpec
    from ttom.engine.outputs import write_outputs
    from ttom.engine.tto import choose_mode, generate

    opts, settings = _options(state), _settings(runtime)
    _check_stop(runtime)
    backend = _backend(opts, settings)
    layout = _layout(state)
    k = int(state.get("round", 0)) + 1
    out = Path(state["run_dir"]) / "rounds" / str(k)
    nxt, recall = state.get("next_tto") or {}, state.get("recall") or {}
    mode, phi_path = choose_mode(opts.tto.mode, reoptimise=(nxt["mode"], nxt.get("phi_path")) if nxt else None,
                                 recalled=(recall.get("mode"), recall.get("phi_path")) if recall else None)
    phi = Path(phi_path).read_bytes() if phi_path else None
    cfg = tto_config(backend, opts, mode)
    if nxt.get("knobs"):  # a re-optimisation round: the escalation policy's knobs (ttom.critic.rounds)
        cfg = dataclasses.replace(cfg, **Knobs.from_dict(nxt["knobs"]).overrides())
    seed = round_seed(opts.seed, k)
    d = backend.defaults.video
    spec = VideoSpec(num_frames=opts.frames or d.num_frames, height=opts.height or d.height,
                     width=opts.width or d.width, fps=d.fps)
    steps = opts.steps or backend.defaults.steps
    writer = get_stream_writer()
    n_tto = min(cfg.steps, steps) * cfg.iterations if mode in ("fresh", "warm") else 0
    knobs = Knobs(steps=cfg.steps, iterations=cfg.iterations, lr=cfg.lr, loss_threshold=cfg.loss_threshold,
                  phi_steps=cfg.steps if cfg.phi_steps is None else cfg.phi_steps,
                  object_weights={int(i): float(w) for i, w in (cfg.object_weights or {}).items()})
    writer({"event": "generate", "round": k, "mode": mode, "seed": seed, "steps": steps,
            "tto_steps": min(cfg.steps, steps), "tto_iterations": cfg.iterations, "tto_total": n_tto,
            "object_weights": knobs.to_dict()["object_weights"]})
    result = generate(backend, layout, cfg, spec=spec, steps=steps, guidance_scale=opts.guidance, seed=seed,
                      phi=phi, progress=lambda e: (_check_stop(runtime), writer({**e, "round": k})))
    write_outputs(out, result, layout, opts.model or settings.model)
    np.save(out / "frames.npy", result.frames)  # lossless, for the critic (read back with allow_pickle=False)
    gen = {"round": k, "dir": str(out), "frames": str(out / "frames.npy"), "video": str(out / "video.mp4"),
           "mode": mode, "seed": seed, "knobs": knobs.to_dict(), "denoise_steps": steps,
           "tto": result.tto_report(), "signature": result.signature,
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
    from ttom.critic.policy import prompt_facts
    from ttom.errors import WeightsNotFoundError

    opts, gen = _options(state), state["generation"]
    _check_stop(runtime)
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
    entry = {"round": state["round"], "decision": summary["decision"], "miou": summary.get("miou"),
             "facts": prompt_facts(summary),
             "reasons": summary["reasons"], "seed": gen.get("seed"), "mode": gen.get("mode"), "knobs": gen.get("knobs"),
             "repairs": state.get("repairs", 0), "dir": gen["dir"], "video": gen["video"], "phi_path": gen.get("phi_path"),
             "signature": gen.get("signature")}
    return {"critic": summary, "critic_history": [*state.get("critic_history", []), summary],
            "history": [*state.get("history", []), entry],
            "decision": summary["decision"], "repair_reason": "critic" if summary["decision"] == "repair" else None,
            "timings": _add_timing(state, critic=time.perf_counter() - start)}


def reoptimize(state: AgentState) -> dict[str, Any]:
    """Send the layout back for another round that changes what failed (``ttom.critic.rounds``): fresh noise
    always; with the ``reseed`` policy (default) fresh φ and the recipe, with ``escalate`` the critic's targets
    weighted up in the loss, an escalated optimisation, warm-started from the best φ* so far for this layout."""
    from ttom.critic.rounds import best_round, next_round

    policy = _options(state).reoptimize
    gen, critic = state["generation"], state.get("critic") or {}
    same_layout = [h for h in state.get("history", []) if h.get("repairs", 0) == state.get("repairs", 0)]
    nxt: dict[str, Any] = {"mode": "fresh"}
    if gen.get("knobs"):
        first = next((h for h in same_layout if h.get("knobs")), gen)
        knobs, warm = next_round(policy, critic.get("targets", []), Knobs.from_dict(gen["knobs"]),
                                 Knobs.from_dict(first["knobs"]), losses=(gen.get("tto") or {}).get("losses", []),
                                 denoise_steps=gen["denoise_steps"])
        nxt["knobs"] = knobs.to_dict()
    else:
        warm = policy == "escalate"
    start_from = best_round([h for h in same_layout if h.get("phi_path")]) if warm else None
    if start_from:
        nxt.update(mode="warm", phi_path=start_from["phi_path"], from_round=start_from["round"])
    _emit("reoptimize", round=state["round"] + 1, policy=policy, mode=nxt["mode"], from_round=nxt.get("from_round"),
          targets=[t["name"] for t in critic.get("targets", [])], knobs=nxt.get("knobs"))
    return {"next_tto": nxt}


# ----- memorize, report --------------------------------------------------------------------------
def memorize_result(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Write the delivered round's φ* to memory: only when the critic accepted it, by default.

    - accepted: update the recalled entry (when it came from the accepted pool) or insert, with the
      critic's mIoU as its quality;
    - not accepted: not memorized, unless ``options.memorize_rejected``: then the best effort goes to
      a separate pool (``best_effort_signature``) with its score, which recall only ever uses to
      warm-start; a layout the critic wanted repaired is never memorized;
    - no critic judged (``critic`` off, or ``auto`` without a detector for the scene): memorized as
      before, quality unknown (the request chose to run without a judge).
    """
    from ttom.critic.rounds import best_round

    opts, recall = _options(state), state.get("recall") or {}
    best = best_round(state.get("history", [])) or {**state["generation"], "decision": state.get("decision")}
    start = time.perf_counter()
    memory = {"hit": bool(recall.get("hit")), "entry_id": recall.get("entry_id"),
              "similarity": recall.get("similarity"), "geometry": recall.get("geometry"),
              "mode": recall.get("mode"), "action": "none"}
    if recall.get("hit"):  # kept apart: entry_id names the entry written to, when one is
        memory["recalled_entry_id"] = recall.get("entry_id")
    if recall.get("notes"):
        memory["notes"] = recall["notes"]  # hits passed over: removed meanwhile, or quarantined
    decision = best.get("decision")
    accepted = {"accept": True, "reoptimize": False, "repair": False}.get(str(decision))
    memory["accepted"] = accepted
    best_effort = accepted is False and opts.memorize_rejected and decision != "repair"
    if not opts.memory:
        memory["reason"] = "memory off"
    elif not best.get("phi_path"):
        memory["reason"] = "no φ (TTO off)"
    elif decision == "repair":
        memory["reason"] = "the critic found the layout wrong and the budget is spent: φ* not memorized"
    elif accepted is False and not best_effort:
        memory["reason"] = ("the critic accepted no round: φ* not memorized (options.memorize_rejected / "
                            "--memorize-rejected stores the best effort for warm starts)")
    else:
        from ttom.memory.types import RecallRef

        pool = "best_effort" if best_effort else "accepted"
        phi = Path(best["phi_path"]).read_bytes()
        signature = best.get("signature") or state["generation"].get("signature")
        if best_effort:  # the mark travels with φ itself too (its metadata), where the store checks it
            from ttom.engine.adapters import stamp_phi

            signature = best_effort_signature(signature)
            phi = stamp_phi(phi, best_effort=True)
        # φ* stands for the layout of the round that made it (a repair may have changed it since the recall)
        layout, key = _round_layout(state, best)
        same_pool = recall.get("hit") and recall.get("pool", "accepted") == pool and key == state["key"]
        hit = (RecallRef(recall["entry_id"], recall["similarity"], recall.get("geometry"), recall.get("hit_mode"))
               if same_pool else None)
        write = _store(_settings(runtime)).memorize(
            key, phi, signature, quality=best.get("miou"), hit=hit, layout=layout,
            request_key=f"{_thread_id()}:{state.get('requests', 0)}:{state['round']}")  # a resumed run writes once
        memory.update(entry_id=write.entry_id, action=write.action, evicted=write.evicted, pool=pool,
                      round=best.get("round"))
    _emit("memorize", **memory)
    return {"memory": memory, "accepted": accepted, "timings": _add_timing(state, memory=time.perf_counter() - start)}


def _round_layout(state: AgentState, best: dict[str, Any]) -> tuple[Layout, str]:
    """The layout a round generated (its layout.json) and its memory key; the current ones when that round
    had this layout (no repair since)."""
    if best.get("repairs", 0) == state.get("repairs", 0) or not best.get("dir"):
        return _layout(state), state["key"]
    from ttom.planning.abstraction import abstract

    layout = Layout.from_file(Path(best["dir"]) / "layout.json")
    return layout, abstract(layout).key


def write_report(state: AgentState) -> dict[str, Any]:
    """The best round's outputs in the run folder, and report.json with whether it was accepted and every
    round's history."""
    from ttom.critic.rounds import best_round

    history = state.get("history", [])
    best = best_round(history)
    gen, run = state["generation"], Path(state["run_dir"])
    src = Path(best["dir"]) if best else Path(gen["dir"])
    critic = state.get("critic")
    if best is not None:
        critic = (state.get("critic_history") or [None] * len(history))[history.index(best)] or critic
    for name in RESULT_FILES:
        if (src / name).exists():
            shutil.copy2(src / name, run / name)
        elif (run / name).exists():
            (run / name).unlink()  # left from an earlier request in the same folder
    report = json.loads((src / "report.json").read_text(encoding="utf-8"))
    accepted = state.get("accepted")
    report.update(
        request=state.get("plan", {}).get("request"), accepted=accepted, memory=state.get("memory"), critic=critic,
        rounds=state["round"], delivered_round=best["round"] if best else state["round"],
        timings=state.get("timings", {}), thread_id=_thread_id(),
        plan={k: v for k, v in state.get("plan", {}).items() if k != "request"},
        validation=state.get("validation"), repairs=state.get("repairs", 0),
        history=[{"round": h["round"], "score": h.get("miou"), "decision": h.get("decision"),
                  "reasons": h.get("reasons", []), "seed": h.get("seed"), "mode": h.get("mode"),
                  "knobs": h.get("knobs"), "layout_repairs": h.get("repairs", 0), "video": h.get("video")}
                 for h in history],
    )
    path = run / "report.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    _emit("report", path=str(path), video=str(run / "video.mp4"), accepted=accepted,
          delivered_round=report["delivered_round"])
    chat = {"messages": [result_message(report, run)]} if _via_message(state) else {}
    return {"report_path": str(path), "video": str(run / "video.mp4"),
            "current_layout": report.get("layout") or state["current_layout"], **chat}


def _via_message(state: AgentState) -> bool:
    """Whether the request came as a chat message (then the answer is an AI message too)."""
    return (state.get("plan") or {}).get("via") == "message"


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
