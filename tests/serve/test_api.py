"""The HTTP job API end to end, embedded: the real application, job store, worker and agent graph."""

from __future__ import annotations

import json

import pytest

from .conftest import FAST, PROMPT, TWO_OBJECTS, sse_events, wait_for


def _mp4(data: bytes) -> bool:
    return len(data) > 1000 and data[4:8] == b"ftyp"


def test_submit_poll_fetch_the_mp4_and_its_assets(make_client, tmp_path):
    c = make_client()
    r = c.post("/v1/videos", json={"prompt": PROMPT, "options": FAST})
    assert r.status_code == 200, r.text
    job = r.json()
    assert job["object"] == "video" and job["status"] == "queued" and job["model"] == "tiny-cogvideox"
    assert job["id"].startswith("video_") and job["thread_id"] != job["id"]

    done = wait_for(c, job["id"])
    assert done["status"] == "completed", done
    assert done["progress"] == 100 and done["attempts"] == 1 and done["completed_at"] >= done["created_at"]
    res = done["result"]
    assert res["accepted"] is None and res["rounds"] == 1 and res["delivered_round"] == 1  # critic off
    assert res["memory"]["action"] == "insert" and res["critic"]["decision"] == "skipped"
    assert res["history"][0]["video_url"].endswith(f"/v1/videos/{job['id']}/assets/round-1.mp4")
    assert res["summary"].startswith("Not judged")

    video = c.get(f"/v1/videos/{job['id']}/content")
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4" and _mp4(video.content)
    assert c.get(done["assets"]["round-1.mp4"]).content == video.content  # one round: it is the delivered one
    assert c.get(f"/v1/videos/{job['id']}/content", params={"variant": "gif"}).content[:3] == b"GIF"
    assert c.get(f"/v1/videos/{job['id']}/content", params={"variant": "overlay"}).content[:4] == b"\x89PNG"
    report = c.get(f"/v1/videos/{job['id']}/content", params={"variant": "report"})
    # the client's report names assets, never a file on the server
    assert report.json()["rounds"] == 1 and str(tmp_path) not in report.text
    assert set(done["assets"]) >= {"video.mp4", "video.gif", "overlay.png", "layout.json", "report.json",
                                   "phi.safetensors", "round-1.mp4"}
    assert "critic.png" not in done["assets"]  # the critic was off: no picture
    miss = c.get(f"/v1/videos/{job['id']}/content", params={"variant": "critic"})
    assert miss.status_code == 404 and "critic.png" in miss.json()["detail"]

    listed = c.get("/v1/videos").json()
    assert listed["object"] == "list" and [j["id"] for j in listed["data"]] == [job["id"]]


