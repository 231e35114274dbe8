"""The HTTP job API: ``create_app(config, settings)`` builds the FastAPI application.

    POST   /v1/videos                    a job: prompt, optional layout, options, thread_id (an edit)
    GET    /v1/videos                    the jobs, newest first, paged (after, limit), by status or thread
    GET    /v1/videos/{id}               status, progress (percent and stage), and when done the result
    DELETE /v1/videos/{id}               cancel
    POST   /v1/videos/{id}/resume        continue: an approval's answer, or a failed / cancelled job
    POST   /v1/videos/{id}/remix         an edit of the job's video: a new job on its thread
    GET    /v1/videos/{id}/content       the mp4 (?variant=gif|overlay|critic|report|layout|phi)
    GET    /v1/videos/{id}/assets        its files by name -> URL;  /assets/{name}: one file
    GET    /v1/videos/{id}/events        its progress as Server-Sent Events (JSON per agent event)
    GET    /v1/models                    the models a job may name
    GET    /health                       liveness, workers, jobs by status

The API key, when the service has one, goes in ``Authorization: Bearer KEY`` on every ``/v1`` call.
A page may be mounted on the application at ``/`` (``app.mount("/", StaticFiles(...))``): the routes
here never use ``/`` itself.
"""

from __future__ import annotations

import asyncio
import mimetypes
import secrets
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import HTTPException, RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.sse import EventSourceResponse, ServerSentEvent

from ttom.serve.config import ServeConfig
from ttom.serve.errors import QueueFull, ServiceError
from ttom.serve.models import FINAL
from ttom.serve.schemas import Health, RemixCreate, ResumeBody, Status, VideoCreate, VideoJob, VideoList
from ttom.serve.service import VideoService
from ttom.serve.store import JobRecord

VARIANTS = {"video": "video.mp4", "gif": "video.gif", "overlay": "overlay.png", "critic": "critic.png",
            "report": "report.json", "layout": "layout.json", "phi": "phi.safetensors"}
JobId = Path(max_length=100, description="the job's id (video_...)")


