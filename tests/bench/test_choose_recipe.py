"""The recipe-choice rule of benchmarks/choose_recipe.py, which decides what a sweep ships."""

import pytest

from tests.helpers.scripts import load_script


@pytest.fixture(scope="module")
def rule():
    return load_script("choose_recipe.py")


def _samples(n_ok, n=20, iterations=10, errors=(0.2,)):
    return [dict(category="spatial", prompt=f"p{i}", condition="x", success=i < n_ok, miou=0.1, seconds=1.0,
                 tto_iterations=iterations, centre_errors=list(errors), seed=i) for i in range(n)]


def _jobs(**cands):
    jobs = {"plain": _samples(5, iterations=0), "oplain": _samples(3, iterations=0)}
    for name, (ok, iterations) in cands.items():
        jobs[name] = _samples(ok, iterations=iterations)
        jobs["o" + name] = _samples(ok, iterations=iterations)
    return jobs


def test_a_candidate_needs_the_margin_to_replace_the_current_recipe(rule):
    jobs = _jobs(cur=(10, 10), a=(11, 10), b=(12, 10))
    assert rule.choose(jobs, ["cur", "a", "b"], "cur", margin=4, max_lost=0.1)[0] == "b"  # 24 vs 20
    assert rule.choose(jobs, ["cur", "a", "b"], "cur", margin=5, max_lost=0.1)[0] == "cur"


def test_a_candidate_that_costs_too_many_iterations_is_out(rule):
    jobs = _jobs(cur=(10, 10), a=(15, 14))
    best, scores = rule.choose(jobs, ["cur", "a"], "cur", margin=3, max_lost=0.1, max_iterations_ratio=1.3)
    assert best == "cur" and scores["a"]["out"] and scores["a"]["iterations"] == 14
    assert rule.choose(jobs, ["cur", "a"], "cur", margin=3, max_lost=0.1, max_iterations_ratio=1.5)[0] == "a"


def test_a_candidate_that_loses_objects_is_out(rule):
    jobs = _jobs(cur=(10, 10), a=(15, 10))
    jobs["a"] = [dict(s, centre_errors=[None]) if i < 5 else s for i, s in enumerate(jobs["a"])]
    best, scores = rule.choose(jobs, ["cur", "a"], "cur", margin=3, max_lost=0.1)
    assert best == "cur" and scores["a"]["out"]
