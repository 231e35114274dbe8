"""What a prompt asserts about its objects: spatial relations, motion directions, counts.

The critic checks the video against the layout, and the layout against these facts: a layout
that contradicts its own prompt is sent back for repair, not re-optimised. The prompt is read by
the planner's own parser (``ttom.planning.parse.analyze``), so the critic and the planner agree on
what a prompt says; each mention is attached to the layout objects of its name (and attributes,
where two mentions share a name). A fact that cannot be attached to layout objects is left out
rather than guessed. Relations use the one 2D vocabulary of ``ttom.geometry``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ttom.critic.grounders.base import phrase_key
from ttom.geometry import RELATIONS_2D, SYNONYMS_2D
from ttom.layout import Layout, LayoutObject
from ttom.planning.parse import Mention, analyze, names_match, tokenize


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


def _objects_of(mention: Mention, layout: Layout, shared_name: bool) -> list[LayoutObject]:
    """The layout objects a mention stands for: its name's objects; where another mention shares the
    name, only those whose phrase carries the mention's attributes."""
    objs = [o for o in layout.objects if names_match(o.name, mention.name)]
    if shared_name and mention.attributes:
        with_attrs = [o for o in objs if set(mention.attributes) <= set(tokenize(o.phrase))]
        return with_attrs
    return objs


def parse_prompt_facts(layout: Layout) -> PromptFacts:
    """The relations, motions and counts the layout's prompt asserts, attached to its objects."""
    spec = analyze(layout.prompt)
    names = [m.name for m in spec.mentions]
    ids: dict[int, list[int]] = {}
    for k, m in enumerate(spec.mentions):
        if m.role == "object":
            shared = sum(names_match(n, m.name) for n in names) > 1
            ids[k] = [o.id for o in _objects_of(m, layout, shared)]

    relations: list[RelationFact] = []
    for r in spec.relations:
        rel = SYNONYMS_2D.get(r.relation, r.relation)
        if rel not in RELATIONS_2D:
            continue
        for a in ids.get(r.subject, []):
            for b in ids.get(r.reference, []):
                if a != b:
                    relations.append(RelationFact(a, rel, b, r.text))

    motions: dict[int, str] = {}
    for mo in spec.motions:
        if mo.relative_to is None:
            for oid in ids.get(mo.mention, []):
                motions.setdefault(oid, mo.direction)

    counts: dict[str, int] = {}
    for k, m in enumerate(spec.mentions):
        if m.explicit_count and ids.get(k):
            keys = {phrase_key(o.phrase) for o in layout.objects if o.id in ids[k]}
            if len(keys) == 1:
                counts[keys.pop()] = m.count
    return PromptFacts(relations=relations, motions=[MotionFact(k, v) for k, v in motions.items()], counts=counts)
