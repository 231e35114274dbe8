"""Reading a compositional prompt offline: objects, counts, relations, motions, background.

A shallow, deterministic grammar over the word lists in ``lexicon.py``; no model, no network.
The offline planner builds layouts from the ``SceneSpec`` it returns, the validator checks any
layout (LLM or offline) against it, and the scene abstraction replaces its spans by placeholders.

    spec = analyze("Two red cars drive to the left while a dog sits on the right of a bench")
    spec.counts()        # {"car": 2, "dog": 1, "bench": 1}
    spec.motions         # [Motion(mention=0, direction="left", ...)]
    spec.relations       # [Relation(subject=1, relation="right", reference=2, ...)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from ttom.planning import lexicon as lx

Direction = Literal["left", "right", "up", "down"]
RelationName = Literal[
    "left", "right", "above", "on", "below", "under", "in front of", "behind", "next to", "in", "between"
]
# Relations whose boxes may overlap: the prompt implies contact or occlusion.
OVERLAP_RELATIONS = {"on", "under", "in", "in front of", "behind"}

_TOKEN = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*|[.,;:!?]")
_PUNCT = {".", ",", ";", ":", "!", "?"}


@dataclass
class Mention:
    """One noun phrase of the prompt: an object group (count instances) or a place."""

    name: str  # singular, compound kept: "teddy bear"
    phrase: str  # one instance, with its attributes: "a red kite"
    count: int  # instances the layout needs
    explicit_count: bool  # the prompt gave a number ("three", "a pair of"), not a bare plural
    attributes: list[str]
    start: int  # token span [start, end) including the quantifier
    end: int
    role: Literal["object", "place"]
    clause: int
    size: float = 1.0  # multiplier from size adjectives


@dataclass
class Relation:
    subject: int  # mention index
    relation: RelationName
    reference: int  # mention index
    text: str  # the words of the prompt that said it
    span: tuple[int, int] = (0, 0)


@dataclass
class Motion:
    mention: int
    direction: Direction
    text: str
    strength: int  # 3 explicit ("leftwards", "from left to right"), 2 particle ("rolls left"), 1 verb
    relative_to: int | None = None  # "from the left of a tree to its right"
    span: tuple[int, int] = (0, 0)


@dataclass
class SceneSpec:
    """What a prompt asks for, as far as the offline grammar can tell."""

    prompt: str
    tokens: list[str]
    mentions: list[Mention]
    relations: list[Relation] = field(default_factory=list)
    motions: list[Motion] = field(default_factory=list)
    positions: dict[int, list[str]] = field(default_factory=dict)  # waypoints: ["lower left", ...]
    visibility: dict[int, tuple[float, float]] = field(default_factory=dict)
    verbs: dict[int, tuple[int, str]] = field(default_factory=dict)  # mention -> (token index, verb)
    subjects: dict[int, int] = field(default_factory=dict)  # clause -> mention
    covered: set[int] = field(default_factory=set)  # tokens read as positions or motions

    @property
    def objects(self) -> list[int]:
        return [i for i, m in enumerate(self.mentions) if m.role == "object"]

    @property
    def background(self) -> str:
        for m in self.mentions:
            if m.role == "place":
                return m.name
        return ""

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for i in self.objects:
            m = self.mentions[i]
            out[m.name] = out.get(m.name, 0) + m.count
        return out

    def motion_of(self, mention: int) -> Motion | None:
        for mo in self.motions:
            if mo.mention == mention:
                return mo
        return None


# ---------------------------------------------------------------------------------------------
def tokenize(text: str) -> list[str]:
    text = text.lower().replace("’", "'").replace("'s ", " ").replace("s' ", "s ")
    return _TOKEN.findall(text)


def is_noun(word: str) -> bool:
    return word in lx.NOUNS or lx.singularize(word) in lx.NOUNS or word in lx.PLURALIA_TANTUM


def _compound_at(tokens: list[str], i: int) -> int:
    """Length (in tokens) of the longest compound noun starting at ``i`` (0 if none)."""
    for n in (3, 2):
        if i + n <= len(tokens):
            words = tokens[i : i + n - 1] + [lx.singularize(tokens[i + n - 1])]
            if " ".join(words) in lx.COMPOUND_NOUNS:
                return n
    return 0


def is_nounish(word: str) -> bool:
    """A noun of any kind: an object, a place or a non-object noun ("room", "scene")."""
    s = lx.singularize(word)
    return is_noun(word) or word in lx.PLACES or s in lx.PLACES or word in lx.NON_OBJECTS or s in lx.NON_OBJECTS


def _is_boundary(tokens: list[str], j: int, span: list[str], plural: bool | None, coordinated: bool = False) -> bool:
    """Whether token ``j`` ends a noun phrase whose words so far are ``span``."""
    w = tokens[j]
    if w in _PUNCT or w in lx.PREPOSITIONS or w in lx.CONJUNCTIONS or lx.is_adverb(w) or w in _ONEWORD:
        return True
    if w in lx.NUMBER_WORDS or w in lx.SINGULAR_DETERMINERS or w in lx.PRONOUNS:
        return True
    if not span:
        return False
    nxt = tokens[j + 1] if j + 1 < len(tokens) else ""
    if w in ("left", "right") and nxt in ("of", "side"):
        return True  # "a cat right of a lamp": a side, not a word of the noun phrase
    if w.endswith("ly") and len(w) > 4 and w not in lx.NOUNS:
        # "a friendly goat", "an ugly duckling": an adjective when a noun follows
        return not (is_nounish(nxt) or lx.is_adjective_ly(w))
    if _compound_at(tokens, j - 1) >= 2 or _compound_at(tokens, max(j - 2, 0)) == 3:
        return False  # inside a known compound ("ice cream", "teddy bear")
    if w in lx.VERBS:
        return True
    if (w.endswith("ing") or w.endswith("ed")) and len(w) > 4:
        # "a goat grazing", "a lamp placed" -- but "a well lit stage" goes on
        if w in lx.NOUNS and not is_noun(span[-1]) and not is_nounish(nxt):
            return False  # "a tall building": the -ing word is the noun itself
        return is_noun(span[-1]) or not is_nounish(nxt)
    prev = span[-1]
    if plural and (lx.is_plural(prev) or prev.endswith("s")) and not lx.is_plural(w) and not w.endswith("s"):
        return True  # "two otters fish", "three bears box": a plural noun, then its verb
    if w in lx.VERB_AFTER_SUBJECT and (is_noun(prev) or lx.is_plural(prev)):
        # "two lemons roll", "a moon sets": a verb right after the subject noun
        if (plural or coordinated) and not lx.is_plural(w):
            return True  # "two lemons roll", "one crow and one moth fly"
        if not plural and w.endswith("s") and not w.endswith("ss"):
            return True
    return False


def _quantifier(tokens: list[str], i: int) -> tuple[int, int | None, bool] | None:
    """(tokens used, count, explicit) for a quantifier at ``i``; count None = by the noun's number."""
    text = " ".join(tokens[i : i + 3])
    for phrase, n in sorted(lx.QUANTITY_PHRASES.items(), key=lambda kv: -len(kv[0])):
        if text == phrase or text.startswith(phrase + " "):
            return len(phrase.split()), n, True
    w = tokens[i]
    if w.isdigit() and 0 < int(w) < 100:
        n_words = 1
        if i + 1 < len(tokens) and tokens[i + 1] in ("pairs", "pair") and i + 2 < len(tokens) and tokens[i + 2] == "of":
            return 3, -int(w), True  # "two pairs of": resolved by the noun below
        return n_words, int(w), True
    if w in lx.NUMBER_WORDS:
        if i + 2 < len(tokens) and tokens[i + 1] in ("pairs", "pair") and tokens[i + 2] == "of":
            return 3, -lx.NUMBER_WORDS[w], True
        explicit = w not in ("a", "an", "some")
        return 1, (None if w == "some" else lx.NUMBER_WORDS[w]), explicit
    if w in lx.SINGULAR_DETERMINERS or w in lx.PLURAL_DETERMINERS:
        return 1, None, False
    return None


