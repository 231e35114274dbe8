"""Object-token positions in a tokenised prompt.

TTOM reads the attention paid to an object's word: every token of the object word, matched as a
subsequence of the tokenised prompt at every occurrence, with the backend's own tokenizer (as the
official Wan code does for umT5). Inflected forms ("dogs" for "dog", "people" for "person") do
not match token by token in most vocabularies, so when the exact match finds nothing we fall back
to the words: every word of the prompt whose singular (``ttom.words``, the planner's own
inflection) is the object word's singular (dogs → dog, people → person, leaves → leaf, mice →
mouse) is mapped to its tokens through the fast tokenizer's offset mapping; in a multi-word name
("teddy bear") the last word is matched so and the words before it as they are.

``described_token_groups`` widens each name's group beyond the noun (``scope``): ``phrase`` adds the
other words of its objects' phrases where they occur in the prompt ("red" of "a red circle"),
``clause`` also the words after the phrase up to where the next object is named ("moving right" of "a red
circle moving right and a blue square moving left"), words that describe nothing ("a", "and") left out. Only the occurrence
inside the object's own phrase or clause counts, so the "red" of another red object stays its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ttom.words import noun_lemmas, parts_of_speech

_WORD = re.compile(r"[a-z0-9]+")


def _subsequence_positions(seq: Sequence[int], sub: Sequence[int]) -> list[int]:
    n, m = len(seq), len(sub)
    out: list[int] = []
    if m == 0:
        return out
    for i in range(n - m + 1):
        if list(seq[i:i + m]) == list(sub):
            out.extend(range(i, i + m))
    return out


def _word_variants(tokenizer, word: str) -> list[list[int]]:
    """Token-id sequences the word may take inside a sentence (with and without a leading space)."""
    variants: list[list[int]] = []
    for text in (word, " " + word, word.lower(), " " + word.lower()):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        # SentencePiece tokenizers may emit a lone "▁" token before the word; drop empty pieces.
        ids = [i for i in ids if tokenizer.convert_ids_to_tokens(i) not in ("▁", "Ġ", "")]
        if ids and ids not in variants:
            variants.append(ids)
    return variants


def _same_noun(prompt_word: str, object_word: str) -> bool:
    if prompt_word == object_word:
        return True
    return bool(set(noun_lemmas(prompt_word)) & ({object_word} | set(noun_lemmas(object_word))))


def word_spans(prompt: str, word: str) -> list[tuple[int, int]]:
    """Character spans of the prompt's own words for the object word ``word``, any number or form."""
    parts = word.lower().split()
    if not parts:
        return []
    words = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(prompt.lower())]
    n = len(parts)
    out = []
    for i in range(len(words) - n + 1):
        window = words[i : i + n]
        if [w for _, _, w in window[:-1]] == parts[:-1] and _same_noun(window[-1][2], parts[-1]):
            out.append((window[0][0], window[-1][1]))
    return out


def token_positions(tokenizer, prompt_ids: Sequence[int], word: str, prompt: str | None = None,
                    max_length: int | None = None) -> list[int]:
    """Sorted positions in ``prompt_ids`` of every token of ``word``, at every occurrence.

    ``prompt`` (the text behind ``prompt_ids``, tokenised with the same special tokens) enables
    the character fallback for inflected forms. Returns [] when the word does not occur.
    """
    found: set[int] = set()
    for variant in _word_variants(tokenizer, word):
        found.update(_subsequence_positions(prompt_ids, variant))
    if found or prompt is None or not getattr(tokenizer, "is_fast", False):
        return sorted(found)

    spans = word_spans(prompt, word)
    if not spans:
        return []
    return sorted(_tokens_in_spans(_offsets(tokenizer, prompt, max_length), len(prompt_ids), spans))


def _offsets(tokenizer, prompt: str, max_length: int | None = None) -> list[tuple[int, int]]:
    """Each token's character span in ``prompt`` (the fast tokenizer's offset mapping, special tokens
    included with empty spans), tokenised as the prompt ids were."""
    return tokenizer(prompt, add_special_tokens=True, return_offsets_mapping=True, truncation=max_length is not None,
                     max_length=max_length)["offset_mapping"]


