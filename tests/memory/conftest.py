"""Fixtures for the memory tests: one real database per test (SQLite file or PostgreSQL schema)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from tests.helpers.memhelpers import PG_URL, pg_unreachable


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
def make_store(db, tmp_path) -> Iterator[Callable]:
    """Factory of MemoryStore on the test's database (closed after the test).

    ``make_store(fresh=True)`` opens a second, separate database of the same kind (export/import).
    """
    from ttom.memory import MemoryStore

    stores, extra_schemas = [], []

    def make(fresh: bool = False, **kw):
        kw.setdefault("capacity", 1000)
        kw.setdefault("threshold", 0.5)
        kw.setdefault("top_k", 5)
        url, schema = db.url, db.schema
        if fresh:
            if db.kind == "sqlite":
                url = f"sqlite:///{tmp_path / f'other-{uuid.uuid4().hex[:8]}.sqlite'}"
            else:
                schema = f"ttom_test_{uuid.uuid4().hex[:12]}"
                extra_schemas.append(schema)
        store = MemoryStore(url, schema=schema, **kw)
        stores.append(store)
        return store

    yield make
    for s in stores:
        s.close()
    for schema in extra_schemas:
        _drop_schema(schema)
