"""φ blobs and signatures without a database: safetensors checks, canonical signatures, the update rule."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import load, save

from tests.helpers.memhelpers import SIG, make_phi
from ttom.memory.errors import InvalidPhiError, PhiMismatchError, SignatureError
from ttom.memory.phi import canonical_signature, inspect_phi, validate_phi, weighted_mean


def _raw(header: dict, data: bytes) -> bytes:
    h = json.dumps(header).encode()
    return len(h).to_bytes(8, "little") + h + data


def test_inspect_reads_names_shapes_and_metadata():
    data = save({"b": np.zeros((2, 3), np.float16), "a": np.zeros(5, np.float32)}, metadata={"k": "v"})
    info = inspect_phi(data)
    assert [(t.name, t.dtype, t.shape) for t in info.tensors] == [("a", "F32", (5,)), ("b", "F16", (2, 3))]
    assert info.metadata == {"k": "v"} and info.n_params == 11 and info.nbytes == len(data)


@pytest.mark.parametrize("bad, reason", [
    (b"", "too short"),
    (b"\xff" * 8 + b"{}", "does not fit"),
    (_raw({}, b"")[:8] + b"not json", "not JSON"),
    (_raw({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4), "do not match"),
    (_raw({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 8), "trailing"),
    (_raw({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8), "gap or overlap"),
    (_raw({"a": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 1]}}, b"\0"), "unsupported dtype"),
    (_raw({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}}, b""), "bad shape"),
    (_raw({"__metadata__": {"x": 1}}, b""), "__metadata__"),
    (_raw({}, b""), "no tensors"),
    (b"\x02\0\0\0\0\0\0\0[]", "not a JSON object"),
])
def test_invalid_safetensors_is_refused_with_a_reason(bad, reason):
    with pytest.raises(InvalidPhiError, match=reason):
        validate_phi(bad)


def test_truncated_real_file_is_refused():
    data = make_phi(seed=1)
    with pytest.raises(InvalidPhiError):
        validate_phi(data[:-3])
    with pytest.raises(InvalidPhiError, match="expected bytes"):
        validate_phi("not bytes")


def test_signature_canonical_form_ignores_key_order_and_integral_floats():
    a = canonical_signature(SIG)
    reordered = dict(reversed(list(SIG.items())))
    assert canonical_signature(reordered)[2] == a[2]
    assert canonical_signature({**SIG, "alpha": int(SIG["alpha"])})[2] == a[2]
    assert canonical_signature(json.dumps(SIG))[2] == a[2]
    assert canonical_signature({**SIG, "rank": 16})[2] != a[2]
    assert canonical_signature({**SIG, "blocks": [0, 1, 3, 2]})[2] != a[2]  # order inside a list matters


@pytest.mark.parametrize("bad", [None, {}, [1, 2], "not json", {"a": float("nan")}, {"a": object()}, {1: 2}])
def test_bad_signatures_are_refused(bad):
    with pytest.raises(SignatureError):
        canonical_signature(bad)


def test_weighted_mean_follows_the_rule_per_tensor():
    rng = np.random.default_rng(0)
    old = {"x": rng.normal(size=(3, 4)).astype(np.float32), "y": rng.normal(size=7).astype(np.float32)}
    new = {"x": rng.normal(size=(3, 4)).astype(np.float32), "y": rng.normal(size=7).astype(np.float32)}
    for s in (0.0, 0.37, 1.0):
        out = load(weighted_mean(save(old, metadata={"ttom_signature": "keep"}), save(new), s))
        for k in old:
            expected = (old[k].astype(np.float64) + s * new[k]) / (1 + s)
            np.testing.assert_allclose(out[k], expected, rtol=1e-6, atol=1e-7)
            assert out[k].dtype == np.float32
    assert inspect_phi(weighted_mean(save(old, metadata={"ttom_signature": "keep"}), save(new), 0.5)).metadata == {
        "ttom_signature": "keep"}


def test_weighted_mean_keeps_bf16():
    import torch
    from safetensors.torch import load as tload
    from safetensors.torch import save as tsave

    old = {"w": torch.tensor([1.0, 2.0, -4.0], dtype=torch.bfloat16)}
    new = {"w": torch.tensor([3.0, 0.0, 4.0], dtype=torch.bfloat16)}
    out = tload(weighted_mean(tsave(old), tsave(new), 1.0))["w"]
    assert out.dtype == torch.bfloat16
    assert out.float().tolist() == [2.0, 1.0, 0.0]


def test_weighted_mean_refuses_mismatches():
    a = save({"x": np.zeros((2, 2), np.float32)})
    with pytest.raises(PhiMismatchError, match="only in the new"):
        weighted_mean(a, save({"x": np.zeros((2, 2), np.float32), "z": np.zeros(1, np.float32)}), 0.5)
    with pytest.raises(PhiMismatchError, match="shape"):
        weighted_mean(a, save({"x": np.zeros((2, 3), np.float32)}), 0.5)
    with pytest.raises(PhiMismatchError, match="dtypes"):
        weighted_mean(a, save({"x": np.zeros((2, 2), np.int32)}), 0.5)
    for s in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="similarity"):
            weighted_mean(a, a, s)