def _read_np(tokens: list[str], i: int, plural_hint: bool | None, coordinated: bool = False) -> tuple[int, list[str]] | None:
    """The noun-phrase words starting at ``i`` (without quantifier): (end index, words)."""
    span: list[str] = []
    j = i
    while j < len(tokens) and len(span) < 6:
        if _is_boundary(tokens, j, span, plural_hint, coordinated):
            break
        span.append(tokens[j])
        j += 1
    if not span:
        return None
    return j, span


def _head(span: list[str], plural: bool | None) -> tuple[int, int]:
    """(first, last) index in ``span`` of the head noun, compound included."""
    # the last known noun (or the last word when none is known)
    last = len(span) - 1
    known = [k for k, w in enumerate(span) if is_noun(w) and w not in lx.NON_OBJECTS]
    if known and not is_noun(span[last]) and not is_nounish(span[last]):
        w = span[last]
        if w in lx.VERB_AFTER_SUBJECT or w.endswith("s") or w.endswith("ing") or w.endswith("ed"):
            last = known[-1]  # "a kite zigzags": a verb the lexicon does not know
    elif not known and len(span) >= 2:
        # unknown words: a singular noun followed by a 3rd-person verb ("a wombat snuffles")
        w = span[last]
        if plural is False and w.endswith("s") and not w.endswith("ss") and not lx.is_plural(span[last - 1]):
            last -= 1
        elif plural is True and not w.endswith("s") and span[last - 1].endswith("s"):
            last -= 1
    first = last
    # compounds: known multi-word nouns, then noun-noun modifiers ("beach umbrella")
    for n in (3, 2):
        if last - n + 1 >= 0:
            words = span[last - n + 1 : last] + [lx.singularize(span[last])]
            if " ".join(words) in lx.COMPOUND_NOUNS:
                return last - n + 1, last
    k = last - 1
    while k >= 0:
        w = span[k]
        if (w in lx.NOUNS and w not in lx.COLOURS and w not in lx.MATERIALS and w not in lx.SIZE_WORDS
                and w not in lx.NON_OBJECTS and not lx.is_plural(w)):
            first = k
            k -= 1
        else:
            break
    return first, last


