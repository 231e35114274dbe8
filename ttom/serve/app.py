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
MAX_BODY = 1 << 20  # bytes of a request body (a prompt, a layout, options): larger ones are refused with 413
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

    app = FastAPI(title="ttom", version=__version__, lifespan=lifespan, max_body_size=MAX_BODY,
                  description="Compositional text-to-video as a job API: objects follow a planned layout (TTOM).")
    app.add_middleware(FormAsJson, paths=("/v1/videos",))
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
        return VideoJob(**svc.view(job, str(request.base_url)))

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

    form_body = {"requestBody": {"content": {"multipart/form-data": {
        "schema": {"$ref": "#/components/schemas/VideoCreate"}}}}}

    @app.post("/v1/videos", response_model=VideoJob, dependencies=v1, tags=["videos"], openapi_extra=form_body)
    def create_video(body: VideoCreate, request: Request) -> VideoJob:
        """Queue a video job; answers at once with its id (poll it, or stream its events). The body is JSON, or
        multipart/form-data as OpenAI's client and vLLM-Omni's send it (nested fields as ``options[steps]``, or
        ``options`` / ``layout`` as JSON text)."""
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


class FormAsJson:
    """ASGI middleware: a multipart or urlencoded form POSTed to ``paths`` reaches the app as the JSON object
    it spells (``options[tto][steps]=2`` → ``{"options": {"tto": {"steps": "2"}}}``; pydantic then reads the
    numbers), so one pydantic model validates both, and a form's errors name the same fields."""

    def __init__(self, app, paths: tuple[str, ...]) -> None:
        self.app, self.paths = app, paths

    async def __call__(self, scope, receive, send) -> None:
        ctype = dict(scope.get("headers") or []).get(b"content-type", b"").decode("latin-1").lower()
        if (scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.paths
                or not ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded"))):
            await self.app(scope, receive, send)
            return
        import json

        from starlette.exceptions import HTTPException as StarletteHTTPException
        from starlette.formparsers import MultiPartException
        from starlette.requests import Request as StarletteRequest

        try:  # no files: a video request has none (OpenAI's input_reference is not supported)
            async with StarletteRequest(scope, receive).form(max_files=0, max_fields=200,
                                                             max_part_size=MAX_BODY) as form:
                data = form_to_dict(form.multi_items())
        except (FormError, MultiPartException, StarletteHTTPException) as e:
            message = getattr(e, "detail", None) or getattr(e, "message", None) or str(e)
            field = getattr(e, "field", None)
            if "files" in message:
                message = f"a video request takes no file (OpenAI's input_reference is not supported): {message}"
            response = JSONResponse({"detail": message, "error": {"message": message, "type": "invalid_request",
                                                                  "param": field}}, status_code=422)
            await response(scope, receive, send)
            return
        body = json.dumps(data).encode()
        headers = [(k, v) for k, v in scope["headers"] if k not in (b"content-type", b"content-length")]
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        sent = False

        async def receive_json():
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app({**scope, "headers": headers}, receive_json, send)


class FormError(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def form_to_dict(items) -> dict[str, Any]:
    """Form fields as a nested object: ``a[b][c]`` keys nest, ``a[]`` and all-digit keys make lists, a
    ``layout`` or ``options`` field holding a JSON object is read as one; a file is kept as its name. A field
    given twice (or an object given both as JSON text and field by field) is a ``FormError`` naming it."""
    import json
    import re

    out: dict[str, Any] = {}
    as_json: set[str] = set()
    for key, value in items:
        if not isinstance(value, str):
            value = f"(file {getattr(value, 'filename', '')})"
        parts = re.findall(r"[^\[\]]+|\[\]", key) or [key]  # a[b][] -> a, b, []
        if len(parts) == 1 and parts[0] in ("layout", "options") and value.lstrip().startswith("{"):
            try:
                value = json.loads(value)
                as_json.add(parts[0])
            except ValueError:
                pass
        field = ".".join(p for p in parts if p != "[]")
        if (parts[0] in as_json and len(parts) > 1) or (parts[0] in out and parts[0] in as_json and len(parts) == 1):
            raise FormError(f"{parts[0]}: given both as JSON text and field by field; give it one way", parts[0])
        node = out
        for i, part in enumerate(parts):
            if i == len(parts) - 1:
                if part in node:
                    raise FormError(f"{field}: given twice", field)
                node[part] = value
            elif parts[i + 1] == "[]":
                node.setdefault(part, []).append(value)
                break
            else:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise FormError(f"{field}: given both as a value and as an object", field)
    return _lists(out)


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _lists(v) for k, v in node.items()}
        if node and all(k.isdigit() for k in node):
            return [node[k] for k in sorted(node, key=int)]
    elif isinstance(node, list):
        return [_lists(v) for v in node]
    return node
