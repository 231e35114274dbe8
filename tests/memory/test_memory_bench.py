"""The memory benchmark runs end to end at a small size and records its table."""

from __future__ import annotations

from tests.helpers.memhelpers import pg_unreachable
from ttom.bench.memory import run


def test_bench_memory_small(tmp_path, capsys):
    backends = ["sqlite"] + ([] if pg_unreachable() else ["postgresql"])
    doc = tmp_path / "benchmarks.md"
    result = run(sizes=[300], backends=backends, queries=20, record=True, doc_path=doc)
    assert [(r["backend"], r["entries"]) for r in result["rows"]] == [(b, 300) for b in backends]
    for r in result["rows"]:
        assert 0 < r["recall_p50_ms"] <= r["recall_p95_ms"] and r["insert_ms"] > 0
    assert result["embedding"]["embed_p50_ms"] > 0
    text = doc.read_text()
    assert "<!-- bench:memory -->" in text and "| sqlite | 300 |" in text
    assert "memory recall latency" in capsys.readouterr().out