def _make_mention(tokens: list[str], start: int, head_first: int, head_last: int, end: int,
                  count: int | None, explicit: bool, clause: int, prep: str | None) -> Mention | None:
    head_word = tokens[head_last]
    plural = lx.is_plural(head_word)
    name = " ".join(tokens[head_first:head_last] + [lx.singularize(head_word)])
    if name not in lx.COMPOUND_NOUNS and (
        lx.singularize(head_word) in lx.NON_OBJECTS or name in lx.NON_OBJECTS or head_word in lx.NON_OBJECTS
    ):
        return None
    if name not in lx.COMPOUND_NOUNS and (
        lx.is_abstract_noun(head_word) or lx.is_adjective_only(head_word)
    ):
        return None  # "with great patience", "a realistic ...": no thing to place
    if tokens[start] in lx.POSSESSIVES and not is_noun(head_word):
        return None  # "its soft light": a part or a quality of something already named
    if count is not None and count < 0:  # "two pairs of X"
        count = -count if head_word in lx.PLURALIA_TANTUM else -2 * count
    if count is None:
        count = 2 if plural else 1
    elif count == 2 and not plural and not explicit:
        count = 1
    q_start = start
    attrs = [w for w in tokens[q_start:head_first] if w not in lx.NUMBER_WORDS and w not in lx.SINGULAR_DETERMINERS
             and w not in lx.PLURAL_DETERMINERS and w not in ("pair", "pairs", "of", "couple", "group", "few")
             and not w.isdigit() and w not in lx.QUANTITY_PHRASES]
    size = 1.0
    for a in attrs:
        size *= lx.SIZE_WORDS.get(a, 1.0)
    role: Literal["object", "place"] = "object"
    if name == "sun" and prep in ("in", "under") and tokens[start] == "the":
        role = "place"  # "lying in the sun", "a lizard under the sun": the sunlight, not the star
    elif name in lx.ALWAYS_PLACES or lx.singularize(head_word) in lx.ALWAYS_PLACES:
        role = "place"
    elif (name in lx.PLACES or head_word in lx.PLACES or (name not in lx.NOUNS and lx.compound_place(name))) \
            and prep in lx.PLACE_PREPOSITIONS:
        role = "place"  # "in a park", "in a ballroom" (a closed compound of a place)
    article = "an" if (attrs + [name])[0][0] in "aeiou" else "a"
    phrase = " ".join([article, *attrs, name])
    return Mention(name=name, phrase=phrase, count=count, explicit_count=explicit, attributes=attrs,
                   start=start, end=end, role=role, clause=clause, size=size)


