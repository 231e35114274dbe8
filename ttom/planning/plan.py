"""Planning a validated layout: ``plan(prompt)`` and ``repair(layout, report)``.

This is what the agent graph and ``ttom plan`` call, and the one place that holds the policy
"the LLM first, the offline planner as the fallback":

- ``planner="auto"`` uses the LLM when an endpoint is configured (``TTOM_LLM_BASE_URL``) or an
  ``llm`` is passed, and falls back to the offline planner when the LLM fails (the reason is kept
  in ``notes``); ``"llm"`` raises instead; ``"offline"`` never touches the network.
- A layout that fails validation is repaired: by the LLM given the findings (bounded tries), then
  by the deterministic offline repair, then by the offline planner's own layout.
- A layout the critic found wrong (``repair_from_critic``) goes to the LLM with the critic's
  findings, then to the offline fixes of ``ttom.planning.fixes``; either answer must resolve the
  findings and pass the validator.

Every result is a ``PlanResult`` that records what produced it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from ttom.errors import ConfigError
from ttom.layout import Layout
from ttom.planning.errors import LLMError, PlannerError
from ttom.planning.fixes import LayoutIssue, fix_layout, unresolved
from ttom.planning.llm import LLMPlanner, llm_configured
from ttom.planning.offline import FRAME_ASPECT, plan_offline, repair_offline
from ttom.planning.parse import analyze
from ttom.planning.validate import Finding, ValidationReport, validate

if TYPE_CHECKING:
    from ttom.config import Settings

PlannerName = Literal["auto", "offline", "llm"]
PLANNERS: tuple[PlannerName, ...] = ("auto", "offline", "llm")


class PlanResult(BaseModel):
    """A planned (and validated) layout, and what produced it."""

    layout: Layout
    planner: str  # "offline" | "llm" | "offline-repair" | "none"
    method: str | None = None  # structured-output method the LLM server accepted
    model: str | None = None
    endpoint: str | None = None
    prompt_version: str | None = None
    tries: int = 1
    repaired: bool = False
    findings: list[Finding] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)  # fallbacks taken, with their reasons
    seconds: float = 0.0


def _llm_for(planner: PlannerName, settings: Settings | None, llm: LLMPlanner | None,
             prompts_dir: str | Path | None, notes: list[str], strict: bool) -> LLMPlanner | None:
    """The LLM planner this call should use, or None for the offline path.

    ``auto`` uses it when one is passed or an endpoint is configured, ``llm`` always, ``offline``
    never. When it cannot be built, ``strict`` raises; otherwise the reason goes to ``notes``.
    """
    if planner not in PLANNERS:
        raise ConfigError(f"planner={planner!r} is not one of {', '.join(PLANNERS)}")
    if planner == "offline" or (planner == "auto" and llm is None and not llm_configured(settings)):
        return None
    if llm is not None:
        return llm
    try:
        return LLMPlanner(settings, prompts_dir=prompts_dir)
    except (ConfigError, PlannerError) as e:
        if strict:
            raise
        notes.append(f"LLM planner unavailable, used the offline planner: {e}")
        return None


def _check_drawable(prompt: str, layout: Layout) -> None:
    """Refuse a plan none of whose objects is a thing the lexicon knows: made-up words give nothing to draw,
    and optimising attention to them would only waste the GPU."""
    from ttom import words

    names = sorted({o.name for o in layout.objects})
    if names and not any(words.is_known_noun(n) for n in names):
        shown = ", ".join(repr(n) for n in names)
        raise PlannerError(f"nothing to draw in {prompt[:80]!r}: {shown} is not a thing ttom knows; name what the "
                           "video should show, e.g. 'a dog runs to the left'")


def plan(
    prompt: str,
    *,
    planner: PlannerName = "auto",
    settings: Settings | None = None,
    check: bool = True,
    max_repairs: int = 2,
    enrich: bool = True,
    prompts_dir: str | Path | None = None,
    llm: LLMPlanner | None = None,
    frame_aspect: float | None = None,
) -> PlanResult:
    """Plan a validated layout for ``prompt``.

    ``check`` validates and repairs (``max_repairs`` LLM tries, then the offline repair).
    ``enrich=False`` drops the enriched prompt. ``frame_aspect``: the video's width / height, which
    the offline planner sizes its boxes for (default 3:2, the real models' frames).
    """
    if not isinstance(prompt, str) or not prompt.strip():
        raise PlannerError("the prompt is empty; give a sentence describing the scene")
    start = time.perf_counter()
    prompt = prompt.strip()
    notes: list[str] = []
    model = _llm_for(planner, settings, llm, prompts_dir, notes, strict=planner == "llm")
    result: PlanResult | None = None
    if model is not None:
        try:
            layout = model.plan(prompt)
            result = PlanResult(layout=layout, planner="llm", method=model.method, model=model.model,
                                endpoint=model.endpoint, prompt_version=model.prompt_version, notes=notes)
        except LLMError as e:
            if planner == "llm":
                raise
            notes.append(f"LLM planner failed, used the offline planner: {e}")
            model = None
    spec = analyze(prompt)
    if result is None:
        result = PlanResult(layout=plan_offline(prompt, spec, frame_aspect or FRAME_ASPECT), planner="offline",
                            notes=notes)
    _check_drawable(prompt, result.layout)
    if check:
        report = validate(result.layout, spec=spec)
        result.findings = report.findings
        if not report.ok:
            if model is not None:
                fixed = repair(result.layout, report, planner=planner, settings=settings, max_tries=max_repairs,
                               llm=model)
                fixed.notes = notes + fixed.notes
                result = fixed
            else:  # rare: the grammar read something it cannot place
                layout = repair_offline(result.layout, report, spec, frame_aspect or FRAME_ASPECT)
                result = PlanResult(layout=layout, planner="offline", repaired=True, notes=notes,
                                    findings=validate(layout, spec=spec).findings)
    if not enrich and result.layout.enriched_prompt:
        result.layout = result.layout.model_copy(update={"enriched_prompt": None})
    result.seconds = time.perf_counter() - start
    return result


def repair(
    layout: Layout,
    report: ValidationReport | None = None,
    *,
    planner: PlannerName = "auto",
    settings: Settings | None = None,
    max_tries: int = 2,
    llm: LLMPlanner | None = None,
) -> PlanResult:
    """Repair an invalid layout: the LLM first (bounded tries), then offline; ``PlanResult`` records how.

    Raises ``PlannerError`` naming the remaining findings when no repair yields a valid layout.
    """
    from ttom.planning.llm import PROMPT_VERSION

    start = time.perf_counter()
    spec = analyze(layout.prompt)
    report = report or validate(layout, spec=spec)
    if report.ok:
        return PlanResult(layout=layout, planner="none", findings=report.findings, seconds=0.0)
    tries = 0
    notes: list[str] = []
    model = _llm_for(planner, settings, llm, None, notes, strict=False)
    if model is not None:
        current, current_report = layout, report
        for _ in range(max_tries):
            tries += 1
            try:
                current = model.repair(current, current_report.errors)
            except LLMError as e:
                notes.append(str(e))  # the offline repair below is the fallback
                break
            current_report = validate(current, spec=spec)
            if current_report.ok:
                return PlanResult(layout=current, planner="llm", method=model.method, model=model.model,
                                  endpoint=model.endpoint, prompt_version=PROMPT_VERSION, tries=tries, repaired=True,
                                  findings=current_report.findings, notes=notes,
                                  seconds=time.perf_counter() - start)
        layout, report = current, current_report
    fixed = repair_offline(layout, report, spec)
    final = validate(fixed, spec=spec)
    if final.ok:
        return PlanResult(layout=fixed, planner="offline-repair", tries=tries + 1, repaired=True,
                          findings=final.findings, notes=notes, prompt_version=PROMPT_VERSION,
                          seconds=time.perf_counter() - start)
    raise PlannerError(
        f"could not repair the layout for {layout.prompt!r} after {tries} LLM tries and the offline repair; "
        f"still wrong: {final.summary()}" + (f"; LLM: {' | '.join(notes)}" if notes else "")
    )


def repair_from_critic(
    layout: Layout,
    issues: list[LayoutIssue],
    *,
    planner: PlannerName = "auto",
    settings: Settings | None = None,
    llm: LLMPlanner | None = None,
) -> PlanResult:
    """Answer the critic's layout findings: the LLM given them (one try), then the offline fixes.

    The LLM's layout is kept when it resolves every relation, direction and count finding and
    passes the validator; otherwise ``fix_layout`` answers each finding itself. ``notes`` say which
    findings the result still does not resolve (none, normally).
    """
    from ttom.planning.llm import PROMPT_VERSION

    start = time.perf_counter()
    notes: list[str] = []
    model = _llm_for(planner, settings, llm, None, notes, strict=False)
    if model is not None:
        try:
            fixed = model.repair_from_critic(layout, [i.to_finding() for i in issues])
            report = validate(fixed)
            left = unresolved(fixed, issues)
            if report.ok and not left:
                return PlanResult(layout=fixed, planner="llm", method=model.method, model=model.model,
                                  endpoint=model.endpoint, prompt_version=PROMPT_VERSION, repaired=True,
                                  findings=report.findings, notes=notes, seconds=time.perf_counter() - start)
            notes.append("the LLM's layout did not answer the critic: "
                         + "; ".join([*(i.message for i in left), *(str(f) for f in report.errors)]))
        except LLMError as e:
            notes.append(f"LLM repair failed, fixed offline: {e}")
    fixed = fix_layout(layout, issues)
    left = unresolved(fixed, issues)
    if left:
        notes.append("still unresolved after the offline fixes: " + "; ".join(i.message for i in left))
    return PlanResult(layout=fixed, planner="offline-fix", repaired=True, findings=validate(fixed).findings,
                      notes=notes, seconds=time.perf_counter() - start)
