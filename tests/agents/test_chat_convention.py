"""The LangGraph chat convention on the real graph: a ``messages`` input (the last human message is the
request) and an AI message with the result and its links as the answer; SQLite checkpoints, tiny-cogvideox."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from ttom.agents.checkpoint import open_checkpointer
from ttom.agents.graph import build_graph, graph
from ttom.agents.run import run_agent
from ttom.layout import Layout

from .conftest import PROMPT, ScriptedJudge

pytestmark = pytest.mark.slow


def _planned(prompt: str = PROMPT) -> dict:
    from ttom.planning.plan import plan

    return plan(prompt, planner="offline").layout.to_dict()


def _chat(thread: str, text, options: dict, judge=None, **extra) -> dict:
    """One chat turn the way Studio sends it: only ``messages`` (and here the options)."""
    from ttom.agents.state import AgentContext

    with open_checkpointer() as cp:
        g = build_graph(cp)
        return g.invoke({"messages": [HumanMessage(content=text)], "options": options, **extra},
                        {"configurable": {"thread_id": thread}}, context=AgentContext(critic=judge))


def _path(uri: str) -> Path:
    assert uri.startswith("file://"), uri
    return Path(unquote(urlparse(uri).path))


def test_the_graph_takes_messages_and_its_output_has_them():
    inp, out = graph.get_input_jsonschema(), graph.get_output_jsonschema()
    assert "messages" in inp["properties"] and "prompt" in inp["properties"]
    assert "prompt" not in inp.get("required", [])  # a chat UI sends messages alone
    assert "messages" in out["properties"]


def test_a_chat_request_gets_an_ai_message_with_the_result_and_its_links(opts):
    judge = ScriptedJudge(_planned())
    out = _chat("chat-1", PROMPT, opts, judge)
    msgs = out["messages"]
    assert [m.type for m in msgs] == ["human", "ai"]
    ai = msgs[-1]
    assert isinstance(ai, AIMessage) and "accepted round 1 of 1" in ai.content and PROMPT in ai.content
    data = ai.additional_kwargs["ttom"]
    assert data["accepted"] is True and data["memory"]["action"] == "insert" and data["thread_id"] == "chat-1"
    links = data["links"]
    for key in ("video", "overlay", "report", "layout"):
        assert _path(links[key]).stat().st_size > 0, key
        assert f"[{key}]({links[key]})" in ai.content
    assert _path(links["video"]) == Path(out["video"]).resolve()
    report = json.loads(_path(links["report"]).read_text())
    assert report["request"] == PROMPT and report["plan"]["via"] == "message"


def test_a_follow_up_message_edits_the_thread_and_gets_a_second_answer(opts):
    o = {**opts, "tto": {"mode": "off"}, "critic": "off", "steps": 2}
    first = _chat("chat-2", "a dog sits on the right while a red car drives to the left", o)
    before = Layout.parse(first["current_layout"])
    second = _chat("chat-2", "make the dog bigger", o)
    msgs = second["messages"]
    assert [m.type for m in msgs] == ["human", "ai", "human", "ai"]
    assert "Edit applied" in msgs[-1].content and "No critic judged it" in msgs[-1].content
    after = Layout.parse(second["current_layout"])
    w = lambda o: o.keyframes[0].box[2] - o.keyframes[0].box[0]  # noqa: E731
    dog0, dog1 = (next(x for x in lay.objects if x.name == "dog") for lay in (before, after))
    assert w(dog1) > w(dog0)
    v1, v2 = (_path(m.additional_kwargs["ttom"]["links"]["video"]) for m in (msgs[1], msgs[3]))
    assert v1 != v2 and v1.is_file() and v2.is_file()  # a new video; the first is kept


def test_text_blocks_are_read_and_an_empty_message_is_refused(opts):
    from ttom.planning.errors import PlannerError

    o = {**opts, "tto": {"mode": "off"}, "critic": "off", "steps": 2}
    out = _chat("chat-3", [{"type": "text", "text": "a dog sits on the right"}], o)
    assert out["current_layout"]["objects"][0]["name"] == "dog"
    with pytest.raises(PlannerError, match="prompt is empty"):
        _chat("chat-4", "   ", o)


def test_prompt_and_message_turns_mix_on_one_thread_without_stale_requests(opts):
    """A prompt after a chat turn is the request (not the answered message), and the reverse."""
    o = {**opts, "tto": {"mode": "off"}, "critic": "off", "steps": 2}
    _chat("mixed", "a dog sits on the right", o)
    by_prompt = run_agent("a red car drives to the left", thread_id="mixed", options=o)
    assert by_prompt.values["plan"]["request"] == "a red car drives to the left"
    assert by_prompt.values["plan"]["via"] == "prompt"
    assert [m.type for m in by_prompt.values["messages"]] == ["human", "ai"]  # no answer to a prompt
    again = _chat("mixed", "now two cars", o)
    assert Layout.parse(again["current_layout"]).counts() == {"car": 2}
    assert [m.type for m in again["messages"]] == ["human", "ai", "human", "ai"]


def test_a_rejected_layout_is_answered_in_the_chat(opts):
    from langgraph.types import Command

    from ttom.agents.state import AgentContext

    o = {**opts, "approve": True, "critic": "off"}
    with open_checkpointer() as cp:
        g = build_graph(cp)
        cfg = {"configurable": {"thread_id": "chat-reject"}}
        g.invoke({"messages": [HumanMessage("a dog sits on the right")], "options": o}, cfg, context=AgentContext())
        assert g.get_state(cfg).interrupts  # paused for approval, nothing generated yet
        out = g.invoke(Command(resume="reject"), cfg, context=AgentContext())
    assert out["messages"][-1].additional_kwargs["ttom"] == {"rejected": True}
    assert "no video was made" in out["messages"][-1].content
