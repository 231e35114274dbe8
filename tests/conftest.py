"""Shared test setup: offline hubs, a private cache dir, seeded torch."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own TTOM_CACHE_DIR, so no test touches the user's memory or checkpoints."""
    monkeypatch.setenv("TTOM_CACHE_DIR", str(tmp_path / "ttom-cache"))
    from ttom.config import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
