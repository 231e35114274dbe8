"""ttom as an MCP server (``ttom serve mcp``; the ``mcp`` extra, SDK v2: ``MCPServer``).

A video takes seconds to minutes, longer than many clients keep a tool call open, so the server
offers the long-job pattern (MCP SDK v2 removed experimental tasks):

- ``submit_video(prompt, ...)`` starts a job and returns its ``job_id`` at once (unique per
  submission; ``thread_id`` names the conversation: pass it, or an earlier job id, to edit that video);
- ``job_status(job_id)`` says queued / running / waiting / done / failed / stopped, with the stage,
  a 0-1 progress fraction and the latest message (plan, memory hit, TTO loss, denoising step, critic);
- ``job_result(job_id)`` returns ``accepted`` (whether the critic accepted the delivered video; when
  not, it is the best of the rounds), a ``summary`` that says so in words, the layout, the critic and
  memory parts, and where the files are: MCP ``resources`` (``ttom://videos/{job_id}/video.mp4``,
  ``overlay.png``, ``critic.png``, ``report.json``), the service's ``urls`` (with a service), or
  local paths (in-process);
- ``resume_job(job_id)`` continues a failed or stopped job from its checkpoint;
- ``generate_video(prompt, ...)`` does all of it in one call, reporting progress notifications.

Where the jobs run: in this process (the embedded service of ``ttom.serve``, its jobs in
``<cache_dir>/mcp-jobs.sqlite``: a job of an earlier server process is still known, and one it left
running resumes when this server starts its worker), or, with ``service_url`` (``--service-url``,
``TTOM_SERVICE_URL``), on a running ``ttom serve api``, whose files a remote caller fetches by URL or
through this server's resources.
"""

from __future__ import annotations

import threading
from typing import Any

try:  # module level: the tools' annotations (Context) are evaluated in this module's namespace
    from mcp.server.mcpserver import Context, MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
except ImportError:  # the mcp extra is not installed: build_server says so
    Context = MCPServer = ToolError = None

# the service's statuses in this server's words
STATUS = {"queued": "queued", "in_progress": "running", "waiting": "waiting", "completed": "done",
          "failed": "failed", "cancelled": "stopped"}
RESOURCES = {"video.mp4": "video/mp4", "overlay.png": "image/png", "critic.png": "image/png",
             "report.json": "application/json"}


class LocalJobs:
    """Jobs on the embedded service (no HTTP), started on first use."""

    local = True

    def __init__(self, defaults: dict[str, Any], settings: Any = None) -> None:
        self.defaults, self.settings = defaults, settings
        self._service = None
        self._lock = threading.Lock()

    @property
    def service(self):
        with self._lock:
            if self._service is None:
                from ttom.config import get_settings
                from ttom.serve.config import ServeConfig
                from ttom.serve.service import VideoService

                settings = self.settings or get_settings()
                config = ServeConfig(defaults=self.defaults, poll_s=0.1, flush_s=0.1,
                                     jobs_url=f"sqlite:///{settings.cache_dir / 'mcp-jobs.sqlite'}")
                self._service = VideoService(config, settings)
                self._service.start()
            return self._service

    def _view(self, rec) -> dict[str, Any]:
        view = self.service.view(rec)
        view["asset_names"], view["run_dir"] = self.service.asset_names(rec), rec.run_dir
        return view

    def thread_of(self, job_or_thread: str) -> str:
        rec = self.service.store.get(job_or_thread)
        return rec.thread_id if rec is not None else job_or_thread

    def submit(self, prompt: str, options: dict[str, Any], thread_id: str | None) -> dict[str, Any]:
        return self._view(self.service.submit(prompt, options=options, thread_id=thread_id))

    def get(self, job_id: str) -> dict[str, Any]:
        return self._view(self.service.get(job_id))

    def resume(self, job_id: str) -> dict[str, Any]:
        return self._view(self.service.resume(job_id))

    def asset(self, job_id: str, name: str) -> bytes:
        if name == "report.json":
            import json

            self.service.asset_path(job_id, name)  # exists, and the job is completed
            return json.dumps(self.service.get(job_id).result, indent=2).encode()
        return self.service.asset_path(job_id, name).read_bytes()

    def job_ids(self) -> list[str]:
        return [r.id for r in self.service.list(limit=100)[0]] if self._service is not None else []

    def close(self) -> None:
        if self._service is not None:
            self._service.close()