# ---------------------------------------------------------------------------------------------
def _clauses(tokens: list[str]) -> list[int]:
    """Clause index of every token: commas, "while", "and" + a new subject, "with" + subject + verb."""
    out = []
    c = 0
    for j, w in enumerate(tokens):
        nxt = tokens[j + 1] if j + 1 < len(tokens) else ""
        split = False
        if w in (",", ";", ".", "while", "whilst", "whereas", "meanwhile", "then"):
            split = True
        elif w == "and" and (nxt in lx.NUMBER_WORDS or nxt in lx.SINGULAR_DETERMINERS or nxt.isdigit()
                             or nxt in ("then", "gently", "it", "they")):
            split = True
        elif w == "with" and any(t.endswith("ing") for t in tokens[j + 1 : j + 6]) and nxt in ("a", "an", "the"):
            split = True
        if split:
            c += 1
        out.append(c)
    return out


def _find_mentions(tokens: list[str], clause_of: list[int]) -> list[Mention]:
    mentions: list[Mention] = []
    used = [False] * len(tokens)
    i = 0
    while i < len(tokens):
        q = _quantifier(tokens, i)
        if q is None and (i == 0 or tokens[i - 1] in (".", ";", "!", "?")) and tokens[i] not in lx.PRONOUNS \
                and tokens[i] not in lx.PREPOSITIONS and tokens[i] not in lx.CONJUNCTIONS:
            # a sentence that starts without a determiner ("Red kite rising ...", "Geese fly south")
            q = (0, None, False)
        if q is not None and not (tokens[i] in ("one", "both") and (i + 1 >= len(tokens) or tokens[i + 1] in _PUNCT)):
            n_q, count, explicit = q
            j0 = i + n_q
            # "a few", "a couple of" already consumed; skip a second article ("a pair of the")
            np_ = _read_np(tokens, j0, plural_hint=None if count is None else abs(count) > 1,
                           coordinated=i > 0 and tokens[i - 1] == "and")
            if np_ is not None:
                end, span = np_
                plural: bool | None = None if count is None else abs(count) > 1
                if n_q and tokens[i] in ("a", "an", "one"):
                    plural = False
                hf, hl = _head(span, plural)
                prep = tokens[i - 1] if i > 0 else None
                m = _make_mention(tokens, i, j0 + hf, j0 + hl, j0 + hl + 1, count, explicit, clause_of[i], prep)
                if m is not None:
                    mentions.append(m)
                    for k in range(i, j0 + hl + 1):
                        used[k] = True
                    i = j0 + hl + 1
                    continue
                i = end
                continue
        i += 1
    # bare nouns: "kites flying over a tent", "Boat drifts past a rock", "eating apples"
    for j, w in enumerate(tokens):
        if used[j] or not is_noun(w) or lx.singularize(w) in lx.NON_OBJECTS or w in lx.NON_OBJECTS:
            continue
        prev = tokens[j - 1] if j > 0 else ""
        if prev and (is_noun(prev) or used[j - 1]) and w in lx.VERB_AFTER_SUBJECT:
            continue  # "an owl flies": a verb, not the plural of "fly"
        if w in lx.VERBS and prev not in lx.PREPOSITIONS and j > 0:
            continue
        nxt = tokens[j + 1] if j + 1 < len(tokens) else ""
        if nxt and not used[j + 1] and is_noun(nxt) and nxt not in lx.VERB_AFTER_SUBJECT:
            continue  # a modifier of the next noun; that noun takes the phrase
        if w in lx.COLOURS and nxt and not used[j + 1] and nxt not in _PUNCT and nxt not in lx.PREPOSITIONS \
                and nxt not in lx.CONJUNCTIONS and nxt not in lx.VERBS:
            continue  # "orange road signs": a colour, not the fruit
        start = j
        while start > 0 and not used[start - 1] and (
            tokens[start - 1] in lx.COLOURS or tokens[start - 1] in lx.SIZE_WORDS or tokens[start - 1] in lx.MATERIALS
            or (is_noun(tokens[start - 1]) and _compound_at(tokens, start - 1) >= 2)
        ):
            start -= 1
        hf = start
        while hf < j and (tokens[hf] in lx.COLOURS or tokens[hf] in lx.SIZE_WORDS or tokens[hf] in lx.MATERIALS):
            hf += 1
        prep = tokens[start - 1] if start > 0 else None
        m = _make_mention(tokens, start, hf, j, j + 1, None, False, clause_of[j], prep)
        if m is not None:
            mentions.append(m)
            for k in range(start, j + 1):
                used[k] = True
    mentions.sort(key=lambda m: m.start)
    # "a film of a dog", "a picture showing two cats": an opening that names the kind of picture is framing,
    # not an object (as "a video of" is), whichever word lists know the noun
    if mentions and mentions[0].start == 0 and mentions[0].name in lx.FRAMING_NOUNS:
        nxt = tokens[mentions[0].end:mentions[0].end + 2]
        if nxt[:1] in (["of"], ["showing"], ["where"]) or nxt == ["in", "which"]:
            mentions = mentions[1:]
    # "the ball" after "a golf ball" is the same ball, not a second one
    out: list[Mention] = []
    for m in mentions:
        det = tokens[m.start]
        if (det == "the" or det in lx.POSSESSIVES) and any(
            names_match(p.name, m.name) and p.role == m.role for p in out
        ):
            continue
        out.append(m)
    return out


