"""Creating and migrating the memory's tables (the DDL), inside the caller's transaction.

``MemoryStore`` decides when (a read of the version first, the write lock only when the schema is
missing or older) and turns database errors into one line; this module does the work:

- ``create_or_migrate``: the tables, the meta row, and an older schema brought up to
  ``SCHEMA_VERSION``, every row kept (a newer one: ``SchemaVersionError`` from ``ensure_meta``);
- ``build_sqlite_file``: a new SQLite memory built in a temporary file and linked into place whole.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateSchema

from ttom.memory import repository as repo
from ttom.memory.db import advisory_key
from ttom.memory.models import SCHEMA_VERSION, Base

log = logging.getLogger("ttom.memory")

# Columns added after version 1: name -> (the version that brought it, its SQL type). Rows of an older
# memory keep NULL there. (The writes table of version 2 comes with create_all.)
ADDED_COLUMNS = {
    "problem": (2, "TEXT"),  # quarantine
    "scene_json": (3, "TEXT"),  # the layout φ was learned on: recall by structure and geometry
    "structure_hash": (3, "VARCHAR(64)"),
}


def create_or_migrate(conn: Connection, schema: str | None) -> int | None:
    """Create what is missing, or migrate an older schema; the version migrated from (None: nothing to do)."""
    if conn.dialect.name == "postgresql":
        # Two processes creating the tables at once would collide on the catalog.
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": advisory_key(f"ttom.memory.init:{schema or ''}")})
        if schema:
            conn.execute(CreateSchema(schema, if_not_exists=True))
    Base.metadata.create_all(conn)
    with Session(bind=conn) as s:
        meta = repo.ensure_meta(s)
        old = meta.schema_version
        if old < SCHEMA_VERSION:
            migrate(conn, old, schema)
            meta.schema_version = SCHEMA_VERSION
        s.flush()
    return old if old < SCHEMA_VERSION else None


def migrate(conn: Connection, version: int, schema: str | None) -> None:
    """Bring a schema of ``version`` up to SCHEMA_VERSION in the caller's transaction; every row is kept.

    Entries of a version-2 memory get no layout (NULL): recall warm-starts from them only for a request
    with the same key text, and never skips with them.
    """
    cols = {c["name"] for c in inspect(conn).get_columns("ttom_memory_entries", schema=schema)}
    table = "ttom_memory_entries"
    if schema:
        table = f"{conn.dialect.identifier_preparer.quote_schema(schema)}.{table}"
    for name, (since, sql_type) in ADDED_COLUMNS.items():
        if version < since and name not in cols:
            conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {sql_type}"))


def build_sqlite_file(path: Path, make_engine: Callable[[str], Engine], create: Callable[[Engine], None]) -> None:
    """A new SQLite memory, built in a temporary file by ``create`` and linked into place complete.

    No process ever sees a half-made memory at ``path``, so an empty file there is never one being
    created (and is refused). Two processes creating it at once: the first link wins and the other
    uses that file.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    engine = make_engine(f"sqlite:///{tmp}")
    try:
        create(engine.execution_options(ttom_write=True))
        engine.dispose()  # the last connection closes: SQLite folds the WAL into the file
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not path.exists():
                os.replace(tmp, path)
    finally:
        engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{tmp}{suffix}").unlink(missing_ok=True)
