"""The MCP server and the LangChain tool on a running service: unique job ids, results reachable by the caller
(the service's URLs, MCP resources), edits on the job's thread."""

from __future__ import annotations

import anyio
import pytest

from .conftest import FAST, PROMPT


def test_mcp_on_a_running_service_returns_urls_and_resources_and_edits_on_the_thread(make_client):
    from mcp.client.client import Client

    from ttom.tools.mcp_server import build_server

    c = make_client(defaults={"model": "tiny-cogvideox", **FAST})
    server = build_server(service_url="http://testserver", http=c)

    async def main():
        async with Client(server) as mcp:
            async def done(job_id):
                for _ in range(1200):
                    st = (await mcp.call_tool("job_status", {"job_id": job_id})).structured_content
                    if st["status"] not in ("queued", "running"):
                        return st
                    await anyio.sleep(0.1)

            first = (await mcp.call_tool("submit_video", {"prompt": PROMPT})).structured_content
            st = await done(first["job_id"])
            assert st["status"] == "done" and st["progress"] == 1.0, st
            res = (await mcp.call_tool("job_result", {"job_id": first["job_id"]})).structured_content
            assert res["video_url"] == f"http://testserver/v1/videos/{first['job_id']}/assets/video.mp4"
            assert "video" not in res and res["memory"]["action"] == "insert"  # no path on the server's disk
            uri = res["resources"]["video.mp4"]
            assert uri == f"ttom://videos/{first['job_id']}/video.mp4" and "report.json" in res["resources"]
            blob = (await mcp.read_resource(uri)).contents[0]
            import base64

            assert base64.b64decode(blob.blob) == c.get(f"/v1/videos/{first['job_id']}/content").content
            assert blob.mime_type == "video/mp4"

            # an edit, naming the earlier job: a new job id, the same thread, the earlier result intact
            edit = (await mcp.call_tool("submit_video", {"prompt": "make the dog bigger",
                                                         "thread_id": first["job_id"]})).structured_content
            assert edit["job_id"] != first["job_id"] and edit["thread_id"] == first["thread_id"]
            assert (await done(edit["job_id"]))["status"] == "done"
            again = (await mcp.call_tool("job_result", {"job_id": first["job_id"]})).structured_content
            assert again["video_url"] == res["video_url"] and again["summary"] == res["summary"]
            missing = await mcp.call_tool("job_status", {"job_id": "video_nope"})
            assert missing.is_error and "404" in missing.content[0].text and "video_nope" in missing.content[0].text

    anyio.run(main)


def test_the_langchain_tool_on_a_running_service(make_client):
    from ttom.tools.agent_tool import make_video_tool

    c = make_client()
    tool = make_video_tool({"model": "tiny-cogvideox", **FAST}, service_url="http://testserver", http=c)
    msg = tool.invoke({"type": "tool_call", "id": "1", "name": "generate_video", "args": {"prompt": PROMPT}})
    art = msg.artifact
    assert art["job_id"].startswith("video_") and art["video_url"].endswith(f"/v1/videos/{art['job_id']}/assets/video.mp4")
    assert "Not judged" in msg.content and art["thread_id"] in msg.content and art["memory"]["action"] == "insert"
    assert c.get(art["video_url"]).status_code == 200
    edit = tool.invoke({"type": "tool_call", "id": "2", "name": "generate_video",
                        "args": {"prompt": "make the dog bigger", "thread_id": art["thread_id"]}})
    assert edit.artifact["thread_id"] == art["thread_id"] and edit.artifact["job_id"] != art["job_id"]
    bad = tool.invoke({"type": "tool_call", "id": "3", "name": "generate_video",
                       "args": {"prompt": PROMPT, "model": "no-such-model"}})
    assert bad.status == "error" and "400" in bad.content and "no-such-model" in bad.content


def test_mcp_in_process_jobs_have_their_own_ids_and_resources(tmp_path):
    from mcp.client.client import Client

    from ttom.config import Settings
    from ttom.tools.mcp_server import build_server

    server = build_server({"model": "tiny-cogvideox", "device": "cpu", **FAST}, settings=Settings(cache_dir=tmp_path))

    async def main():
        async with Client(server) as mcp:
            one = (await mcp.call_tool("generate_video", {"prompt": PROMPT})).structured_content
            assert one["job_id"] != one["thread_id"] and one["video"].startswith(str(tmp_path))
            report = (await mcp.read_resource(one["resources"]["report.json"])).contents[0]
            import base64
            import json

            assert json.loads(base64.b64decode(report.blob))["rounds"] == 1
    try:
        anyio.run(main)
    finally:
        server.jobs.close()


@pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")
def test_the_openai_sdk_video_client_fits(make_client):
    """OpenAI's own client (videos.create / retrieve / list / download_content), as vLLM-Omni and SGLang users
    call their servers: ttom's options travel in extra_body."""
    from openai import OpenAI

    c = make_client(api_key="k")
    client = OpenAI(api_key="k", base_url="http://testserver/v1", http_client=c)
    video = client.videos.create(prompt=PROMPT, model="tiny-cogvideox", extra_body={"options": FAST})
    assert video.id.startswith("video_") and video.status == "queued"
    while (video := client.videos.retrieve(video.id)).status in ("queued", "in_progress"):
        import time

        time.sleep(0.1)
    assert video.status == "completed" and video.progress == 100 and video.model == "tiny-cogvideox"
    assert [v.id for v in client.videos.list()] == [video.id]
    content = client.videos.download_content(video.id)
    assert content.content == c.get(f"/v1/videos/{video.id}/content", headers={"Authorization": "Bearer k"}).content
    assert content.content[4:8] == b"ftyp"