# ---------------------------------------------------------------------------------------------
_REL_PATTERNS: list[tuple[str, RelationName]] = [
    (r"(?:on|to|at) the (left|right)(?:[- ]hand)? side of", "LR"),
    (r"(?:on|to|at) the (left|right) of", "LR"),
    (r"(left|right) of", "LR"),
    (r"in front of", "in front of"),
    (r"in the front of", "in front of"),
    (r"in back of|at the back of|behind", "behind"),
    (r"on top of|atop|upon|onto|on", "on"),
    (r"high above|above|over", "above"),
    (r"below", "below"),
    (r"under|underneath|beneath|at the bottom of|at the foot of", "under"),
    (r"next to|beside|besides|alongside|close to|near|by|around|nearby", "next to"),
    (r"inside|within|in", "in"),  # not "into": "turns into ice" is a change, not a place
    (r"between", "between"),
]
_REL_RE = re.compile(r"\b(?:" + "|".join(f"(?P<g{k}>{p})" for k, (p, _) in enumerate(_REL_PATTERNS)) + r")\b")


def _tok_index(text: str) -> list[int]:
    """Map from character offset in ``" ".join(tokens)`` to token index."""
    out = []
    t = 0
    for ch in text:
        out.append(t)
        if ch == " ":
            t += 1
    out.append(t)
    return out


