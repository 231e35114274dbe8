"""The offline planner's English: word lists loaded by name, inflection, and word classes by rule.

No NLP model is downloaded: the offline planner, the validator and the scene abstraction read
prompts with these lists and the shallow grammar in ``ttom/agents/parse.py``.

- Inflection (singular and plural nouns, verb lemmas and forms) comes from lemminflect through
  ``ttom.words``, not from hand-written forms.
- The word lists are data files under ``ttom/prompts/lexicon/``, one class of words each
  (common concrete nouns, places, colours, verbs of motion, prepositions ...), loaded by name.
  They were written by hand while the planner was developed against T2V-CompBench and LVD
  prompts, so those prompts are better covered than others (many common words of the lists occur
  in them); entries that served particular benchmark prompts rather than their class were removed,
  and what they did is done by the rules below where a rule could do it.
- A word missing from the lists still parses when a determiner or a count introduces it; rules on
  lemminflect's parts of speech and on word shape decide what it is (``is_abstract_noun``,
  ``is_adjective_only``, ``is_adverb``, ``compound_place``).
"""

from __future__ import annotations

from ttom import words
from ttom.prompts import load_word_list


def _set(name: str) -> set[str]:
    return set(load_word_list(name))


def _pairs(name: str) -> list[tuple[str, str]]:
    """Lines of two fields: ``key value`` (a word list's value column), e.g. "two 2"."""
    out = []
    for line in load_word_list(name):
        a, _, b = line.rpartition(" ")
        out.append((a, b))
    return out


# --- counts ---------------------------------------------------------------------------------
NUMBER_WORDS: dict[str, int] = {w: int(n) for w, n in _pairs("number_words")}
# Quantity phrases ("a pair of", "a couple of", "a group of" ...) -> count; None = "more than one,
# unspecified" (a bare plural). The file puts the count first: "2 a pair of".
QUANTITY_PHRASES: dict[str, int | None] = {
    phrase: (None if n == "-" else int(n)) for n, _, phrase in (line.partition(" ") for line in load_word_list("quantity_phrases"))
}
POSSESSIVES = _set("possessives")
SINGULAR_DETERMINERS = _set("singular_determiners")
PLURAL_DETERMINERS = _set("plural_determiners")
PLURALIA_TANTUM = set(words.pluralia_tantum())

# --- adjectives -----------------------------------------------------------------------------
COLOURS = _set("colours")
SIZE_WORDS: dict[str, float] = {w: float(m) for w, m in _pairs("size_words")}  # multiplier on the default box side
MATERIALS = _set("materials")

# --- nouns ----------------------------------------------------------------------------------
NOUNS = _set("nouns")  # concrete, visible things that become layout objects
COMPOUND_NOUNS = _set("compound_nouns")  # multi-word nouns read as one name (head = last word)
NON_OBJECTS = _set("non_objects")  # never layout objects, even when a determiner introduces them
PLACES = _set("places")  # background when a place preposition introduces them
FRAMING_NOUNS = _set("framing_nouns")  # "a video of", "a clip showing": the kind of picture
ALWAYS_PLACES = _set("always_places")  # background whatever introduces them ("a ship on the sea")


def singularize(word: str) -> str:
    """The singular of an English noun ("dogs" -> "dog", "children" -> "child", "leaves" -> "leaf")."""
    return words.singularize(word, prefer=NOUNS | PLACES | NON_OBJECTS)


def is_plural(word: str) -> bool:
    """Whether a noun is in plural form (pluralia tantum and invariant nouns count as singular)."""
    return words.is_plural(word)


def pluralize(word: str) -> str:
    """The plural of a singular noun, for writing phrases ("dog" -> "dogs", "person" -> "people")."""
    return words.pluralize(word)


_ABSTRACT_SUFFIXES = ("ness", "ity", "tion", "sion", "ment", "ance", "ence", "ism", "hood", "dom")


def is_abstract_noun(word: str) -> bool:
    """A noun with a suffix that forms abstract nouns ("brightness", "motion", "movement")."""
    s = singularize(word)
    return s not in NOUNS and len(s) > 6 and s.endswith(_ABSTRACT_SUFFIXES)


def is_adjective_only(word: str) -> bool:
    """A word the lexicon knows as an adjective or adverb and never as a noun ("realistic", "upper")."""
    pos = words.parts_of_speech(word)
    return bool(pos) and "NOUN" not in pos and bool(pos & {"ADJ", "ADV"}) and "VERB" not in pos


def compound_place(name: str) -> bool:
    """A closed compound whose last part is a place ("showroom", "ballroom", "barnyard")."""
    return any(len(p) >= 4 and name.endswith(p) and len(name) - len(p) >= 3 for p in PLACES if " " not in p)


# --- verbs ----------------------------------------------------------------------------------
_VERB_BASES = load_word_list("verbs")
# Every form of the listed verbs, then without the forms that are nouns as often as verbs
# ("a stone rolls" but "a bread roll"); those act as verbs right after a subject.
VERB_AFTER_SUBJECT: set[str] = set().union(*(words.verb_forms(b) for b in _VERB_BASES))
# "circle" is a shape noun far more often than a verb ("three circles", not "the hawk circles").
VERBS: set[str] = VERB_AFTER_SUBJECT - (words.verb_forms("circle") - {"circling", "circled"})
VERBS -= _set("noun_first_verbs")
VERBS -= NOUNS  # a form that is also a listed thing ("dove", "saw") is a verb only after a subject
ADVERBS = _set("adverbs")


def is_adverb(word: str) -> bool:
    """An adverb: listed, or an -ly word the lexicon knows only as an adverb ("slowly", "gently")."""
    if word in ADVERBS:
        return True
    return word.endswith("ly") and words.parts_of_speech(word) == {"ADV"}


def is_adjective_ly(word: str) -> bool:
    """An adjective ending in -ly ("a friendly goat", "an ugly duckling"), per the lexicon."""
    return word.endswith("ly") and "ADJ" in words.parts_of_speech(word)


def lemma(verb: str) -> str:
    """The base form of a verb form ("rolls" -> "roll", "rising" -> "rise", "flew" -> "fly")."""
    return words.verb_lemma(verb)


PREPOSITIONS = _set("prepositions")
PLACE_PREPOSITIONS = _set("place_prepositions")  # "in a park": a place noun after them is the background
CONJUNCTIONS = _set("conjunctions")
PRONOUNS = _set("pronouns")

# --- motion ---------------------------------------------------------------------------------
# Verbs whose meaning carries a vertical direction (weaker cue than "upwards" / "to the left").
UP_VERBS = _set("up_verbs")
DOWN_VERBS = _set("down_verbs")
DOWNHILL = _set("downhill")  # heads after "down the ..." that mean a real descent
MOTION_VERBS = _set("motion_verbs")
PHRASAL_UP = _set("phrasal_up")  # "set up", "pick up": a particle, not upward motion
PATH_PLACES = _set("path_places")  # "down the street" means along it

# --- sizes and shapes of things -------------------------------------------------------------
LARGE_THINGS = _set("large_things")
SMALL_THINGS = _set("small_things")
TALL_THINGS = _set("tall_things")
WIDE_THINGS = _set("wide_things")
