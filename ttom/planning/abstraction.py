"""Scene abstraction: the memory key of a request.

TTOM keys its parameter memory by an abstracted scene description (the official cache files hold
lines such as ``Direction: [left left left]. <object_0> <verb_0> to the left side of
<environment_0>.``). Here the key is built offline from the prompt and the layout:

- every object noun phrase becomes ``<object_i>`` (one index per distinct object name, in prompt
  order), every place ``<environment_j>``, and each object's verb ``<verb_i>``;
- ``Direction: [...]`` gives, for each moving object, one token per temporal third (``left``,
  ``right``, ``up``, ``down`` or ``still``) read from its box centre in the layout; objects are
  separated by ``|``; a scene where nothing moves gets ``[still]``.

So "A red kayak paddles to the left side of a calm lake." and "A grey fox trotting to the left side
of a quiet garden" give the same key, and similar scenes give keys that differ in few words. A
framing opening ("a video of", "a realistic video of a scene in which") is not part of the key,
and a side word in a relation ("left" in "to the left of") is never read as the verb.

The key text is for ranking (its embedding); what a memory hit must share with the request is the
scene's **structure** (``SceneStructure``): per object placeholder (a *slot*) how many instances the
layout has, which way each moves and where the prompt puts it, the relations between slots, and the
number of places. Opposite scenes ("left of" / "right of", "moving up" / "moving down", two / three)
have keys whose embeddings are close, and structures that differ. ``SceneKey.slots`` says which slot
each layout object fills, so that two layouts of one structure can be compared object by object.
"""

from __future__ import annotations

import hashlib
import json
import re

from pydantic import BaseModel, Field

from ttom.geometry import centre
from ttom.layout import Layout, LayoutObject
from ttom.planning import lexicon as lx
from ttom.planning.parse import SceneSpec, analyze, names_match

STEP_MIN = 0.02  # a third of the clip moving less than 2% of the frame reads as "still"
# A framing opening says what kind of picture the request is, not what is in it: "a video of",
# "a short clip showing", "a realistic video of a scene in which", "a top-down view of a scene with".
_FRAMING = re.compile(
    r"^(?:(?:an?|the) )?(?:[a-z-]+ ){0,3}(?:" + "|".join(sorted(lx.FRAMING_NOUNS)) + r")"
    r"(?: (?:of|showing|in which|where|with))? ?"
)


STRUCTURE_VERSION = 1  # part of every structure's hash: a change of these rules never matches old entries


class SlotStructure(BaseModel):
    """One object slot: ``<object_i>`` of the key (or, after them, a layout object the prompt does not name)."""

    count: int = Field(description="instances in the layout")
    directions: list[str] = Field(default_factory=list,
                                  description="per instance, its direction tokens ('left left left'), sorted")
    positions: list[str] = Field(default_factory=list, description="where the prompt puts it ('left', 'upper right')")


class SceneStructure(BaseModel):
    """What a memory hit must share with the request: slots with their counts, directions and positions,
    the relations between slots (subject slot, relation, reference slot), and the number of places."""

    version: int = STRUCTURE_VERSION
    objects: list[SlotStructure] = Field(default_factory=list)
    relations: list[tuple[int, str, int]] = Field(default_factory=list)
    environments: int = 0

    def canonical(self) -> str:
        """Canonical JSON: equal structures give equal text."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @property
    def digest(self) -> str:
        """sha256 of ``canonical()``: what the memory compares (and indexes)."""
        return hashlib.sha256(self.canonical().encode()).hexdigest()


class SceneKey(BaseModel):
    """The abstracted description (``key``), what each placeholder stands for, and the scene's structure."""

    key: str
    template: str = Field(description="the prompt with placeholders, without the direction tag")
    directions: list[list[str]] = Field(default_factory=list, description="per moving object, one token per third")
    objects: dict[str, str] = Field(default_factory=dict)  # "<object_0>" -> "kayak"
    verbs: dict[str, str] = Field(default_factory=dict)  # "<verb_0>" -> "paddles"
    environments: dict[str, str] = Field(default_factory=dict)  # "<environment_0>" -> "lake"
    structure: SceneStructure = Field(default_factory=SceneStructure)
    slots: dict[int, int] = Field(default_factory=dict, description="layout object id -> its slot in structure.objects")


def direction_tokens(obj: LayoutObject, parts: int = 3) -> list[str]:
    """One direction word per temporal part of the object's track (left/right/up/down/still)."""
    out = []
    span = obj.end - obj.start
    for k in range(parts):
        a = obj.box_at(obj.start + span * k / parts)
        b = obj.box_at(obj.start + span * (k + 1) / parts)
        if a is None or b is None:
            out.append("still")
            continue
        (ax, ay), (bx, by) = centre(a), centre(b)
        dx, dy = bx - ax, by - ay
        if max(abs(dx), abs(dy)) < STEP_MIN:
            out.append("still")
        elif abs(dx) >= abs(dy):
            out.append("right" if dx > 0 else "left")
        else:
            out.append("down" if dy > 0 else "up")
    return out


