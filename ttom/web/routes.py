"""The page and its own endpoints, mounted on the job API's FastAPI app by ``mount_web``.

- ``GET /``: the chat page; ``/static/...``: its files (package data, never a path from the client);
- ``GET /web/v1/threads``: the conversations (a thread's jobs, oldest first, grouped), newest first;
- ``GET /web/v1/videos/{id}/rounds/{k}/video``: the mp4 of round k of a finished job (the rounds side by side);
- ``GET /web/v1/memory/{entry_id}``: a memory entry a result came from or went to (its key, quality, uses).

Read-only, and each answers a 4xx naming the problem: an unknown job or entry (404), a round the job
did not make (404), a malformed id (422).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
ENTRY_ID = r"^[0-9a-fA-F]{4,32}$"
JOB_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
MAX_PAGES = 10  # conversations are read from the newest 1,000 jobs

page_router = APIRouter()  # public: the page asks for the API key itself
router = APIRouter()  # behind the job API's own dependencies (its API key)


@page_router.get("/", include_in_schema=False)
def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html")


def _service(request: Request):
    """The job service of the app this router is mounted on (``ttom.serve``'s ``VideoService``)."""
    svc = getattr(request.app.state, "service", None)
    if svc is None:
        raise HTTPException(503, "the job service is not running")
    return svc


@router.get("/web/v1/threads", tags=["web"], summary="The conversations: jobs grouped by thread, newest first")
def threads(request: Request, limit: int = 50) -> dict[str, Any]:
    limit = max(1, min(limit, 200))
    svc, groups = _service(request), {}
    jobs, after = [], None
    for _ in range(MAX_PAGES):  # the newest jobs first, a page at a time
        page, more = svc.list(after=after, limit=100, order="desc")
        jobs += page
        if not more or not page:
            break
        after = page[-1].id
    for job in reversed(jobs):  # oldest first: a thread's first request names it
        plain = ((job.options or {}).get("tto") or {}).get("mode") == "off"  # e.g. the page's comparisons
        g = groups.setdefault(job.thread_id, {"thread_id": job.thread_id, "first_prompt": job.prompt, "jobs": 0,
                                              "created_at": job.created_at, "plain": plain})
        g.update(jobs=g["jobs"] + 1, last_prompt=job.prompt, last_status=job.status, last_job=job.id,
                 updated_at=job.created_at)
    data = sorted(groups.values(), key=lambda g: g["updated_at"], reverse=True)[:limit]
    return {"object": "list", "data": data}


@router.get("/web/v1/videos/{job_id}/rounds/{k}/video", tags=["web"], summary="The mp4 of one round of a job")
def round_video(request: Request, job_id: str = PathParam(pattern=JOB_ID),
                k: int = PathParam(ge=1, le=100)) -> FileResponse:
    job = _service(request).get(job_id)  # an unknown id: the service's 404
    if not job.run_dir:
        raise HTTPException(404, f"job {job_id!r} has no video yet (status {job.status})")
    root = Path(job.run_dir).resolve()
    path = (root / "rounds" / str(k) / "video.mp4").resolve()
    if root not in path.parents or not path.is_file():
        raise HTTPException(404, f"job {job_id!r} has no round {k}")
    return FileResponse(path, media_type="video/mp4")


@router.get("/web/v1/memory/{entry_id}", tags=["web"], summary="A memory entry (key, quality, uses)")
def memory_entry(entry_id: str = PathParam(pattern=ENTRY_ID)) -> dict[str, Any]:
    from ttom.memory.errors import AmbiguousIdError, EntryNotFoundError
    from ttom.memory.store import MemoryStore

    store = MemoryStore()
    try:
        e = store.get(store.resolve_id(entry_id))
    except EntryNotFoundError as err:
        raise HTTPException(404, str(err).strip('"')) from None
    except AmbiguousIdError as err:
        raise HTTPException(422, str(err)) from None
    finally:
        store.close()
    return {"id": e.id, "key_text": e.key_text, "quality": e.quality, "use_count": e.use_count,
            "created_at": e.created_at.isoformat(), "updated_at": e.updated_at.isoformat(),
            "last_used_at": e.last_used_at.isoformat() if e.last_used_at else None,
            "best_effort": bool((e.signature or {}).get("best_effort")), "problem": e.problem,
            "model": (e.signature or {}).get("model")}


def mount_web(app: FastAPI, dependencies: list | None = None) -> FastAPI:
    """Serve the page on the job API's ``app`` (``ttom.serve.app.create_app``; its ``state.service`` is read);
    ``dependencies`` guard the page's endpoints as they guard ``/v1`` (the API key)."""
    app.include_router(page_router)
    app.include_router(router, dependencies=dependencies or [])
    app.mount("/static", StaticFiles(directory=STATIC), name="ttom-web-static")
    return app
