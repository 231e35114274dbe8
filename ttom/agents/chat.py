"""The LangGraph chat convention: a ``messages`` input whose last human message is the request, and an
AI message with the result and its links as the answer.

This is what LangGraph Studio's chat and agent-chat-ui send and show when they drive ttom through
``langgraph dev``. A caller that sends ``prompt`` (the CLI, the tools, the HTTP service) gets no
message: its answer is the state and report.json, as before.

Which text is the request: the last human message, when no run of the graph has answered it yet (its
id is kept in ``answered_message``); otherwise ``prompt``. So a chat turn on a thread whose earlier
turn came from the CLI, and the reverse, both read the new request, never a stale one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage


def message_text(message: AnyMessage) -> str:
    """The text of a message: its string content, or its text blocks joined (multimodal content)."""
    content = message.content
    if isinstance(content, str):
        return content
    parts = []
    for block in content or []:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return " ".join(parts)


def pending_message(state: dict[str, Any]) -> AnyMessage | None:
    """The last human message of the thread, if no run has answered it yet."""
    for m in reversed(state.get("messages") or []):
        if m.type == "human":
            return m if m.id is None or m.id != state.get("answered_message") else None
    return None


def request_text(state: dict[str, Any]) -> tuple[str, str | None]:
    """The request's text, and the id of the message it came from (None: from ``prompt``)."""
    m = pending_message(state)
    if m is not None:
        return message_text(m).strip(), m.id
    return (state.get("prompt") or "").strip(), None


def _uri(path: str | Path) -> str:
    return Path(path).resolve().as_uri()


def result_links(run_dir: str | Path) -> dict[str, str]:
    """The result's files in the run folder, as file URIs (the viewer of ``langgraph dev`` runs where they are)."""
    run = Path(run_dir)
    names = {"video": "video.mp4", "gif": "video.gif", "overlay": "overlay.png", "critic": "critic.png",
             "layout": "layout.json", "report": "report.json", "phi": "pytorch_lora_weights.safetensors"}
    return {k: _uri(run / f) for k, f in names.items() if (run / f).is_file()}


def result_message(report: dict[str, Any], run_dir: str | Path) -> AIMessage:
    """The answer to a chat request: what was made, whether the critic accepted it and why, and the links.

    The text is for people (markdown links); ``additional_kwargs["ttom"]`` holds the same facts as data
    (links, accepted, rounds, memory) for a UI that renders the video itself.
    """
    links = result_links(run_dir)
    critic = report.get("critic") or {}
    rounds, delivered = report.get("rounds"), report.get("delivered_round")
    accepted = report.get("accepted")
    objects = ", ".join(o.get("phrase") or o.get("name", "?") for o in (report.get("layout") or {}).get("objects", []))
    lines = [f"Made a video of “{report.get('prompt')}” ({objects}; model {report.get('model')}, "
             f"seed {report.get('seed')})."]
    edit = (report.get("plan") or {}).get("edit")
    if edit:
        lines.append(f"Edit applied: {edit}.")
    miou = critic.get("miou")
    score = f", layout mIoU {miou:.2f}" if isinstance(miou, (int, float)) else ""
    if accepted is True:
        lines.append(f"The critic accepted round {delivered} of {rounds}{score}.")
    elif accepted is False:
        lines.append(f"The critic accepted none of {rounds} rounds; this is the best one, round {delivered}{score}.")
    else:
        lines.append("No critic judged it.")
    lines += [f"- {r}" for r in critic.get("reasons", [])[:6]]
    memory = report.get("memory") or {}
    if memory.get("action") in ("insert", "update"):
        lines.append(f"φ* memorized ({memory['action']}, entry {str(memory.get('entry_id'))[:8]}).")
    elif memory.get("hit"):
        lines.append(f"Started from memory entry {str(memory.get('entry_id'))[:8]}.")
    if links:
        lines.append(" · ".join(f"[{k}]({v})" for k, v in links.items()))
    data = {"links": links, "accepted": accepted, "rounds": rounds, "delivered_round": delivered,
            "decision": critic.get("decision"), "miou": miou, "reasons": critic.get("reasons", []),
            "memory": {k: memory.get(k) for k in ("hit", "entry_id", "action")}, "thread_id": report.get("thread_id")}
    return AIMessage(content="\n".join(lines), additional_kwargs={"ttom": data}, name="ttom")


def rejected_message() -> AIMessage:
    """The answer when a person rejected the planned layout: nothing was generated."""
    return AIMessage(content="The layout was rejected, so no video was made. Send a new request or an edit.",
                     additional_kwargs={"ttom": {"rejected": True}}, name="ttom")
