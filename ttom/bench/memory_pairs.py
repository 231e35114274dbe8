"""``ttom bench memory --pairs``: the labelled pair set that the memory's recall thresholds are chosen on.

A memory hit must be the *same scene* as the request, and a skip (φ loaded, no optimisation) a
*near-identical* one. Whether two requests are that is labelled here by construction, by rules
applied to base prompts, never by picking pairs by hand:

Base prompts: ``SHAPES_PER_CATEGORY`` captions of every category of the shapes world's grammar
(``ttom.shapes.world``) and ``COMPBENCH_PER_FILE`` prompts of T2V-CompBench's spatial, motion and
numeracy files, drawn with a fixed seed. Each base is planned by the offline planner (for the shapes
model's square frame, or the planner's default 3:2 frame of the real models); each rule that applies
to it gives one pair (base, variant):

same scene (a hit, skip or warm, is right):

- ``repeat``: the same prompt again;
- ``framing``: the prompt after a framing opening ("a clip of ...", a framing noun of the lexicon);
- ``reworded relation`` / ``reworded direction``: the relation's or the motion's words replaced by
  other words the grammar reads as the same relation or direction (``RELATION_WORDS``,
  ``DIRECTION_WORDS``);
- ``other objects``: other objects in the same composition (shapes: the grammar's caption of the same
  category, relation, directions and position with other colours and shapes; T2V-CompBench: each
  object noun replaced by another noun of the lexicon, plural where the base is plural).

near miss (a skip is wrong; a warm start is allowed for the layout edits, a miss is expected for the rest):

- ``opposite relation``: left/right, above/below, in front of/behind, on/under swapped;
- ``opposite direction``: the first motion's direction reversed (left/right, up/down);
- ``opposite position``: "on the left" / "on the right", "at the top" / "at the bottom";
- ``one more instance``: the chat edit "add a <first object>" (``ttom.planning.edits``), planned again;
- ``size edit``: the chat edit "make the <first object> bigger" (or smaller, alternating): boxes × 1.3;
- ``position edit``: the chat edit "move the <first object> <side>", towards the frame's centre on the
  axis it is furthest from it (so the edit always moves it by 0.15 of the frame).

Every pair records the MiniLM cosine of the two memory keys, whether the scene structures are equal,
and the geometric similarity of the layouts (``ttom.memory.match``). Pairs are split in halves by
their base prompt (sha256): ``dev`` chooses the thresholds, ``test`` reports them, and the whole set
must have no near miss at skip. The rule (``choose_thresholds``), fixed before the numbers were seen:

1. key cosine threshold: the largest value on a 0.05 grid at or below the key cosine of every dev pair
   whose structures match, whatever its label (the text only ranks; structure and geometry decide,
   so no pair that structure and geometry would judge is cut by its wording);
2. skip: the smallest value on the grid above every dev near miss's geometry (among pairs whose key and
   structure pass), plus one grid step of margin;
3. warm: the largest value on the grid at which ≥ 97.5% of the dev same-scene pairs are hits (2.5 points
   of margin over the issue's 95%), never above skip.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

SEED = 15
SHAPES_PER_CATEGORY = 16
COMPBENCH_FILES = {"spatial": "3_spatial_relationship.txt", "motion": "4_motion_binding.txt",
                   "numeracy": "7_numeracy.txt"}
COMPBENCH_PER_FILE = 40
GRID = 0.01
TEXT_GRID = 0.05
WARM_HITS = 0.975

SAME = ("repeat", "framing", "reworded relation", "reworded direction", "other objects")
NEAR = ("opposite relation", "opposite direction", "opposite position", "one more instance", "size edit",
        "position edit")
EDITS = ("size edit", "position edit")  # same structure: a warm start is right, a skip is not

# Phrases the grammar (ttom.planning.parse) reads as each relation; tests/bench checks that it does.
RELATION_WORDS: dict[str, list[str]] = {
    "left": ["to the left of", "on the left of", "on the left side of", "left of"],
    "right": ["to the right of", "on the right of", "on the right side of", "right of"],
    "above": ["above", "over"],
    "below": ["below"],
    "on": ["on", "on top of", "atop"],
    "under": ["under", "underneath", "beneath"],
    "in front of": ["in front of"],
    "behind": ["behind", "at the back of"],
    "next to": ["next to", "beside", "near"],
    "in": ["in", "inside"],
}
OPPOSITE_RELATION = {"left": "right", "right": "left", "above": "below", "below": "above", "on": "under",
                     "under": "on", "in front of": "behind", "behind": "in front of"}
# Phrases the grammar reads as a motion in each direction, after a verb.
DIRECTION_WORDS: dict[str, list[str]] = {
    "left": ["leftwards", "to the left", "from right to left"],
    "right": ["rightwards", "to the right", "from left to right"],
    "up": ["upwards", "from the bottom to the top"],
    "down": ["downwards", "from the top to the bottom"],
}
# word swaps that reverse a direction or a side inside a phrase
_FLIP = {"left": "right", "right": "left", "up": "down", "down": "up", "top": "bottom", "bottom": "top",
         "leftwards": "rightwards", "rightwards": "leftwards", "upwards": "downwards", "downwards": "upwards",
         "leftward": "rightward", "rightward": "leftward", "upward": "downward", "downward": "upward"}
_POSITION_FLIP = {"left": "right", "right": "left", "top": "bottom", "bottom": "top", "upper": "lower",
                  "lower": "upper"}


@dataclass
class Pair:
    id: str
    source: str  # shapes | compbench/<file>
    kind: str
    label: str  # same | near
    base: str
    variant: str
    split: str  # dev | test (by the base prompt)
    edit: str | None = None  # the chat edit applied to the base's layout (the variant's prompt is the base's)
    base_key: str = ""
    variant_key: str = ""
    same_structure: bool = False
    geometry: float = 0.0
    cosine: float = 0.0


@dataclass(frozen=True)
class Thresholds:
    text: float
    warm: float
    skip: float


def split_of(base: str) -> str:
    return "dev" if hashlib.sha256(base.encode()).digest()[0] % 2 == 0 else "test"


# --- prompt rewriting ---------------------------------------------------------------------------------
def _join(tokens: Sequence[str]) -> str:
    text = " ".join(tokens)
    for p in (" ,", " .", " ;", " :", " !", " ?"):
        text = text.replace(p, p.strip())
    return text.strip()


def _replace_span(tokens: list[str], span: tuple[int, int], words: str) -> str:
    a, b = span
    return _join([*tokens[:a], *words.split(), *tokens[b:]])


def _other(options: Sequence[str], current: str, rng: np.random.Generator) -> str | None:
    others = [o for o in options if o != current]
    return others[int(rng.integers(len(others)))] if others else None


def reword_relation(prompt: str, rng: np.random.Generator) -> str | None:
    from ttom.planning.parse import analyze

    spec = analyze(prompt)
    if not spec.relations:
        return None
    r = spec.relations[0]
    words = _other(RELATION_WORDS.get(r.relation, []), r.text, rng)
    return None if words is None else _replace_span(spec.tokens, r.span, words)


def opposite_relation(prompt: str) -> str | None:
    from ttom.planning.parse import analyze

    spec = analyze(prompt)
    if not spec.relations or spec.relations[0].relation not in OPPOSITE_RELATION:
        return None
    r = spec.relations[0]
    words = r.text.split()
    if r.relation in ("left", "right"):  # keep the phrase's own form: "on the left side of" -> "on the right side of"
        flipped = " ".join(_FLIP.get(w, w) for w in words)
    else:
        flipped = RELATION_WORDS[OPPOSITE_RELATION[r.relation]][0]
    return _replace_span(spec.tokens, r.span, flipped)


def reword_direction(prompt: str, rng: np.random.Generator) -> str | None:
    from ttom.planning.parse import analyze

    spec = analyze(prompt)
    motions = [m for m in spec.motions if m.strength >= 2 and m.relative_to is None]
    if not motions:
        return None
    m = motions[0]
    words = _other(DIRECTION_WORDS[m.direction], m.text, rng)
    return None if words is None else _replace_span(spec.tokens, m.span, words)


def opposite_direction(prompt: str) -> str | None:
    from ttom.planning.parse import analyze

    spec = analyze(prompt)
    motions = [m for m in spec.motions if m.strength >= 2]
    if not motions:
        return None
    m = motions[0]
    flipped = " ".join(_FLIP.get(w, w) for w in m.text.split())
    return None if flipped == m.text else _replace_span(spec.tokens, m.span, flipped)


def opposite_position(prompt: str) -> str | None:
    from ttom.planning.parse import analyze

    spec = analyze(prompt)
    if not spec.positions:
        return None
    tokens = list(spec.tokens)
    for j in range(len(tokens) - 1):  # the first "on/at/in the <side>" phrase
        if tokens[j] in ("on", "at", "in") and tokens[j + 1] == "the" and j + 2 < len(tokens) \
                and tokens[j + 2] in _POSITION_FLIP:
            k = j + 2
            while k < len(tokens) and tokens[k] in _POSITION_FLIP:
                tokens[k] = _POSITION_FLIP[tokens[k]]
                k += 1
            return _join(tokens)
    return None


def with_framing(prompt: str, rng: np.random.Generator) -> str:
    from ttom.planning import lexicon as lx

    nouns = sorted(n for n in lx.FRAMING_NOUNS if " " not in n)
    noun = nouns[int(rng.integers(len(nouns)))]
    article = "an" if noun[0] in "aeiou" else "a"
    return f"{article} {noun} of {prompt[0].lower()}{prompt[1:]}"


@dataclass
class _Nouns:
    """Replacement nouns for ``other objects``: single-word nouns of the lexicon that the grammar reads as
    one object named by that noun, singular and plural ("a X", "two Xs")."""

    words: list[str]

    @classmethod
    def build(cls) -> _Nouns:
        from ttom.planning import lexicon as lx
        from ttom.planning.parse import analyze

        ok = []
        for n in sorted(lx.NOUNS):
            if " " in n or not n.isalpha() or n in lx.PLACES or n in lx.ALWAYS_PLACES:
                continue
            one, two = analyze(f"a {n}"), analyze(f"two {lx.pluralize(n)}")
            if ([(m.name, m.role, m.count) for m in one.mentions] == [(n, "object", 1)]
                    and [(m.name, m.role, m.count) for m in two.mentions] == [(n, "object", 2)]):
                ok.append(n)
        return cls(ok)


def other_objects_compbench(prompt: str, nouns: _Nouns, rng: np.random.Generator) -> str | None:
    """Each object mention's noun replaced by another noun (plural kept)."""
    from ttom.planning import lexicon as lx
    from ttom.planning.parse import analyze

    spec = analyze(prompt)
    tokens = list(spec.tokens)
    objects = [m for m in spec.mentions if m.role == "object"]
    if not objects:
        return None
    used = {m.name for m in objects}
    new_name: dict[str, str] = {}  # one new noun per old one: the key's placeholders stay as they were
    for m in objects:
        if m.name not in new_name:
            choices = [w for w in nouns.words if w not in used]
            new_name[m.name] = choices[int(rng.integers(len(choices)))]
            used.add(new_name[m.name])
    for m in sorted(objects, key=lambda m: -m.start):  # right to left: earlier spans stay valid
        n_words = len(m.name.split())
        head = m.end - n_words  # the name's words end the mention ("a golden retriever": last two)
        if head < m.start or lx.singularize(tokens[m.end - 1]) != m.name.split()[-1]:
            return None  # the mention does not end with its name: leave this prompt out of the rule
        new = new_name[m.name]
        plural = lx.is_plural(tokens[m.end - 1])
        tokens[head:m.end] = [lx.pluralize(new) if plural else new]
        if head > 0 and tokens[head - 1] in ("a", "an"):
            tokens[head - 1] = "an" if new[0] in "aeiou" else "a"
    return _join(tokens)