def _find_relations(spec: SceneSpec, text: str, idx: list[int], clause_of: list[int], covered: set[int]) -> None:
    starts = {m.start: k for k, m in enumerate(spec.mentions)}
    taken: set[int] = set(covered)
    for mt in _REL_RE.finditer(text):
        a, b = idx[mt.start()], idx[mt.end() - 1] + 1
        if any(t in taken for t in range(a, b)):
            continue
        kind = next(_REL_PATTERNS[k][1] for k in range(len(_REL_PATTERNS)) if mt.group(f"g{k}"))
        ref = starts.get(b)
        if ref is None and b < len(spec.tokens) and spec.tokens[b] in ("two", "both"):
            ref = starts.get(b)
        if ref is None or spec.mentions[ref].role != "object":
            continue
        subj = spec.subjects.get(clause_of[a])
        if subj is None or subj == ref:
            continue
        rel: RelationName
        if kind == "LR":
            rel = "left" if re.search(r"\bleft\b", mt.group(0)) else "right"  # "left-hand" too
        else:
            rel = kind  # type: ignore[assignment]
        if rel == "between" and spec.mentions[ref].count < 2:
            rel = "next to"
        spec.relations.append(Relation(subject=subj, relation=rel, reference=ref, text=mt.group(0), span=(a, b)))
        taken.update(range(a, b))


_SIDES = {"left": "left", "right": "right", "top": "up", "bottom": "down"}
# Words that name a side or a direction; some are also verb forms ("left", "lower", "back").
_DIRECTION_WORDS = {"left", "right", "top", "bottom", "upper", "lower", "center", "centre", "middle", "up", "down",
                    "front", "back", "side"}
_ONEWORD = {"leftward": "left", "leftwards": "left", "rightward": "right", "rightwards": "right",
            "upward": "up", "upwards": "up", "downward": "down", "downwards": "down", "skyward": "up",
            "skywards": "up"}


def _find_motions(spec: SceneSpec, text: str, idx: list[int], clause_of: list[int], covered: set[int]) -> None:
    toks = spec.tokens
    cues: list[tuple[int, int, Direction, int, str, int | None, tuple[int, int]]] = []  # (clause, pos, dir, strength, text, rel, span)
    starts = {m.start: k for k, m in enumerate(spec.mentions)}

    def add(a: int, b: int, d: str, strength: int, rel: int | None = None) -> None:
        if any(t in covered for t in range(a, b)):
            return
        covered.update(range(a, b))
        cues.append((clause_of[a], a, d, strength, " ".join(toks[a:b]), rel, (a, b)))  # type: ignore[arg-type]

    # "from the left of a tree to its right" (relative to a reference object)
    for mt in re.finditer(r"\bfrom the (left|right) of (.+?) to its (left|right)\b", text):
        a, b = idx[mt.start()], idx[mt.end() - 1] + 1
        ref = starts.get(idx[mt.start(2)])
        add(a, b, mt.group(3), 3, ref)
    # "from left to right", "from the bottom to the top of the frame", "runs right to left"
    pat = (r"\b(?:from )?(?:the )?(left|right|top|bottom)(?: side| edge| end| corner)?"
           r"(?: of the (?:screen|frame|scene|video|image|picture))? to (?:the )?(left|right|top|bottom)\b")
    for mt in re.finditer(pat, text):
        if mt.group(1) == mt.group(2):
            continue
        a, b = idx[mt.start()], idx[mt.end() - 1] + 1
        add(a, b, _SIDES[mt.group(2)], 3)
    for j, w in enumerate(toks):
        if w in _ONEWORD:
            add(j, j + 1, _ONEWORD[w], 3)
    # "to the left", "towards the right side of the hall" (not "to the left of a lamp")
    for mt in re.finditer(r"\b(?:to|towards|toward) the (left|right)(?:-hand)?(?: side)?\b(?!-)", text):
        a, b = idx[mt.start()], idx[mt.end() - 1] + 1
        if b + 1 < len(toks) and toks[b] == "of":
            ref = starts.get(b + 1)
            if ref is not None and spec.mentions[ref].role == "object":
                continue  # a relation
            if b + 2 < len(toks) and toks[b + 2] in ("scene", "screen", "frame") and (a > 0 and toks[a - 1] in ("moves", "move")):
                continue  # a waypoint, handled with positions
        add(a, b, mt.group(1), 3)
    for j, w in enumerate(toks):
        prev = toks[j - 1] if j > 0 else ""
        nxt = toks[j + 1] if j + 1 < len(toks) else ""
        after_verb = prev in lx.VERB_AFTER_SUBJECT or prev in lx.VERBS or lx.is_adverb(prev)
        if w in ("left", "right") and after_verb and nxt not in ("of", "side", "hand", "corner"):
            if prev in ("is", "are", "was", "were", "be", "been"):
                continue
            add(j, j + 1, w, 2)
        elif w in ("up", "down") and (after_verb or prev in ("itself", "themselves")) and lx.lemma(prev) not in lx.PHRASAL_UP:
            if w == "down":
                # "down the road" means along it; "down the slope" means downwards
                k = starts.get(j + 1)
                if k is not None:
                    head = spec.mentions[k].name.split()[-1]
                    if head in lx.PATH_PLACES or (head not in lx.DOWNHILL and spec.mentions[k].role == "place"):
                        continue
            add(j, j + 1, w, 2)
        elif w in ("sky", "air", "clouds", "heavens") and prev == "the" and j >= 2 and toks[j - 2] in ("into", "towards", "toward", "to"):
            add(j - 2, j + 1, "up", 1)
        else:
            base = lx.lemma(w)
            if w in lx.NOUNS and not (prev and (is_noun(prev) or prev in lx.PRONOUNS)) and w not in lx.VERBS:
                continue  # a noun ("a fall", "the drop") unless in verb position
            if base in lx.UP_VERBS or w in lx.UP_VERBS:
                add(j, j + 1, "up", 1)
            elif base in lx.DOWN_VERBS or w in lx.DOWN_VERBS or w == "descent":
                add(j, j + 1, "down", 1)
    # give each cue to the subject of its clause, keep the strongest per subject
    best: dict[int, tuple[int, int, Motion]] = {}
    for clause, pos, d, strength, txt, rel, span in cues:
        subj = spec.subjects.get(clause)
        if subj is None or len(spec.positions.get(subj, [])) >= 2:
            continue  # no subject, or a path of waypoints already says where it goes
        cur = best.get(subj)
        if cur is None or strength > cur[0]:
            best[subj] = (strength, pos, Motion(mention=subj, direction=d, text=txt, strength=strength,
                                                relative_to=rel, span=span))
    spec.motions = [v[2] for _, v in sorted(best.items(), key=lambda kv: kv[1][1])]


