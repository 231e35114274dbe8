"""The labelled pair set of the memory's recall thresholds (issue 15): rules, the committed set, the targets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ttom.bench import memory_pairs as mp
from ttom.bench.planner import DEFAULT_DATA
from ttom.planning.parse import analyze

DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "memory_pairs"


@pytest.mark.parametrize(("relation", "phrase"), [(r, p) for r, ps in mp.RELATION_WORDS.items() for p in ps])
def test_the_relation_words_of_the_rules_read_as_their_relation(relation, phrase):
    assert [r.relation for r in analyze(f"a dog {phrase} a car").relations] == [relation]


@pytest.mark.parametrize(("direction", "phrase"), [(d, p) for d, ps in mp.DIRECTION_WORDS.items() for p in ps])
def test_the_direction_words_of_the_rules_read_as_their_direction(direction, phrase):
    assert [m.direction for m in analyze(f"a dog runs {phrase}").motions] == [direction]


def test_the_rules_rewrite_what_they_say():
    rng = np.random.default_rng(0)
    assert mp.opposite_relation("A dog running on the left side of a bicycle") == \
        "a dog running on the right side of a bicycle"
    assert mp.opposite_relation("a cat sits above a box") == "a cat sits below a box"
    assert mp.opposite_relation("a dog near a car") is None  # no opposite
    assert mp.opposite_direction("A rabbit hops from left to right in a garden") == \
        "a rabbit hops from right to left in a garden"
    assert mp.opposite_direction("a red circle moving up") == "a red circle moving down"
    assert mp.opposite_position("a red circle at the top") == "a red circle at the bottom"
    r = mp.reword_relation("a red circle to the left of a blue square", rng)
    assert r != "a red circle to the left of a blue square" and analyze(r).relations[0].relation == "left"
    d = mp.reword_direction("a red circle moving left", rng)
    assert d != "a red circle moving left" and analyze(d).motions[0].direction == "left"
    other = mp.other_objects_shapes("a red circle above a blue circle", rng)  # the shared shape is kept shared
    assert other.split()[2] == other.split()[-1] and "above" in other
    nouns = mp._Nouns(["apple", "zebra", "kettle"])
    swapped = mp.other_objects_compbench("Three dogs and a cat play in the yard", nouns, rng)
    assert [(m.name, m.count) for m in analyze(swapped).mentions if m.role == "object"][0][1] == 3
    assert "dog" not in swapped and "cat" not in swapped and "yard" in swapped
    assert mp.split_of("a dog") == mp.split_of("a dog") and {mp.split_of(f"p{i}") for i in range(20)} == {"dev", "test"}


@pytest.mark.skipif(not DEFAULT_DATA.exists(), reason="benchmark data folder not present")
def test_the_committed_pair_set_is_what_the_rules_make():
    """benchmarks/memory_pairs/pairs.jsonl was written by `ttom bench memory --pairs`: rebuilt here (without the
    key embeddings), every pair, label, structure verdict and geometry is the same."""
    committed = mp.load(DIR / "pairs.jsonl")
    built, _ = mp.build_pairs(DEFAULT_DATA)
    assert [p.id for p in built] == [p.id for p in committed]
    for a, b in zip(built, committed, strict=True):
        assert (a.kind, a.label, a.variant, a.edit, a.split, a.base_key, a.variant_key, a.same_structure) == \
            (b.kind, b.label, b.variant, b.edit, b.split, b.base_key, b.variant_key, b.same_structure), a.id
        assert a.geometry == pytest.approx(b.geometry, abs=1e-6), a.id


def test_the_defaults_are_the_thresholds_chosen_on_dev_and_meet_the_targets():
    from ttom.config import Settings

    pairs = mp.load(DIR / "pairs.jsonl")
    chosen = mp.choose_thresholds([p for p in pairs if p.split == "dev"])
    assert json.loads((DIR / "thresholds.json").read_text()) == {"text": chosen.text, "warm": chosen.warm,
                                                                  "skip": chosen.skip}
    s = Settings()
    assert (s.memory_threshold, s.memory_geometry_warm, s.memory_geometry_skip) == (chosen.text, chosen.warm,
                                                                                    chosen.skip)
    # every kind of pair is there, on both halves
    assert {p.kind for p in pairs} == set(mp.SAME) | set(mp.NEAR)
    assert {(p.kind, p.split) for p in pairs} >= {(k, "test") for k in (*mp.SAME, *mp.NEAR)}
    # the targets: no near miss at skip in the whole set; >= 95% of same-scene pairs hit (test and all)
    assert [p.id for p in pairs if p.label == "near" and mp.outcome(p, chosen) == "skip"] == []
    for half in ("test", None):
        same = [p for p in pairs if p.label == "same" and half in (None, p.split)]
        assert np.mean([mp.outcome(p, chosen) != "miss" for p in same]) >= 0.95
    # the layout edits are similar, never near-identical: warm or miss, mostly warm
    edits = [mp.outcome(p, chosen) for p in pairs if p.kind in mp.EDITS]
    assert "skip" not in edits and edits.count("warm") > len(edits) / 2


def test_the_rule_picks_thresholds_from_the_pairs_given():
    def pair(label, geometry, cosine=1.0, same=True, kind=None):
        return mp.Pair(id="x", source="t", kind=kind or ("repeat" if label == "same" else "size edit"), label=label,
                       base="b", variant="v", split="dev", same_structure=same, geometry=geometry, cosine=cosine)

    pairs = [pair("same", 1.0)] * 40 + [pair("same", 0.5)] * 40 + [pair("same", 0.2)] + \
        [pair("near", 0.7), pair("near", 0.3), pair("near", 0.9, cosine=0.99, same=False)]
    t = mp.choose_thresholds(pairs)
    assert t.skip == pytest.approx(0.72)  # above the highest near miss that reaches geometry, one step of margin
    assert t.warm == pytest.approx(0.5)  # 80 of 81 same-scene hits (98.8% >= 97.5%); 0.51 would keep 40
    assert t.text == pytest.approx(1.0)
    assert mp.outcome(pairs[0], t) == "skip" and mp.outcome(pairs[-3], t) == "warm"
