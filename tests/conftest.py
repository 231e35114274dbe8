"""Shared test setup: offline hubs, ttom's default settings in a private cache dir, seeded torch."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# The tests' own settings, kept; every other TTOM_ variable of the user's environment is removed.
TEST_SETTINGS = {"TTOM_TEST_POSTGRES_URL"}


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path, monkeypatch):
    """Every test runs on ttom's defaults, whatever the user has set: no TTOM_ setting of the user's
    (``TTOM_DATABASE_URL``, ``TTOM_CHECKPOINT_URL``, ``TTOM_LLM_*``, ``TTOM_MEMORY_*``, …), no ``.env``
    file, and its own TTOM_CACHE_DIR, so no test reads or writes the user's memory, checkpoints or
    LLM endpoint. A test sets what it needs with ``monkeypatch.setenv``."""
    for name in [k for k in os.environ if k.startswith("TTOM_") and k not in TEST_SETTINGS]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TTOM_CACHE_DIR", str(tmp_path / "ttom-cache"))
    from ttom.config import Settings, get_settings

    monkeypatch.setitem(Settings.model_config, "env_file", None)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