_POS_WORDS = r"(upper left|upper right|lower left|lower right|top left|top right|bottom left|bottom right|left|right|top|bottom|center|centre|middle)"


def _find_positions(spec: SceneSpec, text: str, idx: list[int], clause_of: list[int], covered: set[int]) -> None:
    """Absolute positions ("on the left", "in the upper right of the frame") and waypoints."""
    pat = rf"\b(?:on|in|at|to) the {_POS_WORDS}(?: side| corner| part| half)?(?: of the (?:scene|screen|frame|video|image|picture))?"
    for mt in re.finditer(pat, text):
        a, b = idx[mt.start()], idx[mt.end() - 1] + 1
        nxt = spec.tokens[b] if b < len(spec.tokens) else ""
        if nxt == "of" or (mt.group(0).startswith("to ") and "of the" not in mt.group(0)):
            continue  # a relation ("on the left of a lamp") or a motion ("to the left")
        if mt.group(0).startswith("to ") and (a == 0 or lx.lemma(spec.tokens[a - 1]) not in lx.MOTION_VERBS):
            continue  # "from the bottom to the top of the frame": a motion, not a waypoint
        subj = spec.subjects.get(clause_of[a])
        if subj is None:
            continue
        pos = mt.group(1).replace("top ", "upper ").replace("bottom ", "lower ").replace("centre", "center")
        pos = pos.replace("middle", "center")
        spec.positions.setdefault(subj, []).append(pos)
        covered.update(range(a, b))


