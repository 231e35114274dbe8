"""The test suite never touches the user's memory (issue 18, item 10): tests/conftest.py removes
every TTOM_ setting of the environment (but TTOM_TEST_POSTGRES_URL) for each test."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers.memhelpers import SIG, make_phi, unit
from ttom.memory import MemoryStore

REPO = Path(__file__).resolve().parents[2]


def test_default_store_is_the_tests_own():
    """Run alone by the test below, under a user's TTOM_ settings."""
    from ttom.config import get_settings

    assert not [k for k in os.environ if k.startswith("TTOM_") and k not in ("TTOM_CACHE_DIR",
                                                                             "TTOM_TEST_POSTGRES_URL")]
    with MemoryStore() as store:  # what `ttom generate` and the agent open
        assert store.url == f"sqlite:///{get_settings().cache_dir / 'memory.sqlite'}"
        assert store.capacity == 1000
        store.insert("written by a test", make_phi(), SIG, embedding=unit(0))


def test_a_users_ttom_settings_do_not_reach_the_tests(tmp_path):
    user_db = tmp_path / "user" / "memory.sqlite"
    with MemoryStore(f"sqlite:///{user_db}", capacity=10, threshold=0.5, top_k=1) as mine:
        mine.insert("the user's own scene", make_phi(seed=3), SIG, embedding=unit(3))
    before = hashlib.sha256(user_db.read_bytes()).hexdigest()
    files = sorted(os.listdir(user_db.parent))

    env = {**os.environ, "TTOM_DATABASE_URL": f"sqlite:///{user_db}", "TTOM_MEMORY_CAPACITY": "1",
           "TTOM_CACHE_DIR": str(tmp_path / "user-cache"), "TTOM_CHECKPOINT_URL": "postgresql://nobody@127.0.0.1:1/x"}
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        f"{Path(__file__).relative_to(REPO)}::test_default_store_is_the_tests_own"],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    assert hashlib.sha256(user_db.read_bytes()).hexdigest() == before
    assert sorted(os.listdir(user_db.parent)) == files
    assert not (tmp_path / "user-cache").exists()