def other_objects_shapes(caption: str, rng: np.random.Generator) -> str | None:
    """The grammar's caption of the same composition with other colours and shapes."""
    from ttom.shapes import world

    spec = world.caption_spec(caption)
    same = [c for c in world.all_captions([spec.category]) if c != caption]
    same = [c for c in same if _composition(world.caption_spec(c)) == _composition(spec)]
    same = [c for c in same if world.caption_spec(c).objects != spec.objects]
    return same[int(rng.integers(len(same)))] if same else None


def _composition(spec) -> tuple:
    """What a caption says apart from its colours and shapes; which of its objects share a shape is part of
    it (the memory key names objects by noun: "a red circle above a blue circle" has one noun, twice)."""
    shapes = [shape for _, shape in spec.objects]
    return (spec.category, spec.directions, spec.relation, spec.position, len(spec.objects),
            tuple(shapes.index(x) for x in shapes))


# --- layouts ------------------------------------------------------------------------------------------
def frame_aspect(source: str) -> float | None:
    """The frame the layouts are planned for: the shapes model's for its captions, the planner's default (3:2,
    the real models' frames) for T2V-CompBench's prompts."""
    if source != "shapes":
        return None
    from ttom.engine.backends import describe

    video = describe("shapes").defaults.video
    return video.width / video.height


