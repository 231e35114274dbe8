"""benchmarks/pool_draws.py: two draws of the test split pooled into one paired comparison."""

import json

import pytest

from tests.helpers.scripts import load_script


@pytest.fixture(scope="module")
def pool():
    return load_script("pool_draws.py")


def _draw(path, plain_ok, tto_ok, n=20, cat="spatial"):
    s = lambda ok: [dict(category=cat, prompt=f"p{i}", seed=i, success=i < ok) for i in range(n)]  # noqa: E731
    path.write_text(json.dumps({"plain": s(plain_ok), "tto": s(tto_ok)}))
    return path


def test_draws_pool_by_draw_so_the_same_prompt_in_two_draws_counts_twice(pool, tmp_path, capsys):
    a, b = _draw(tmp_path / "a.json", 5, 10), _draw(tmp_path / "b.json", 5, 15)
    pool.main([str(a), str(b), "--boot", "200"])
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("tto vs plain: 10/40 -> 25/40, ratio 2.50 (95% ")
    assert "paired +15 -0" in first
    lo, hi = (float(x) for x in first.split("(95% ")[1].split(")")[0].split("-"))
    assert lo <= 2.5 <= hi and lo < hi


def test_against_pairs_two_models_on_the_same_prompts(pool, tmp_path, capsys):
    mine, theirs = _draw(tmp_path / "m.json", 8, 12), _draw(tmp_path / "t.json", 4, 12)
    pool.main([str(mine), "--against", str(theirs), "--boot", "100"])
    out = capsys.readouterr().out
    assert "plain: --against -> these draws: 4/20 -> 8/20" in out and "paired +4 -0" in out
    assert "tto: --against -> these draws: 12/20 -> 12/20, ratio 1.00" in out


def test_a_missing_job_or_unmatched_draws_is_one_clear_line(pool, tmp_path):
    a = _draw(tmp_path / "a.json", 5, 10)
    with pytest.raises(SystemExit, match="no job 'otto'"):
        pool.main([str(a), "--tto", "otto"])
    with pytest.raises(SystemExit, match="one file for each draw"):
        pool.main([str(a), "--against", str(a), str(a)])