def test_the_event_stream_carries_every_progress_event_and_ends_with_the_status(make_client):
    c = make_client()
    job = c.post("/v1/videos", json={"prompt": PROMPT, "options": FAST}).json()
    events = sse_events(c, job["id"])  # follows the job live until its final status
    kinds = [e["event"] for _, e in events]
    assert kinds[0] == "status" and events[0][1]["status"] == "queued"
    assert events[-1][1] == {**events[-1][1], "event": "status", "status": "completed"}
    for kind in ("plan", "memory", "generate", "tto", "step", "critic", "memorize", "report"):
        assert kind in kinds, kinds
    tto = next(e for _, e in events if e["event"] == "tto")
    step = next(e for _, e in events if e["event"] == "step")
    assert tto["round"] == 1 and isinstance(tto["loss"], float) and step["steps"] == 3 and step["round"] == 1
    ids = [i for i, _ in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    # a reconnect with Last-Event-ID continues after it
    later = sse_events(c, job["id"], headers={"Last-Event-ID": str(ids[-4])})
    assert [i for i, _ in later] == ids[-3:]


def test_bad_bodies_are_refused_naming_the_field(make_client):
    c = make_client(start=False)
    cases = [
        ({"options": FAST}, 422, "prompt"),
        ({"prompt": ""}, 422, "prompt"),
        ({"prompt": PROMPT, "options": {"steps": 0}}, 422, "options.steps"),
        ({"prompt": PROMPT, "options": {"tto": {"iterations": -1}}}, 422, "options.tto.iterations"),
        ({"prompt": PROMPT, "options": {"stepz": 3}}, 422, "options.stepz"),
        ({"prompt": PROMPT, "seconds": "4"}, 422, "seconds"),
        ({"prompt": PROMPT, "size": "big"}, 422, "size"),
        ({"prompt": PROMPT, "layout": {"objects": [{"name": "dog"}]}}, 422, "layout"),
        ({"prompt": PROMPT, "thread_id": "../etc"}, 422, "thread_id"),
        ({"prompt": PROMPT, "model": "no-such-model"}, 400, "model"),
        ({"prompt": PROMPT, "model": "/etc"}, 400, "model"),
        ({"prompt": PROMPT, "options": {"device": "cuda:3"}}, 400, "options.device"),
        ({"prompt": PROMPT, "options": {"out_dir": "/tmp/elsewhere"}}, 400, "options.out_dir"),
        ({"prompt": PROMPT, "options": {"phi": "/etc/passwd"}}, 400, "options.phi"),
        ({"prompt": PROMPT, "thread_id": "thread_unknown"}, 404, "thread_id"),
    ]
    for body, status, field in cases:
        r = c.post("/v1/videos", json=body)
        assert r.status_code == status, (body, r.text)
        err = r.json()["error"]
        assert err["param"] == field and field.split(".")[-1] in err["message"], (body, err)
    r = c.post("/v1/videos", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    huge = c.post("/v1/videos", content=b'{"prompt": "' + b"a" * (2 << 20) + b'"}',
                  headers={"content-type": "application/json"})
    assert huge.status_code == 413
    form = c.post("/v1/videos", data={"prompt": PROMPT, "options[tto][steps]": "-1"})  # a form, as OpenAI's client
    assert form.status_code == 422 and form.json()["error"]["param"] == "options.tto.steps"
    queued = c.post("/v1/videos", data={"prompt": PROMPT, "options": '{"steps": 2}', "options[seed]": "7"})
    assert queued.status_code == 422  # options given twice, as JSON text and as a field: refused, not guessed
    upload = c.post("/v1/videos", data={"prompt": PROMPT}, files={"input_reference": ("a.png", b"png", "image/png")})
    assert upload.status_code == 422 and "takes no file" in upload.json()["detail"]
    assert c.get("/v1/videos", params={"limit": 0}).json()["error"]["param"] == "limit"
    assert c.get("/v1/videos", params={"status": "done"}).status_code == 422
    assert c.get("/v1/videos").json()["data"] == []  # nothing refused was stored


def test_unknown_ids_are_404(make_client):
    c = make_client(start=False)
    for method, path, body in [("GET", "/v1/videos/video_nope", None), ("DELETE", "/v1/videos/video_nope", None),
                               ("POST", "/v1/videos/video_nope/resume", {}),
                               ("POST", "/v1/videos/video_nope/remix", {"prompt": "make the dog bigger"}),
                               ("GET", "/v1/videos/video_nope/content", None),
                               ("GET", "/v1/videos/video_nope/assets", None),
                               ("GET", "/v1/videos/video_nope/assets/video.mp4", None),
                               ("GET", "/v1/videos/video_nope/events", None),
                               ("GET", "/v1/videos?after=video_nope", None)]:
        r = c.request(method, path, json=body)
        assert r.status_code == 404 and "video_nope" in r.json()["detail"], (method, path, r.text)


def test_list_pages_filters_and_cancel_of_queued_jobs(make_client):
    c = make_client(start=False)  # no worker: the jobs stay queued
    ids = [c.post("/v1/videos", json={"prompt": f"{PROMPT} {i}", "options": FAST}).json()["id"] for i in range(5)]
    page = c.get("/v1/videos", params={"limit": 2}).json()
    assert [j["id"] for j in page["data"]] == ids[::-1][:2] and page["has_more"] and page["last_id"] == ids[3]
    rest = c.get("/v1/videos", params={"limit": 10, "after": page["last_id"]}).json()
    assert [j["id"] for j in rest["data"]] == ids[::-1][2:] and not rest["has_more"]
    asc = c.get("/v1/videos", params={"order": "asc", "limit": 3}).json()
    assert [j["id"] for j in asc["data"]] == ids[:3]

    gone = c.delete(f"/v1/videos/{ids[1]}").json()
    assert gone["status"] == "cancelled" and gone["error"]["code"] == "cancelled"
    assert c.delete(f"/v1/videos/{ids[1]}").status_code == 409  # nothing left to cancel
    assert [j["id"] for j in c.get("/v1/videos", params={"status": "cancelled"}).json()["data"]] == [ids[1]]
    thread = c.get(f"/v1/videos/{ids[0]}").json()["thread_id"]
    assert [j["id"] for j in c.get("/v1/videos", params={"thread_id": thread}).json()["data"]] == [ids[0]]
    assert c.get(f"/v1/videos/{ids[0]}/content").status_code == 409  # not completed: no video yet


def test_a_full_queue_answers_429_with_a_retry_hint_and_loses_nothing(make_client):
    c = make_client(start=False, max_queue=3)
    ids = [c.post("/v1/videos", json={"prompt": PROMPT}).json()["id"] for _ in range(3)]
    r = c.post("/v1/videos", json={"prompt": PROMPT})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1 and "queue is full" in r.json()["detail"]
    assert sorted(j["id"] for j in c.get("/v1/videos").json()["data"]) == sorted(ids)
    c.delete(f"/v1/videos/{ids[0]}")  # a place is free again
    assert c.post("/v1/videos", json={"prompt": PROMPT}).status_code == 200


def test_an_api_key_is_required_when_set(make_client):
    c = make_client(start=False, api_key="s3cret")
    assert c.post("/v1/videos", json={"prompt": PROMPT}).status_code == 401
    assert c.get("/v1/videos", headers={"Authorization": "Bearer wrong"}).status_code == 401
    r = c.get("/v1/videos", headers={"Authorization": "Bearer s3cret"})
    assert r.status_code == 200
    assert c.get("/health").json()["status"] == "ok"  # liveness needs no key


def test_a_running_job_is_cancelled_at_its_next_step_and_resumes(make_client):
    c = make_client()
    job = c.post("/v1/videos", json={"prompt": PROMPT, "options": {"steps": 80, "tto": {"mode": "off"},
                                                                  "critic": "off", "memory": False}}).json()
    running = wait_for(c, job["id"], until=("in_progress",))
    while running["stage"].get("name") != "step":
        running = c.get(f"/v1/videos/{job['id']}").json()
    r = c.delete(f"/v1/videos/{job['id']}")
    assert r.status_code == 200 and r.json()["cancel_requested"] is True
    stopped = wait_for(c, job["id"])
    assert stopped["status"] == "cancelled" and stopped["error"]["code"] == "cancelled"
    assert stopped["stage"]["step"] < 80  # stopped inside the denoising loop, not after it
    assert c.get(f"/v1/videos/{job['id']}/content").status_code == 409

    resumed = c.post(f"/v1/videos/{job['id']}/resume", json={})
    assert resumed.status_code == 200 and resumed.json()["status"] == "queued"
    done = wait_for(c, job["id"])
    assert done["status"] == "completed" and done["attempts"] == 2 and done["result"]["rounds"] == 1
    assert c.post(f"/v1/videos/{job['id']}/resume", json={}).status_code == 409  # completed: nothing to resume


def test_an_edit_is_a_new_job_on_the_same_thread_and_keeps_the_earlier_result(make_client):
    c = make_client()
    first = c.post("/v1/videos", json={"prompt": PROMPT, "options": FAST}).json()
    busy = c.post("/v1/videos", json={"prompt": "make the dog bigger", "thread_id": first["thread_id"]})
    assert busy.status_code == 409 and first["id"] in busy.json()["detail"]  # one request at a time per thread
    wait_for(c, first["id"])
    before = c.get(f"/v1/videos/{first['id']}/content").content

    edit = c.post(f"/v1/videos/{first['id']}/remix", json={"prompt": "make the dog bigger"})
    assert edit.status_code == 200, edit.text
    second = edit.json()
    assert second["thread_id"] == first["thread_id"] and second["id"] != first["id"]
    assert second["remixed_from_video_id"] == first["id"]
    done = wait_for(c, second["id"])
    assert done["status"] == "completed", done
    assert done["result"]["plan"]["planner"] == "edit"
    after = c.get(f"/v1/videos/{second['id']}/content").content
    assert _mp4(after) and after != before
    assert c.get(f"/v1/videos/{first['id']}/content").content == before  # the earlier job's result is intact
    layouts = [c.get(f"/v1/videos/{j}/assets/layout.json").json() for j in (first["id"], second["id"])]
    dog = [next(o for o in lay["objects"] if o["name"] == "dog") for lay in layouts]
    area = [(b[2] - b[0]) * (b[3] - b[1]) for b in (d["keyframes"][0]["box"] for d in dog)]
    assert area[1] > area[0]


def test_a_job_waits_for_layout_approval_and_resumes_with_an_edited_layout(make_client):
    c = make_client()
    job = c.post("/v1/videos", json={"prompt": PROMPT, "options": {**FAST, "approve": True}}).json()
    waiting = wait_for(c, job["id"], until=("waiting", *("completed", "failed")))
    assert waiting["status"] == "waiting" and waiting["approval"]["layout"]["objects"]
    assert c.post(f"/v1/videos/{job['id']}/resume", json={}).status_code == 409  # an answer is needed
    bad = c.post(f"/v1/videos/{job['id']}/resume", json={"layout": {"objects": "no"}})
    assert bad.status_code == 422 and bad.json()["error"]["param"] == "layout"

    edited = json.loads(json.dumps(TWO_OBJECTS))
    edited["objects"][1]["keyframes"][0]["box"] = [0.1, 0.1, 0.3, 0.3]
    r = c.post(f"/v1/videos/{job['id']}/resume", json={"layout": edited})
    assert r.status_code == 200 and r.json()["status"] == "queued"
    done = wait_for(c, job["id"])
    assert done["status"] == "completed", done
    assert done["result"]["plan"]["edited_by_human"] is True
    got = c.get(f"/v1/videos/{job['id']}/assets/layout.json").json()
    assert got["objects"][1]["keyframes"][0]["box"] == [0.1, 0.1, 0.3, 0.3]


def test_a_rejected_layout_ends_the_job_without_a_video(make_client):
    c = make_client()
    job = c.post("/v1/videos", json={"prompt": PROMPT, "options": {**FAST, "approve": True}}).json()
    wait_for(c, job["id"], until=("waiting",))
    c.post(f"/v1/videos/{job['id']}/resume", json={"answer": "reject"})
    done = wait_for(c, job["id"])
    assert done["status"] == "cancelled" and done["error"]["code"] == "rejected" and done["assets"] == {}


@pytest.mark.slow
def test_the_shapes_model_end_to_end_with_its_critic(make_client):
    c = make_client(defaults={"model": "shapes"})
    job = c.post("/v1/videos", json={"prompt": "a red circle moves to the right", "options": {
        "steps": 3, "tto": {"steps": 1, "iterations": 2}, "max_rounds": 1, "memory": False, "critic": "shapes"}}).json()
    assert job["model"] == "shapes"
    done = wait_for(c, job["id"], timeout=300)
    assert done["status"] == "completed", done
    critic = done["result"]["critic"]
    assert critic["backend"] == "shapes" and critic["decision"] in ("accept", "reoptimize", "repair")
    assert isinstance(critic["miou"], float) and done["result"]["accepted"] == (critic["decision"] == "accept")
    assert "critic.png" in done["assets"] and _mp4(c.get(f"/v1/videos/{job['id']}/content").content)


def test_the_openapi_schema_documents_the_routes(make_client):
    c = make_client(start=False)
    spec = c.get("/openapi.json").json()
    paths = spec["paths"]
    assert {"post", "get"} <= set(paths["/v1/videos"]) and {"get", "delete"} <= set(paths["/v1/videos/{video_id}"])
    for p in ("/v1/videos/{video_id}/content", "/v1/videos/{video_id}/events", "/v1/videos/{video_id}/resume"):
        assert p in paths
    create = spec["components"]["schemas"]["VideoCreate"]
    assert {"prompt", "options", "layout", "thread_id"} <= set(create["properties"])


def test_a_server_stopped_mid_job_requeues_it_and_the_next_one_finishes_it():
    from fastapi.testclient import TestClient

    from ttom.serve.app import create_app
    from ttom.serve.config import ServeConfig

    config = ServeConfig(poll_s=0.05, flush_s=0.05, device="cpu", defaults={"model": "tiny-cogvideox"})
    with TestClient(create_app(config)) as c:
        job = c.post("/v1/videos", json={"prompt": PROMPT, "options": {"steps": 80, "tto": {"mode": "off"},
                                                                      "critic": "off", "memory": False}}).json()
        running = wait_for(c, job["id"], until=("in_progress",))
        while running["stage"].get("name") != "step":
            running = c.get(f"/v1/videos/{job['id']}").json()
    # the lifespan's end stopped the worker at its next step and put the job back in the queue
    with TestClient(create_app(config)) as c:
        mid = c.get(f"/v1/videos/{job['id']}").json()
        # back in the queue after attempt 1, or already claimed by the new worker as attempt 2
        assert (mid["attempts"], mid["status"]) in ((1, "queued"), (2, "in_progress"), (2, "completed")), mid
        done = wait_for(c, job["id"])
        assert done["status"] == "completed" and done["attempts"] == 2
        events = [e for _, e in sse_events(c, job["id"])]
        assert any(e.get("requeued") == "the server stopped" for e in events)
