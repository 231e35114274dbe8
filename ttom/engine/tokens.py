"""Object-token positions in a tokenised prompt.

TTOM reads the attention paid to an object's word: every token of the object word, matched as a
subsequence of the tokenised prompt at every occurrence, with the backend's own tokenizer (as the
official Wan code does for umT5). Inflected forms ("dogs" for "dog") do not match token by token
in most vocabularies, so when the exact match finds nothing we fall back to the characters: every
word of the prompt that starts with the object word (dog → dogs, box → boxes) is mapped to its
tokens through the fast tokenizer's offset mapping.
"""

from __future__ import annotations

import re
from collections.abc import Sequence


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

    enc = tokenizer(prompt, add_special_tokens=True, return_offsets_mapping=True, truncation=max_length is not None,
                    max_length=max_length)
    spans = [(m.start(), m.end()) for m in re.finditer(r"\b" + re.escape(word.lower()) + r"\w*", prompt.lower())]
    for pos, (a, b) in enumerate(enc["offset_mapping"]):
        if b <= a:
            continue
        if any(a < e and b > s for s, e in spans):
            found.add(pos)
    return sorted(p for p in found if p < len(prompt_ids))


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