def _find_visibility(spec: SceneSpec, text: str, idx: list[int], clause_of: list[int]) -> None:
    for mt in re.finditer(r"\b(appears?|disappears?|is visible|visible|present)(?: only)? (?:in|during) the (first|second|last) half", text):
        a = idx[mt.start()]
        subj = spec.subjects.get(clause_of[a])
        if subj is None:
            continue
        appears = not mt.group(1).startswith("disappear")
        first = mt.group(2) == "first"
        window = (0.0, 0.5) if first == appears else (0.5, 1.0)
        spec.visibility[subj] = window


def analyze(prompt: str) -> SceneSpec:
    """Read ``prompt`` into a ``SceneSpec`` (objects, counts, relations, motions, background)."""
    tokens = tokenize(prompt)
    clause_of = _clauses(tokens)
    mentions = _find_mentions(tokens, clause_of)
    spec = SceneSpec(prompt=prompt, tokens=tokens, mentions=mentions)
    # the subject of each clause: its first object mention not introduced by a preposition;
    # a clause without one ("..., then resting") continues the previous clause's subject.
    n_clauses = (clause_of[-1] + 1) if clause_of else 0
    last_subject: int | None = None
    for c in range(n_clauses):
        subj = None
        for k, m in enumerate(mentions):
            if m.clause != c or m.role != "object":
                continue
            prev = tokens[m.start - 1] if m.start > 0 else ""
            framed = prev in ("of", "showing") and m.start >= 2 and tokens[m.start - 2] in lx.FRAMING_NOUNS
            if prev in lx.PREPOSITIONS and prev not in ("with", "while", "then") and not framed:
                continue
            if prev in lx.VERBS or prev in lx.VERB_AFTER_SUBJECT:
                # "a video of a dog ...": what the picture shows is the subject
            # an object of a verb ("pushes a cart") is the subject only when nothing came before
                if any(mm.clause == c and mm.role == "object" and mm.start < m.start for mm in mentions):
                    continue
            subj = k
            break
        if subj is None:
            subj = last_subject
        if subj is not None:
            spec.subjects[c] = subj
            last_subject = subj
    text = " ".join(tokens)
    idx = _tok_index(text)
    covered = spec.covered
    _find_positions(spec, text, idx, clause_of, covered)
    _find_motions(spec, text, idx, clause_of, covered)
    _find_relations(spec, text, idx, clause_of, covered)
    _find_visibility(spec, text, idx, clause_of)
    # verbs: the first verb form after each subject, in its clause (for the scene abstraction).
    # A direction word inside a relation, motion or position the grammar read ("to the left of",
    # "left of", "in the upper left", "turns left") is never the verb: "left" there is a side.
    in_phrase = set(covered)
    for mo in spec.motions:
        in_phrase.update(range(*mo.span))
    in_relation = {j for r in spec.relations for j in range(*r.span)}  # "close to": no verb at all
    for c, subj in spec.subjects.items():
        m = mentions[subj]
        if m.clause != c or subj in spec.verbs:
            continue
        for j in range(m.end, len(tokens)):
            if clause_of[j] != c:
                break
            w = tokens[j]
            if j in in_relation or (j in in_phrase and w in _DIRECTION_WORDS):
                continue
            if w in ("is", "are", "was", "were", "being", "been") and j + 1 < len(tokens) and tokens[j + 1] in lx.VERB_AFTER_SUBJECT:
                continue
            if w in lx.VERB_AFTER_SUBJECT and w not in lx.PREPOSITIONS:
                spec.verbs[subj] = (j, w)
                break
    return spec


def names_match(a: str, b: str) -> bool:
    """Whether two object names denote the same thing: equal after singularising, or one is the
    other with modifiers ("umbrella" ~ "beach umbrella", "red balloon" ~ "balloon")."""
    def norm(s: str) -> str:
        words = s.lower().replace("_", " ").split()
        if not words:
            return ""
        words[-1] = lx.singularize(words[-1])
        return " ".join(words)

    a, b = norm(a), norm(b)
    return bool(a) and bool(b) and (a == b or a.endswith(" " + b) or b.endswith(" " + a))
