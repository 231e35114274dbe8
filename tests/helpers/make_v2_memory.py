"""How ``tests/memory/data/memory_v2.sqlite`` was made: a memory written by ttom with schema version 2
(main at 7b2905c, before the layout-aware recall of issue 15), kept to test the migration to version 3.

    git worktree add /tmp/v2 7b2905c && cp tests/helpers/make_v2_memory.py /tmp/v2/tests/helpers/ &&
    cd /tmp/v2 && python tests/helpers/make_v2_memory.py OUT.sqlite    # imports that checkout's ttom

Four entries with real MiniLM keys and φ as the engine writes it (memhelpers.make_phi): two plain,
one used twice, one quarantined; one idempotency key. Not run by the tests (the file is committed).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.helpers.memhelpers import SIG, make_phi  # noqa: E402

KEYS = [
    "Direction: [still]. <object_0> to the left of <object_1>.",
    "Direction: [left left left]. <object_0> <verb_0> leftwards.",
    "Direction: [still]. 2 x <object_0>.",
    "Direction: [right right right]. <object_0> <verb_0> to the right side of <environment_0>.",
]


def main(out: str) -> None:
    from ttom.memory import MemoryStore
    from ttom.memory.store import SCHEMA_VERSION

    assert SCHEMA_VERSION == 2, f"run this with ttom's schema-2 code, not {SCHEMA_VERSION}"
    with MemoryStore(f"sqlite:///{out}", capacity=100, threshold=0.85, top_k=1) as store:
        ids = [store.insert(k, make_phi(seed=i), SIG, quality=0.5 + i / 10,
                            request_key=f"thread-{i}:1:1" if i == 0 else None).entry_id
               for i, k in enumerate(KEYS)]
        store.record_use(ids[1])
        store.record_use(ids[1])
        store.quarantine(ids[3], "φ has non-finite values (made for the migration test)")
        print("\n".join(ids))


if __name__ == "__main__":
    main(sys.argv[1])
