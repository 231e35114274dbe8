"""The jobs and their events, in SQLite (one server) or PostgreSQL (shared by a cluster).

``JobStore`` frames every change in one transaction and hands out ``JobRecord``s (plain data,
never ORM rows). The status changes a job can go through:

    queued ─► in_progress ─► completed | failed | cancelled
       ▲          │  └──► waiting (for a human's approval) ─► queued (resumed with the answer)
       └──────────┘ requeued: its worker died, or the server stopped
    failed | cancelled ─► queued (resumed: continues from its checkpoint)

Every write of a worker names its attempt and happens only while the row still does (a worker given
up on writes nothing more), so no job is completed twice.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from ttom.config import mask_url
from ttom.errors import ConfigError
from ttom.serve import repository as repo
from ttom.serve.errors import JobConflict, JobNotFound, QueueFull
from ttom.serve.models import FINAL, UNFINISHED, Base, JobRow

SQLITE_BUSY_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class JobRecord:
    """A job as the store has it."""

    id: str
    thread_id: str
    status: str
    prompt: str
    layout: dict[str, Any] | None
    options: dict[str, Any]
    model: str
    remixed_from: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    attempts: int
    worker: str | None
    request_no: int | None
    cancel_requested: bool
    resume_answer: dict[str, Any] | None
    approval: dict[str, Any] | None
    stage: dict[str, Any]
    progress: int
    result: dict[str, Any] | None
    run_dir: str | None
    error_code: str | None
    error_message: str | None
    completions: int

    @classmethod
    def of(cls, row: JobRow) -> JobRecord:
        return cls(**{f: getattr(row, f) for f in cls.__dataclass_fields__})


@dataclass(frozen=True)
class EventRecord:
    id: int
    time: float
    data: dict[str, Any]


@dataclass
class NewJob:
    id: str
    thread_id: str
    prompt: str
    options: dict[str, Any]
    model: str
    layout: dict[str, Any] | None = None
    remixed_from: str | None = None
    created_at: float = field(default_factory=time.time)


def _advisory_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def _engine(url: str) -> Engine:
    try:
        u = make_url(url)
    except Exception as e:
        raise ConfigError(f"jobs database URL {mask_url(url)!r} is not a SQLAlchemy URL ({e})") from None
    backend = u.get_backend_name()
    if backend == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(u, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # transactions begin in the hook below
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):
            # writers take the write lock up front: a deferred transaction that reads then writes can fail
            # with SQLITE_BUSY instead of waiting (as the memory store does)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("ttom_write") else "BEGIN")

        return engine
    if backend == "postgresql":
        if u.drivername == "postgresql":
            u = u.set(drivername="postgresql+psycopg")
        return create_engine(u, pool_pre_ping=True, pool_size=10, max_overflow=20)
    raise ConfigError(f"jobs database {mask_url(url)}: use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")


class JobStore:
    """Jobs and events on ``url``; ``create`` makes the tables (the server does; workers only connect)."""

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = url
        self.engine = _engine(url)
        self._write = self.engine.execution_options(ttom_write=True)
        self._lock = threading.Lock()
        if create:
            self._create_tables()

    def close(self) -> None:
        self.engine.dispose()

    def _create_tables(self) -> None:
        from sqlalchemy.exc import OperationalError

        try:
            with self._write.begin() as conn:
                if conn.dialect.name == "postgresql":  # several servers starting at once on a fresh database
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _advisory_key("ttom.serve.init")})
                Base.metadata.create_all(conn)
        except OperationalError as e:
            raise ConfigError(f"cannot open the jobs database {mask_url(self.url)}: "
                              f"{str(e.orig).strip().splitlines()[0]}") from None

    @contextmanager
    def _tx(self, write: bool = True) -> Iterator[Session]:
        with Session(self._write if write else self.engine, expire_on_commit=False) as s, s.begin():
            yield s

    # ----- reads ---------------------------------------------------------------------------------
    def get(self, job_id: str) -> JobRecord | None:
        with self._tx(write=False) as s:
            row = repo.get_job(s, job_id)
            return JobRecord.of(row) if row else None

    def require(self, job_id: str) -> JobRecord:
        job = self.get(job_id)
        if job is None:
            raise JobNotFound(f"no job {job_id!r}", param="id")
        return job

    def list(self, *, after: str | None = None, limit: int = 20, order: str = "desc", status: str | None = None,
             thread_id: str | None = None) -> tuple[list[JobRecord], bool]:
        """A page of jobs (newest first by default) and whether more follow."""
        with self._tx(write=False) as s:
            cursor = None
            if after is not None:
                cursor = repo.get_job(s, after)
                if cursor is None:
                    raise JobNotFound(f"after: no job {after!r}", param="after")
            rows = repo.list_jobs(s, after=cursor, limit=limit + 1, order=order, status=status, thread_id=thread_id)
            return [JobRecord.of(r) for r in rows[:limit]], len(rows) > limit

    def events_after(self, job_id: str, after: int = 0, limit: int = 500) -> list[EventRecord]:
        with self._tx(write=False) as s:
            return [EventRecord(e.id, e.time, e.data) for e in repo.events_after(s, job_id, after, limit)]

    def counts(self) -> dict[str, int]:
        with self._tx(write=False) as s:
            return repo.count_status(s)

    def thread_known(self, thread_id: str) -> bool:
        with self._tx(write=False) as s:
            return repo.thread_known(s, thread_id)

    def next_queued(self, limit: int = 8) -> list[JobRecord]:
        with self._tx(write=False) as s:
            return [JobRecord.of(r) for r in repo.next_queued(s, limit)]

    # ----- the API's changes ---------------------------------------------------------------------
    def create(self, job: NewJob, *, max_queue: int, workers: int = 1) -> JobRecord:
        """A new queued job; ``QueueFull`` when ``max_queue`` jobs wait already, ``JobConflict`` when its
        thread has a job that has not finished (a thread runs one request at a time)."""
        with self._lock, self._tx() as s:
            queued = repo.count_status(s).get("queued", 0)
            if queued >= max_queue:
                raise QueueFull(f"the queue is full ({queued} jobs waiting); retry later",
                                retry_after=self._retry_after(s, workers))
            busy = repo.unfinished_on_thread(s, job.thread_id)
            if busy is not None:
                raise JobConflict(f"thread {job.thread_id} has a job that has not finished ({busy.id}, {busy.status}); "
                                  "wait for it, or cancel it, before sending the next request on the thread",
                                  param="thread_id")
            row = JobRow(id=job.id, thread_id=job.thread_id, status="queued", prompt=job.prompt, layout=job.layout,
                         options=job.options, model=job.model, remixed_from=job.remixed_from,
                         created_at=job.created_at, attempts=0, cancel_requested=False, stage={"name": "queued"},
                         progress=0, completions=0)
            s.add(row)
            repo.add_event(s, job.id, {"event": "status", "status": "queued"}, job.created_at)
            s.flush()
            return JobRecord.of(row)

    def check_room(self, max_queue: int, workers: int = 1) -> None:
        """``QueueFull`` when ``max_queue`` jobs wait already (``create`` checks again, in its transaction)."""
        with self._tx(write=False) as s:
            queued = repo.count_status(s).get("queued", 0)
            if queued >= max_queue:
                raise QueueFull(f"the queue is full ({queued} jobs waiting); retry later",
                                retry_after=self._retry_after(s, workers))

    @staticmethod
    def _retry_after(s: Session, workers: int) -> int:
        """Seconds until a place in the queue is likely free: one job's recent mean time over the workers."""
        durations = repo.recent_durations(s, 20)
        mean = statistics.fmean(durations) if durations else 10.0
        return int(min(3600, max(1, math.ceil(mean / max(workers, 1)))))

    def request_cancel(self, job_id: str) -> JobRecord:
        """Cancel: a queued or waiting job at once; a running one at its worker's next step."""
        with self._tx() as s:
            row = repo.get_job(s, job_id, lock=True)
            if row is None:
                raise JobNotFound(f"no job {job_id!r}", param="id")
            if row.status in FINAL:
                raise JobConflict(f"video job {job_id} is {row.status}: nothing to cancel")
            if row.status == "in_progress":
                row.cancel_requested = True
            else:
                self._finish(s, row, "cancelled", error=("cancelled", "cancelled by the client"))
            return JobRecord.of(row)

    def resume(self, job_id: str, answer: Any = None) -> JobRecord:
        """Queue a job again: a waiting one with the approval ``answer``; a failed or cancelled one (its
        worker died, or it was stopped) to continue from its checkpoint."""
        with self._tx() as s:
            row = repo.get_job(s, job_id, lock=True)
            if row is None:
                raise JobNotFound(f"no job {job_id!r}", param="id")
            if row.status == "waiting":
                if answer is None:
                    raise JobConflict(f"video job {job_id} waits for the layout's approval: resume it with answer "
                                      "'approve' or 'reject', or with an edited layout", param="answer")
                row.resume_answer = {"answer": answer}
            elif row.status in ("failed", "cancelled"):
                if answer is not None:
                    raise JobConflict(f"video job {job_id} is {row.status}, not waiting for an approval: resume it "
                                      "without an answer", param="answer")
                busy = repo.unfinished_on_thread(s, row.thread_id)
                if busy is not None:
                    raise JobConflict(f"thread {row.thread_id} has a newer job that has not finished ({busy.id})")
            else:
                raise JobConflict(f"video job {job_id} is {row.status}: only a waiting, failed or cancelled job "
                                  "can be resumed")
            row.status, row.approval, row.cancel_requested = "queued", None, False
            row.error_code = row.error_message = row.finished_at = None
            row.stage = {**(row.stage or {}), "name": "queued", "message": "resumed"}
            repo.add_event(s, job_id, {"event": "status", "status": "queued", "resumed": True})
            return JobRecord.of(row)

    # ----- the dispatcher's changes --------------------------------------------------------------
    def claim(self, job_id: str, worker: str, lease_s: float) -> JobRecord | None:
        """The job, now in progress for ``worker`` (a new attempt), or None if another took it first."""
        now = time.time()
        with self._tx() as s:
            if not repo.claim(s, job_id, worker, now + lease_s, now):
                return None
            row = repo.get_job(s, job_id)
            repo.add_event(s, job_id, {"event": "status", "status": "in_progress", "attempt": row.attempts,
                                       "worker": worker})
            return JobRecord.of(row)

    def requeue(self, job_id: str, attempt: int, reason: str, *, max_attempts: int) -> str | None:
        """The attempt ended without finishing (worker died, server stopped): queued again, or failed after
        ``max_attempts``. The new status, or None if the attempt no longer ran the job."""
        with self._tx() as s:
            row = repo.owned(s, job_id, attempt)
            if row is None:
                return None
            return self._requeue(s, row, reason, max_attempts)

    def _requeue(self, s: Session, row: JobRow, reason: str, max_attempts: int) -> str:
        if row.cancel_requested:
            self._finish(s, row, "cancelled", error=("cancelled", "cancelled by the client"))
        elif row.attempts >= max_attempts:
            self._finish(s, row, "failed", error=("worker_lost", f"{reason}; given up after {row.attempts} attempts "
                                                  "(resume it to try again)"))
        else:
            row.status, row.worker, row.lease_until = "queued", None, None
            row.stage = {**(row.stage or {}), "name": "queued", "message": f"requeued: {reason}"}
            repo.add_event(s, row.id, {"event": "status", "status": "queued", "requeued": reason})
        return row.status

    def recover(self, *, expired_only: bool, max_attempts: int) -> list[str]:
        """Requeue jobs in progress whose worker is gone: all of them (a server restarting alone on its
        database), or those whose lease ran out (a cluster). Their ids."""
        with self._tx() as s:
            rows = repo.expired_running(s, time.time() if expired_only else None)
            for row in rows:
                self._requeue(s, row, "its worker stopped reporting" if expired_only else "the server restarted",
                              max_attempts)
            return [r.id for r in rows]

    # ----- the worker's changes ------------------------------------------------------------------
    def report(self, job_id: str, attempt: int, *, events: list[tuple[float, dict[str, Any]]],
               stage: dict[str, Any] | None, progress: int | None, lease_s: float) -> str:
        """A worker's progress: its events, stage and lease. Says "ok", "cancel" (the client cancelled),
        or "lost" (the attempt no longer runs the job: the worker must stop)."""
        with self._tx() as s:
            row = repo.owned(s, job_id, attempt)
            if row is None:
                return "lost"
            for at, data in events:
                repo.add_event(s, job_id, data, at)
            if stage is not None:
                row.stage = stage
            if progress is not None:
                row.progress = max(row.progress or 0, progress)
            row.lease_until = time.time() + lease_s
            return "cancel" if row.cancel_requested else "ok"

    def set_request_no(self, job_id: str, attempt: int, request_no: int) -> bool:
        with self._tx() as s:
            row = repo.owned(s, job_id, attempt)
            if row is None:
                return False
            row.request_no = request_no
            return True

    def wait(self, job_id: str, attempt: int, approval: dict[str, Any]) -> bool:
        """The run paused for a human's approval of its layout."""
        with self._tx() as s:
            row = repo.owned(s, job_id, attempt)
            if row is None:
                return False
            row.status, row.approval, row.resume_answer, row.worker, row.lease_until = \
                "waiting", approval, None, None, None
            row.stage = {**(row.stage or {}), "name": "approve", "message": "waiting for the layout's approval"}
            repo.add_event(s, job_id, {"event": "status", "status": "waiting", "approval": approval})
            return True

    def finish(self, job_id: str, attempt: int, status: str, *, result: dict[str, Any] | None = None,
               run_dir: str | None = None, error: tuple[str, str] | None = None) -> bool:
        """The attempt's end: completed (with its result), failed or cancelled (with an error)."""
        with self._tx() as s:
            row = repo.owned(s, job_id, attempt)
            if row is None:
                return False
            if status == "cancelled" and not row.cancel_requested and error is None:
                error = ("cancelled", "cancelled")
            self._finish(s, row, status, result=result, run_dir=run_dir, error=error)
            return True

    def _finish(self, s: Session, row: JobRow, status: str, *, result: dict[str, Any] | None = None,
                run_dir: str | None = None, error: tuple[str, str] | None = None) -> None:
        row.status, row.finished_at, row.worker, row.lease_until = status, time.time(), None, None
        row.cancel_requested, row.resume_answer, row.approval = False, None, None
        if status == "completed":
            row.result, row.run_dir, row.completions, row.progress = result, run_dir, (row.completions or 0) + 1, 100
            row.error_code = row.error_message = None
            row.stage = {**(row.stage or {}), "name": "done", "message": (result or {}).get("summary")}
        else:
            row.error_code, row.error_message = error or (status, status)
            row.stage = {**(row.stage or {}), "name": status, "message": row.error_message}
        data: dict[str, Any] = {"event": "status", "status": status}
        if error:
            data["error"] = {"code": row.error_code, "message": row.error_message}
        repo.add_event(s, row.id, data)


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data (numpy numbers become floats; anything else unknown, its text)."""
    return json.loads(json.dumps(value, default=_default))


def _default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


__all__ = ["JobStore", "JobRecord", "EventRecord", "NewJob", "UNFINISHED", "FINAL", "jsonable"]
