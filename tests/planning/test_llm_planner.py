"""The real ChatOpenAI client over HTTP against a scripted local OpenAI-compatible server."""

from __future__ import annotations

import json
import socket
import time

import pytest

from tests.helpers.llm_server import Reply, completion, error
from tests.planning.conftest import layout_json, obj
from ttom.config import Settings
from ttom.planning.errors import LLMOutputError, LLMServerError, LLMUnreachableError
from ttom.planning.llm import LLMPlanner
from ttom.planning.plan import plan

DOG = layout_json([obj(0, "dog", [0.1, 0.4, 0.4, 0.8], [0.6, 0.4, 0.9, 0.8])], enriched="A brown dog runs right.")


def test_json_schema_reply_becomes_layout_and_request_is_structured(server, settings):
    server.script(Reply(body=completion(content=DOG)))
    planner = LLMPlanner(settings)
    layout = planner.plan("a dog runs to the right")
    assert [o.name for o in layout.objects] == ["dog"]
    assert layout.objects[0].keyframes[-1].box == (0.6, 0.4, 0.9, 0.8)
    assert layout.enriched_prompt == "A brown dog runs right." and layout.generation_prompt() == layout.enriched_prompt
    assert planner.method == "json_schema"
    req = server.requests[0]
    assert server.paths[0] == "/v1/chat/completions"
    assert req["model"] == "test-model"
    rf = req["response_format"]
    assert rf["type"] == "json_schema" and rf["json_schema"]["name"] == "layout"
    assert "objects" in rf["json_schema"]["schema"]["properties"]
    roles = [m["role"] for m in req["messages"]]
    assert roles[0] == "system" and roles[-1] == "user" and "assistant" in roles  # few-shot examples
    assert "a dog runs to the right" in req["messages"][-1]["content"]
    assert "[x0, y0, x1, y1]" in req["messages"][0]["content"]


def test_falls_back_to_function_calling_then_json_mode(server, settings):
    server.script(error(400, "response_format json_schema is not supported"), Reply(body=completion(tool_args=DOG)))
    planner = LLMPlanner(settings)
    assert planner.plan("a dog runs to the right").objects[0].name == "dog"
    assert planner.method == "function_calling"
    req = server.requests[1]
    assert req["tools"][0]["function"]["name"] == "layout"
    assert req["tool_choice"]["function"]["name"] == "layout"
    assert "response_format" not in req

    server.script(error(400, "no json_schema"), error(400, "tools not supported"), Reply(body=completion(content=DOG)))
    planner = LLMPlanner(settings)
    assert planner.plan("a dog runs to the right").objects[0].name == "dog"
    assert planner.method == "json_mode"
    req = server.requests[-1]
    assert req["response_format"] == {"type": "json_object"}
    assert '"enriched_prompt"' in req["messages"][0]["content"]  # the schema is in the prompt
    # the negotiated method is kept: the next call goes straight to JSON mode
    server.script(Reply(body=completion(content=DOG)))
    planner.plan("a dog runs to the right")
    assert server.requests[-1]["response_format"] == {"type": "json_object"}


def test_server_that_ignores_tools_falls_through(server, settings):
    server.script(error(422, "unsupported"), Reply(body=completion(content="I cannot call tools")),
                  Reply(body=completion(content=DOG)))
    planner = LLMPlanner(settings)
    planner.plan("a dog")
    assert planner.method == "json_mode"


def test_no_method_accepted_names_endpoint_and_methods(server, settings):
    server.script(error(400, "a"), error(400, "b"), error(400, "c"))
    with pytest.raises(LLMServerError) as e:
        LLMPlanner(settings).plan("a dog")
    msg = str(e.value)
    assert server.url in msg and "json_schema" in msg and "function_calling" in msg and "json_mode" in msg


def test_malformed_json_is_sent_back_once_then_accepted(server, settings):
    server.script(Reply(body=completion(content='{"reasoning": "oops", "objects": [')), Reply(body=completion(content=DOG)))
    layout = LLMPlanner(settings).plan("a dog")
    assert layout.objects[0].name == "dog"
    assert len(server.requests) == 2
    assert "could not be used" in server.requests[1]["messages"][-1]["content"]


def test_malformed_json_twice_is_a_clear_error(server, settings):
    server.script(Reply(body=completion(content="not json at all")), Reply(body=completion(content="still not json")))
    with pytest.raises(LLMOutputError) as e:
        LLMPlanner(settings).plan("a dog")
    assert server.url in str(e.value) and "still not json" in str(e.value)


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"reasoning": "x", "background": "", "enriched_prompt": ""}, "objects"),
        (json.loads(layout_json([{"id": 0, "name": "dog", "phrase": "a dog", "keyframes": [{"t": 0, "box": [0.1, 0.2, 0.3]}]}])), "3 numbers"),
        (json.loads(layout_json([obj(0, "dog", [100, 200, 300, 400])])), "not pixels"),
        (json.loads(layout_json([obj(0, "dog", [0.1, 0.2, 0.3, 0.4]), obj(0, "cat", [0.5, 0.2, 0.7, 0.4])])), "unique"),
    ],
)
def test_wrong_schema_is_reported_with_the_field(server, settings, payload, needle):
    body = completion(content=json.dumps(payload))
    server.script(Reply(body=body), Reply(body=body))
    with pytest.raises(LLMOutputError) as e:
        LLMPlanner(settings).plan("a dog")
    assert needle in str(e.value)


def test_slightly_offscreen_boxes_are_clipped(server, settings):
    server.script(Reply(body=completion(content=layout_json([obj(0, "dog", [-0.1, 0.4, 0.3, 1.05])]))))
    box = LLMPlanner(settings).plan("a dog").objects[0].keyframes[0].box
    assert box == (0.0, 0.4, 0.3, 1.0)


