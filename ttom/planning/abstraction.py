"""Scene abstraction: the memory key of a request.

TTOM keys its parameter memory by an abstracted scene description (the official cache files hold
lines such as ``Direction: [left left left]. <object_0> <verb_0> to the left side of
<environment_0>.``). Here the key is built offline from the prompt and the layout:

- every object noun phrase becomes ``<object_i>`` (one index per distinct object name, in prompt
  order), every place ``<environment_j>``, and each object's verb ``<verb_i>``;
- ``Direction: [...]`` gives, for each moving object, one token per temporal third (``left``,
  ``right``, ``up``, ``down`` or ``still``) read from its box centre in the layout; objects are
  separated by ``|``; a scene where nothing moves gets ``[still]``.

So "A red kayak paddles to the left side of a calm lake." and "A cat slinking to the left side of
a cozy living room" give the same key, and similar scenes give keys that differ in few words.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from ttom.geometry import centre
from ttom.layout import Layout, LayoutObject
from ttom.planning.parse import SceneSpec, analyze, names_match

STEP_MIN = 0.02  # a third of the clip moving less than 2% of the frame reads as "still"
_FILLER = ("a realistic lively video of a scene with", "a realistic lively video of a scene in which",
           "a realistic lively video of a top-down viewed scene in which", "a video of", "a scene of")


class SceneKey(BaseModel):
    """The abstracted description (``key``) and what each placeholder stands for."""

    key: str
    template: str = Field(description="the prompt with placeholders, without the direction tag")
    directions: list[list[str]] = Field(default_factory=list, description="per moving object, one token per third")
    objects: dict[str, str] = Field(default_factory=dict)  # "<object_0>" -> "kayak"
    verbs: dict[str, str] = Field(default_factory=dict)  # "<verb_0>" -> "paddles"
    environments: dict[str, str] = Field(default_factory=dict)  # "<environment_0>" -> "lake"


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
    for filler in _FILLER:
        if template.startswith(filler + " "):
            template = template[len(filler) + 1 :]
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
    return SceneKey(key=key, template=template, directions=directions, objects=objects, verbs=verbs,
                    environments=envs)
