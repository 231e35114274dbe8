"""The lease sweep on a shared jobs database: a job whose worker stops reporting is requeued, and that worker,
should it come back, is told it lost the job (ttom.serve.store.JobStore.recover / report)."""

from __future__ import annotations

import time

from ttom.serve.store import JobStore, NewJob


def _job(i: str) -> NewJob:
    return NewJob(id=i, thread_id=f"t-{i}", prompt="a red circle", options={}, model="shapes")


def test_only_jobs_whose_lease_ran_out_are_requeued_and_their_old_worker_is_stopped(tmp_path):
    store = JobStore(f"sqlite:///{tmp_path / 'jobs.sqlite'}")
    try:
        for i in ("silent", "alive"):
            store.create(_job(i), max_queue=10)
        silent = store.claim("silent", "w-0", lease_s=0.05)
        alive = store.claim("alive", "w-1", lease_s=60)
        assert silent.attempts == 1 and alive.attempts == 1
        time.sleep(0.1)
        # the live worker reports on time; the silent one's lease has run out
        assert store.report("alive", 1, events=[], stage=None, progress=10, lease_s=60) == "ok"
        assert store.recover(expired_only=True, max_attempts=3) == ["silent"]
        assert store.get("silent").status == "queued" and store.get("alive").status == "in_progress"
        requeued = [e.data for e in store.events_after("silent") if e.data.get("requeued")]
        assert requeued and requeued[-1]["requeued"] == "its worker stopped reporting"
        # the silent worker comes back: its attempt no longer owns the job, so it must stop
        assert store.report("silent", 1, events=[], stage=None, progress=50, lease_s=60) == "lost"
        again = store.claim("silent", "w-1", lease_s=60)
        assert again.attempts == 2 and again.worker == "w-1"
        assert store.recover(expired_only=True, max_attempts=3) == []  # nothing else ran out
    finally:
        store.close()
