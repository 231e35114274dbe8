"""The jobs database: one row per job (a submission), and the progress events of each.

A job runs on an agent thread (``thread_id``); an edit of a thread's video is a new job on the
same thread. ``attempts`` counts the workers that took the job; a worker writes only while the row
still names its attempt (``status == 'in_progress'`` and ``attempts`` equal), so a worker that was
given up on can never finish a job that another one continues.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

STATUSES = ("queued", "in_progress", "waiting", "completed", "failed", "cancelled")
UNFINISHED = ("queued", "in_progress", "waiting")
FINAL = ("completed", "failed", "cancelled")


class Base(DeclarativeBase):
    pass


class JobRow(Base):
    __tablename__ = "ttom_serve_jobs"
    __table_args__ = (Index("ix_ttom_serve_jobs_status_created", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    thread_id: Mapped[str] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(16))
    prompt: Mapped[str] = mapped_column(Text)
    layout: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    model: Mapped[str] = mapped_column(Text)
    remixed_from: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float, index=True)
    started_at: Mapped[float | None] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float)
    # --- the attempt running it
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[float | None] = mapped_column(Float)
    request_no: Mapped[int | None] = mapped_column(Integer)  # the thread's request number this job is
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    resume_answer: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # {"answer": ...} for a paused approval
    # --- what it says
    approval: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the pending question, while waiting
    stage: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    run_dir: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)
    completions: Mapped[int] = mapped_column(Integer, default=0)  # times it was marked completed (at most 1)


class EventRow(Base):
    """One progress event of a job (the agent's, or a status change), in the order it was written."""

    __tablename__ = "ttom_serve_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(64), index=True)
    time: Mapped[float] = mapped_column(Float)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