def abstract(layout: Layout, prompt: str | None = None, spec: SceneSpec | None = None) -> SceneKey:
    """The memory key of a scene, from its layout and prompt (offline, deterministic)."""
    prompt = prompt or layout.prompt
    spec = spec or analyze(prompt)
    toks = list(spec.tokens)
    # placeholders per distinct object name and per place, in prompt order
    obj_index: dict[str, int] = {}
    env_index: dict[str, int] = {}
    replace: dict[int, tuple[int, str]] = {}  # token start -> (end, placeholder)
    objects: dict[str, str] = {}
    envs: dict[str, str] = {}
    for m in spec.mentions:
        if m.role == "object":
            i = obj_index.setdefault(m.name, len(obj_index))
            ph = f"<object_{i}>"
            objects[ph] = m.name
        else:
            j = env_index.setdefault(m.name, len(env_index))
            ph = f"<environment_{j}>"
            envs[ph] = m.name
        replace[m.start] = (m.end, ph)
        # keep the count in the key: "two <object_0>" and "<object_0>" are different scenes
        if m.role == "object" and m.explicit_count and m.count > 1:
            replace[m.start] = (m.end, f"{m.count} x {ph}")
    verbs: dict[str, str] = {}
    for mention, (j, verb) in spec.verbs.items():
        m = spec.mentions[mention]
        if m.role != "object" or j in replace:
            continue
        ph = f"<verb_{obj_index[m.name]}>"
        verbs[ph] = verb
        replace[j] = (j + 1, ph)
    words: list[str] = []
    j = 0
    while j < len(toks):
        if j in replace:
            end, ph = replace[j]
            words.append(ph)
            j = max(end, j + 1)
        else:
            words.append(toks[j])
            j += 1
    template = " ".join(words)
    for _ in range(2):  # "a video of" + "a scene in which"
        rest = _FRAMING.sub("", template, count=1)
        if rest == template or "<" not in rest:
            break  # nothing framed, or the framing was all there was
        template = rest
    for p in (" ,", " .", " ;", " :", " !", " ?"):
        template = template.replace(p, p.strip())
    template = template.rstrip(".,;:!? ") + "."
    # directions: each named object that moves in the layout (same-name instances move as one)
    directions: list[list[str]] = []
    for name in obj_index:
        objs = [o for o in layout.objects if names_match(o.name, name)]
        if not objs:
            continue
        toks3 = direction_tokens(objs[0])
        if any(t != "still" for t in toks3):
            directions.append(toks3)
    tag = " | ".join(" ".join(d) for d in directions) if directions else "still"
    key = f"Direction: [{tag}]. {template}"
    structure, slots = scene_structure(layout, spec, list(obj_index), len(env_index))
    return SceneKey(key=key, template=template, directions=directions, objects=objects, verbs=verbs,
                    environments=envs, structure=structure, slots=slots)


def scene_structure(layout: Layout, spec: SceneSpec, names: list[str], environments: int
                    ) -> tuple[SceneStructure, dict[int, int]]:
    """The structure of a scene and the slot of each layout object.

    ``names``: the object names of the key's placeholders, slot i = ``<object_i>`` (prompt order). A
    layout object fills the first slot whose name it matches; objects the prompt does not name get
    slots of their own after those, one per distinct name, in layout order. Counts and directions
    come from the layout (what will be generated), positions and relations from the prompt.

    Slots keep the prompt's order, and relations their words: "a dog to the right of a cat" is not
    "a cat to the left of a dog" here, although it means the same. φ acts on the prompt's tokens in
    their context, and the first-named object of the one is where the second-named of the other was;
    reusing φ across that swap is the left/right confusion this structure exists to prevent.
    """
    names = list(names)
    slots: dict[int, int] = {}
    for o in layout.objects:
        slot = next((i for i, n in enumerate(names) if names_match(o.name, n)), None)
        if slot is None:
            names.append(o.name)
            slot = len(names) - 1
        slots[o.id] = slot
    mention_slot = {k: next((i for i, n in enumerate(names) if names_match(m.name, n)), None)
                    for k, m in enumerate(spec.mentions) if m.role == "object"}
    objects = []
    for i in range(len(names)):
        instances = [o for o in layout.objects if slots[o.id] == i]
        positions = sorted({p for k, ps in spec.positions.items() if mention_slot.get(k) == i for p in ps})
        objects.append(SlotStructure(count=len(instances),
                                     directions=sorted(" ".join(direction_tokens(o)) for o in instances),
                                     positions=positions))
    relations = sorted({(mention_slot[r.subject], r.relation, mention_slot[r.reference]) for r in spec.relations
                        if mention_slot.get(r.subject) is not None and mention_slot.get(r.reference) is not None})
    return SceneStructure(objects=objects, relations=relations, environments=environments), slots
