"""One attempt at one job: run (or continue) the agent graph on the job's thread, and report.

``execute`` is what every worker runs (the in-process thread, a Ray actor). It decides from the
job and its thread's checkpoint what to do:

- a paused approval with its answer: resume the graph with the answer;
- a job never started: note which of the thread's requests it is, then run the graph on it;
- a job started before (its worker died, the server restarted, it was cancelled and resumed):
  continue from the checkpoint (finished nodes, and so finished rounds, are not redone); if the
  thread already finished this request, only report it; if the thread never saw it, run it.

While the graph runs, ``JobSink`` collects its progress events and a background thread writes them
to the store every ``flush_s`` with the stage, the percent and the attempt's lease; the store's
answer may be "cancel" (the client cancelled) or "lost" (another attempt runs the job now): then
the graph stops at its next unit of GPU work (``run_agent``'s ``stop``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ttom.serve.progress import Progress
from ttom.serve.store import JobRecord, JobStore, jsonable

log = logging.getLogger("ttom.serve")

# The files of a finished job a client may fetch, by asset name (never a path from the client).
ASSETS = {"video.mp4": "video.mp4", "video.gif": "video.gif", "overlay.png": "overlay.png",
          "critic.png": "critic.png", "layout.json": "layout.json", "report.json": "report.json",
          "phi.safetensors": "pytorch_lora_weights.safetensors"}


class JobStopped(Exception):
    """Raised inside the graph to stop an attempt: ``reason`` is cancel, lost or shutdown."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class JobSink:
    """The attempt's progress: events in, batched writes to the store out, and the stop flag."""

    def __init__(self, store: JobStore, job: JobRecord, attempt: int, *, flush_s: float, lease_s: float,
                 hook: Callable[[dict[str, Any]], None] | None = None, shutdown: threading.Event | None = None):
        self.store, self.job_id, self.attempt = store, job.id, attempt
        self.flush_s, self.lease_s, self.hook = flush_s, lease_s, hook
        self.progress = Progress(max_rounds=int(job.options.get("max_rounds") or 3), percent=job.progress,
                                 stage=dict(job.stage or {}))
        self.stop_reason: str | None = None
        self._pending: list[tuple[float, dict[str, Any]]] = []
        self._dirty = False
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._shutdown = shutdown
        self._thread = threading.Thread(target=self._loop, name=f"ttom-sink-{job.id[:12]}", daemon=True)
        self._thread.start()

    def on_event(self, e: dict[str, Any]) -> None:
        """An agent progress event (the caller's thread)."""
        data = jsonable(e)
        with self._lock:
            self._pending.append((time.time(), data))
            self.progress.update(data)
            self._dirty = True
        if self.hook is not None:
            self.hook(data)

    def check(self) -> None:
        """``run_agent``'s stop hook (the graph's thread): raise when the attempt must end."""
        if self._shutdown is not None and self._shutdown.is_set() and self.stop_reason is None:
            self.stop_reason = "shutdown"
        if self.stop_reason is not None:
            raise JobStopped(self.stop_reason)

    def flush(self) -> str:
        with self._lock:
            events, self._pending = self._pending, []
            stage, percent = (dict(self.progress.stage), self.progress.percent) if self._dirty else (None, None)
            self._dirty = False
        answer = self.store.report(self.job_id, self.attempt, events=events, stage=stage, progress=percent,
                                   lease_s=self.lease_s)
        if answer != "ok" and self.stop_reason is None:
            self.stop_reason = answer
        return answer

    def _loop(self) -> None:
        last = 0.0
        while not self._closed.wait(self.flush_s):
            now = time.monotonic()
            with self._lock:
                busy = bool(self._pending) or self._dirty
            if busy or now - last > min(self.lease_s / 4, 5.0):
                try:
                    self.flush()
                    last = now
                except Exception as e:  # a database hiccup: the next flush tries again; the lease has slack
                    log.warning("job %s: progress not written (%s: %s)", self.job_id, type(e).__name__, e)

    def close(self) -> None:
        """Stop the background writer and write what is left."""
        self._closed.set()
        self._thread.join(timeout=10)
        try:
            self.flush()
        except Exception as e:
            log.warning("job %s: last progress not written (%s)", self.job_id, e)


