"""The scene structure behind the memory key (issue 15): what a memory hit must share with the request.

Every relation and direction phrase of the grammar gives its own relation or direction in the
structure, and the opposite phrase a different structure, although their keys embed close together.
"""

from __future__ import annotations

import pytest

from ttom.planning.abstraction import abstract
from ttom.planning.offline import plan_offline

from .test_validate import MOTION_PHRASES, RELATION_PHRASES


def structure(prompt: str):
    return abstract(plan_offline(prompt), prompt).structure


def canonical(prompt: str) -> str:
    return structure(prompt).canonical()


@pytest.mark.parametrize(("relation", "phrase"), [(r, p) for r, ps in RELATION_PHRASES.items() for p in ps])
def test_every_relation_phrase_is_its_relation_in_the_structure(relation, phrase):
    s = structure(f"a dog {phrase} a car")
    assert s.relations == [(0, relation, 1)]
    assert [o.count for o in s.objects] == [1, 1]


@pytest.mark.parametrize(("direction", "phrase"), [(d, p) for d, ps in MOTION_PHRASES.items() for p in ps])
def test_every_direction_phrase_is_its_direction_in_the_structure(direction, phrase):
    s = structure(f"a ball {phrase}")
    assert [o.directions for o in s.objects] == [[f"{direction} {direction} {direction}"]]


OPPOSITES = [("left", "right"), ("above", "below"), ("in front of", "behind"), ("on", "under")]


@pytest.mark.parametrize(("a", "b"), OPPOSITES)
def test_opposite_relations_have_different_structures_whatever_their_words(a, b):
    for pa in RELATION_PHRASES[a]:
        for pb in RELATION_PHRASES[b]:
            assert canonical(f"a dog {pa} a car") != canonical(f"a dog {pb} a car"), (pa, pb)
    # and the words of one relation all give one structure
    assert len({canonical(f"a dog {p} a car") for p in RELATION_PHRASES[a]}) == 1


def test_opposite_directions_and_other_counts_and_positions_differ():
    by_direction = {d: {canonical(f"a ball {p}") for p in ps} for d, ps in MOTION_PHRASES.items()}
    assert all(len(v) == 1 for v in by_direction.values())  # every phrase of one direction: one structure
    assert len(set.union(*by_direction.values())) == 4
    counts = [canonical(p) for p in ("a dog runs in a park", "two dogs run in a park", "three dogs run in a park")]
    assert len(set(counts)) == 3
    positions = [canonical(f"a red circle {w}") for w in ("on the left", "on the right", "at the top", "at the bottom")]
    assert len(set(positions)) == 4
    # a place is part of it too
    assert canonical("a dog runs to the left") != canonical("a dog runs to the left in a park")


def test_same_scene_in_other_words_or_with_other_objects_has_one_structure():
    base = canonical("a red car drives to the left while a dog sits on the right")
    assert canonical("A video of a red car drives to the left while a dog sits on the right side") == base
    assert canonical("a blue bus drives to the left while a cat sits on the right") == base
    # roles keep prompt order: the moving object named second is another scene
    assert canonical("a dog sits on the right while a red car drives to the left") != base


def test_slots_map_each_layout_object_and_keep_prompt_order():
    layout = plan_offline("two dogs run to the left and a cat sits")
    k = abstract(layout)
    by_name = {o.id: o.name for o in layout.objects}
    assert {by_name[i]: slot for i, slot in k.slots.items()} == {"dog": 0, "cat": 1}
    assert [o.count for o in k.structure.objects] == [2, 1]
    assert k.structure.objects[0].directions == ["left left left", "left left left"]
    # a same-name pair fills one slot twice, and its relation points at that slot
    s = structure("a yellow circle to the left of a blue circle")
    assert [o.count for o in s.objects] == [2] and s.relations == [(0, "left", 0)]


def test_a_framing_opening_names_no_object():
    for opening in ("a film of", "a picture of", "a video of", "an image showing"):
        layout = plan_offline(f"{opening} a red circle moving left")
        assert [o.name for o in layout.objects] == ["circle"], opening
