"""English word forms: singular and plural nouns, verb lemmas and inflections.

One place for inflection, used by the planner's grammar and by the engine's token matcher, so
that both agree on which prompt word is which object ("people" is the word for "person").
Forms come from lemminflect (a lexicon of English lemmas and inflections, with rules for words
outside it); the few suppletive plurals it lacks and the nouns that are plural in form but name
one thing are general word lists under ``ttom/prompts/lexicon/``.
"""

from __future__ import annotations

from functools import cache, lru_cache

from ttom.prompts import load_word_list


@cache
def _plural_exceptions() -> dict[str, str]:
    """plural -> singular for suppletive plurals lemminflect does not know ("people" -> "person")."""
    out = {}
    for line in load_word_list("plural_exceptions"):
        plural, singular = line.split()
        out[plural] = singular
    return out


@cache
def pluralia_tantum() -> frozenset[str]:
    """Nouns plural in form that name one thing ("sunglasses", "scissors")."""
    return frozenset(load_word_list("pluralia_tantum"))


@lru_cache(maxsize=1 << 16)  # bounded: words come from callers
def parts_of_speech(word: str) -> frozenset[str]:
    """The universal POS tags lemminflect's lexicon gives ``word`` (empty for unknown words)."""
    from lemminflect import getAllLemmas

    return frozenset(getAllLemmas(word.lower()))


@lru_cache(maxsize=1 << 16)  # bounded: words come from callers
def noun_lemmas(word: str) -> tuple[str, ...]:
    """Every singular the noun form ``word`` may stand for ("leaves" -> ("leave", "leaf")).

    Known words use lemminflect's lexicon; unknown ones its suffix rules ("wombats" -> "wombat").
    A word the lexicon knows only as another part of speech ("always", "across") is its own lemma.
    """
    from lemminflect import getAllLemmas, getAllLemmasOOV

    w = word.lower()
    if w in _plural_exceptions():
        return (_plural_exceptions()[w],)
    if w in pluralia_tantum() or len(w) <= 2:
        return (w,)
    known = getAllLemmas(w)
    if "NOUN" in known:
        return tuple(known["NOUN"])
    if known or not w.endswith("s"):
        return (w,)  # unknown words form the plural with -s ("wombats"); "bonsai" is its own singular
    return tuple(getAllLemmasOOV(w, "NOUN").get("NOUN", (w,)))


def singularize(word: str, prefer: frozenset[str] | set[str] = frozenset()) -> str:
    """The singular of an English noun ("dogs" -> "dog", "people" -> "person", "boxes" -> "box").

    Where a form has several singulars, the first one in ``prefer`` wins, else a singular that is
    the word itself ("glasses", "dice" stay), else lemminflect's first.
    """
    lemmas = noun_lemmas(word)
    for lem in lemmas:
        if lem in prefer:
            return lem
    w = word.lower()
    return w if w in lemmas else lemmas[0]


def is_plural(word: str) -> bool:
    """Whether a noun is in plural form; invariant nouns ("sheep") and pluralia tantum count as singular."""
    return word.lower() not in noun_lemmas(word)


@lru_cache(maxsize=1 << 16)  # bounded: words come from callers
def pluralize(word: str) -> str:
    """The plural of a singular noun ("dog" -> "dogs", "person" -> "people")."""
    from lemminflect import getInflection

    w = word.lower()
    for plural, singular in _plural_exceptions().items():
        if singular == w:
            return plural
    if w in pluralia_tantum():
        return w
    forms = getInflection(w, "NNS")
    return forms[0] if forms else w + "s"


@lru_cache(maxsize=1 << 16)  # bounded: words come from callers
def verb_lemma(word: str) -> str:
    """The base form of a verb form ("rolls" -> "roll", "rising" -> "rise", "flew" -> "fly")."""
    from lemminflect import getAllLemmas, getAllLemmasOOV

    w = word.lower()
    known = getAllLemmas(w)
    if "VERB" in known:
        return known["VERB"][0]
    if "AUX" in known:
        return known["AUX"][0]
    if known:
        return w
    return getAllLemmasOOV(w, "VERB").get("VERB", (w,))[0]


@lru_cache(maxsize=1 << 16)  # bounded: words come from callers
def verb_forms(base: str) -> frozenset[str]:
    """Every inflected form of a base verb, the base included ("run" -> run, runs, ran, running)."""
    from lemminflect import getAllInflections, getAllInflectionsOOV

    forms = getAllInflections(base, "VERB") or getAllInflectionsOOV(base, "VERB")
    return frozenset({base, *(f for fs in forms.values() for f in fs)})


@lru_cache(maxsize=1 << 16)  # bounded: words come from callers
def is_known_noun(word: str) -> bool:
    """Whether the lexicon knows ``word`` (or its singular) as a noun, or it is a compound of two known words
    ("sandcastle" = sand + castle). A made-up word is not: there is nothing to draw for it."""
    w = word.lower().strip()
    if not w.isalpha():
        return any(is_known_noun(part) for part in w.replace("-", " ").split() if part.isalpha())
    if any("NOUN" in parts_of_speech(lemma) for lemma in (w, *noun_lemmas(w))):
        return True
    return any(parts_of_speech(w[:i]) and "NOUN" in parts_of_speech(w[i:]) for i in range(3, len(w) - 2))
