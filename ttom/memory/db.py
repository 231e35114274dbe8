"""The memory's database connection: one SQLAlchemy engine per store, set up for concurrent processes.

- SQLite: WAL journal (readers never block the writer), ``busy_timeout`` so a writer waits for the
  lock instead of failing, and ``BEGIN IMMEDIATE`` for every write transaction (execution option
  ``ttom_write``), so writers are serialised *before* they read (no lost update, no upgrade deadlock).
- PostgreSQL through psycopg 3; a ``schema`` puts the tables in a schema of their own.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

from ttom.memory.errors import MemoryStoreError

# SQLite result codes of a file that is not a database or is damaged (sqlite3 exceptions' sqlite_errorname).
SQLITE_DAMAGED = ("SQLITE_NOTADB", "SQLITE_CORRUPT")
# SQLite: how long a writer waits for another writer's lock before giving up (seconds).
SQLITE_BUSY_TIMEOUT_S = 60.0


def mask_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: say so where it is used
        return url


def advisory_key(name: str) -> int:
    """A signed 64-bit key for pg_advisory_xact_lock, stable across processes."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for in-memory and ``file:`` URI databases, and other dialects)."""
    try:
        u = make_url(url)
    except Exception:
        return None
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:" or u.database.startswith("file:"):
        return None
    return Path(u.database).expanduser()


def damaged_file_message(path: Path | str, what: str) -> str:
    return (f"the memory database {path} {what}. ttom leaves it as it is: move it aside (ttom then starts a new, "
            "empty memory there) or restore it from a backup; `ttom memory --db sqlite:///OTHER.sqlite` or "
            "TTOM_DATABASE_URL selects another file")


def make_engine(url: str, schema: str | None) -> Engine:
    try:
        u = make_url(url)
    except Exception as e:
        raise MemoryStoreError(f"memory database URL {url!r} is not a SQLAlchemy URL ({e})") from None
    backend = u.get_backend_name()
    if backend == "sqlite":
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(u, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):
            # Transactions are begun by the "begin" hook below, not by the driver.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
            cur.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a crash of the process never loses a commit; a power cut may lose
            # the last ones but never corrupts the file.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # Writers take the write lock up front: a deferred transaction that reads, then writes,
            # can fail with SQLITE_BUSY instead of waiting, and two of them can deadlock.
            mode = "IMMEDIATE" if conn.get_execution_options().get("ttom_write") else "DEFERRED"
            conn.exec_driver_sql(f"BEGIN {mode}")

    elif backend == "postgresql":
        if u.drivername == "postgresql":  # psycopg 3 is the driver ttom installs (extra "postgres")
            u = u.set(drivername="postgresql+psycopg")
        engine = create_engine(u, pool_pre_ping=True)
    else:
        raise MemoryStoreError(f"memory database {mask_url(url)}: only sqlite:/// and postgresql+psycopg:// "
                               "URLs are supported")
    if schema:
        if backend != "postgresql":
            raise MemoryStoreError("a schema name is only supported on PostgreSQL")
        engine = engine.execution_options(schema_translate_map={None: schema})
    return engine

