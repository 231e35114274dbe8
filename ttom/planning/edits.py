"""Conversational edits of the previous layout ("make the dog bigger", "now two dogs").

Offline and deterministic: a small grammar of edits, each one a fixed geometric or count change.

- ``bigger`` / ``smaller`` (also larger, huge, tiny ...): scale the object's boxes by 1.3 (or 1/1.3)
  about their centres;
- ``left`` / ``right`` / ``up`` / ``down`` (move, shift, put ... the dog to the left): shift its
  boxes by 0.15 of the frame, kept inside it;
- ``now N dogs`` / ``add N dogs`` / ``add a cat``: the count is written into the scene prompt, which
  is planned again (the planner places N instances);
- ``remove the dog`` / ``no dog``: the dog's objects are dropped and its noun phrase is removed from
  the prompt.

``edit_request(text, layout)`` returns an ``Edit`` (the new layout, or a new prompt to plan) or None
when the text is not an edit of this layout (then it is a new scene). The LLM, when one is
configured, handles edits this grammar does not read (``ttom.agents.nodes``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ttom.layout import Keyframe, Layout
from ttom.planning import lexicon as lx
from ttom.planning.errors import PlannerError
from ttom.prompts import load_word_list

SCALE = 1.3  # bigger / smaller: boxes scaled by this about their centres
SHIFT = 0.15  # left / right / up / down: boxes moved by this fraction of the frame

_MOVES = {"left": (-SHIFT, 0.0), "right": (SHIFT, 0.0), "up": (0.0, -SHIFT), "higher": (0.0, -SHIFT),
          "down": (0.0, SHIFT), "lower": (0.0, SHIFT)}
# the words of the edit grammar are word lists in ttom/prompts/lexicon (edit_*.txt)
_BIGGER = set(load_word_list("edit_bigger"))
_SMALLER = set(load_word_list("edit_smaller"))
_EDIT_VERBS = set(load_word_list("edit_openers"))
_REMOVE = set(load_word_list("edit_remove"))


@dataclass
class Edit:
    """The result of an edit: a layout to follow, or a prompt to plan again."""

    description: str
    layout: Layout | None = None
    replan_prompt: str | None = None


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _names_compound(name: str, words: list[str]) -> bool:
    """Whether ``words`` say the compound name ("make the teddy bear bigger", "two teddy bears")."""
    parts = name.lower().split()
    n = len(parts)
    return any(words[i:i + n - 1] == parts[:-1] and lx.singularize(words[i + n - 1]) == parts[-1]
               for i in range(len(words) - n + 1))


def _count(words: list[str]) -> tuple[int | None, int]:
    """The first number in ``words`` and its index."""
    for i, w in enumerate(words):
        if w.isdigit():
            return int(w), i
        if w in lx.NUMBER_WORDS and w not in ("a", "an", "some", "many", "few", "several", "multiple"):
            return lx.NUMBER_WORDS[w], i
    return None, -1


def _number_word(n: int) -> str:
    names = {v: k for k, v in lx.NUMBER_WORDS.items() if k in ("one", "two", "three", "four", "five", "six",
                                                               "seven", "eight", "nine", "ten")}
    return names.get(n, str(n))


def scale_box(box, f: float):
    x0, y0, x1, y1 = box
    cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) * f, (y1 - y0) * f
    w, h = min(w, 1.0), min(h, 1.0)
    cx, cy = min(max(cx, w / 2), 1 - w / 2), min(max(cy, h / 2), 1 - h / 2)
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def _shift(box, dx: float, dy: float):
    x0, y0, x1, y1 = box
    dx = min(max(dx, -x0), 1 - x1)
    dy = min(max(dy, -y0), 1 - y1)
    return (x0 + dx, y0 + dy, x1 + dx, y1 + dy)


def _map_boxes(layout: Layout, names: set[str], fn) -> Layout:
    objects = []
    for o in layout.objects:
        if o.name in names:
            o = o.model_copy(update={"keyframes": [Keyframe(t=k.t, box=fn(k.box)) for k in o.keyframes]})
        objects.append(o)
    return layout.model_copy(update={"objects": objects})


def _attributes(layout: Layout, name: str) -> list[str]:
    """The attribute words of ``name``'s phrase in the layout ("a red square" → ["red"])."""
    obj = next((o for o in layout.objects if o.name == name), None)
    if obj is None:
        return []
    skip = set(name.lower().split()) | set(lx.NUMBER_WORDS) | {"the"}
    return [w for w in _words(obj.phrase) if w not in skip and lx.singularize(w) not in skip]


