from __future__ import annotations

import json

import pytest

from tests.helpers.llm_server import ScriptedServer
from ttom.config import Settings


def layout_json(objects: list[dict], background: str = "park", enriched: str = "A richer prompt.") -> str:
    return json.dumps({"reasoning": "test", "objects": objects, "background": background, "enriched_prompt": enriched})


def obj(i: int, name: str, start: list[float], end: list[float] | None = None, phrase: str | None = None) -> dict:
    return {"id": i, "name": name, "phrase": phrase or f"a {name}",
            "keyframes": [{"t": 0.0, "box": start}, {"t": 1.0, "box": end or start}]}


@pytest.fixture
def server():
    with ScriptedServer() as srv:
        yield srv


@pytest.fixture
def settings(server) -> Settings:
    return Settings(llm_base_url=server.url, llm_model="test-model", llm_api_key="sk-test", llm_timeout=5,
                    llm_max_retries=0)
