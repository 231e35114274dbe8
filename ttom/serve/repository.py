"""Queries on the jobs database. Each function takes a session and never commits (the store does)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from ttom.serve.models import UNFINISHED, EventRow, JobRow


def get_job(s: Session, job_id: str, *, lock: bool = False) -> JobRow | None:
    q = select(JobRow).where(JobRow.id == job_id)
    if lock:
        q = q.with_for_update()
    return s.scalars(q).first()


def add_event(s: Session, job_id: str, data: dict[str, Any], at: float | None = None) -> None:
    s.add(EventRow(job_id=job_id, time=at if at is not None else time.time(), data=data))


def events_after(s: Session, job_id: str, after: int, limit: int) -> list[EventRow]:
    q = select(EventRow).where(EventRow.job_id == job_id, EventRow.id > after).order_by(EventRow.id).limit(limit)
    return list(s.scalars(q))


def count_status(s: Session) -> dict[str, int]:
    rows = s.execute(select(JobRow.status, func.count()).group_by(JobRow.status))
    return {status: n for status, n in rows}


def unfinished_on_thread(s: Session, thread_id: str) -> JobRow | None:
    q = select(JobRow).where(JobRow.thread_id == thread_id, JobRow.status.in_(UNFINISHED)).order_by(JobRow.created_at)
    return s.scalars(q.limit(1)).first()


def thread_known(s: Session, thread_id: str) -> bool:
    return s.scalars(select(JobRow.id).where(JobRow.thread_id == thread_id).limit(1)).first() is not None


def next_queued(s: Session, limit: int) -> list[JobRow]:
    """The oldest queued jobs (rows locked and skipped by other dispatchers on PostgreSQL)."""
    q = (select(JobRow).where(JobRow.status == "queued").order_by(JobRow.created_at, JobRow.id).limit(limit)
         .with_for_update(skip_locked=True))
    return list(s.scalars(q))


def expired_running(s: Session, now: float | None) -> list[JobRow]:
    """Jobs in progress whose worker's lease ran out before ``now`` (None: every job in progress)."""
    q = select(JobRow).where(JobRow.status == "in_progress")
    if now is not None:
        q = q.where(or_(JobRow.lease_until.is_(None), JobRow.lease_until < now))
    return list(s.scalars(q.with_for_update(skip_locked=True)))


def list_jobs(s: Session, *, after: JobRow | None, limit: int, order: str, status: str | None,
              thread_id: str | None) -> list[JobRow]:
    q = select(JobRow)
    if status:
        q = q.where(JobRow.status == status)
    if thread_id:
        q = q.where(JobRow.thread_id == thread_id)
    if order == "asc":
        if after is not None:
            q = q.where(or_(JobRow.created_at > after.created_at,
                            and_(JobRow.created_at == after.created_at, JobRow.id > after.id)))
        q = q.order_by(JobRow.created_at, JobRow.id)
    else:
        if after is not None:
            q = q.where(or_(JobRow.created_at < after.created_at,
                            and_(JobRow.created_at == after.created_at, JobRow.id < after.id)))
        q = q.order_by(JobRow.created_at.desc(), JobRow.id.desc())
    return list(s.scalars(q.limit(limit)))


def claim(s: Session, job_id: str, worker: str, lease_until: float, now: float) -> bool:
    """queued → in_progress for ``worker``, if the job is still queued (one claimant wins)."""
    r = s.execute(update(JobRow).where(JobRow.id == job_id, JobRow.status == "queued").values(
        status="in_progress", attempts=JobRow.attempts + 1, worker=worker, lease_until=lease_until,
        started_at=func.coalesce(JobRow.started_at, now), cancel_requested=False))
    return r.rowcount == 1


def owned(s: Session, job_id: str, attempt: int) -> JobRow | None:
    """The job, locked, if ``attempt`` still runs it."""
    row = get_job(s, job_id, lock=True)
    if row is None or row.status != "in_progress" or row.attempts != attempt:
        return None
    return row


def recent_durations(s: Session, n: int) -> list[float]:
    q = (select(JobRow.finished_at - JobRow.started_at).where(JobRow.status == "completed",
                                                              JobRow.started_at.is_not(None))
         .order_by(JobRow.finished_at.desc()).limit(n))
    return [float(d) for d in s.scalars(q) if d is not None and d >= 0]
