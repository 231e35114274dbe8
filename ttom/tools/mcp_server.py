"""ttom as an MCP server (``ttom serve mcp``; the ``mcp`` extra, SDK v2: ``MCPServer``).

A video takes seconds to minutes, longer than many clients keep a tool call open, so the server
offers the long-job pattern (MCP SDK v2 removed experimental tasks):

- ``submit_video(prompt, ...)`` starts a job and returns its ``job_id`` at once;
- ``job_status(job_id)`` says queued / running / done / failed / stopped, with the stage, a 0-1
  progress fraction for the current round and the latest message (plan, memory hit, TTO loss,
  denoising step, critic decision);
- ``job_result(job_id)`` returns the video path, the layout, the critic and memory parts,
  ``accepted`` (whether the critic accepted the delivered video; when not, it is the best of the
  rounds) and a ``summary`` that says so in words;
- ``resume_job(job_id)`` continues a job whose process died (its thread is checkpointed);
- ``generate_video(prompt, ...)`` does all of it in one call, reporting progress notifications
  (``ctx.report_progress``) while it runs, for clients that wait.

Jobs run one at a time in a worker thread (one GPU). A job id is the graph's thread id, so the
status of a job from an earlier server process is read back from the checkpointer.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

try:  # module level: the tools' annotations (Context) are evaluated in this module's namespace
    from mcp.server.mcpserver import Context, MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
except ImportError:  # the mcp extra is not installed: build_server says so
    Context = MCPServer = ToolError = None


@dataclass
class Job:
    job_id: str
    prompt: str
    options: dict[str, Any]
    status: str = "queued"  # queued | running | done | failed
    stage: str = "queued"
    progress: float = 0.0
    message: str = ""
    error: str | None = None
    result: dict[str, Any] | None = None
    started: float = field(default_factory=time.time)

    def on_event(self, e: dict[str, Any]) -> None:
        kind = e.get("event")
        self.stage = kind or self.stage
        if kind == "plan":
            self.message = f"planned {len(e['objects'])} objects: {', '.join(e['objects'])}"
        elif kind == "memory":
            self.message = f"memory hit (similarity {e['similarity']:.2f}, {e['mode']})" if e.get("hit") else "memory miss"
        elif kind == "generate":
            self._total, self._tto_done, self._round = e["tto_total"] + e["steps"], 0, e["round"]
            self.progress, self.message = 0.0, f"round {e['round']}: {e['mode']} generation"
        elif kind == "tto":
            self._tto_done += 1
            self.progress = min(1.0, self._tto_done / max(self._total, 1))
            self.message = f"round {self._round}: TTO step {e['step']} iteration {e['iteration']} loss {e['loss']:.4f}"
        elif kind == "step":
            steps = e["steps"]
            self.progress = min(1.0, (self._total - steps + e["step"] + 1) / max(self._total, 1))
            self.message = f"round {self._round}: denoising step {e['step'] + 1}/{steps}"
        elif kind == "critic":
            self.message = f"critic: {e['decision']}" + (f" (mIoU {e['miou']:.2f})" if e.get("miou") is not None else "")
        elif kind == "report":
            verdict = {True: "accepted", False: "NOT accepted (best round delivered)"}.get(e.get("accepted"), "not judged")
            self.progress, self.message = 1.0, f"wrote {e['video']}: {verdict}"

    def status_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "status": self.status, "stage": self.stage, "progress": round(self.progress, 3),
                "message": self.message, "error": self.error, "seconds": round(time.time() - self.started, 1)}


class JobManager:
    """Jobs by id; one worker thread runs them in order."""

    def __init__(self, defaults: dict[str, Any] | None = None, settings: Any = None) -> None:
        self.defaults = dict(defaults or {})
        self.settings = settings
        self.jobs: dict[str, Job] = {}
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ttom-job")
        self.lock = threading.Lock()

    def submit(self, prompt: str, options: dict[str, Any], thread_id: str | None = None, resume: bool = False) -> Job:
        from ttom.errors import ConfigError
        from ttom.paths import check_id

        if not resume and not (prompt or "").strip():
            raise ConfigError("the prompt is empty; give a sentence describing the scene")
        if thread_id is not None:
            check_id(thread_id, "thread_id")
        self._check_remote(options)
        job = Job(thread_id or uuid.uuid4().hex, prompt, {**self.defaults, **options, "approve": False})
        with self.lock:
            if job.job_id in self.jobs and self.jobs[job.job_id].status in ("queued", "running"):
                raise ConfigError(f"job {job.job_id} is still {self.jobs[job.job_id].status}")
            self.jobs[job.job_id] = job
        self.pool.submit(self._run, job, resume)
        return job

    def _check_remote(self, options: dict[str, Any]) -> None:
        """A remote caller names no server path (a model folder) unless the operator allows it."""
        from ttom.config import get_settings
        from ttom.engine.backends import ALIASES, available_models
        from ttom.errors import ConfigError

        settings = self.settings or get_settings()
        model = options.get("model")
        if model is not None and model not in available_models() and model not in ALIASES \
                and not settings.allow_remote_paths:
            raise ConfigError(f"model {str(model)[:60]!r} is not one of {', '.join(available_models())}; model "
                              "folders on the server can be named only when TTOM_ALLOW_REMOTE_PATHS=1")

    def _run(self, job: Job, resume: bool) -> None:
        from ttom.agents.run import run_agent
        from ttom.tools.agent_tool import _summarise

        job.status = "running"
        try:
            if resume:
                run = run_agent(thread_id=job.job_id, resume=True, settings=self.settings, on_event=job.on_event)
            else:
                run = run_agent(job.prompt, options=job.options, thread_id=job.job_id, settings=self.settings,
                                on_event=job.on_event)
            text, artifact = _summarise(run)
            job.result = {"summary": text, **artifact}
            job.status = "done"
        except Exception as e:  # the job's error goes to job_status / job_result, not the server
            job.status, job.error = "failed", f"{type(e).__name__}: {e}"

    def status(self, job_id: str) -> dict[str, Any]:
        job = self.jobs.get(job_id)
        if job is not None:
            return job.status_dict()
        return self._from_checkpoint(job_id)

    def _from_checkpoint(self, job_id: str) -> dict[str, Any]:
        """A job of an earlier server process: what its checkpointed thread says."""
        from ttom.agents.checkpoint import open_checkpointer
        from ttom.agents.graph import build_graph
        from ttom.errors import ConfigError

        with open_checkpointer(self.settings) as cp:
            snap = build_graph(cp).get_state({"configurable": {"thread_id": job_id}})
        if not snap.values:
            raise ConfigError(f"no job {job_id!r} (neither running here nor in the checkpoints)")
        if snap.next:
            return {"job_id": job_id, "status": "stopped", "stage": snap.next[0], "progress": 0.0,
                    "message": f"stopped before {snap.next[0]}; call resume_job to continue", "error": None}
        return {"job_id": job_id, "status": "done", "stage": "report", "progress": 1.0,
                "message": f"wrote {snap.values.get('video')}", "error": None}

    def result(self, job_id: str) -> dict[str, Any]:
        from ttom.errors import ConfigError

        job = self.jobs.get(job_id)
        if job is None:
            st = self._from_checkpoint(job_id)
            if st["status"] != "done":
                raise ConfigError(f"job {job_id} is {st['status']}: {st['message']}")
            from ttom.agents.checkpoint import open_checkpointer
            from ttom.agents.graph import build_graph
            from ttom.agents.run import AgentRun
            from ttom.tools.agent_tool import _summarise

            with open_checkpointer(self.settings) as cp:
                values = build_graph(cp).get_state({"configurable": {"thread_id": job_id}}).values
            text, artifact = _summarise(AgentRun(job_id, dict(values)))
            return {"summary": text, **artifact}
        if job.status == "failed":
            raise ConfigError(f"job {job_id} failed: {job.error}")
        if job.status != "done":
            raise ConfigError(f"job {job_id} is {job.status} ({job.message or job.stage}); ask job_status, then "
                              "job_result when it is done")
        return job.result or {}


def build_server(defaults: dict[str, Any] | None = None, settings: Any = None):
    """The MCP server; ``defaults`` are RunOptions applied to every job."""
    if MCPServer is None:
        from ttom.errors import ConfigError

        raise ConfigError("the MCP server needs the mcp extra (mcp >= 2): pip install 'ttom[mcp]'")
    import anyio

    jobs = JobManager(defaults, settings)
    from ttom import __version__

    server = MCPServer("ttom", version=__version__, instructions="Compositional text-to-video: submit_video starts a "
                       "job (objects follow a planned layout); poll job_status; job_result gives the video path, "
                       "scores and whether the critic accepted the video.")

    def clear(fn):
        """ttom's own errors reach the client as tool errors with their message."""
        import functools

        from ttom.errors import TtomError

        @functools.wraps(fn)
        def wrapper(*a, **kw):
            try:
                return fn(*a, **kw)
            except TtomError as e:
                raise ToolError(str(e)) from None
        return wrapper

    def _opts(model: str | None, seed: int | None, max_rounds: int | None) -> dict[str, Any]:
        return {k: v for k, v in {"model": model, "seed": seed, "max_rounds": max_rounds}.items() if v is not None}

    @server.tool()
    def submit_video(prompt: str, model: str | None = None, seed: int | None = None, max_rounds: int | None = None,
                     thread_id: str | None = None) -> dict[str, Any]:
        """Start generating a video whose objects follow a planned layout; returns a job_id at once.
        thread_id: an earlier job's id to edit its video ("make the dog bigger")."""
        return clear(jobs.submit)(prompt, _opts(model, seed, max_rounds), thread_id).status_dict()

    @server.tool()
    def job_status(job_id: str) -> dict[str, Any]:
        """Status of a job: queued, running, done, failed or stopped; stage, progress (0-1) and the latest message."""
        return clear(jobs.status)(job_id)

    @server.tool()
    def job_result(job_id: str) -> dict[str, Any]:
        """The result of a finished job: summary (in words, including whether the critic accepted the video),
        accepted (true / false / null when no critic ran), video path, report path, layout, critic part (the
        delivered round's) and memory use. accepted false: no round passed the critic; the best one is returned."""
        return clear(jobs.result)(job_id)

    @server.tool()
    def resume_job(job_id: str) -> dict[str, Any]:
        """Continue a stopped job from its last checkpoint (finished GPU work is not redone)."""
        return clear(jobs.submit)("", {}, job_id, resume=True).status_dict()

    @server.tool()
    async def generate_video(prompt: str, ctx: Context, model: str | None = None, seed: int | None = None,
                             max_rounds: int | None = None) -> dict[str, Any]:
        """Generate a video in one call, with progress notifications; prefer submit_video for long jobs. The result
        is job_result's: check accepted (false: the critic accepted no round; the best attempt is returned)."""
        job = clear(jobs.submit)(prompt, _opts(model, seed, max_rounds))
        last = None
        while job.status in ("queued", "running"):
            now = (job.stage, round(job.progress, 2), job.message)
            if now != last:
                await ctx.report_progress(job.progress, 1.0, job.message or job.stage)
                last = now
            await anyio.sleep(0.2)
        return clear(jobs.result)(job.job_id)

    server.jobs = jobs  # for tests and embedding
    return server
