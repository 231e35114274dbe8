"""Checkpointers for the agent graph: SQLite by default, PostgreSQL by URL.

``open_checkpointer(settings)`` is a context manager yielding a LangGraph checkpointer:

- ``TTOM_CHECKPOINT_URL`` unset: ``SqliteSaver`` on ``<cache_dir>/checkpoints.sqlite``;
- ``sqlite:///path``: ``SqliteSaver`` on that file;
- ``postgresql://...`` (also ``postgresql+psycopg://``, the SQLAlchemy spelling the memory uses):
  ``PostgresSaver`` on an autocommit psycopg connection with ``dict_row`` rows and prepared
  statements off (``prepare_threshold=None``, safe behind PgBouncer-style poolers); its tables are
  created on first use (``setup()``), under a PostgreSQL advisory lock: LangGraph's setup reads the
  migration version and then inserts it, so several processes starting at once on a fresh database
  would otherwise all run the migrations and collide on ``checkpoint_migrations_pkey`` (as the
  memory store serialises its own schema creation).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ttom.errors import ConfigError


def _psycopg_url(url: str) -> str:
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix):]
    return url


@contextmanager
def open_checkpointer(settings: Any = None, url: str | None = None) -> Iterator[Any]:
    """A checkpointer for ``url`` (default: the settings' ``checkpoint_url``, else SQLite in the cache)."""
    from ttom.config import get_settings

    settings = settings or get_settings()
    url = url or settings.checkpoint_url
    if not url or url.startswith("sqlite"):
        import sqlite3

        from langgraph.checkpoint.sqlite import SqliteSaver

        path = Path(url.split("///", 1)[1]) if url else Path(settings.checkpoint_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), check_same_thread=False)
        try:
            saver = SqliteSaver(conn)
            saver.setup()
            yield saver
        finally:
            conn.close()
        return
    if url.startswith(("postgresql", "postgres")):
        try:
            import psycopg
            from langgraph.checkpoint.postgres import PostgresSaver
            from psycopg.rows import dict_row
        except ImportError:
            raise ConfigError("a PostgreSQL checkpointer needs the postgres extra: pip install 'ttom[postgres]'") from None
        try:
            conn = psycopg.connect(_psycopg_url(url), autocommit=True, prepare_threshold=None, row_factory=dict_row,
                                   connect_timeout=10)
        except psycopg.OperationalError as e:
            raise ConfigError(f"cannot connect to the checkpoint database {_mask(url)}: {str(e).strip()}") from None
        try:
            saver = PostgresSaver(conn)
            _setup_serialised(conn, saver)
            yield saver
        finally:
            conn.close()
        return
    raise ConfigError(f"TTOM_CHECKPOINT_URL={_mask(url)!r}: use sqlite:///PATH or postgresql://USER@HOST/DB")


# pg_advisory_lock takes a signed 64-bit key; one per purpose, stable across processes.
SETUP_LOCK_KEY = int.from_bytes(hashlib.sha256(b"ttom.checkpoint.setup").digest()[:8], "big", signed=True)
SETUP_LOCK_TIMEOUT_S = 120.0


def _setup_serialised(conn: Any, saver: Any, timeout_s: float = SETUP_LOCK_TIMEOUT_S) -> None:
    """``saver.setup()`` with one process at a time per database.

    A session-level advisory lock on the autocommit connection, taken by polling
    ``pg_try_advisory_lock``, not by waiting in ``pg_advisory_lock``: setup runs ``CREATE INDEX
    CONCURRENTLY``, which waits for every open transaction, including a statement blocked on the
    lock (a deadlock PostgreSQL reports). Released after setup, even a failed one.
    """
    import time

    deadline = time.monotonic() + timeout_s
    while not conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (SETUP_LOCK_KEY,)).fetchone()["ok"]:
        if time.monotonic() > deadline:
            raise ConfigError(f"another process has been setting up the checkpoint tables for {timeout_s:.0f} s; "
                              "try again, or look for a stuck ttom process")
        time.sleep(0.05)
    try:
        saver.setup()
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK_KEY,))


def _mask(url: str) -> str:
    import re

    return re.sub(r"://([^:@/]+):[^@/]*@", r"://\1:***@", url)
