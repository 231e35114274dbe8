"""Recall latency of the parameter memory; same as `ttom bench memory` (arguments are passed through).

    python benchmarks/memory.py                     # 1k, 10k, 100k on SQLite and PostgreSQL
    python benchmarks/memory.py --sizes 1000 --backends sqlite --no-record
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from ttom.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.argv = ["ttom", "bench", "memory", *sys.argv[1:]]
    main()
