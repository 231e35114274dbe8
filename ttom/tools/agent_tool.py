"""The whole agent graph as a LangChain tool, for other agents (LangChain, LangGraph ``create_agent``).

    from ttom.tools.agent_tool import make_video_tool
    tool = make_video_tool(defaults={"model": "shapes"})
    msg = tool.invoke({"type": "tool_call", "id": "1", "name": "generate_video",
                       "args": {"prompt": "a red car drives to the left while a dog sits on the right"}})
    msg.content    # a short summary for the model;  msg.artifact: paths, layout, critic and memory parts

``response_format="content_and_artifact"``: the model reads a few lines, the caller gets the data.
Each call runs on its own thread (or the one given, to edit the previous video), checkpointed like
``ttom generate``; approval is not asked (a tool call has no human in the loop).

With ``service_url`` (or ``TTOM_SERVICE_URL``) the tool sends the job to a running ``ttom serve api``
and waits for it: the artifact then has the job id and the service's URLs of the video and its
files (``video_url``, ``urls``) instead of paths on this machine.
"""

from __future__ import annotations

from typing import Any

from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field


class VideoRequest(BaseModel):
    """Arguments of the ``generate_video`` tool."""

    prompt: str = Field(description="the scene to film, e.g. 'a red car drives to the left while a dog sits on the "
                                    "right'; on an existing thread, an edit such as 'make the dog bigger'")
    thread_id: str | None = Field(None, description="continue this thread (edit its last video); omit for a new one")
    model: str | None = Field(None, description="video backend (shapes, cogvideox-5b, wan2.1-1.3b, ...)")
    seed: int | None = Field(None, description="random seed")
    max_rounds: int | None = Field(None, description="at most this many generation rounds (critic loop)")


def _summarise(run) -> tuple[str, dict[str, Any]]:
    v = run.values
    report = run.report or {}
    critic, memory = report.get("critic") or {}, report.get("memory") or {}
    objects = [o["phrase"] for o in v.get("current_layout", {}).get("objects", [])]
    accepted, n, k = report.get("accepted"), report.get("rounds"), report.get("delivered_round", report.get("rounds"))
    score = f" (mIoU {critic['miou']:.2f})" if critic.get("miou") is not None else ""
    if accepted is True:
        verdict = f"ACCEPTED by the critic{score}: round {k} of {n}."
    elif accepted is False:
        verdict = (f"NOT ACCEPTED: the critic accepted none of {n} round(s); this is the best attempt, round {k}"
                   f"{score}, and it does not fully follow the layout: {'; '.join(critic.get('reasons') or [])}. "
                   "Tell the user, or retry with another seed, more rounds or a simpler request.")
    else:
        verdict = "Not judged: no critic checked this video (" + "; ".join(critic.get("reasons") or []) + ")."
    text = (f"Video written to {v.get('video')} ({len(objects)} objects: {', '.join(objects)}). {verdict} "
            f"Memory: {memory.get('action')}"
            + (" (reused a remembered adapter)" if memory.get("hit") else "")
            + f". Thread {run.thread_id} (pass it to edit this video).")
    artifact = {"thread_id": run.thread_id, "accepted": accepted, "rounds": n, "delivered_round": k,
                "video": v.get("video"), "report_path": v.get("report_path"),
                "run_dir": v.get("run_dir"), "layout": v.get("current_layout"), "critic": critic, "memory": memory,
                "tto": report.get("tto")}
    return text, artifact


def _summarise_job(job: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A finished job of a running service, as the tool's text and artifact (URLs, not paths)."""
    res = job.get("result") or {}
    critic, memory = res.get("critic") or {}, res.get("memory") or {}
    objects = [o["phrase"] for o in (res.get("layout") or {}).get("objects", [])]
    urls = dict(job.get("assets") or {})
    text = (f"Video at {urls.get('video.mp4')} ({len(objects)} objects: {', '.join(objects)}). "
            f"{res.get('summary', '')} Job {job['id']}; thread {job['thread_id']} (pass it to edit this video).")
    artifact = {"job_id": job["id"], "thread_id": job["thread_id"], "accepted": res.get("accepted"),
                "rounds": res.get("rounds"), "delivered_round": res.get("delivered_round"),
                "video_url": urls.get("video.mp4"), "urls": urls, "layout": res.get("layout"), "critic": critic,
                "memory": memory, "tto": res.get("tto")}
    return text, artifact


def make_video_tool(defaults: dict[str, Any] | None = None, *, settings: Any = None, checkpointer: Any = None,
                    critic: Any = None, name: str = "generate_video", service_url: str | None = None,
                    api_key: str | None = None, http: Any = None) -> StructuredTool:
    """A tool that runs the whole graph; ``defaults`` are RunOptions for every call (the call's own win);
    ``critic``: a detector object to judge with (``AgentContext.critic``). ``service_url`` (default:
    ``TTOM_SERVICE_URL``): send the jobs to that running service instead (``api_key``: its key,
    default ``TTOM_API_KEY``; ``http``: an httpx client to reach it with)."""
    from langchain_core.tools import ToolException

    from ttom.agents.run import run_agent
    from ttom.config import get_settings
    from ttom.errors import TtomError
    from ttom.layout import LayoutError

    base = dict(defaults or {})
    service_url = service_url or (settings or get_settings()).service_url
    api_key = api_key or (settings or get_settings()).api_key

    def _remote(prompt: str, thread_id: str | None, opts: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        from ttom.paths import check_id
        from ttom.serve.client import ServiceClient, ServiceClientError

        with ServiceClient(service_url, api_key, http=http) as svc:
            try:
                if thread_id is not None:
                    check_id(thread_id, "thread_id")
                    try:  # an earlier job's id names its thread
                        thread_id = svc.get(thread_id)["thread_id"]
                    except ServiceClientError as e:
                        if e.status != 404:
                            raise
                job = svc.wait(svc.submit(prompt, options=opts, thread_id=thread_id)["id"])
            except TtomError as e:
                raise ToolException(str(e)) from None
        if job["status"] != "completed":
            why = (job.get("error") or {}).get("message") or job["status"]
            raise ToolException(f"the video job {job['id']} ended {job['status']}: {why}")
        return _summarise_job(job)

    def _run(prompt: str, thread_id: str | None = None, model: str | None = None, seed: int | None = None,
             max_rounds: int | None = None) -> tuple[str, dict[str, Any]]:
        opts = {**base, **{k: v for k, v in {"model": model, "seed": seed, "max_rounds": max_rounds}.items()
                           if v is not None}}
        opts["approve"] = False
        if service_url:
            return _remote(prompt, thread_id, opts)
        try:
            run = run_agent(prompt, options=opts, thread_id=thread_id, settings=settings, checkpointer=checkpointer,
                            critic=critic)
        except (TtomError, LayoutError) as e:  # the calling model reads the reason and may try again
            raise ToolException(str(e)) from None
        return _summarise(run)

    return StructuredTool.from_function(
        func=_run, name=name, args_schema=VideoRequest, response_format="content_and_artifact",
        handle_tool_error=True,
        description="Generate a short video whose objects follow a planned layout (positions and motions): plans the "
                    "layout, optimises the video model's attention to it (TTOM), checks the result with a detector "
                    "and retries, and remembers what worked. Slow (seconds to minutes). Returns the video path and "
                    "whether the critic accepted it (if not, the best attempt is returned and the text says why).")
