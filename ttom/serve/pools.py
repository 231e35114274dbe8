"""Workers that run jobs, behind one interface the dispatcher uses: the in-process pool here, Ray's in
``ray_pool``.

A pool has ``slots`` (one per worker: a thread here, an actor on a GPU there); ``submit`` starts an
attempt on a free slot and returns a ``concurrent.futures.Future`` of its outcome; ``died`` says
whether an exception from that future means the worker itself is gone (then the dispatcher requeues
the job and calls ``replace``).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ttom.serve.config import ServeConfig
from ttom.serve.runner import execute
from ttom.serve.store import JobStore

log = logging.getLogger("ttom.serve")


@dataclass(eq=False)
class Slot:
    """One worker: what it runs now and which models it has loaded (requests for them go to it first)."""

    name: str
    models: set[str] = field(default_factory=set)
    job: tuple[str, int] | None = None  # (job id, attempt)
    model: str | None = None  # the model of the job it runs
    future: Future | None = None
    handle: Any = None  # the pool's own: an executor, an actor
    ready: Any = True  # True, or the pool's token of a worker still starting


def settings_data(settings: Any) -> dict[str, Any]:
    """``settings`` as keyword arguments that rebuild it in another process (``Settings(**data)``)."""
    data = settings.model_dump()
    data["TTOM_LLM_API_KEY"] = data.pop("llm_api_key", None)  # a field read by its alias only
    data["_env_file"] = None
    return data


def preload_model(model: str, settings: Any) -> None:
    """Load ``model`` (kept in the process's backend cache) so that the first job does not wait for it."""
    from ttom.engine.backends import load_backend

    load_backend(model, device=settings.device)


class LocalPool:
    """The embedded default: one worker thread in this process (one GPU, or the CPU)."""

    shared = False  # the jobs database is this server's alone: every job in progress at start is an orphan

    def __init__(self, store: JobStore, settings: Any, config: ServeConfig, *, hook=None, critic=None) -> None:
        self.store, self.settings, self.config = store, settings, config
        self.hook, self.critic = hook, critic
        self.shutdown = threading.Event()
        self.slots = [Slot("local-0", handle=ThreadPoolExecutor(1, thread_name_prefix="ttom-worker"))]
        for model in config.preload:
            for slot in self.slots:
                slot.handle.submit(self._preload, slot, model)

    def _preload(self, slot: Slot, model: str) -> None:
        try:
            preload_model(model, self.settings)
            slot.models.add(model)
        except Exception as e:  # a model that cannot load fails its jobs with the reason; the server runs on
            log.warning("preloading %s failed: %s", model, e)

    def submit(self, slot: Slot, job_id: str, attempt: int) -> Future:
        c = self.config
        return slot.handle.submit(execute, self.store, job_id, attempt, self.settings, worker=slot.name,
                                  flush_s=c.flush_s, lease_s=c.lease_s, hook=self.hook, shutdown=self.shutdown,
                                  critic=self.critic)

    def poll_ready(self) -> None:
        pass

    def died(self, exc: BaseException) -> bool:
        return False

    def replace(self, slot: Slot) -> None:
        pass

    def close(self) -> None:
        self.shutdown.set()
        for slot in self.slots:
            slot.handle.shutdown(wait=False, cancel_futures=True)