def test_timeout_is_reported_with_endpoint(server):
    s = Settings(llm_base_url=server.url, llm_timeout=0.4, llm_max_retries=0)
    server.script(Reply(body=completion(content=DOG), delay=2.0))
    start = time.perf_counter()
    with pytest.raises(LLMUnreachableError) as e:
        LLMPlanner(s).plan("a dog")
    assert time.perf_counter() - start < 1.8
    assert server.url in str(e.value) and "TTOM_LLM_TIMEOUT" in str(e.value)


def test_http_500_is_retried_by_the_client_then_reported(server):
    s = Settings(llm_base_url=server.url, llm_timeout=5, llm_max_retries=1)
    server.script(error(500, "model crashed"), error(500, "model crashed"))
    with pytest.raises(LLMServerError) as e:
        LLMPlanner(s).plan("a dog")
    assert "HTTP 500" in str(e.value) and "model crashed" in str(e.value) and server.url in str(e.value)
    assert len(server.requests) == 2  # one retry from the settings


def test_http_500_then_success_after_retry(server):
    s = Settings(llm_base_url=server.url, llm_timeout=5, llm_max_retries=1)
    server.script(error(503, "busy"), Reply(body=completion(content=DOG)))
    assert LLMPlanner(s).plan("a dog").objects[0].name == "dog"


def test_bad_api_key_message(server, settings):
    server.script(error(401, "invalid api key"))
    with pytest.raises(LLMServerError, match="OPENAI_API_KEY"):
        LLMPlanner(settings).plan("a dog")


def test_unreachable_endpoint():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    s = Settings(llm_base_url=f"http://127.0.0.1:{port}/v1", llm_timeout=2, llm_max_retries=0)
    with pytest.raises(LLMUnreachableError, match=f"127.0.0.1:{port}"):
        LLMPlanner(s).plan("a dog")


def test_plan_auto_falls_back_offline_and_llm_mode_raises(server, settings):
    server.default = error(500, "down")
    res = plan("two cats sit on the left of a dog", settings=settings)
    assert res.planner == "offline" and res.layout.counts() == {"cat": 2, "dog": 1}
    assert any("HTTP 500" in n for n in res.notes)
    with pytest.raises(LLMServerError):
        plan("two cats", planner="llm", settings=settings)


def test_plan_validates_and_llm_repairs_with_findings(server, settings):
    one_dog = layout_json([obj(0, "dog", [0.1, 0.4, 0.3, 0.8])])
    two_dogs = layout_json([obj(0, "dog", [0.1, 0.4, 0.3, 0.8]), obj(1, "dog", [0.6, 0.4, 0.8, 0.8])])
    server.script(Reply(body=completion(content=one_dog)), Reply(body=completion(content=two_dogs)))
    res = plan("two dogs sit in a park", settings=settings)
    assert res.planner == "llm" and res.repaired and res.layout.counts() == {"dog": 2}
    repair_msg = server.requests[1]["messages"][-1]["content"]
    assert "wrong_count" in repair_msg and '"dog"' in repair_msg  # the findings and the old layout


def test_plan_falls_back_to_offline_repair_when_llm_repair_fails(server, settings):
    left = layout_json([obj(0, "car", [0.6, 0.4, 0.9, 0.7], [0.1, 0.4, 0.4, 0.7])])  # moves left, not right
    server.default = Reply(body=completion(content=left))
    res = plan("a car drives to the right", settings=settings, max_repairs=2)
    assert res.planner == "offline-repair" and res.repaired
    kfs = res.layout.objects[0].keyframes
    assert kfs[-1].box[0] > kfs[0].box[0]  # now moves right
    assert len(server.requests) == 3  # plan + 2 repair tries


def test_prompt_override_directory(server, settings, tmp_path):
    (tmp_path / "layout_user.txt").write_text("# purpose: test override\nPLEASE PLAN: ${prompt}\n")
    server.script(Reply(body=completion(content=DOG)))
    LLMPlanner(settings, prompts_dir=tmp_path).plan("a dog")
    assert server.requests[0]["messages"][-1]["content"] == "PLEASE PLAN: a dog"


def test_credentials_in_the_endpoint_url_never_reach_results_or_errors(server):
    """A user:password in TTOM_LLM_BASE_URL is masked wherever ttom writes the endpoint (issue 18, item 7)."""
    url = server.url.replace("http://", "http://alice:s3cret@")
    s = Settings(llm_base_url=url, llm_model="test-model", llm_timeout=5, llm_max_retries=0)
    server.script(Reply(body=completion(content=DOG)))
    res = plan("a dog runs to the right", settings=s, check=False)
    assert res.planner == "llm" and "s3cret" not in res.model_dump_json() and "alice:***@" in res.endpoint
    server.default = error(500, "down")
    res = plan("a dog runs to the right", settings=s)
    assert res.planner == "offline" and res.notes and "s3cret" not in json.dumps(res.notes)
    with pytest.raises(LLMServerError) as e:
        plan("a dog", planner="llm", settings=s)
    assert "s3cret" not in str(e.value)


@pytest.mark.parametrize("url, shown", [
    ("http://u:p@host:8000/v1", "http://u:***@host:8000/v1"),
    ("https://key@api.example/v1?x=1", "https://***@api.example/v1?x=1"),
    ("http://localhost:11434/v1", "http://localhost:11434/v1"),
    (None, None),
])
def test_mask_url(url, shown):
    from ttom.config import mask_url

    assert mask_url(url) == shown