class RemoteJobs:
    """Jobs on a running ``ttom serve api`` at ``url``."""

    local = False

    def __init__(self, defaults: dict[str, Any], url: str, api_key: str | None = None, http: Any = None) -> None:
        from ttom.serve.client import ServiceClient

        self.defaults = defaults
        self.client = ServiceClient(url, api_key, http=http)

    def _view(self, job: dict[str, Any]) -> dict[str, Any]:
        return {**job, "asset_names": list(job.get("assets") or {})}

    def thread_of(self, job_or_thread: str) -> str:
        from ttom.serve.client import ServiceClientError

        try:
            return self.client.get(job_or_thread)["thread_id"]
        except ServiceClientError as e:
            if e.status == 404:
                return job_or_thread
            raise

    def submit(self, prompt: str, options: dict[str, Any], thread_id: str | None) -> dict[str, Any]:
        return self._view(self.client.submit(prompt, options={**self.defaults, **options}, thread_id=thread_id))

    def get(self, job_id: str) -> dict[str, Any]:
        return self._view(self.client.get(job_id))

    def resume(self, job_id: str) -> dict[str, Any]:
        return self._view(self.client.resume(job_id))

    def asset(self, job_id: str, name: str) -> bytes:
        return self.client.download(job_id, name)

    def job_ids(self) -> list[str]:
        return [j["id"] for j in self.client.list(limit=100)["data"]]

    def close(self) -> None:
        self.client.close()


def status_of(job: dict[str, Any]) -> dict[str, Any]:
    stage = job.get("stage") or {}
    seconds = None
    if job.get("started_at"):
        import time

        seconds = round((job.get("completed_at") or time.time()) - job["started_at"], 1)
    return {"job_id": job["id"], "thread_id": job["thread_id"], "status": STATUS.get(job["status"], job["status"]),
            "stage": stage.get("name"), "progress": round(job["progress"] / 100, 3),
            "message": stage.get("message") or "", "error": (job.get("error") or {}).get("message"),
            "seconds": seconds}


def result_of(job: dict[str, Any], jobs: Any) -> dict[str, Any]:
    """A completed job's result: verdict, layout, critic and memory parts, and where its files are."""
    from ttom.errors import ConfigError

    if job["status"] != "completed":
        st = status_of(job)
        if job["status"] == "failed":
            raise ConfigError(f"job {job['id']} failed: {st['error']}")
        raise ConfigError(f"job {job['id']} is {st['status']} ({st['message'] or st['stage']}); ask job_status, then "
                          "job_result when it is done")
    res = job["result"] or {}
    names = job.get("asset_names") or []
    out = {"job_id": job["id"], "thread_id": job["thread_id"],
           "summary": f"{res.get('summary', '')} Thread {job['thread_id']} (pass it to edit this video).",
           "accepted": res.get("accepted"), "rounds": res.get("rounds"), "delivered_round": res.get("delivered_round"),
           "layout": res.get("layout"), "critic": res.get("critic"), "memory": res.get("memory"), "tto": res.get("tto"),
           "resources": {n: f"ttom://videos/{job['id']}/{n}" for n in RESOURCES if n in names}}
    if jobs.local:
        from pathlib import Path

        run = Path(job["run_dir"])
        out.update(video=str(run / "video.mp4"), report_path=str(run / "report.json"), run_dir=str(run))
    else:
        out["urls"] = dict(job.get("assets") or {})
        out["video_url"] = out["urls"].get("video.mp4")
    return out


