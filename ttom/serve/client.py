"""A small client of a running ``ttom serve api`` (httpx), for the MCP server, the LangChain tool and scripts.

    from ttom.serve.client import ServiceClient
    with ServiceClient("http://127.0.0.1:8000", api_key=None) as svc:
        job = svc.submit("a red car drives to the left while a dog sits on the right", options={"steps": 30})
        job = svc.wait(job["id"], on_update=lambda j: print(j["progress"], j["stage"].get("message")))
        open("video.mp4", "wb").write(svc.download(job["id"]))

Every method returns the API's JSON (a job is ``schemas.VideoJob``'s fields). A refusal of the
service is a ``ServiceClientError`` with its status and the service's one-line reason; a service
that cannot be reached, a ``ConfigError`` saying where it was looked for.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from ttom.errors import ConfigError, TtomError

FINAL = ("completed", "failed", "cancelled")


class ServiceClientError(TtomError):
    """The service refused a request: ``status`` (HTTP) and ``param`` (the field it names, if any)."""

    def __init__(self, message: str, status: int, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.param = status, param


class ServiceClient:
    """Calls of the service at ``base_url``; ``http``: an ``httpx.Client`` to use instead of a new one."""

    def __init__(self, base_url: str, api_key: str | None = None, *, timeout: float = 30.0, http: Any = None) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._own = http is None
        self.http = http if http is not None else httpx.Client(base_url=self.base_url, timeout=timeout, headers=headers)
        if not self._own and api_key:
            self.http.headers.update(headers)

    def close(self) -> None:
        if self._own:
            self.http.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ----- calls ---------------------------------------------------------------------------------
    def _call(self, method: str, path: str, **kw) -> Any:
        import httpx

        try:
            r = self.http.request(method, self._url(path), **kw)
        except httpx.TransportError as e:
            raise ConfigError(f"cannot reach the ttom service at {self.base_url} ({type(e).__name__}: {e}); is "
                              "'ttom serve api' running there?") from None
        if r.status_code >= 400:
            try:
                body = r.json()
                err = body.get("error") or {}
                message, param = err.get("message") or body.get("detail") or r.text, err.get("param")
            except ValueError:
                message, param = r.text[:300], None
            raise ServiceClientError(f"the ttom service answered {r.status_code}: {message}", r.status_code, param)
        return r

    def _url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.base_url}{path}"

    def submit(self, prompt: str, *, options: dict[str, Any] | None = None, layout: dict[str, Any] | None = None,
               model: str | None = None, thread_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"prompt": prompt}
        for name, value in (("options", options), ("layout", layout), ("model", model), ("thread_id", thread_id)):
            if value is not None:
                body[name] = value
        return self._call("POST", "/v1/videos", json=body).json()

    def get(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/videos/{job_id}").json()

    def list(self, **params: Any) -> dict[str, Any]:
        return self._call("GET", "/v1/videos", params={k: v for k, v in params.items() if v is not None}).json()

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._call("DELETE", f"/v1/videos/{job_id}").json()

    def resume(self, job_id: str, answer: str | None = None, layout: dict[str, Any] | None = None) -> dict[str, Any]:
        body = {k: v for k, v in (("answer", answer), ("layout", layout)) if v is not None}
        return self._call("POST", f"/v1/videos/{job_id}/resume", json=body).json()

    def remix(self, job_id: str, prompt: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"prompt": prompt, **({"options": options} if options is not None else {})}
        return self._call("POST", f"/v1/videos/{job_id}/remix", json=body).json()

    def download(self, job_id: str, name: str = "video.mp4") -> bytes:
        """An asset of a completed job by name (video.mp4, overlay.png, critic.png, report.json, round-K.mp4, ...)."""
        return self._call("GET", f"/v1/videos/{job_id}/assets/{name}").content

    def wait(self, job_id: str, *, timeout: float | None = None, poll: float = 1.0,
             on_update: Callable[[dict[str, Any]], None] | None = None,
             until: tuple[str, ...] = (*FINAL, "waiting")) -> dict[str, Any]:
        """Poll until the job is completed, failed, cancelled or waiting for approval; its last view."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if on_update is not None:
                on_update(job)
            if job["status"] in until:
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"video job {job_id} is still {job['status']} after {timeout} s")
            time.sleep(poll)

    def events(self, job_id: str, after: int = 0) -> Iterator[dict[str, Any]]:
        """The job's events as the service streams them (each with ``id``), until its final status."""
        import httpx

        block: dict[str, str] = {}
        try:
            with self.http.stream("GET", self._url(f"/v1/videos/{job_id}/events"), params={"after": after},
                                  timeout=None) as r:
                if r.status_code >= 400:
                    r.read()
                    raise ServiceClientError(f"the ttom service answered {r.status_code}: {r.text[:300]}",
                                             r.status_code)
                for line in r.iter_lines():
                    if not line:
                        if "data" in block:
                            yield {**json.loads(block["data"]), "id": int(block.get("id", 0))}
                        block = {}
                    elif not line.startswith(":"):
                        name, _, value = line.partition(": ")
                        block[name] = value
        except httpx.TransportError as e:
            raise ConfigError(f"cannot reach the ttom service at {self.base_url} ({e})") from None