def _phrase_pattern(name: str) -> str:
    plural = lx.pluralize(name)
    nums = "|".join(sorted((re.escape(k) for k in lx.NUMBER_WORDS), key=len, reverse=True))
    return rf"\b(?:(?:the|{nums}|\d+)\s+)?(?:[a-z]+\s+){{0,2}}?(?:{re.escape(plural)}|{re.escape(name)})\b"


def edit_request(text: str, layout: Layout | None) -> Edit | None:
    """An edit of ``layout`` read from ``text``, or None when ``text`` is a new scene."""
    if layout is None:
        return None
    words = _words(text)
    if not words or words[0] not in _EDIT_VERBS:
        return None
    known = layout.names
    mentioned = [n for n in known if any(lx.singularize(w) == n.lower() or w == n.lower() for w in words)
                 or (" " in n and _names_compound(n, words))]
    nouns = [lx.singularize(w) for w in words if lx.singularize(w) in lx.NOUNS]
    new_nouns = [n for n in nouns if n not in known]

    def targets() -> set[str]:
        if mentioned:
            return set(mentioned)
        if len(known) == 1 or any(w in ("it", "everything", "all", "them") for w in words):
            return set(known)
        raise PlannerError(f"which object should change? {text!r} names none of the layout's objects "
                           f"({', '.join(known)})")

    # counts and additions: plan again from a rewritten prompt
    n, _ = _count(words)
    if words[0] in _REMOVE:
        gone = targets()
        objects = [o for o in layout.objects if o.name not in gone]
        if not objects:
            raise PlannerError(f"{text!r} would remove every object; describe a new scene instead")
        prompt = layout.prompt
        for name in gone:
            prompt = re.sub(r"\s*(?:,|\band\b|\bwhile\b|\bwith\b)?\s*" + _phrase_pattern(name) + r"[^,]*?(?=,|\band\b|\bwhile\b|$)",
                            "", prompt, count=1, flags=re.I).strip(" ,")
        prompt = re.sub(r"^(and|while|with)\s+", "", prompt).strip() or " and ".join(o.phrase for o in objects)
        renumbered = [o.model_copy(update={"id": i}) for i, o in enumerate(objects)]
        return Edit(f"removed {', '.join(sorted(gone))}",
                    layout=layout.model_copy(update={"objects": renumbered, "prompt": prompt,
                                                     "enriched_prompt": None}))
    if n is not None or words[0] in ("add", "plus", "also", "and", "more"):
        name = (mentioned or new_nouns or [None])[0]
        if name is None:
            raise PlannerError(f"{text!r}: add what? name the object (e.g. 'add a cat', 'now two dogs')")
        count = n if n is not None else 1
        if words[0] in ("add", "plus", "also", "and", "more") and name in known:
            count = layout.counts()[name] + (n or 1)
        # keep what the scene says of the object ("two squares" of a red square: two red squares)
        attrs = _attributes(layout, name)
        noun = " ".join([*attrs, lx.pluralize(name) if count > 1 else name])
        phrase = f"{_number_word(count)} {noun}" if count > 1 else f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"
        prompt, k = re.subn(_phrase_pattern(name), phrase, layout.prompt, count=1, flags=re.I)
        if not k:
            prompt = f"{layout.prompt} and {phrase}"
        return Edit(f"{phrase} in the scene", replan_prompt=prompt)

    # geometry
    if any(w in _BIGGER for w in words):
        names = targets()
        return Edit(f"{', '.join(sorted(names))} bigger (x{SCALE})", layout=_map_boxes(layout, names, lambda b: scale_box(b, SCALE)))
    if any(w in _SMALLER for w in words):
        names = targets()
        return Edit(f"{', '.join(sorted(names))} smaller (x1/{SCALE})",
                    layout=_map_boxes(layout, names, lambda b: scale_box(b, 1 / SCALE)))
    for w in words:
        if w in _MOVES:
            names = targets()
            dx, dy = _MOVES[w]
            return Edit(f"{', '.join(sorted(names))} moved {w} by {SHIFT}",
                        layout=_map_boxes(layout, names, lambda b, dx=dx, dy=dy: _shift(b, dx, dy)))
    return None