def build_server(defaults: dict[str, Any] | None = None, settings: Any = None, *, service_url: str | None = None,
                 api_key: str | None = None, http: Any = None):
    """The MCP server; ``defaults`` are RunOptions applied to every job; ``service_url``: run the jobs on that
    ``ttom serve api`` (``http``: an httpx client to reach it with) instead of in this process."""
    if MCPServer is None:
        from ttom.errors import ConfigError

        raise ConfigError("the MCP server needs the mcp extra (mcp >= 2): pip install 'ttom[mcp]'")
    import anyio

    from ttom import __version__
    from ttom.config import get_settings

    service_url = service_url or (settings or get_settings()).service_url
    api_key = api_key or (settings or get_settings()).api_key
    base = {**(defaults or {}), "approve": False}  # a tool call has no human to approve a layout
    jobs: Any = RemoteJobs(base, service_url, api_key, http) if service_url else LocalJobs(base, settings)
    server = MCPServer("ttom", version=__version__, instructions="Compositional text-to-video: submit_video starts a "
                       "job (objects follow a planned layout); poll job_status; job_result says whether the critic "
                       "accepted the video and where it is (MCP resources ttom://videos/{job_id}/video.mp4, ...).")

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

    def _submit(prompt: str, model: str | None, seed: int | None, max_rounds: int | None,
                thread_id: str | None) -> dict[str, Any]:
        from ttom.paths import check_id

        opts = {k: v for k, v in {"model": model, "seed": seed, "max_rounds": max_rounds}.items() if v is not None}
        if thread_id is not None:
            thread_id = jobs.thread_of(check_id(thread_id, "thread_id"))
        return jobs.submit(prompt, opts, thread_id)

    @server.tool()
    def submit_video(prompt: str, model: str | None = None, seed: int | None = None, max_rounds: int | None = None,
                     thread_id: str | None = None) -> dict[str, Any]:
        """Start generating a video whose objects follow a planned layout; returns a job_id at once.
        thread_id: an earlier job's thread_id (or its job_id) to edit its video ("make the dog bigger")."""
        return status_of(clear(_submit)(prompt, model, seed, max_rounds, thread_id))

    @server.tool()
    def job_status(job_id: str) -> dict[str, Any]:
        """Status of a job: queued, running, waiting, done, failed or stopped; stage, progress (0-1) and the latest
        message."""
        return status_of(clear(jobs.get)(job_id))

    @server.tool()
    def job_result(job_id: str) -> dict[str, Any]:
        """The result of a finished job: summary (in words, including whether the critic accepted the video),
        accepted (true / false / null when no critic ran), layout, critic part (the delivered round's), memory use,
        and the files: resources (MCP URIs to read), urls (a service's) or video / report_path (local). accepted
        false: no round passed the critic; the best one is returned."""
        return clear(lambda: result_of(jobs.get(job_id), jobs))()

    @server.tool()
    def resume_job(job_id: str) -> dict[str, Any]:
        """Continue a failed or stopped job from its last checkpoint (finished GPU work is not redone)."""
        return status_of(clear(jobs.resume)(job_id))

    @server.tool()
    async def generate_video(prompt: str, ctx: Context, model: str | None = None, seed: int | None = None,
                             max_rounds: int | None = None) -> dict[str, Any]:
        """Generate a video in one call, with progress notifications; prefer submit_video for long jobs. The result
        is job_result's: check accepted (false: the critic accepted no round; the best attempt is returned)."""
        job = await anyio.to_thread.run_sync(clear(_submit), prompt, model, seed, max_rounds, None)
        last = None
        while job["status"] not in ("completed", "failed", "cancelled", "waiting"):
            st = status_of(job)
            now = (st["stage"], st["progress"], st["message"])
            if now != last:
                await ctx.report_progress(st["progress"], 1.0, st["message"] or st["stage"])
                last = now
            await anyio.sleep(0.1)
            job = await anyio.to_thread.run_sync(clear(jobs.get), job["id"])
        return clear(lambda: result_of(job, jobs))()

    def _resource(name: str, mime: str) -> None:
        @server.resource(f"ttom://videos/{{job_id}}/{name}", name=name, mime_type=mime,
                         description=f"{name} of a finished job")
        def read(job_id: str) -> bytes:
            from ttom.paths import check_id

            return jobs.asset(check_id(job_id, "job id"), name)

    for name, mime in RESOURCES.items():
        _resource(name, mime)

    server.jobs = jobs  # for tests and embedding
    return server
