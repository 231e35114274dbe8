"""The video service without HTTP: submit, read, list, cancel, resume, events and assets of jobs.

``VideoService(config, settings)`` owns the jobs database, the workers (one in-process thread, or
Ray actors with ``config.ray_address``) and the dispatcher between them; ``start()`` and
``close()`` frame its life. ``create_app`` puts HTTP in front of it.

What a caller sends is checked here before anything is queued: the options (``RunOptions``, on
top of the server's defaults), the model (a known name; a folder on the server only when the
operator allows remote paths, as φ files and output folders), the device (the server's choice),
and the thread (an edit goes to a thread the service knows, one request at a time).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from ttom.serve.config import ServeConfig, check_shared_databases
from ttom.serve.dispatcher import Dispatcher
from ttom.serve.errors import JobConflict, JobNotFound, ServiceError
from ttom.serve.runner import ASSETS
from ttom.serve.store import FINAL, JobRecord, JobStore, NewJob


class VideoService:
    def __init__(self, config: ServeConfig | None = None, settings: Any = None, *, hook=None, critic=None) -> None:
        from ttom.config import get_settings

        self.config = config or ServeConfig()
        self.settings = settings or get_settings()
        if self.config.device is not None:
            self.settings = self.settings.model_copy(update={"device": self.config.device})
        jobs_url = self.config.jobs_database(self.settings)
        if self.config.ray_address is not None:
            check_shared_databases(self.settings, jobs_url)
        self.store = JobStore(jobs_url)
        if self.config.ray_address is not None:
            from ttom.serve.ray_pool import RayPool

            self.pool: Any = RayPool(self.store, self.settings, self.config)
        else:
            from ttom.serve.pools import LocalPool

            self.pool = LocalPool(self.store, self.settings, self.config, hook=hook, critic=critic)
        self.dispatcher = Dispatcher(self.store, self.pool, self.config)
        self._started = False

    def start(self) -> None:
        if not self._started:
            # what checking a request needs (the model registry pulls in torch): loaded now, not in the first request
            import ttom.agents.nodes  # noqa: F401
            import ttom.engine.backends  # noqa: F401

            self.dispatcher.start()
            self._started = True

    def close(self) -> None:
        if self._started:
            self.dispatcher.stop()
            self._started = False
        else:
            self.pool.close()
        self.store.close()

    @property
    def workers(self) -> int:
        return len(self.pool.slots)

    # ----- submissions ---------------------------------------------------------------------------
    def submit(self, prompt: str, *, options: Any = None, layout: dict[str, Any] | None = None,
               model: str | None = None, size: str | None = None, thread_id: str | None = None,
               remixed_from: str | None = None) -> JobRecord:
        """A new job (queued). ``options``: a ``RunOptions`` or a dict of its fields."""
        self.store.check_room(self.config.max_queue, self.workers)  # a full queue answers before any checking
        opts = self.check_options(options, model=model, size=size)
        if thread_id is None:
            thread_id = f"thread_{uuid.uuid4().hex[:24]}"
        elif not self.store.thread_known(thread_id):
            raise JobNotFound(f"no thread {thread_id!r}: give the thread_id of an earlier job of this service",
                              param="thread_id")
        job = NewJob(id=f"video_{uuid.uuid4().hex}", thread_id=thread_id, prompt=prompt, options=opts,
                     model=opts.get("model") or self.settings.model, layout=layout, remixed_from=remixed_from)
        rec = self.store.create(job, max_queue=self.config.max_queue, workers=self.workers)
        self.dispatcher.wake()
        return rec

    def remix(self, job_id: str, prompt: str, options: Any = None) -> JobRecord:
        """An edit of job ``job_id``'s video: a new job on its thread (with its options unless given)."""
        earlier = self.store.require(job_id)
        if options is None:
            options = {k: v for k, v in earlier.options.items() if k in self._client_options(earlier.options)}
        return self.submit(prompt, options=options, thread_id=earlier.thread_id, remixed_from=earlier.id)

    def _client_options(self, stored: dict[str, Any]) -> set[str]:
        """The stored options a remix may carry over: all but the server's own (device, the defaults' paths)."""
        return {k for k in stored if k not in ("device", "out_dir", "phi")}

    def check_options(self, options: Any, *, model: str | None = None, size: str | None = None) -> dict[str, Any]:
        """A client's options on top of the server's defaults, checked; a ``ServiceError`` naming the field."""
        from ttom.agents.nodes import check_model
        from ttom.agents.state import RunOptions, check_options
        from ttom.engine.backends import ALIASES, available_models
        from ttom.errors import ConfigError

        if options is None:
            given: dict[str, Any] = {}
        elif isinstance(options, RunOptions):
            given = options.model_dump(exclude_unset=True)
        else:
            given = dict(options)
        if model is not None:
            if given.get("model") not in (None, model):
                raise ServiceError("model and options.model differ; give one", param="model")
            given["model"] = model
        if size is not None:
            w, h = (int(x) for x in size.split("x"))
            given.update(width=w, height=h)
        allow = self.settings.allow_remote_paths
        if given.get("device", "auto") != "auto":
            raise ServiceError("options.device: the service chooses the device (ttom serve api --device); "
                               "leave it out", param="options.device")
        for name in ("phi", "out_dir"):
            if given.get(name) is not None and not allow:
                raise ServiceError(f"options.{name} names a path on the server, which clients may not do unless "
                                   "the operator sets TTOM_ALLOW_REMOTE_PATHS=1", param=f"options.{name}")
        m = given.get("model")
        if m is not None and m not in available_models() and m not in ALIASES and not allow:
            raise ServiceError(f"model {str(m)[:60]!r} is not one of {', '.join(available_models())}; model folders "
                               "on the server can be named only when TTOM_ALLOW_REMOTE_PATHS=1", param="model")
        merged = {**self.config.defaults, **given}
        tto = {**(self.config.defaults.get("tto") or {}), **(given.get("tto") or {})}
        if tto:
            merged["tto"] = tto
        if self.settings.device != "auto" and "device" not in self.config.defaults:
            merged["device"] = self.settings.device
        try:
            opts = check_options(merged)
            check_model(opts.model or self.settings.model)
        except ConfigError as e:
            raise ServiceError(str(e), param="options") from None
        return opts.model_dump(exclude_defaults=True)

    # ----- reads and changes ---------------------------------------------------------------------
    def get(self, job_id: str) -> JobRecord:
        return self.store.require(job_id)

    def list(self, **kw: Any) -> tuple[list[JobRecord], bool]:
        return self.store.list(**kw)

    def cancel(self, job_id: str) -> JobRecord:
        return self.store.request_cancel(job_id)

    def resume(self, job_id: str, answer: str | None = None, layout: dict[str, Any] | None = None) -> JobRecord:
        if answer is not None and layout is not None:
            raise ServiceError("give answer or layout, not both", param="answer")
        value: Any = {"layout": layout} if layout is not None else answer
        rec = self.store.resume(job_id, value)
        self.dispatcher.wake()
        return rec

    def events(self, job_id: str, after: int = 0, limit: int = 500):
        return self.store.events_after(job_id, after, limit)

    def health(self) -> dict[str, Any]:
        from ttom import __version__

        return {"status": "ok", "version": __version__, "workers": self.workers,
                "ready": sum(1 for s in self.pool.slots if s.ready is True), "busy": self.dispatcher.busy,
                "jobs": self.store.counts()}

    def view(self, job: JobRecord, base_url: str | None = None) -> dict[str, Any]:
        """The job as the API shows it (``schemas.VideoJob``); URLs under ``base_url`` (none without one)."""
        base = f"{base_url.rstrip('/')}/v1/videos/{job.id}" if base_url else None
        assets = {name: f"{base}/assets/{name}" for name in self.asset_names(job)} if base else {}
        result = job.result
        if result is not None and base:
            result = {**result, "history": [{**h, "video_url": assets.get(h.get("video", ""))}
                                            for h in result.get("history", [])]}
        error = ({"code": job.error_code, "message": job.error_message or ""}
                 if job.status in ("failed", "cancelled") and job.error_code else None)
        return {"id": job.id, "object": "video", "model": job.model, "status": job.status, "progress": job.progress,
                "created_at": int(job.created_at), "started_at": _int(job.started_at),
                "completed_at": _int(job.finished_at) if job.status in FINAL else None, "prompt": job.prompt,
                "thread_id": job.thread_id, "remixed_from_video_id": job.remixed_from, "attempts": job.attempts,
                "cancel_requested": job.cancel_requested, "stage": job.stage or {}, "error": error,
                "approval": job.approval, "result": result, "assets": assets,
                "events_url": f"{base}/events" if base else ""}

    # ----- files ---------------------------------------------------------------------------------
    def asset_names(self, job: JobRecord) -> list[str]:
        """The assets a finished job has: its files, and each round's video."""
        if job.status != "completed" or not job.run_dir:
            return []
        run = Path(job.run_dir)
        names = [name for name, file in ASSETS.items() if (run / file).is_file()]
        for h in (job.result or {}).get("history", []):
            if (run / "rounds" / str(h["round"]) / "video.mp4").is_file():
                names.append(f"round-{h['round']}.mp4")
        return names

    def asset_path(self, job_id: str, name: str) -> Path:
        """The file of asset ``name`` of a completed job (names only; a client never names a path)."""
        job = self.store.require(job_id)
        if job.status != "completed" or not job.run_dir:
            raise JobConflict(f"video job {job_id} is {job.status}: its files are ready when it is completed")
        run = Path(job.run_dir)
        if name in ASSETS:
            path = run / ASSETS[name]
        elif name.startswith("round-") and name.endswith(".mp4") and name[6:-4].isdigit():
            path = run / "rounds" / str(int(name[6:-4])) / "video.mp4"
        else:
            raise JobNotFound(f"no asset {name[:40]!r}: the assets are {', '.join([*ASSETS, 'round-K.mp4'])}",
                              param="name")
        resolved = path.resolve()
        if run.resolve() not in resolved.parents or not resolved.is_file():
            raise JobNotFound(f"video job {job_id} has no {name}", param="name")
        return resolved


def _int(t: float | None) -> int | None:
    return int(t) if t is not None else None
