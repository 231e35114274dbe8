"""The planner's word lists (data files loaded by name) and the inflection they rely on."""

from __future__ import annotations

import pytest

from ttom import words
from ttom.errors import ConfigError
from ttom.planning import lexicon as lx
from ttom.planning.offline import plan_offline
from ttom.prompts import LEXICON, load_word_list


def test_every_word_list_loads_by_name_with_a_purpose():
    names = sorted(p.stem for p in LEXICON.glob("*.txt"))
    assert len(names) >= 20
    for name in names:
        entries = load_word_list(name)
        assert entries and all(e == e.lower() and e == " ".join(e.split()) for e in entries), name
        assert (LEXICON / f"{name}.txt").read_text(encoding="utf-8").startswith("# purpose:"), name
    with pytest.raises(ConfigError, match="bundled lists"):
        load_word_list("no_such_list")


def test_lists_are_packaged():
    from pathlib import Path

    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    assert '"prompts/lexicon/*.txt"' in pyproject and '"lemminflect' in pyproject


@pytest.mark.parametrize(("plural", "singular"), [
    ("people", "person"), ("women", "woman"), ("mice", "mouse"), ("leaves", "leaf"), ("children", "child"),
    ("geese", "goose"), ("wolves", "wolf"), ("cacti", "cactus"), ("oxen", "ox"), ("wombats", "wombat"),
    ("bonsai", "bonsai"), ("sunglasses", "sunglasses"), ("bus", "bus"), ("news", "news"),
])
def test_singular_forms_come_from_the_inflection_library(plural, singular):
    assert lx.singularize(plural) == singular
    assert lx.is_plural(plural) == (plural != singular)


@pytest.mark.parametrize(("singular", "plural"), [("person", "people"), ("leaf", "leaves"), ("box", "boxes"),
                                                  ("child", "children"), ("sheep", "sheep"), ("scissors", "scissors")])
def test_plural_forms(singular, plural):
    assert lx.pluralize(singular) == plural


def test_verb_forms_and_lemmas():
    assert {"run", "runs", "ran", "running"} <= words.verb_forms("run")
    assert {"hop", "hopped", "hopping"} <= words.verb_forms("hop")
    assert [lx.lemma(w) for w in ("flew", "rising", "dropped", "lies", "swam")] == ["fly", "rise", "drop", "lie", "swim"]


def test_irregular_plurals_plan_as_their_singular():
    assert plan_offline("Three people sit around a table").counts() == {"person": 3, "table": 1}
    assert plan_offline("two women and four mice").counts() == {"woman": 2, "mouse": 4}


def test_words_outside_the_lists_are_read_by_rule():
    # an abstract noun (by its suffix) and an adjective-only word are no things to place
    assert lx.is_abstract_noun("brightness") and not lx.is_abstract_noun("tent")
    assert lx.is_adjective_only("realistic") and not lx.is_adjective_only("cat")
    assert lx.is_adverb("slowly") and not lx.is_adverb("lovely") and lx.is_adjective_ly("lovely")
    # a closed compound of a place is a place ("in a ballroom"), an unknown noun after "a" is a thing
    assert lx.compound_place("ballroom") and not lx.compound_place("broom")
    layout = plan_offline("a wombat sleeps in a ballroom")
    assert layout.counts() == {"wombat": 1} and layout.background == "ballroom"
    assert plan_offline("a mushroom in a garden").counts() == {"mushroom": 1}  # a listed thing stays one
