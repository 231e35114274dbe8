"""Workers as Ray actors: one per GPU (``num_gpus=1``), each keeping its models loaded between jobs.

Every actor opens the shared jobs database, and runs the agent with the shared checkpointer and
memory (PostgreSQL), so any actor continues any job and every actor's φ* is every other's. An
actor that dies (its process killed, its node lost) fails the future of the job it ran with a
``RayActorError``: the dispatcher requeues that job (it resumes from its checkpoint on the next free
actor) and starts a new actor in its place. A job whose worker stops reporting for ``lease_s`` (a
network partition) is requeued by the lease sweep, and its old worker, should it come back, is
refused every write and stops.

On a machine without GPUs the actors run with ``num_gpus=0`` on the CPU (the tests, and
``ttom bench serve``, do so).
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from ttom.serve.config import ServeConfig
from ttom.serve.pools import Slot, preload_model, settings_data
from ttom.serve.store import JobStore

log = logging.getLogger("ttom.serve")


class VideoWorker:
    """The actor: its own connection to the jobs database; runs one job at a time."""

    def __init__(self, name: str, jobs_url: str, settings: dict[str, Any], flush_s: float, lease_s: float) -> None:
        from ttom.config import Settings

        self.name, self.flush_s, self.lease_s = name, flush_s, lease_s
        self.settings = Settings(**settings)
        self.store = JobStore(jobs_url, create=False)

    def ping(self) -> dict[str, Any]:
        import ray

        return {"name": self.name, "pid": os.getpid(), "node": ray.get_runtime_context().get_node_id(),
                "gpus": ray.get_gpu_ids()}

    def preload(self, model: str) -> str:
        preload_model(model, self.settings)
        return model

    def run(self, job_id: str, attempt: int) -> str:
        from ttom.serve.runner import execute

        return execute(self.store, job_id, attempt, self.settings, worker=self.name, flush_s=self.flush_s,
                       lease_s=self.lease_s)


class RayPool:
    """``workers`` actors on the Ray cluster at ``config.ray_address`` ('local': a new one on this machine)."""

    shared = True  # other servers may share the jobs database: only expired leases are orphans

    def __init__(self, store: JobStore, settings: Any, config: ServeConfig) -> None:
        try:
            import ray
        except ImportError:
            from ttom.errors import ConfigError

            raise ConfigError("--ray needs Ray: pip install 'ttom[serve]'") from None
        self.ray, self.config, self.store = ray, config, store
        self.owns_ray = not ray.is_initialized()
        if self.owns_ray:
            if config.ray_address in (None, "local"):
                # the actors import the ttom this process runs (a source checkout too, not only an install)
                root = str(Path(__import__("ttom").__file__).resolve().parents[1])
                path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
                ray.init(num_cpus=config.ray_num_cpus, include_dashboard=False, namespace="ttom",
                         log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": path}})
            else:
                ray.init(address=config.ray_address, namespace="ttom", log_to_driver=False)
        gpus = float(ray.cluster_resources().get("GPU", 0))
        self.gpus_per_worker = config.gpus_per_worker if config.gpus_per_worker is not None else (1.0 if gpus else 0.0)
        n = config.workers or (max(1, int(gpus // self.gpus_per_worker)) if self.gpus_per_worker else 1)
        self.actor_cls = ray.remote(VideoWorker).options(num_gpus=self.gpus_per_worker,
                                                         num_cpus=config.cpus_per_worker)
        self._args = (store.url, settings_data(settings), config.flush_s, config.lease_s)
        self.slots = [Slot(f"ray-{i}") for i in range(n)]
        for slot in self.slots:
            self._start(slot)
        log.info("Ray: %d workers, %g GPU each (cluster: %g GPUs)", n, self.gpus_per_worker, gpus)

    def _start(self, slot: Slot) -> None:
        slot.handle = self.actor_cls.remote(slot.name, *self._args)
        slot.models = set()
        slot.ready = slot.handle.ping.remote()  # not given jobs until it answers (its resources may be pending)
        for model in self.config.preload:
            slot.handle.preload.remote(model)  # queued on the actor before any job: jobs wait for it
            slot.models.add(model)

    def poll_ready(self) -> None:
        """Mark the actors that answered their first ping ready."""
        waiting = [s.ready for s in self.slots if s.ready is not True]
        if not waiting:
            return
        done, _ = self.ray.wait(waiting, num_returns=len(waiting), timeout=0)
        for slot in self.slots:
            if slot.ready is not True and slot.ready in done:
                try:
                    info = self.ray.get(slot.ready)
                    log.info("worker %s ready: pid %s, GPUs %s", slot.name, info["pid"], info["gpus"])
                    slot.ready = True
                except self.ray.exceptions.RayActorError:
                    self.replace(slot)

    def submit(self, slot: Slot, job_id: str, attempt: int) -> Future:
        return slot.handle.run.remote(job_id, attempt).future()

    def died(self, exc: BaseException) -> bool:
        return isinstance(exc, self.ray.exceptions.RayActorError)

    def replace(self, slot: Slot) -> None:
        try:
            self.ray.kill(slot.handle, no_restart=True)
        except Exception:  # gone already
            pass
        self._start(slot)

    def close(self) -> None:
        for slot in self.slots:
            try:
                self.ray.kill(slot.handle, no_restart=True)
            except Exception:
                pass
        if self.owns_ray:
            self.ray.shutdown()
