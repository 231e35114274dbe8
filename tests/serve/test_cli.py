"""``ttom serve api`` refuses what cannot work with one line and exit 2, before it binds anything."""

from __future__ import annotations

import os
import subprocess
import sys


def _serve(*args, **env):
    full = {k: v for k, v in os.environ.items() if k != "TTOM_API_KEY"}
    return subprocess.run([sys.executable, "-m", "ttom.cli", "serve", "api", *args], capture_output=True, text=True,
                          timeout=120, env={**full, **env})


def test_binding_beyond_loopback_needs_an_api_key():
    r = _serve("--host", "0.0.0.0", "--port", "1")
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0, r.stderr
    assert r.stderr.startswith("error: binding 0.0.0.0") and "--api-key" in r.stderr and "TTOM_API_KEY" in r.stderr


def test_bad_defaults_and_a_ray_cluster_without_postgresql_are_refused(tmp_path):
    r = _serve("--defaults", '{"stepz": 3}', "--port", "1")
    assert r.returncode == 2 and "stepz" in r.stderr and "Traceback" not in r.stderr
    r = _serve("--defaults", "[1]", "--port", "1")
    assert r.returncode == 2 and "JSON object" in r.stderr
    r = _serve("--ray", "local", "--port", "1", TTOM_CACHE_DIR=str(tmp_path))
    assert r.returncode == 2 and "PostgreSQL" in r.stderr and "TTOM_CHECKPOINT_URL" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
