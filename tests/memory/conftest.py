"""Fixtures for the memory tests: one real database per test (SQLite file or PostgreSQL schema)."""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

PG_URL = os.environ.get("TTOM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")



@functools.cache
def pg_unreachable() -> str | None:
    """None when the test PostgreSQL server answers, else the reason (shown in the skip)."""
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as c:
            c.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as e:  # any failure to connect means: not reachable from here
        return f"PostgreSQL at {PG_URL} is unreachable ({type(e).__name__}: {str(e).splitlines()[0]})"


@dataclass(frozen=True)
class DB:
    kind: str
    url: str
    schema: str | None


def _drop_schema(schema: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_URL)
    with engine.begin() as c:
        c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request, tmp_path) -> Iterator[DB]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema dropped after the test."""
    if request.param == "sqlite":
        yield DB("sqlite", f"sqlite:///{tmp_path / 'memory.sqlite'}", None)
        return
    reason = pg_unreachable()
    if reason:
        pytest.skip(reason)
    schema = f"ttom_test_{uuid.uuid4().hex[:12]}"
    try:
        yield DB("postgresql", PG_URL, schema)
    finally:
        _drop_schema(schema)


@pytest.fixture
def make_store(db) -> Iterator[Callable]:
    """Factory of MemoryStore on the test's database (closed after the test)."""
    from ttom.memory import MemoryStore

    stores = []

    def make(**kw):
        kw.setdefault("capacity", 1000)
        kw.setdefault("threshold", 0.5)
        kw.setdefault("top_k", 5)
        store = MemoryStore(db.url, schema=db.schema, **kw)
        stores.append(store)
        return store

    yield make
    for s in stores:
        s.close()