def _plan(prompt: str, aspect: float | None = None):
    from ttom.planning.plan import plan

    return plan(prompt, planner="offline", check=False, frame_aspect=aspect).layout


def size_edit(layout, bigger: bool) -> str:
    """The chat edit that resizes the first object."""
    return f"make the {layout.objects[0].name} {'bigger' if bigger else 'smaller'}"


def position_edit(layout) -> str:
    """The chat edit that moves the first object towards the frame's centre, on the axis where it is furthest
    from it (so it moves the whole step, never into the frame's edge)."""
    from ttom.geometry import centre

    obj = layout.objects[0]
    cx, cy = centre(obj.box_at(obj.start))
    if abs(cx - 0.5) >= abs(cy - 0.5):
        side = "right" if cx < 0.5 else "left"
    else:
        side = "down" if cy < 0.5 else "up"
    return f"move the {obj.name} {side}"


def variant_layout(base_layout, text: str, edit: str | None, aspect: float | None = None):
    """The variant's layout: the base layout after the chat edit, or the variant prompt planned."""
    if edit is None:
        return _plan(text, aspect)
    from ttom.planning.edits import edit_request

    return edit_request(edit, base_layout).layout


# --- the set ------------------------------------------------------------------------------------------
def base_prompts(data: Path) -> list[tuple[str, str]]:
    """(source, prompt) pairs: the shapes grammar's captions per category, then T2V-CompBench's."""
    from ttom.shapes import world

    rng = np.random.default_rng(SEED)
    out = []
    for cat in world.CATEGORIES:
        caps = world.all_captions([cat])
        for j in sorted(rng.choice(len(caps), size=min(SHAPES_PER_CATEGORY, len(caps)), replace=False)):
            out.append(("shapes", caps[int(j)]))
    for name, file in COMPBENCH_FILES.items():
        path = data / "t2v-compbench" / "prompts" / file
        if not path.is_file():
            from ttom.errors import ConfigError

            raise ConfigError(f"T2V-CompBench prompts not found at {path}: pass --data (the folder holding "
                              "t2v-compbench/)")
        lines = [x.strip() for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
        for j in sorted(rng.choice(len(lines), size=min(COMPBENCH_PER_FILE, len(lines)), replace=False)):
            out.append((f"compbench/{name}", lines[int(j)]))
    return out


def variants(source: str, base: str, layout, k: int, nouns: _Nouns, rng: np.random.Generator
             ) -> Iterator[tuple[str, str, str | None]]:
    """(kind, variant prompt, chat edit of the base layout or None) of every rule that applies."""
    yield "repeat", base, None
    yield "framing", with_framing(base, rng), None
    if (v := reword_relation(base, rng)) is not None:
        yield "reworded relation", v, None
    if (v := reword_direction(base, rng)) is not None:
        yield "reworded direction", v, None
    v = other_objects_shapes(base, rng) if source == "shapes" else other_objects_compbench(base, nouns, rng)
    if v is not None:
        yield "other objects", v, None
    if (v := opposite_relation(base)) is not None:
        yield "opposite relation", v, None
    if (v := opposite_direction(base)) is not None:
        yield "opposite direction", v, None
    if (v := opposite_position(base)) is not None:
        yield "opposite position", v, None
    from ttom.planning.edits import edit_request
    from ttom.planning.errors import PlannerError

    try:
        edit = edit_request(f"add a {layout.objects[0].name}", layout)
    except PlannerError:
        edit = None
    if edit is not None and edit.replan_prompt:
        yield "one more instance", edit.replan_prompt, None
    yield "size edit", base, size_edit(layout, bigger=k % 2 == 0)
    yield "position edit", base, position_edit(layout)


def build_pairs(data: Path, progress: Callable[[str], None] = lambda _m: None) -> tuple[list[Pair], list[str]]:
    """Every pair (structure and geometry filled in, no cosine yet), and the bases or variants the
    offline planner could not plan (left out, listed)."""
    from ttom.memory.match import Scene, geometry
    from ttom.planning.abstraction import abstract
    from ttom.planning.errors import PlannerError

    rng = np.random.default_rng(SEED)
    nouns = _Nouns.build()
    pairs: list[Pair] = []
    skipped: list[str] = []
    bases = base_prompts(data)
    for k, (source, base) in enumerate(bases):
        try:
            lay = _plan(base, frame_aspect(source))
        except PlannerError as e:
            skipped.append(f"{base!r}: {e}")
            continue
        if not lay.objects:
            skipped.append(f"{base!r}: no objects planned")
            continue
        a = Scene.of(lay, base)
        for kind, text, edit in variants(source, base, lay, k, nouns, rng):
            try:
                vlay = variant_layout(lay, text, edit, frame_aspect(source))
            except PlannerError as e:
                skipped.append(f"{text!r} ({kind} of {base!r}): {e}")
                continue
            if not vlay.objects:
                skipped.append(f"{text!r} ({kind} of {base!r}): no objects planned")
                continue
            b = Scene.of(vlay, text)
            same = a.structure_hash == b.structure_hash
            pid = hashlib.sha256(f"{base}\n{kind}\n{text}".encode()).hexdigest()[:12]
            pairs.append(Pair(id=pid, source=source, kind=kind, label="same" if kind in SAME else "near", base=base,
                              variant=text, split=split_of(base), edit=edit, base_key=abstract(lay, base).key,
                              variant_key=abstract(vlay, text).key, same_structure=same,
                              geometry=round(geometry(a, b), 6) if same else 0.0))
        if (k + 1) % 25 == 0:
            progress(f"pairs: {k + 1}/{len(bases)} base prompts, {len(pairs)} pairs")
    return pairs, skipped


def add_cosines(pairs: list[Pair], embedder) -> None:
    texts = list(dict.fromkeys(t for p in pairs for t in (p.base_key, p.variant_key)))
    vecs = embedder.embed(texts)
    row = {t: i for i, t in enumerate(texts)}
    for p in pairs:
        p.cosine = round(float(np.clip(vecs[row[p.base_key]] @ vecs[row[p.variant_key]], -1.0, 1.0)), 6)


# --- thresholds ---------------------------------------------------------------------------------------
def outcome(p: Pair, t: Thresholds) -> str:
    """skip | warm | miss: what recall does with the variant when the base is stored."""
    if p.cosine < t.text or not p.same_structure:
        return "miss"
    if p.geometry >= t.skip:
        return "skip"
    return "warm" if p.geometry >= t.warm else "miss"


def _grid_floor(x: float) -> float:
    return math.floor(round(x / GRID, 6)) * GRID


def choose_thresholds(pairs: Sequence[Pair]) -> Thresholds:
    """The rule of the module docstring, on the pairs given (the dev half)."""
    same = [p for p in pairs if p.label == "same"]
    near = [p for p in pairs if p.label == "near"]
    # 1. key cosine: at or below every pair that structure and geometry would judge
    text = math.floor(round(min((p.cosine for p in pairs if p.same_structure), default=0.0) / TEXT_GRID, 6)) * TEXT_GRID
    # 2. skip: above every near miss that gets past key and structure, plus a grid step
    passing = [p.geometry for p in near if p.same_structure and p.cosine >= text]
    skip = min(1.0, _grid_floor(max(passing, default=0.0)) + 2 * GRID)
    # 3. warm: the largest grid value with WARM_HITS of the same-scene pairs hits
    warm = 0.0
    for w in np.arange(skip, -GRID / 2, -GRID):
        t = Thresholds(text, round(float(w), 2), round(skip, 2))
        if np.mean([outcome(p, t) != "miss" for p in same]) >= WARM_HITS:
            warm = round(float(w), 2)
            break
    return Thresholds(round(text, 2), abs(warm), round(skip, 2))


def rates(pairs: Sequence[Pair], t: Thresholds) -> list[dict[str, Any]]:
    """Per kind: pairs, and the share of each outcome."""
    rows = []
    for kind in (*SAME, *NEAR):
        xs = [p for p in pairs if p.kind == kind]
        if not xs:
            continue
        outs = [outcome(p, t) for p in xs]
        rows.append({"kind": kind, "label": xs[0].label, "n": len(xs),
                     **{o: sum(x == o for x in outs) for o in ("skip", "warm", "miss")}})
    return rows


# --- files --------------------------------------------------------------------------------------------
def save(pairs: Sequence[Pair], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for p in pairs:
            f.write(json.dumps(asdict(p), ensure_ascii=False, separators=(",", ":")) + "\n")


def load(path: Path) -> list[Pair]:
    return [Pair(**json.loads(line)) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


# --- the benchmark ------------------------------------------------------------------------------------
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "memory_pairs"


def _rate(ys: Sequence[Pair], t: Thresholds, label: str) -> str:
    """A same-scene set by its hits (skip or warm), a near-miss set by its skips: "k/n (share)"."""
    if not ys:
        return "–"
    outs = [outcome(p, t) for p in ys]
    k = sum(o != "miss" for o in outs) if label == "same" else sum(o == "skip" for o in outs)
    return f"{k}/{len(ys)} {'hits' if label == 'same' else 'skips'} ({k / len(ys):.1%})"


def table(pairs: Sequence[Pair], t: Thresholds) -> tuple[list[str], list[list]]:
    """Per kind of pair, then per label: pairs in dev and test, the outcomes over all, and the rate the pairs
    are judged by (same scene: hits, skip or warm; near miss: skips) on dev, test and all."""
    headers = ["kind", "label", "dev n", "test n", "all: skip", "all: warm", "all: miss", "dev rate", "test rate",
               "all rate"]
    groups = [(kind, [p for p in pairs if p.kind == kind]) for kind in (*SAME, *NEAR)]
    groups += [(f"**all {'same scene' if label == 'same' else 'near miss'}**", [p for p in pairs if p.label == label])
               for label in ("same", "near")]
    rows = []
    for name, xs in groups:
        if not xs:
            continue
        label = xs[0].label
        dev, test = [p for p in xs if p.split == "dev"], [p for p in xs if p.split == "test"]
        outs = [outcome(p, t) for p in xs]
        rows.append([name, ("same scene" if label == "same" else "near miss") if not name.startswith("**") else "",
                     len(dev), len(test), outs.count("skip"), outs.count("warm"), outs.count("miss"),
                     _rate(dev, t, label), _rate(test, t, label), _rate(xs, t, label)])
    return headers, rows


def run(data: Path | None = None, out: Path | None = None, from_pairs: Path | None = None, record: bool = True,
        doc_path: Path | None = None, progress: Callable[[str], None] = print) -> tuple[list[Pair], Thresholds]:
    """Build (or read) the pair set, choose the thresholds on dev, print and record the rates per kind."""
    from rich.console import Console

    from ttom.bench.report import markdown_table, write_section

    console = Console()
    out = out or DEFAULT_DIR
    if from_pairs is not None:
        try:
            pairs = load(from_pairs)
        except (OSError, ValueError, TypeError) as e:
            from ttom.errors import ConfigError

            raise ConfigError(f"{from_pairs}: not a pair set written by ttom bench memory --pairs ({e})") from None
        skipped: list[str] = []
    else:
        from ttom.bench.planner import DEFAULT_DATA
        from ttom.memory.embedder import default_embedder

        pairs, skipped = build_pairs(data or DEFAULT_DATA, progress)
        progress(f"pairs: key embeddings of {len(pairs)} pairs …")
        add_cosines(pairs, default_embedder())
        save(pairs, out / "pairs.jsonl")
        progress(f"pairs written to {out / 'pairs.jsonl'}")
    t = choose_thresholds([p for p in pairs if p.split == "dev"])
    (out / "thresholds.json").parent.mkdir(parents=True, exist_ok=True)
    (out / "thresholds.json").write_text(json.dumps(asdict(t), indent=1) + "\n", encoding="utf-8")
    headers, rows = table(pairs, t)
    from rich.table import Table

    shown = Table(title=f"memory recall on the pair set: key cosine ≥ {t.text}, skip at geometry ≥ {t.skip}, "
                        f"warm at ≥ {t.warm} (chosen on dev)")
    for h in headers:
        shown.add_column(h, justify="left" if h in ("kind", "label") else "right")
    for r in rows:
        shown.add_row(*map(str, r))
    console.print(shown)
    if record:
        body = (
            f"Thresholds chosen on the dev half by the rule fixed beforehand (`ttom.bench.memory_pairs`): key "
            f"cosine ≥ **{t.text}**, skip at geometry ≥ **{t.skip}**, warm start at geometry ≥ **{t.warm}** "
            "(ttom's defaults: `TTOM_MEMORY_THRESHOLD`, `TTOM_MEMORY_GEOMETRY_SKIP`, `TTOM_MEMORY_GEOMETRY_WARM`). "
            f"{len(pairs)} pairs from {len({p.base for p in pairs})} base prompts "
            f"(`benchmarks/memory_pairs/pairs.jsonl`); a same-scene pair is judged by its hits (skip or "
            "warm), a near miss by its skips. Outcome of each pair: the base stored, the variant recalled.\n\n"
            + markdown_table(headers, rows)
            + ("\n\nLeft out (the offline planner made no layout): " + "; ".join(skipped) if skipped else ""))
        command = "ttom bench memory --pairs" + (f" --from-pairs {from_pairs}" if from_pairs else "")
        path = write_section("memory-pairs", "Recall thresholds from the labelled pair set", body,
                             path=doc_path or DEFAULT_DIR.parents[1] / "docs" / "memory.md", command=command)
        console.print(f"recorded in {path}")
    return pairs, t