def _tokens_in_spans(offsets: Sequence[tuple[int, int]], n_ids: int, spans: Sequence[tuple[int, int]]) -> set[int]:
    """Positions below ``n_ids`` of the tokens that overlap any character span (special tokens have empty
    offsets and never count)."""
    return {pos for pos, (a, b) in enumerate(offsets)
            if b > a and pos < n_ids and any(a < e and b > s for s, e in spans)}


def object_token_groups(tokenizer, prompt: str, prompt_ids: Sequence[int], words: Sequence[str],
                        max_length: int | None = None) -> dict[str, list[int]]:
    """Token positions for each distinct object word; raises a clear error for a word not in the prompt."""
    groups: dict[str, list[int]] = {}
    missing = []
    for w in words:
        if w in groups:
            continue
        pos = token_positions(tokenizer, prompt_ids, w, prompt=prompt, max_length=max_length)
        if not pos:
            missing.append(w)
        groups[w] = pos
    if missing:
        from ttom.errors import TtomError

        raise TtomError(
            f"object word(s) {missing} do not occur in the prompt the model is conditioned on: {prompt!r}. "
            "Each layout object's name must appear in the (enriched) prompt so its attention can be read."
        )
    return groups


SCOPES = ("name", "phrase", "clause")
_OPEN_CLASSES = frozenset({"NOUN", "VERB", "ADJ", "ADV"})


def describes(word: str) -> bool:
    """Whether a word can carry a description: lemminflect knows it as a noun, verb, adjective or
    adverb ("red", "moving", "right", "above"); articles, conjunctions and most prepositions ("a",
    "and", "of", "with") it does not, and they stay out of a phrase's or clause's tokens."""
    return bool(parts_of_speech(word) & _OPEN_CLASSES)


def _phrase_spans(prompt: str, phrase: str) -> list[tuple[int, int]]:
    """Character spans of the phrase's occurrences in ``prompt``, its leading function words ("a") left
    out and its noun in any number ("a red circle" in "three red circles")."""
    words = _WORD.findall(phrase.lower())
    while words and not describes(words[0]):
        words = words[1:]
    return word_spans(prompt, " ".join(words)) if words else []


def described_token_groups(tokenizer, prompt: str, prompt_ids: Sequence[int], layout, scope: str = "name",
                           max_length: int | None = None) -> dict[str, list[int]]:
    """Token positions for each distinct object name of ``layout``: the name's own (as
    ``object_token_groups``) and, by ``scope``, its description (module docstring). A phrase that
    does not occur in the prompt as written adds nothing (an enriched prompt may word it otherwise)."""
    if scope not in SCOPES:
        raise ValueError(f"token scope must be one of {SCOPES}, got {scope!r}")
    groups = object_token_groups(tokenizer, prompt, prompt_ids, layout.names, max_length=max_length)
    if scope == "name" or not getattr(tokenizer, "is_fast", False):
        return groups
    spans = {o.phrase: _phrase_spans(prompt, o.phrase) for o in layout.objects}
    # a clause ends where the next object is named (its phrase, or its bare name when the phrase is not there)
    starts = sorted({a for sp in spans.values() for a, _ in sp} | {a for n in groups for a, _ in word_spans(prompt, n)})
    lower = prompt.lower()
    wanted: dict[str, list[tuple[int, int]]] = {n: [] for n in groups}
    for obj in layout.objects:
        for a, b in spans[obj.phrase]:
            end = b
            if scope == "clause":
                end = next((s for s in starts if s >= b), len(prompt))
            wanted[obj.name] += [(m.start() + a, m.end() + a) for m in _WORD.finditer(lower[a:end])
                                 if describes(m.group())]
    offsets = _offsets(tokenizer, prompt, max_length)
    for name, spans_of_name in wanted.items():
        groups[name] = sorted(set(groups[name]) | _tokens_in_spans(offsets, len(prompt_ids), spans_of_name))
    return groups
