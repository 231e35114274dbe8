"""The dispatcher: hands the oldest queued jobs to free workers, and deals with the ends of attempts.

One background thread per server. Each tick it:

1. collects the attempts that ended: a worker that died (``pool.died``) has its job requeued (it
   resumes from its checkpoint on the next free worker, at most ``max_attempts`` times) and is
   replaced; a server that stops requeues what it ran;
2. on a shared database (Ray), requeues jobs whose worker's lease ran out (every ``lease_s / 2``);
3. gives each free worker a queued job, preferring the worker that has the job's model loaded, and
   claims it in the store first (on a shared database, several servers may dispatch; one wins).

It wakes when a job is submitted or resumed, when an attempt ends, or every ``poll_s``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from ttom.serve.config import ServeConfig
from ttom.serve.pools import Slot
from ttom.serve.store import JobRecord, JobStore

log = logging.getLogger("ttom.serve")


class Dispatcher:
    def __init__(self, store: JobStore, pool: Any, config: ServeConfig) -> None:
        self.store, self.pool, self.config = store, pool, config
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ttom-dispatcher", daemon=True)
        self._last_sweep = 0.0
        self.recovered: list[str] = []

    # ----- life ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Requeue the jobs an earlier server left in progress, then start dispatching."""
        self.recovered = self.store.recover(expired_only=self.pool.shared, max_attempts=self.config.max_attempts)
        if self.recovered:
            log.info("requeued %d job(s) left in progress: %s", len(self.recovered), ", ".join(self.recovered))
        self._thread.start()

    def wake(self, *_: Any) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop: running attempts end at their next step and are requeued (a later start resumes them)."""
        self._stopping.set()
        shutdown = getattr(self.pool, "shutdown", None)
        if shutdown is not None:
            shutdown.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        # in-process attempts stop at their next step and say so; a Ray actor's job is requeued at once (its
        # actor goes with the server)
        deadline = time.monotonic() + (timeout if shutdown is not None else 0.0)
        for slot in self.pool.slots:
            if slot.future is not None:
                try:
                    slot.future.result(timeout=max(0.0, deadline - time.monotonic()))
                except Exception:
                    pass
            self._reap(slot, force=True)
        self.pool.close()

    @property
    def busy(self) -> int:
        return sum(1 for s in self.pool.slots if s.future is not None)

    # ----- the loop ------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._tick()
            except Exception:  # a database hiccup: the next tick tries again
                log.exception("dispatcher tick failed")
            self._wake.wait(self.config.poll_s)
            self._wake.clear()

    def _tick(self) -> None:
        for slot in self.pool.slots:
            self._reap(slot)
        now = time.monotonic()
        if self.pool.shared and now - self._last_sweep > self.config.lease_s / 2:
            self._last_sweep = now
            for job_id in self.store.recover(expired_only=True, max_attempts=self.config.max_attempts):
                log.warning("job %s: its worker stopped reporting; requeued", job_id)
        self.pool.poll_ready()
        idle = [s for s in self.pool.slots if s.future is None and s.ready is True]
        if not idle or self._stopping.is_set():
            return
        for job in self.store.next_queued(limit=2 * len(idle)):
            if not idle:
                break
            slot = _pick(idle, job)
            claimed = self.store.claim(job.id, slot.name, self.config.lease_s)
            if claimed is None:
                continue  # another server took it
            idle.remove(slot)
            slot.job, slot.model = (job.id, claimed.attempts), job.model
            slot.future = self.pool.submit(slot, job.id, claimed.attempts)
            slot.future.add_done_callback(self.wake)

    def _reap(self, slot: Slot, force: bool = False) -> None:
        """Deal with the end of ``slot``'s attempt (``force``: the server stops; still running = requeue)."""
        if slot.future is None or (not force and not slot.future.done()):
            return
        (job_id, attempt), fut = slot.job, slot.future
        slot.future = slot.job = None
        max_attempts = self.config.max_attempts
        if not fut.done():
            self.store.requeue(job_id, attempt, "the server stopped", max_attempts=max_attempts + 1)
            return
        try:
            outcome = fut.result()
        except Exception as e:
            if self.pool.died(e):
                log.warning("worker %s died running job %s (attempt %d): %s", slot.name, job_id, attempt,
                            type(e).__name__)
                self.store.requeue(job_id, attempt, f"its worker {slot.name} died", max_attempts=max_attempts)
                self.pool.replace(slot)
            else:
                log.error("job %s: the worker failed: %s: %s", job_id, type(e).__name__, e)
                self.store.finish(job_id, attempt, "failed", error=("internal", f"{type(e).__name__}: {e}"))
            return
        if outcome == "requeue":  # the server is stopping: not the job's fault, so not an attempt used up
            self.store.requeue(job_id, attempt, "the server stopped", max_attempts=max_attempts + 1)
        elif outcome in ("completed", "waiting") and slot.model:
            slot.models.add(slot.model)


def _pick(idle: list[Slot], job: JobRecord) -> Slot:
    """The free worker that has the job's model loaded, else the one with the fewest models loaded."""
    for slot in idle:
        if job.model in slot.models:
            return slot
    return min(idle, key=lambda s: len(s.models))