def create_app(config: ServeConfig | None = None, settings: Any = None, *, service: VideoService | None = None,
               hook=None, web: bool = True) -> FastAPI:
    """The application around a ``VideoService`` (made from ``config`` and ``settings`` unless given).

    ``hook``: called with every agent progress event in the in-process worker (monitoring).
    ``web``: serve the chat page at ``/`` (``ttom.web``).
    The service starts with the application's lifespan and stops with it (running jobs are requeued).
    """
    from ttom import __version__

    config = config or ServeConfig()
    svc = service or VideoService(config, settings, hook=hook)
    key = svc.config.api_key.get_secret_value() if svc.config.api_key else None

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        svc.start()
        try:
            yield
        finally:
            await run_in_threadpool(svc.close)

    app = FastAPI(title="ttom", version=__version__, lifespan=lifespan,
                  description="Compositional text-to-video as a job API: objects follow a planned layout (TTOM).")
    app.state.service = svc
    bearer = HTTPBearer(auto_error=False, description="the service's API key, when it has one")

    def authorised(cred: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if key is None:
            return
        if cred is None or not secrets.compare_digest(cred.credentials.encode(), key.encode()):
            raise HTTPException(401, "missing or wrong API key: send 'Authorization: Bearer KEY'",
                                headers={"WWW-Authenticate": "Bearer"})

    def existing(video_id: str = JobId) -> JobRecord:
        return svc.get(video_id)

    # ----- errors: one line naming the field, FastAPI's detail kept -----------------------------
    @app.exception_handler(ServiceError)
    async def _service_error(_req: Request, e: ServiceError) -> JSONResponse:
        headers = {"Retry-After": str(e.retry_after)} if isinstance(e, QueueFull) else None
        return JSONResponse({"detail": str(e), "error": {"message": str(e), "type": type(e).__name__,
                                                         "param": e.param}}, status_code=e.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_req: Request, e: RequestValidationError) -> JSONResponse:
        errors = jsonable_encoder(e.errors(), custom_encoder={BaseException: str})
        parts = []
        for er in errors[:8]:
            loc = [str(x) for x in er.get("loc", []) if x not in ("body", "query", "path", "header")]
            parts.append(f"{'.'.join(loc) or 'body'}: {er.get('msg')}")
        first = [str(x) for x in (errors[0].get("loc", []) if errors else []) if x not in ("body", "query", "path")]
        return JSONResponse({"detail": errors, "error": {"message": "; ".join(parts), "type": "invalid_request",
                                                         "param": ".".join(first) or None}}, status_code=422)

    # ----- views ---------------------------------------------------------------------------------
    def view(job: JobRecord, request: Request) -> VideoJob:
        base = str(request.base_url).rstrip("/") + f"/v1/videos/{job.id}"
        assets = {name: f"{base}/assets/{name}" for name in svc.asset_names(job)}
        result = job.result
        if result is not None:
            result = {**result, "history": [{**h, "video_url": assets.get(h.get("video", ""))}
                                            for h in result.get("history", [])]}
        error = {"code": job.error_code, "message": job.error_message or ""} if job.status in ("failed", "cancelled") \
            and job.error_code else None
        return VideoJob(id=job.id, model=job.model, status=job.status, progress=job.progress,
                        created_at=int(job.created_at), started_at=_int(job.started_at),
                        completed_at=_int(job.finished_at) if job.status in FINAL else None, prompt=job.prompt,
                        thread_id=job.thread_id, remixed_from_video_id=job.remixed_from, attempts=job.attempts,
                        cancel_requested=job.cancel_requested, stage=job.stage or {}, error=error,
                        approval=job.approval, result=result, assets=assets, events_url=f"{base}/events")

    # ----- routes --------------------------------------------------------------------------------
    @app.get("/health", response_model=Health, tags=["service"])
    def health() -> dict[str, Any]:
        return svc.health()

    v1 = [Depends(authorised)]

    @app.get("/v1/models", dependencies=v1, tags=["service"])
    def models() -> dict[str, Any]:
        from ttom.engine.backends import available_models

        loaded = {m for s in svc.pool.slots for m in s.models}
        return {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "ttom", "loaded": m in loaded}
                                           for m in available_models()]}

    @app.post("/v1/videos", response_model=VideoJob, dependencies=v1, tags=["videos"])
    def create_video(body: VideoCreate, request: Request) -> VideoJob:
        """Queue a video job; answers at once with its id (poll it, or stream its events)."""
        job = svc.submit(body.prompt, options=body.options, layout=body.layout, model=body.model, size=body.size,
                         thread_id=body.thread_id)
        return view(job, request)

    @app.get("/v1/videos", response_model=VideoList, dependencies=v1, tags=["videos"])
    def list_videos(request: Request, after: str | None = Query(None, max_length=100, description="the last id of "
                                                                                               "the previous page"),
                    limit: int = Query(20, ge=1, le=100), order: Literal["asc", "desc"] = "desc",
                    status: Status | None = None,
                    thread_id: str | None = Query(None, max_length=100)) -> VideoList:
        jobs, more = svc.list(after=after, limit=limit, order=order, status=status, thread_id=thread_id)
        data = [view(j, request) for j in jobs]
        return VideoList(data=data, first_id=data[0].id if data else None, last_id=data[-1].id if data else None,
                         has_more=more)

    @app.get("/v1/videos/{video_id}", response_model=VideoJob, dependencies=v1, tags=["videos"])
    def get_video(request: Request, job: JobRecord = Depends(existing)) -> VideoJob:
        return view(job, request)

    @app.delete("/v1/videos/{video_id}", response_model=VideoJob, dependencies=v1, tags=["videos"])
    def cancel_video(request: Request, video_id: str = JobId) -> VideoJob:
        """Cancel a job: a queued or waiting one at once, a running one at its next step (its checkpoint is
        kept: resume continues it)."""
        return view(svc.cancel(video_id), request)

    @app.post("/v1/videos/{video_id}/resume", response_model=VideoJob, dependencies=v1, tags=["videos"])
    def resume_video(body: ResumeBody, request: Request, video_id: str = JobId) -> VideoJob:
        return view(svc.resume(video_id, body.answer, body.layout), request)

    @app.post("/v1/videos/{video_id}/remix", response_model=VideoJob, dependencies=v1, tags=["videos"])
    def remix_video(body: RemixCreate, request: Request, video_id: str = JobId) -> VideoJob:
        """Edit the job's video ("make the dog bigger"): a new job on the same thread."""
        return view(svc.remix(video_id, body.prompt, body.options), request)

    @app.get("/v1/videos/{video_id}/content", dependencies=v1, tags=["videos"],
             responses={200: {"content": {"video/mp4": {}}}})
    def video_content(video_id: str = JobId, variant: Literal[tuple(VARIANTS)] = "video"):  # type: ignore[valid-type]
        return _file(video_id, VARIANTS[variant])

    @app.get("/v1/videos/{video_id}/assets", dependencies=v1, tags=["videos"])
    def video_assets(request: Request, job: JobRecord = Depends(existing)) -> dict[str, str]:
        return view(job, request).assets

    @app.get("/v1/videos/{video_id}/assets/{name}", dependencies=v1, tags=["videos"])
    def video_asset(video_id: str = JobId, name: str = Path(max_length=64)):
        return _file(video_id, name)

    def _file(video_id: str, name: str):
        path = svc.asset_path(video_id, name)
        if name == "report.json":  # the client's view: asset names where report.json names server files
            return JSONResponse(svc.get(video_id).result)
        media = "video/mp4" if name.endswith(".mp4") else mimetypes.guess_type(name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=media, filename=f"{video_id}-{name}")

    @app.get("/v1/videos/{video_id}/events", response_class=EventSourceResponse, dependencies=v1, tags=["videos"])
    async def video_events(request: Request, job: JobRecord = Depends(existing),
                           after: int = Query(0, ge=0, description="the last event id seen"),
                           last_event_id: str | None = Header(None)):
        """The job's events as they happen: status changes and the agent's progress (plan, memory, generate,
        tto, step, critic, reoptimize, memorize, report), each JSON with ``event``; ends after the job's
        final status (completed, failed, cancelled). Reconnects continue after ``Last-Event-ID``."""
        cursor = max(after, int(last_event_id) if last_event_id and last_event_id.isdigit() else 0)
        while True:
            current = await run_in_threadpool(svc.get, job.id)  # read before the events: a final status is
            rows = await run_in_threadpool(svc.events, job.id, cursor, 500)  # written with its event
            for r in rows:
                cursor = r.id
                yield ServerSentEvent(data={**r.data, "job_id": job.id, "time": round(r.time, 3)}, id=str(r.id))
            if rows:
                continue
            if current.status in FINAL:
                return
            if await request.is_disconnected():
                return
            await asyncio.sleep(svc.config.poll_s)

    if web:
        from ttom.web.routes import mount_web

        mount_web(app, dependencies=v1)
    return app


def _int(t: float | None) -> int | None:
    return int(t) if t is not None else None
