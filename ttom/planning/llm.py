"""The LLM planner: layouts from any OpenAI-compatible endpoint (``ttom.planning.plan`` decides when).

The LLM planner uses langchain-openai's ``ChatOpenAI`` with structured output into the Layout
contract. Servers differ in what they accept, so it tries, in order, ``json_schema`` (OpenAI
``response_format``), ``function_calling`` (a forced tool call) and ``json_mode`` (JSON object
output, the schema in the prompt), and keeps the first one the server accepts. Timeouts and
retries come from the settings (``TTOM_LLM_TIMEOUT``, ``TTOM_LLM_MAX_RETRIES``); the openai client
retries connection errors, 429 and 5xx by itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, ValidationError

from ttom.errors import ConfigError
from ttom.layout import Keyframe, Layout, LayoutError, LayoutObject
from ttom.planning.errors import LLMOutputError, LLMServerError, LLMUnreachableError
from ttom.planning.validate import Finding
from ttom.prompts import load_prompt

if TYPE_CHECKING:
    from ttom.config import Settings

PlannerName = Literal["auto", "offline", "llm"]
Method = Literal["json_schema", "function_calling", "json_mode"]
METHODS: tuple[Method, ...] = ("json_schema", "function_calling", "json_mode")
PROMPT_NAMES = ("layout_system", "layout_examples", "layout_user", "layout_json_mode", "repair_user",
                "repair_critic_user", "retry_user")
# Status codes that mean "this server does not take this kind of request": try the next method.
_UNSUPPORTED = {400, 404, 405, 415, 422, 501}


def _version(directory: str | Path | None = None) -> str:
    import hashlib

    h = hashlib.sha1()
    for n in PROMPT_NAMES:
        h.update(load_prompt(n, directory).text.encode("utf-8"))
    return h.hexdigest()[:8]


PROMPT_VERSION = _version()


# --- what the LLM fills in: plain types, no defaults or constraints (OpenAI strict mode forbids them)
class DraftKeyframe(BaseModel):
    t: float = Field(description="normalised time: 0 = first frame, 1 = last frame")
    box: list[float] = Field(description="[x0, y0, x1, y1] as fractions of the frame; origin top-left, y down")


class DraftObject(BaseModel):
    id: int = Field(description="0, 1, 2, ... in list order")
    name: str = Field(description="the object's noun as the request writes it, singular")
    phrase: str = Field(description="the noun phrase with its attributes")
    keyframes: list[DraftKeyframe] = Field(description="boxes over time, t increasing")


class LayoutDraft(BaseModel):
    """A video layout: one track of boxes per object."""

    reasoning: str = Field(description="two or three sentences on placement and motion")
    objects: list[DraftObject]
    background: str = Field(description="one or two words for the setting, or empty")
    enriched_prompt: str = Field(description="a richer rewrite of the request for the video model")


SCHEMA: dict[str, Any] = {**LayoutDraft.model_json_schema(), "title": "layout"}


def llm_configured(settings: Settings | None = None) -> bool:
    from ttom.config import get_settings

    return bool((settings or get_settings()).llm_base_url)


# ---------------------------------------------------------------------------------------------
def draft_to_layout(data: Any, prompt: str, source: str = "the LLM") -> Layout:
    """Turn the LLM's JSON into a ``Layout``; ``LLMOutputError`` naming the bad fields otherwise.

    Boxes a little outside the frame are clipped (LLMs place things partly off-screen); keyframes
    are sorted by time and same-time duplicates dropped.
    """
    try:
        draft = LayoutDraft.model_validate(data)
    except ValidationError as e:
        errs = "; ".join(f"{'.'.join(map(str, er['loc'])) or 'layout'}: {er['msg']}" for er in e.errors()[:6])
        raise LLMOutputError(f"{source} returned JSON that does not follow the layout schema: {errs}") from None
    objects = []
    for i, o in enumerate(draft.objects):
        kfs: dict[float, tuple[float, float, float, float]] = {}
        for j, kf in enumerate(o.keyframes):
            if len(kf.box) != 4:
                raise LLMOutputError(f"{source} returned objects.{i}.keyframes.{j}.box with {len(kf.box)} numbers; a box is [x0, y0, x1, y1]")
            if max(kf.box) > 2.0 or min(kf.box) < -1.0:
                raise LLMOutputError(f"{source} returned objects.{i}.keyframes.{j}.box={kf.box}: boxes must be fractions of the frame in [0, 1], not pixels")
            x0, y0, x1, y1 = (min(max(v, 0.0), 1.0) for v in kf.box)
            if x1 - x0 > 1e-3 and y1 - y0 > 1e-3:
                kfs[min(max(kf.t, 0.0), 1.0)] = (x0, y0, x1, y1)
        if not kfs:
            raise LLMOutputError(f"{source} returned object {i} ({o.name!r}) with no usable keyframe (every box is empty or off-screen)")
        try:
            objects.append(LayoutObject(id=o.id, name=o.name, phrase=o.phrase or o.name,
                                        keyframes=[Keyframe(t=t, box=b) for t, b in sorted(kfs.items())]))
        except ValidationError as e:
            raise LLMOutputError(f"{source} returned an unusable object {i}: {e.errors()[0]['msg']}") from None
    try:
        return Layout(prompt=prompt, objects=objects, background=draft.background.strip(),
                      reasoning=draft.reasoning.strip() or None, enriched_prompt=draft.enriched_prompt.strip() or None)
    except (ValidationError, LayoutError) as e:
        msg = e.errors()[0]["msg"] if isinstance(e, ValidationError) else str(e)
        raise LLMOutputError(f"{source} returned an invalid layout: {msg}") from None


def layout_to_draft_json(layout: Layout) -> str:
    d = layout.to_dict()
    draft = {"reasoning": d.get("reasoning", ""), "objects": d["objects"], "background": d.get("background", ""),
             "enriched_prompt": d.get("enriched_prompt", "")}
    return json.dumps(draft, ensure_ascii=False)


class LLMPlanner:
    """Layouts from an OpenAI-compatible chat endpoint through ``ChatOpenAI``.

    ``chat_model`` replaces the ``ChatOpenAI`` built from the settings (any LangChain chat model
    with ``with_structured_output``); ``prompts_dir`` overrides prompt files by name.
    """

    def __init__(self, settings: Settings | None = None, *, prompts_dir: str | Path | None = None,
                 methods: Sequence[Method] = METHODS, chat_model: Any = None) -> None:
        from ttom.config import get_settings

        self.settings = settings or get_settings()
        if chat_model is None and not self.settings.llm_base_url:
            raise ConfigError("no LLM endpoint configured: set TTOM_LLM_BASE_URL (e.g. http://localhost:8000/v1 for "
                              "vLLM, http://localhost:11434/v1 for Ollama) or use the offline planner")
        from ttom.config import mask_url

        # what reports, notes and errors show: never the password of a user:password@ URL
        self.endpoint = mask_url(self.settings.llm_base_url) or "(custom chat model)"
        self.model = self.settings.llm_model
        self.methods = list(methods)
        bad = [m for m in self.methods if m not in METHODS]
        if bad or not self.methods:
            raise ConfigError(f"unknown structured-output methods {bad}; choose from {list(METHODS)}")
        self.method: Method | None = None  # the first method the server accepted
        self.prompts = {n: load_prompt(n, prompts_dir) for n in PROMPT_NAMES}
        self.prompt_version = _version(prompts_dir)
        self._chat = chat_model if chat_model is not None else self._make_chat()

    def _make_chat(self) -> Any:
        from langchain_openai import ChatOpenAI

        s = self.settings
        return ChatOpenAI(
            model=s.llm_model, base_url=s.llm_base_url, api_key=s.llm_api_key or "EMPTY",  # local servers need none
            timeout=s.llm_timeout, max_retries=s.llm_max_retries, temperature=s.llm_temperature,
        )

    # --- messages -----------------------------------------------------------------------------
    def _examples(self) -> list[tuple[str, str]]:
        out = []
        for block in self.prompts["layout_examples"].text.split("\n---\n"):
            req, _, lay = block.strip().partition("\nLayout:")
            out.append((req.removeprefix("Request:").strip(), lay.strip()))
        return out

    def _messages(self, user: str, method: Method, extra: Sequence[Any] = ()) -> list[Any]:
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

        system = self.prompts["layout_system"].text
        if method == "json_mode":
            system += "\n\n" + self.prompts["layout_json_mode"].format(schema=json.dumps(SCHEMA))
        msgs: list[Any] = [SystemMessage(system)]
        for req, lay in self._examples():
            msgs += [HumanMessage(self.prompts["layout_user"].format(prompt=req)), AIMessage(lay)]
        return [*msgs, HumanMessage(user), *extra]

    # --- one structured call, trying the methods the server may accept ----------------------
    def _ask(self, build: Callable[[Method], list[Any]]) -> Any:
        import openai

        tried: list[str] = []
        for method in [self.method] if self.method else self.methods:
            runnable = self._chat.with_structured_output(SCHEMA, method=method, include_raw=True)
            try:
                out = runnable.invoke(build(method))
            except openai.APITimeoutError:
                raise LLMUnreachableError(
                    f"LLM endpoint {self.endpoint} (model {self.model}) did not answer within "
                    f"{self.settings.llm_timeout:g} s after {self.settings.llm_max_retries} retries; "
                    "check the server or raise TTOM_LLM_TIMEOUT") from None
            except openai.APIConnectionError as e:
                raise LLMUnreachableError(
                    f"cannot reach the LLM endpoint {self.endpoint}: {e.__cause__ or e}; is the server running "
                    "and TTOM_LLM_BASE_URL right?") from None
            except (openai.AuthenticationError, openai.PermissionDeniedError) as e:
                raise LLMServerError(
                    f"LLM endpoint {self.endpoint} refused the API key (HTTP {e.status_code}): {_msg(e)}; "
                    "set OPENAI_API_KEY or TTOM_LLM_API_KEY") from None
            except openai.APIStatusError as e:
                if e.status_code in _UNSUPPORTED:
                    tried.append(f"{method}: HTTP {e.status_code} {_msg(e)}")
                    continue
                raise LLMServerError(
                    f"LLM endpoint {self.endpoint} (model {self.model}) answered HTTP {e.status_code}: {_msg(e)}") from None
            raw, parsed, err = out["raw"], out["parsed"], out["parsing_error"]
            if method == "function_calling" and parsed is None and err is None and not getattr(raw, "tool_calls", None):
                tried.append(f"{method}: the server answered without a tool call")
                continue  # tools ignored by the server
            self.method = method
            if err is not None or parsed is None:
                content = str(getattr(raw, "content", ""))[:200]
                raise LLMOutputError(
                    f"LLM endpoint {self.endpoint} (model {self.model}, {method}) returned output that is not a "
                    f"JSON layout: {str(err)[:300] if err else 'empty answer'}; the answer began {content!r}")
            return parsed
        raise LLMServerError(
            f"LLM endpoint {self.endpoint} (model {self.model}) accepted none of the structured-output methods: "
            + "; ".join(tried))

    def _ask_layout(self, prompt: str, user: str, retries: int = 1) -> Layout:
        """Ask for a layout; an unreadable answer is sent back once with the reason."""
        from langchain_core.messages import HumanMessage

        extra: list[Any] = []
        last: LLMOutputError | None = None
        for _ in range(1 + retries):
            try:
                data = self._ask(lambda m, extra=extra: self._messages(user, m, extra))
                return draft_to_layout(data, prompt, source=f"LLM endpoint {self.endpoint} (model {self.model})")
            except LLMOutputError as e:
                last = e
                extra = [HumanMessage(self.prompts["retry_user"].format(error=str(e), prompt=prompt))]
        assert last is not None
        raise last

    # --- public -------------------------------------------------------------------------------
    def plan(self, prompt: str) -> Layout:
        """A layout for ``prompt`` (with its enriched prompt), not yet validated."""
        return self._ask_layout(prompt, self.prompts["layout_user"].format(prompt=prompt))

    def repair(self, layout: Layout, findings: Sequence[Finding]) -> Layout:
        """The layout corrected by the LLM, given the validator's findings."""
        user = self.prompts["repair_user"].format(
            prompt=layout.prompt, findings="\n".join(f"- {f}" for f in findings) or "- (none listed)",
            layout=layout_to_draft_json(layout))
        return self._ask_layout(layout.prompt, user)

    def repair_from_critic(self, layout: Layout, findings: Sequence[Finding]) -> Layout:
        """The layout corrected by the LLM, given the critic's findings on the video it produced."""
        user = self.prompts["repair_critic_user"].format(
            prompt=layout.prompt, findings="\n".join(f"- {f}" for f in findings) or "- (none listed)",
            layout=layout_to_draft_json(layout))
        return self._ask_layout(layout.prompt, user)


def _msg(e: Any) -> str:
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:300]
        return json.dumps(body)[:300]
    return str(getattr(e, "message", e))[:300]
