"""The service's own settings (the agent's are ``ttom.config.Settings``), and the bind check.

``ServeConfig`` is what ``ttom serve api`` builds from its options; ``create_app(config, settings)``
takes it. Defaults: loopback, no key, one in-process worker, jobs in ``<cache_dir>/serve.sqlite``.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ttom.errors import ConfigError


class ServeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    api_key: SecretStr | None = Field(None, description="required as 'Authorization: Bearer KEY' when set")
    jobs_url: str | None = Field(None, description="SQLAlchemy URL of the jobs database; None = SQLite in the "
                                                   "cache, or TTOM_DATABASE_URL when that is PostgreSQL")
    defaults: dict[str, Any] = Field(default_factory=dict, description="RunOptions every job starts from")
    device: str | None = Field(None, description="the device jobs run on (cpu, cuda, cuda:N); None = TTOM_DEVICE; "
                                                 "a Ray actor's 'auto' is its own GPU")
    max_queue: int = Field(100, ge=1, description="queued jobs beyond this are refused with 429")
    # --- workers
    ray_address: str | None = Field(None, description="None: one in-process worker; 'local': start a Ray "
                                                      "cluster on this machine; else the address of a cluster")
    workers: int | None = Field(None, ge=1, description="Ray actors; None = one per GPU of the cluster (1 on CPU)")
    gpus_per_worker: float | None = Field(None, ge=0, description="None = 1 when the cluster has GPUs, else 0")
    cpus_per_worker: float = Field(1.0, ge=0)
    ray_num_cpus: int | None = Field(None, ge=1, description="CPUs of a local cluster ('local'); None = all")
    preload: list[str] = Field(default_factory=list, description="models each worker loads before its first job")
    # --- fault handling
    lease_s: float = Field(30.0, gt=0, description="a running job whose worker has not reported for this long is "
                                                   "handed to another worker")
    max_attempts: int = Field(3, ge=1, description="a job whose worker dies this many times fails")
    flush_s: float = Field(0.5, gt=0, description="how often a worker writes a job's progress events")
    poll_s: float = Field(0.5, gt=0, description="how often the event stream and the dispatcher look for news")

    def jobs_database(self, settings: Any) -> str:
        """The jobs database URL: the given one, else the memory's PostgreSQL, else SQLite in the cache."""
        if self.jobs_url:
            return self.jobs_url
        if settings.database_url and settings.database_url.startswith("postgres"):
            return settings.database_url
        return f"sqlite:///{settings.cache_dir / 'serve.sqlite'}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, api_key: str | None) -> None:
    """A service bound beyond loopback must require a key: a ``ConfigError`` otherwise."""
    if not is_loopback(host) and not api_key:
        raise ConfigError(f"binding {host} exposes the service to other machines: give it an API key (--api-key "
                          "KEY or TTOM_API_KEY), or bind 127.0.0.1")


def check_shared_databases(settings: Any, jobs_url: str) -> None:
    """Ray workers on several machines share the jobs, the agent's checkpoints and the memory: PostgreSQL."""
    bad = [name for name, url in (("TTOM_DATABASE_URL (the memory)", settings.database_url),
                                  ("TTOM_CHECKPOINT_URL (the agent's state)", settings.checkpoint_url),
                                  ("the jobs database (--jobs-url)", jobs_url))
           if not (url or "").startswith("postgres")]
    if bad:
        raise ConfigError("a Ray cluster's workers share one PostgreSQL: set " + ", ".join(bad) + " to a "
                          "postgresql+psycopg://USER@HOST/DB URL (or --database-url for all three)")
