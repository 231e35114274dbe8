"""Recall by structure, then geometry (issue 15), on SQLite and PostgreSQL.

A stored entry keeps the layout φ was learned on. A hit must have the request's scene structure;
its mode follows the geometric similarity of the two layouts: skip when near-identical, warm when
similar, a miss otherwise. One transaction recalls, loads φ and counts the use.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.helpers.memhelpers import SIG, at_cosine, make_phi, unit
from ttom.layout import Keyframe
from ttom.memory.match import Scene, geometry
from ttom.memory.models import EntryRow, PhiRow
from ttom.planning.edits import edit_request
from ttom.planning.offline import plan_offline

LEFT = "a red circle to the left of a blue square"


def layout(prompt: str = LEFT):
    return plan_offline(prompt)


def edited(command: str, prompt: str = LEFT):
    return edit_request(command, layout(prompt)).layout


def test_geometry_of_layouts_and_their_edits():
    base = Scene.of(layout())
    assert geometry(base, Scene.of(layout())) == 1.0
    bigger = Scene.of(edited("make the circle bigger"))
    assert bigger.structure_hash == base.structure_hash
    assert geometry(base, bigger) == pytest.approx(1 / 1.3**2, abs=1e-6)  # the circle's IoU, the least similar
    moved = Scene.of(edited("move the circle down"))
    assert 0.0 < geometry(base, moved) < geometry(base, bigger)
    # instances of one slot are matched one to one, whatever their order in the layout
    two = layout("two dogs and a cat")
    swapped = two.model_copy(update={"objects": [two.objects[1], two.objects[0], two.objects[2]]})
    assert geometry(Scene.of(two), Scene.of(swapped)) == 1.0
    # what is stored comes back whole, and a damaged scene is refused with its reason
    assert Scene.from_json(base.to_json(), base.structure_hash) == base
    with pytest.raises(ValueError, match="structure hash"):
        Scene.from_json(base.to_json(), "0" * 64)
    with pytest.raises(ValueError, match="cannot be read"):
        Scene.from_json('{"layout": 3}', base.structure_hash)


def test_the_mode_follows_the_geometry(make_store):
    store = make_store(threshold=0.5, geometry_skip=0.66, geometry_warm=0.13)
    key = unit(0)
    entry = store.insert("k", make_phi(seed=1), SIG, embedding=key, layout=layout()).entry_id
    same = store.recall(key, SIG, layout=layout())
    assert [(h.entry_id, h.mode, h.geometry) for h in same] == [(entry, "skip", 1.0)]
    # an edited layout (bigger; moved) keeps key and structure, but is at most similar: never a skip
    for command in ("make the circle bigger", "make the square smaller", "move the circle down"):
        hits = store.recall(key, SIG, layout=edited(command))
        assert [h.mode for h in hits] == ["warm"], command
    # moved far: no longer similar
    base = layout()
    far = base.model_copy(update={"objects": [base.objects[0].model_copy(update={"keyframes": [
        Keyframe(t=0, box=(0.0, 0.0, 0.1, 0.1))]}), *base.objects[1:]]})
    assert store.recall(key, SIG, layout=far) == []
    # one more instance, or the opposite relation: another structure, a miss even with the very same key
    assert store.recall(key, SIG, layout=layout("two red circles to the left of a blue square")) == []
    assert store.recall(key, SIG, layout=layout("a red circle to the right of a blue square")) == []
    # without a layout, recall is by the key alone (no mode)
    assert [(h.entry_id, h.mode) for h in store.recall(key, SIG)] == [(entry, None)]


def test_opposite_scenes_whose_keys_embed_close_are_misses(make_store):
    """The keys of opposite scenes have MiniLM cosines above the key threshold (issue 15's measurements);
    their structures differ, so none is recalled."""
    from ttom.planning.abstraction import abstract

    store = make_store(top_k=3)  # the default thresholds, real MiniLM keys
    pairs = [("a yellow circle to the left of a blue circle", "a yellow circle to the right of a blue circle"),
             ("a dog above a cat", "a dog below a cat"),
             ("a boat moving right on the ocean", "a boat moving left on the ocean"),
             ("a dog runs on the left side of a bicycle", "a dog runs on the right side of a bicycle")]
    for stored, asked in pairs:
        lay = layout(stored)
        store.insert(abstract(lay).key, make_phi(seed=1), SIG, layout=lay)
        q = layout(asked)
        assert store.recall(abstract(q).key, SIG, layout=q) == [], asked
        text_only = store.recall(abstract(q).key, SIG)  # what the key alone would have done
        assert text_only and text_only[0].similarity >= store.threshold, asked


def test_near_identical_hits_come_before_similar_ones_and_candidates_of_other_structures_do_not_crowd_out(make_store):
    store = make_store(threshold=0.5, top_k=1, geometry_skip=0.66, geometry_warm=0.13)
    q = unit(0)
    # many entries of another structure with keys closer to the query than the right one
    for i in range(40):
        store.insert(f"other {i}", make_phi(seed=i), SIG, embedding=at_cosine(q, unit(100 + i), 0.99),
                     layout=layout("two red circles to the left of a blue square"))
    warm = store.insert("warm", make_phi(seed=1), SIG, embedding=at_cosine(q, unit(1), 0.98),
                        layout=edited("make the circle bigger")).entry_id
    skip = store.insert("skip", make_phi(seed=2), SIG, embedding=at_cosine(q, unit(2), 0.9), layout=layout()).entry_id
    hits = store.recall(q, SIG, layout=layout(), top_k=5)
    assert [(h.entry_id, h.mode) for h in hits] == [(skip, "skip"), (warm, "warm")]
    assert [h.entry_id for h in store.recall(q, SIG, layout=layout())] == [skip]  # top_k 1: the skip


def test_memorize_updates_a_near_identical_entry_and_inserts_for_a_similar_layout(make_store):
    store = make_store(threshold=0.5)
    key = unit(0)
    first = store.memorize("k", make_phi(value=0.0), SIG, embedding=key, layout=layout())
    assert first.action == "insert" and store.get(first.entry_id).scene["layout"]["prompt"] == LEFT
    got = store.recall_phi(key, SIG, layout=layout())
    assert got.hit.mode == "skip"
    again = store.memorize("k", make_phi(value=1.0), SIG, embedding=key, hit=got.hit, layout=layout())
    assert (again.action, again.entry_id) == ("update", first.entry_id)
    bigger = edited("make the circle bigger")
    got = store.recall_phi(key, SIG, layout=bigger)
    assert got.hit.mode == "warm" and got.hit.entry_id == first.entry_id
    third = store.memorize("k", make_phi(value=2.0), SIG, embedding=key, hit=got.hit, layout=bigger)
    assert third.action == "insert" and third.entry_id != first.entry_id  # the first keeps its own φ
    assert store.recall_phi(key, SIG, layout=bigger).hit.entry_id == third.entry_id  # now near-identical
    assert store.get(third.entry_id).structure_hash == Scene.of(bigger).structure_hash


def test_recall_phi_quarantines_damaged_entries_and_goes_on(make_store):
    store = make_store(threshold=0.5, top_k=1)
    q = unit(0)
    gone = store.insert("gone", make_phi(seed=1), SIG, embedding=q, layout=layout()).entry_id
    bad = store.insert("bad", make_phi(seed=2), SIG, embedding=at_cosine(q, unit(1), 0.99), layout=layout()).entry_id
    scene_bad = store.insert("scene", make_phi(seed=3), SIG, embedding=at_cosine(q, unit(2), 0.98),
                             layout=layout()).entry_id
    good = store.insert("good", make_phi(seed=4), SIG, embedding=at_cosine(q, unit(3), 0.97), layout=layout()).entry_id
    assert [h.entry_id for h in store.recall(q, SIG, layout=layout(), top_k=4)] == [gone, bad, scene_bad, good]
    with store.session(write=True) as s:  # damage φ of one, the scene of another; another process deletes one
        s.execute(update(PhiRow).where(PhiRow.entry_id == bad).values(data=make_phi(value=float("nan"))))
        s.execute(update(EntryRow).where(EntryRow.id == scene_bad).values(scene_json='{"layout": "torn"'))
    make_store(threshold=0.5).delete(gone)  # by another process: this one's key cache catches up
    got = store.recall_phi(q, SIG, layout=layout())
    assert got.hit.entry_id == good and got.phi == make_phi(seed=4) and got.hit.mode == "skip"
    assert store.get(good).use_count == 1
    text = "\n".join(got.notes)
    assert bad in text and scene_bad in text and "quarantined" in text
    assert "checksum" in store.get(bad).problem  # quarantined: kept for `show`, out of recall
    with store.session() as s:  # the torn row is quarantined too (get() says it cannot be read)
        assert "scene cannot be read" in s.scalar(select(EntryRow.problem).where(EntryRow.id == scene_bad))
    assert store.recall(q, SIG, layout=layout(), top_k=4)[0].entry_id == good
    assert {p.entry_id for p in store.verify()} == {bad, scene_bad}


def test_an_entry_deleted_between_the_key_index_and_the_use_is_a_miss_with_a_note(make_store, monkeypatch):
    """The use count is an atomic UPDATE inside recall_phi's transaction: an entry gone by then is no hit."""
    from ttom.memory import repository as repo

    store = make_store(threshold=0.5)
    e = store.insert("k", make_phi(seed=1), SIG, embedding=unit(0), layout=layout()).entry_id
    real = repo.increment_use
    monkeypatch.setattr(repo, "increment_use", lambda s, entry_id, now: False)  # as if deleted meanwhile
    got = store.recall_phi(unit(0), SIG, layout=layout())
    assert got.hit is None and got.phi is None and "was removed" in got.notes[0]
    monkeypatch.setattr(repo, "increment_use", real)
    assert store.get(e).use_count == 0 and store.recall_phi(unit(0), SIG, layout=layout()).hit.entry_id == e


V2_FILE = Path(__file__).parent / "data" / "memory_v2.sqlite"
V2_IDS = ["e20e4727639749fe9d2c0278ab237c15", "69c11607eeb543d898907d9421d29582", "ac71c39ef5fd42f6a47e8ff1b33d9f59",
          "4de87536e6e842b5b1ed2c78aad78869"]


def test_a_memory_written_by_schema_2_ttom_is_migrated_and_keeps_everything(tmp_path):
    """tests/memory/data/memory_v2.sqlite was written by ttom at 7b2905c (tests/helpers/make_v2_memory.py)."""
    import sqlite3

    from ttom.memory import MemoryStore
    from ttom.memory.models import SCHEMA_VERSION
    from ttom.planning.abstraction import abstract

    path = tmp_path / "memory.sqlite"
    shutil.copy(V2_FILE, path)
    with sqlite3.connect(path) as c:
        before = c.execute("SELECT id, key_text, use_count, quality, phi_sha256, problem FROM ttom_memory_entries "
                           "ORDER BY seq").fetchall()
        phis = dict(c.execute("SELECT entry_id, data FROM ttom_memory_phi").fetchall())
    with MemoryStore(f"sqlite:///{path}", capacity=100, top_k=3) as store:  # opening migrates
        assert store.stats().schema_version == SCHEMA_VERSION == 3
        entries = {e.id: e for e in store.list_entries(order="created")}
        assert [(e.id, e.key_text, e.use_count, e.quality, e.phi_sha256, e.problem)
                for e in sorted(entries.values(), key=lambda e: V2_IDS.index(e.id))] == before
        assert all(e.scene is None and e.structure_hash is None for e in entries.values())
        assert all(store.load_phi(i) == phis[i] for i in V2_IDS[:3])
        assert [p.entry_id for p in store.verify()] == [V2_IDS[3]]  # the quarantined one, as before
        # an entry stored without a layout: a warm start for a request with its very key text, never a skip
        lay = layout(LEFT)
        key = abstract(lay).key
        assert key == before[0][1]
        got = store.recall_phi(key, SIG, layout=lay)
        assert (got.hit.entry_id, got.hit.mode, got.hit.geometry) == (V2_IDS[0], "warm", None)
        moving = layout("a red circle moving left")
        assert store.recall(abstract(moving).key, SIG, layout=moving) == []  # key text not the stored one
        # memorizing with the layout gives a new entry; the old one stays
        w = store.memorize(key, make_phi(seed=9), SIG, hit=got.hit, layout=lay)
        assert w.action == "insert" and store.count() == 5 and store.get(V2_IDS[0]).use_count == 1
        assert store.recall_phi(key, SIG, layout=lay).hit.entry_id == w.entry_id
    with sqlite3.connect(path) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_newer_schema_is_refused_with_a_clear_message(tmp_path):
    import sqlite3

    from ttom.memory import MemoryStore, SchemaVersionError

    path = tmp_path / "memory.sqlite"
    shutil.copy(V2_FILE, path)
    with sqlite3.connect(path) as c:
        c.execute("UPDATE ttom_memory_meta SET schema_version = 4")
    with pytest.raises(SchemaVersionError, match="schema version 4.*upgrade ttom"):
        MemoryStore(f"sqlite:///{path}", capacity=100)
    with sqlite3.connect(path) as c:  # nothing was changed
        assert c.execute("SELECT count(*) FROM ttom_memory_entries").fetchone()[0] == 4


def test_export_and_import_carry_the_layout_and_check_it(make_store, tmp_path):
    import zipfile

    from ttom.memory import ArchiveError

    src = make_store(threshold=0.5)
    with_layout = src.insert("a", make_phi(seed=1), SIG, embedding=unit(0), layout=layout()).entry_id
    without = src.insert("b", make_phi(seed=2), SIG, embedding=unit(1)).entry_id
    archive = tmp_path / "m.zip"
    src.export_archive(archive)
    dst = make_store(fresh=True, threshold=0.5)
    dst.import_archive(archive)
    assert dst.get(with_layout).structure_hash == Scene.of(layout()).structure_hash
    assert dst.get(without).scene is None
    assert [h.mode for h in dst.recall(unit(0), SIG, layout=layout())] == ["skip"]
    # an archive whose layout is not a layout is refused whole
    with zipfile.ZipFile(archive) as z:
        members = {n: z.read(n) for n in z.namelist()}
    manifest = json.loads(members["manifest.json"])
    manifest["entries"][0]["layout"] = {"prompt": "x", "objects": [{"id": 0, "name": "dog"}]}
    members["manifest.json"] = json.dumps(manifest).encode()
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    third = make_store(fresh=True, threshold=0.5)
    with pytest.raises(ArchiveError, match="layout is not a layout"):
        third.import_archive(bad)
    assert third.count() == 0