def execute(store: JobStore, job_id: str, attempt: int, settings: Any, *, worker: str = "local",
            flush_s: float = 0.5, lease_s: float = 30.0, hook: Callable[[dict[str, Any]], None] | None = None,
            shutdown: threading.Event | None = None, critic: Any = None) -> str:
    """Run attempt ``attempt`` of job ``job_id``; its outcome (completed, waiting, failed, cancelled,
    requeue, lost). The outcome is written to the store here, except ``requeue`` (the dispatcher's)."""
    from ttom.agents.checkpoint import open_checkpointer
    from ttom.agents.graph import build_graph
    from ttom.agents.run import AgentRun, run_agent
    from ttom.errors import TtomError
    from ttom.layout import LayoutError

    job = store.get(job_id)
    if job is None or job.status != "in_progress" or job.attempts != attempt:
        return "lost"
    sink = JobSink(store, job, attempt, flush_s=flush_s, lease_s=lease_s, hook=hook, shutdown=shutdown)
    try:
        with open_checkpointer(settings) as cp:
            config = {"configurable": {"thread_id": job.thread_id}}
            snap = build_graph(cp).get_state(config)
            done = int((snap.values or {}).get("requests", 0))
            unfinished = bool(snap.next or snap.tasks)
            waits = any(t.interrupts for t in snap.tasks)
            kw = dict(thread_id=job.thread_id, settings=settings, checkpointer=cp, on_event=sink.on_event,
                      stop=sink.check, critic=critic)
            if job.resume_answer is not None and waits:
                run = run_agent(resume=job.resume_answer["answer"], **kw)
            elif job.request_no is None or (not unfinished and done < job.request_no):
                if job.request_no is None:
                    if unfinished:  # someone else's run on this thread stopped half-way (the CLI's, another server)
                        raise _ThreadBusy(job.thread_id)
                    if not store.set_request_no(job.id, attempt, done + 1):
                        raise JobStopped("lost")
                run = run_agent(job.prompt, layout=job.layout, options=job.options, **kw)
            elif unfinished:
                run = run_agent(resume=True, **kw)
            else:  # the thread finished this request before the worker could say so
                run = AgentRun(job.thread_id, dict(snap.values))
    except JobStopped as e:
        sink.close()
        if e.reason == "cancel":
            store.finish(job_id, attempt, "cancelled", error=("cancelled", "cancelled by the client; resume it to "
                                                             "continue from its last checkpoint"))
            return "cancelled"
        return "requeue" if e.reason == "shutdown" else "lost"
    except _ThreadBusy as e:
        sink.close()
        store.finish(job_id, attempt, "failed", error=("thread_busy", str(e)))
        return "failed"
    except (TtomError, LayoutError) as e:
        sink.close()
        store.finish(job_id, attempt, "failed", error=("bad_request", str(e)))
        return "failed"
    except Exception as e:  # the job's error goes to its status; the worker lives on
        log.exception("job %s failed", job_id)
        sink.close()
        store.finish(job_id, attempt, "failed", error=("internal", f"{type(e).__name__}: {e}"))
        return "failed"
    sink.close()
    if run.interrupt is not None:
        store.wait(job_id, attempt, jsonable(run.interrupt))
        return "waiting"
    values = run.values
    if values.get("decision") == "rejected":
        store.finish(job_id, attempt, "cancelled", error=("rejected", "the layout was rejected at approval; nothing "
                                                          "was generated"))
        return "cancelled"
    run_dir, report = values.get("run_dir"), run.report
    if not run_dir or report is None or Path(values.get("report_path", "")).parent != Path(run_dir):
        store.finish(job_id, attempt, "failed", error=("internal", "the run ended without a report"))
        return "failed"
    store.finish(job_id, attempt, "completed", result=result_of(report), run_dir=str(run_dir))
    return "completed"


class _ThreadBusy(Exception):
    def __init__(self, thread_id: str) -> None:
        super().__init__(f"thread {thread_id} has a run that stopped half-way outside this job; resume or finish "
                         "it first (ttom generate --thread ... --resume)")


def result_of(report: dict[str, Any]) -> dict[str, Any]:
    """What a client sees of report.json: the same, with asset names where it names files on the server."""
    out = jsonable(report)
    out["video"] = "video.mp4"
    out["history"] = [{**h, "video": f"round-{h['round']}.mp4"} for h in out.get("history", [])]
    out["summary"] = summary(out)
    return out


def summary(report: dict[str, Any]) -> str:
    """The result in one sentence or two, whether the critic accepted the video first."""
    critic = report.get("critic") or {}
    n, k = report.get("rounds"), report.get("delivered_round", report.get("rounds"))
    score = f" (mIoU {critic['miou']:.2f})" if critic.get("miou") is not None else ""
    accepted = report.get("accepted")
    if accepted is True:
        verdict = f"ACCEPTED by the critic{score}: round {k} of {n}."
    elif accepted is False:
        verdict = (f"NOT ACCEPTED: the critic accepted none of {n} round(s); this is the best attempt, round {k}"
                   f"{score}: {'; '.join(critic.get('reasons') or [])}.")
    else:
        verdict = "Not judged: " + ("; ".join(critic.get("reasons") or []) or "no critic checked this video") + "."
    memory = report.get("memory") or {}
    return f"{verdict} Memory: {memory.get('action')}" + (" (reused a remembered adapter)." if memory.get("hit") else ".")
