"""What a prompt asserts about its objects: spatial relations, motion directions, counts.

The critic checks the video against the layout, and the layout against these facts: a layout
that contradicts its own prompt is sent back for repair, not re-optimised. The parser is a few
regular expressions over the English of T2V-CompBench-style prompts; a fact it cannot attach to
layout objects is left out rather than guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ttom.critic.grounders.base import phrase_key
from ttom.layout import Layout

# relation words -> T2V-CompBench's 2D relation names ("on" counts as above, "under" as below)
_RELATION_WORDS = [
    ("to the left of", "left"), ("on the left of", "left"), ("on the left side of", "left"),
    ("to the left side of", "left"), ("left of", "left"),
    ("to the right of", "right"), ("on the right of", "right"), ("on the right side of", "right"),
    ("to the right side of", "right"), ("right of", "right"),
    ("on top of", "above"), ("above", "above"), ("over", "above"),
    ("underneath", "below"), ("beneath", "below"), ("below", "below"), ("under", "below"),
]
_RELATION_RE = re.compile(r"\b(" + "|".join(re.escape(w) for w, _ in _RELATION_WORDS) + r")\b")
_RELATION_OF = dict(_RELATION_WORDS)

_MOTION_VERB = (
    r"(?:mov\w*|driv\w*|drove|run\w*|ran|fl(?:y|ies|ying|ew)|go(?:es|ing)?|went|travel\w*|roll\w*|walk\w*|"
    r"slid\w*|swim\w*|swam|head\w*|drift\w*|glid\w*|rac\w*|cross\w*|pan\w*|sail\w*|crawl\w*|jump\w*|"
    r"hop\w*|float\w*|ris\w*|rose|fall\w*|fell|sink\w*|climb\w*|descend\w*|ascend\w*|shift\w*|scroll\w*)"
)
_DIRECTION_WORDS = {
    "left": "left", "leftward": "left", "leftwards": "left", "right": "right", "rightward": "right",
    "rightwards": "right", "up": "up", "upward": "up", "upwards": "up", "down": "down", "downward": "down",
    "downwards": "down",
}
_MOTION_RE = re.compile(
    r"\b" + _MOTION_VERB + r"\s+(?:\w+ly\s+)?(?:(?:to|towards|toward|in)\s+)?(?:the\s+)?(?:direction\s+of\s+(?:the\s+)?)?"
    r"(leftwards?|rightwards?|upwards?|downwards?|left|right|up|down)\b"
)
_FROM_TO_RE = re.compile(r"\bfrom\s+(?:the\s+)?(left|right|top|bottom)\s+to\s+(?:the\s+)?(left|right|top|bottom)\b")
_FROM_TO = {("left", "right"): "right", ("right", "left"): "left", ("top", "bottom"): "down", ("bottom", "top"): "up"}

NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "a pair of": 2, "a couple of": 2,
}
_NUMBER_RE = re.compile(r"\b(" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + r"|\d+)\b")


@dataclass(frozen=True)
class RelationFact:
    subject: int  # layout object id
    relation: str  # left | right | above | below
    object: int  # layout object id
    words: str  # as the prompt says it


@dataclass(frozen=True)
class MotionFact:
    object: int
    direction: str  # left | right | up | down


@dataclass
class PromptFacts:
    relations: list[RelationFact]
    motions: list[MotionFact]
    counts: dict[str, int]  # phrase_key -> number the prompt asks for (only where it says a number)


def _plural_forms(name: str) -> list[str]:
    n = name.lower()
    forms = {n, n + "s", n + "es"}
    if n.endswith("y"):
        forms.add(n[:-1] + "ies")
    if n.endswith("f"):
        forms.add(n[:-1] + "ves")
    if n.endswith("fe"):
        forms.add(n[:-2] + "ves")
    irregular = {"person": "people", "man": "men", "woman": "women", "child": "children", "mouse": "mice",
                 "goose": "geese", "foot": "feet", "tooth": "teeth", "sheep": "sheep", "fish": "fish", "deer": "deer"}
    if n in irregular:
        forms.add(irregular[n])
    return sorted(forms, key=len, reverse=True)


def _mentions(layout: Layout, text: str) -> list[tuple[int, int, list[int]]]:
    """Where the prompt mentions layout objects: (start, end, object ids), sorted by position.

    An object is found by its phrase (without a leading article) when the prompt contains it,
    else by its name; objects sharing a phrase or name share the mention (numeracy).
    """
    spans: dict[tuple[int, int], list[int]] = {}
    for obj in layout.objects:
        hit = None
        phrase = re.sub(r"^(a|an|the|one)\s+", "", obj.phrase.lower()).strip()
        candidates = [phrase] + [f"{' '.join(phrase.split()[:-1])} {p}".strip() for p in _plural_forms(phrase.split()[-1])]
        candidates += _plural_forms(obj.name)
        for cand in candidates:
            if not cand:
                continue
            m = re.search(r"\b" + re.escape(cand) + r"\b", text)
            if m:
                hit = (m.start(), m.end())
                break
        if hit is not None:
            spans.setdefault(hit, []).append(obj.id)
    # a name found inside a longer phrase span of another object is the same mention
    items = sorted(spans.items())
    merged: list[tuple[int, int, list[int]]] = []
    for (s, e), ids in items:
        for k, (ms, me, mids) in enumerate(merged):
            if s >= ms and e <= me or ms >= s and me <= e:
                merged[k] = (min(s, ms), max(e, me), mids + ids)
                break
        else:
            merged.append((s, e, list(ids)))
    return sorted(merged)


def parse_prompt_facts(layout: Layout) -> PromptFacts:
    """The relations, motions and counts the layout's prompt asserts, attached to its objects."""
    text = " ".join(layout.prompt.lower().split())
    mentions = _mentions(layout, text)

    def before(pos: int) -> list[int] | None:
        prev = [m for m in mentions if m[1] <= pos]
        return prev[-1][2] if prev else None

    def after(pos: int) -> list[int] | None:
        nxt = [m for m in mentions if m[0] >= pos]
        return nxt[0][2] if nxt else None

    relations: list[RelationFact] = []
    for m in _RELATION_RE.finditer(text):
        subj, obj = before(m.start()), after(m.end())
        if subj and obj and subj != obj:
            for a in subj:
                for b in obj:
                    relations.append(RelationFact(a, _RELATION_OF[m.group(1)], b, m.group(1)))

    motions: dict[int, str] = {}
    for m in _MOTION_RE.finditer(text):
        for oid in before(m.start()) or []:
            motions.setdefault(oid, _DIRECTION_WORDS[m.group(1)])
    for m in _FROM_TO_RE.finditer(text):
        d = _FROM_TO.get((m.group(1), m.group(2)))
        if d:
            for oid in before(m.start()) or []:
                motions.setdefault(oid, d)

    # counts per phrase (``phrase_key``): "two red circles" asks for two objects of phrase "a red circle"
    counts: dict[str, int] = {}
    groups: dict[str, list] = {}
    for obj in layout.objects:
        groups.setdefault(phrase_key(obj.phrase), []).append(obj)
    for key, objs in groups.items():
        words = re.sub(r"^(a|an|the|one)\s+", "", key).split()
        patterns = [r"\s+".join(re.escape(w) for w in words[:-1] + [form]) for form in _plural_forms(words[-1])]
        # fall back to the bare noun after up to three attribute words, when no other phrase shares the name
        if len({phrase_key(o.phrase) for o in layout.objects if o.name == objs[0].name}) == 1:
            patterns += [r"(?:[a-z-]+\s+){0,3}?" + re.escape(form) for form in _plural_forms(objs[0].name)]
        for pat in patterns:
            m = re.search(_NUMBER_RE.pattern + r"\s+" + pat + r"\b", text)
            if m:
                word = m.group(1)
                counts[key] = int(word) if word.isdigit() else NUMBER_WORDS[word]
                break
    return PromptFacts(relations=relations, motions=[MotionFact(k, v) for k, v in motions.items()], counts=counts)
