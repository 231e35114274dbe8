"""Concurrent first runs on a fresh PostgreSQL checkpointer (issue 18, item 5).

LangGraph's ``PostgresSaver.setup()`` reads the migration version, then runs the migrations and
inserts each version: several processes starting at once on a fresh database all ran them and
crashed on ``checkpoint_migrations_pkey``. ``open_checkpointer`` serialises setup (ttom/agents/
checkpoint.py). Here: four processes at once on a fresh schema; all must open it.
(Kept beside the memory tests, which own the PostgreSQL fixtures; it belongs with the agent's.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.helpers.memhelpers import PG_URL, pg_unreachable

pytestmark = pytest.mark.postgres

OPEN = """
import sys, time
from ttom.agents.checkpoint import open_checkpointer
url, start = sys.argv[1], float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))  # every process calls setup at the same moment
with open_checkpointer(url=url) as saver:
    saver.list(None, limit=1)
print("OPEN")
"""


@pytest.fixture
def fresh_schema():
    """A new, empty schema: a fresh checkpointer for whoever connects with it first in the search path."""
    reason = pg_unreachable()
    if reason:
        pytest.skip(reason)
    from sqlalchemy import create_engine, text

    schema = f"ttom_ckpt_{uuid.uuid4().hex[:12]}"
    engine = create_engine(PG_URL)
    with engine.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema, engine
    finally:
        with engine.begin() as c:
            c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def test_concurrent_first_runs_all_open_the_checkpointer(fresh_schema):
    from langgraph.checkpoint.postgres import PostgresSaver
    from sqlalchemy import text

    schema, engine = fresh_schema
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    start = time.time() + 6.0  # after every interpreter has imported langgraph
    procs = [subprocess.Popen([sys.executable, "-c", OPEN, url, str(start)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [(p.wait(timeout=180), p.stdout.read(), p.stderr.read()) for p in procs]
    failed = [err[-2000:] for rc, out, err in results if rc != 0 or "OPEN" not in out]
    assert not failed, failed[0]
    with engine.connect() as c:
        versions = list(c.execute(text(f'SELECT v FROM "{schema}".checkpoint_migrations ORDER BY v')).scalars())
    assert versions == list(range(len(PostgresSaver.MIGRATIONS)))  # each migration ran once
