"""The page's own endpoints over HTTP on a live server: a memory entry, the conversations, a round's video;
each refuses what it cannot answer with a 4xx naming the problem."""

from __future__ import annotations

import time

import httpx

from tests.helpers.memhelpers import SIG, make_phi


def test_a_memory_entry_is_shown_and_bad_ids_are_named(live_api):
    from ttom.memory.store import MemoryStore

    store = MemoryStore()
    entry = store.insert("<object_0> moves to the right side of <environment_0>.", make_phi(seed=1), SIG,
                         quality=0.81).entry
    store.close()
    r = httpx.get(f"{live_api.url}/web/v1/memory/{entry.id[:8]}", timeout=10)  # a unique prefix, as ttom memory show
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == entry.id and body["quality"] == 0.81 and body["best_effort"] is False
    assert body["key_text"].startswith("<object_0> moves")
    r = httpx.get(f"{live_api.url}/web/v1/memory/{'0' * 32}", timeout=10)
    assert r.status_code == 404 and "no memory entry" in r.json()["detail"]
    r = httpx.get(f"{live_api.url}/web/v1/memory/not-an-id", timeout=10)
    assert r.status_code == 422 and "entry_id" in r.json()["error"]["message"]


def test_threads_and_round_videos(live_api):
    url = live_api.url
    assert httpx.get(f"{url}/web/v1/threads", timeout=10).json()["data"] == []
    opts = {"steps": 2, "max_rounds": 1, "tto": {"mode": "off"}, "critic": "off"}
    def done(job_id: str) -> dict:
        for _ in range(900):
            j = httpx.get(f"{url}/v1/videos/{job_id}", timeout=10).json()
            if j["status"] in ("completed", "failed"):
                return j
            time.sleep(0.2)
        raise AssertionError(f"job {job_id} did not finish")

    job = httpx.post(f"{url}/v1/videos", json={"prompt": "a dog sits on the right", "options": opts}, timeout=10).json()
    assert done(job["id"])["status"] == "completed"
    edit = httpx.post(f"{url}/v1/videos", json={"prompt": "make the dog bigger", "options": opts,
                                                "thread_id": job["thread_id"]}, timeout=10).json()
    assert done(edit["id"])["status"] == "completed"
    threads = httpx.get(f"{url}/web/v1/threads", timeout=10).json()["data"]
    assert len(threads) == 1
    t = threads[0]
    assert t["thread_id"] == job["thread_id"] and t["jobs"] == 2 and t["first_prompt"] == "a dog sits on the right"
    assert t["last_prompt"] == "make the dog bigger" and t["last_status"] == "completed" and t["plain"] is True
    r = httpx.get(f"{url}/web/v1/videos/{edit['id']}/rounds/1/video", timeout=10)
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4" and len(r.content) > 1000
    assert httpx.get(f"{url}/web/v1/videos/{edit['id']}/rounds/2/video", timeout=10).status_code == 404
    assert httpx.get(f"{url}/web/v1/videos/no_such_job/rounds/1/video", timeout=10).status_code == 404
    assert httpx.get(f"{url}/web/v1/videos/{edit['id']}/rounds/0/video", timeout=10).status_code == 422
    page = httpx.get(f"{url}/", timeout=10)
    assert page.status_code == 200 and "<title>ttom" in page.text
    assert httpx.get(f"{url}/static/app.js", timeout=10).status_code == 200
    assert httpx.get(f"{url}/static/../routes.py", timeout=10).status_code == 404  # no path out of static/
