"""Host-only dtypes: string and complex64 tensors run end to end (inputs, weights, inline constants,
outputs) with the nodes that touch them placed on the host, never uploaded to a backend."""
from __future__ import annotations

import base64

import numpy as np
import pytest

import model_builder as mb
from loader import load_graph_model
from loader.errors import ModelInputError

S = "DT_STRING"


def _string_graph(tmp_path):
    vocab = np.array(["zero", "one", "two", "three", "fünf"], dtype=object)
    nodes = [mb.placeholder("s", [2, 3], "string"), mb.placeholder("ids", [4], "int32"),
             mb.const("shape", "int32"), mb.const("vocab", "string"), mb.const("axis", "int32"),
             {"name": "inline", "op": "Const", "attr": {"dtype": {"type": S}, "value": {"tensor": {
                 "dtype": S, "tensorShape": {"dim": [{"size": "2"}]},
                 "stringVal": [base64.b64encode(b"x").decode(), base64.b64encode("ü".encode()).decode()]}}}},
             {"name": "r", "op": "Reshape", "input": ["s", "shape"], "attr": {"T": {"type": S}}},
             {"name": "g", "op": "GatherV2", "input": ["vocab", "ids", "axis"],
              "attr": {"Tparams": {"type": S}, "Tindices": {"type": "DT_INT32"}}},
             {"name": "c", "op": "ConcatV2", "input": ["r", "g", "inline", "axis"],
              "attr": {"T": {"type": S}, "N": {"i": "3"}, "Tidx": {"type": "DT_INT32"}}},
             {"name": "Identity", "op": "Identity", "input": ["c"], "attr": {"T": {"type": S}}}]
    consts = {"shape": np.array([6], np.int32), "vocab": vocab, "axis": np.array(0, np.int32)}
    doc, files = mb.model_json(nodes, consts, mb.signature(
        {"s": ("s:0", [2, 3], "string"), "ids": ("ids:0", [4], "int32")}, {"y": ("Identity:0", [12], "string")}))
    return mb.write(tmp_path, doc, files)


@pytest.mark.parametrize("backend", ["gl", "numpy"])
def test_strings_flow_through_inputs_weights_inline_constants_and_outputs(tmp_path, gl, backend):
    model = load_graph_model(_string_graph(tmp_path), backend=gl if backend == "gl" else "numpy", strict=True)
    s = [["a", "b", "c"], [b"d", "e", "\u00e9"]]
    ids = np.array([4, 0, 2, 2], np.int32)
    (y,) = model.predict({"s": s, "ids": ids}).values()
    assert y.dtype == object
    assert list(y) == [b"a", b"b", b"c", b"d", b"e", "é".encode(), "fünf".encode(), b"zero", b"two", b"two",
                       b"x", "ü".encode()]
    for op in ("Reshape", "GatherV2", "ConcatV2"):
        assert model.placement()[op] == {"host": 1}, model.placement()
    with pytest.raises(ModelInputError, match="must hold strings or bytes"):
        model.predict({"s": np.ones((2, 3)), "ids": ids})
    with pytest.raises(ModelInputError, match=r"must have shape \[2, 3\]"):
        model.predict({"s": [["a", "b"]], "ids": ids})
    model.dispose()


def test_a_backend_refuses_host_only_dtypes_with_the_reason(gl):
    with pytest.raises(TypeError, match="string tensors live on the host"):
        gl.upload(np.array([b"a"], dtype=object))
    from gpu_backend.numpy_backend import NumpyBackend
    with pytest.raises(TypeError, match="complex tensors live on the host"):
        NumpyBackend().upload(np.array([1 + 2j], np.complex64))     # GL holds complex64 (test_spectral_ops.py)
