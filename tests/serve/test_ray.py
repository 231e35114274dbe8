"""The service on Ray: a local cluster (this CPU, so the actors run with num_gpus=0), two worker actors,
one PostgreSQL shared for the jobs, the agent's checkpoints and the memory; one actor killed mid-run."""

from __future__ import annotations

import time
import uuid
from collections import Counter

import pytest

from tests.helpers.memhelpers import PG_URL, pg_unreachable

from .conftest import FAST, PROMPT, wait_for


@pytest.fixture
def pg_url(monkeypatch):
    """A PostgreSQL schema of its own (dropped after), as the URL every part uses (search_path)."""
    reason = pg_unreachable()
    if reason:
        pytest.skip(reason)
    from sqlalchemy import create_engine, text

    schema = f"ttom_serve_{uuid.uuid4().hex[:10]}"
    engine = create_engine(PG_URL)
    with engine.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    monkeypatch.setenv("TTOM_DATABASE_URL", url)
    monkeypatch.setenv("TTOM_CHECKPOINT_URL", url)
    from ttom.config import get_settings

    get_settings.cache_clear()
    yield url
    with engine.begin() as c:
        c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@pytest.mark.postgres
@pytest.mark.slow
def test_twenty_jobs_on_two_ray_workers_one_killed_mid_run_all_finish_once(make_client, pg_url):
    import ray
    from sqlalchemy import create_engine, text

    # Ray reports the killed actor's death itself; the lease only catches silent workers (tests/serve/test_lease.py).
    # It is long here: with 20 s, a run beside other CPU work saw a second job requeued (a replacement actor starting
    # cold on a loaded 2-core machine reports its first job late), and a lease only has to outlast such a pause.
    c = make_client(ray_address="local", ray_num_cpus=2, workers=2, gpus_per_worker=0, cpus_per_worker=1,
                    preload=["tiny-cogvideox"], lease_s=120)
    service = c.app.state.service
    assert [s.name for s in service.pool.slots] == ["ray-0", "ray-1"]
    assert service.store.url == pg_url and c.get("/health").json()["workers"] == 2
    # one job first: its φ* is the memory's entry, which every later job (on either actor) recalls and updates
    first = c.post("/v1/videos", json={"prompt": PROMPT, "options": FAST}).json()
    done = wait_for(c, first["id"], timeout=300)
    assert done["status"] == "completed" and done["result"]["memory"]["action"] == "insert", done
    entry = done["result"]["memory"]["entry_id"]

    ids = [c.post("/v1/videos", json={"prompt": PROMPT, "options": {**FAST, "seed": i}}).json()["id"]
           for i in range(1, 20)]
    victim = service.pool.slots[0]
    deadline = time.monotonic() + 300
    while True:  # kill actor ray-0 while it runs a job that has started its graph
        job = victim.job
        if job is not None and service.store.get(job[0]).stage.get("name") not in (None, "queued"):
            break
        assert time.monotonic() < deadline, "ray-0 never ran a job"
        time.sleep(0.01)
    killed_job = job[0]
    ray.kill(victim.handle)

    final = {i: wait_for(c, i, timeout=600) for i in ids}
    assert all(j["status"] == "completed" for j in final.values()), {i: (j["status"], j["error"])
                                                                     for i, j in final.items()}
    records = {i: service.store.get(i) for i in [first["id"], *ids]}
    assert all(r.completions == 1 for r in records.values())  # none completed twice
    moved = [i for i, r in records.items() if r.attempts > 1]
    assert moved == [killed_job] and records[killed_job].attempts == 2  # moved to a new actor, once
    events = service.store.events_after(killed_job)
    assert any("its worker ray-0 died" in (e.data.get("requeued") or "") for e in events)
    workers = Counter(e.data["worker"] for i in ids for e in service.store.events_after(i)
                      if e.data.get("status") == "in_progress")
    assert set(workers) == {"ray-0", "ray-1"}  # both actors (ray-0 twice: replaced after the kill) took jobs
    for i in ids:
        reports = [e for e in service.store.events_after(i) if e.data.get("event") == "report"]
        assert len(reports) <= 1
        mem = final[i]["result"]["memory"]
        assert mem["hit"] is True and mem["entry_id"] == entry and mem["action"] == "update", mem

    engine = create_engine(pg_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ttom_memory_entries")).scalar() == 1
        writes = conn.execute(text("SELECT request_key, entry_id, action FROM ttom_memory_writes")).all()
    engine.dispose()
    # one memory write per job, each on its own thread's request: the killed job's too, once
    threads = {records[i].thread_id for i in records}
    assert len(writes) == 20 and {w[0].split(":")[0] for w in writes} == threads
    assert Counter(w[2] for w in writes) == {"insert": 1, "update": 19} and {w[1] for w in writes} == {entry}
