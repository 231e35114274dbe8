"""A scripted OpenAI-compatible chat server on 127.0.0.1, for testing the real ChatOpenAI client.

Each POST to ``/v1/chat/completions`` takes the next scripted reply (status, JSON body or raw
text, optional delay) and records the request body, so tests can check what the client sent.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict -> JSON; str -> sent as is (malformed bodies)
    delay: float = 0.0


def completion(content: str | None = None, tool_args: str | None = None, tool_name: str = "layout",
               model: str = "test-model") -> dict[str, Any]:
    """A chat.completion body with text content or one tool call."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    finish = "stop"
    if tool_args is not None:
        message["content"] = None
        message["tool_calls"] = [{"id": "call_1", "type": "function",
                                  "function": {"name": tool_name, "arguments": tool_args}}]
        finish = "tool_calls"
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}}


def error(status: int, message: str) -> Reply:
    return Reply(status=status, body={"error": {"message": message, "type": "server_error", "code": status}})


class ScriptedServer:
    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.default: Reply | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                n = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(n)
                server.paths.append(self.path)
                try:
                    server.requests.append(json.loads(raw))
                except ValueError:
                    server.requests.append({"_raw": raw.decode("utf-8", "replace")})
                reply = server.replies.pop(0) if server.replies else (server.default or error(500, "no scripted reply"))
                if reply.delay:
                    time.sleep(reply.delay)
                data = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data.encode())))
                    self.end_headers()
                    self.wfile.write(data.encode())
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and went away

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)
