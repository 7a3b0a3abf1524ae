"""TF.js's own op names that its converter accepts: Ones, Zeros (creation) and DepthwiseConv2d."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import model_builder as mb
from loader import load_graph_model


@pytest.mark.parametrize("op,dtype", [("Ones", "int32"), ("Zeros", "float32"), ("Ones", "bool"), ("Zeros", "int32")])
def test_ones_zeros(tmp_path, gl, op, dtype):
    nodes = [mb.const("shape", "int32"), mb.placeholder("x", [2, 3], dtype),
             {"name": "c", "op": op, "input": ["shape"], "attr": {"T": {"type": mb.DT[dtype]}}},
             {"name": "y", "op": "LogicalOr" if dtype == "bool" else "AddV2", "input": ["x", "c"],
              "attr": {"T": {"type": mb.DT[dtype]}}},
             {"name": "Identity", "op": "Identity", "input": ["y"], "attr": {"T": {"type": mb.DT[dtype]}}}]
    doc, files = mb.model_json(nodes, {"shape": np.array([2, 3], np.int32)},
                               mb.signature({"x": ("x:0", [2, 3], dtype)}, {"y": ("Identity:0", [2, 3], dtype)}))
    model = load_graph_model(mb.write(tmp_path / op, doc, files), backend=gl, strict=True)
    x = (np.arange(6).reshape(2, 3) % 2).astype(dtype) if dtype == "bool" else np.arange(6).reshape(2, 3).astype(dtype) + 3
    got = model.predict({"x": x})["Identity:0"]
    model.dispose()
    fill = np.ones if op == "Ones" else np.zeros
    want = (x | fill((2, 3), bool)) if dtype == "bool" else x + fill((2, 3), dtype)
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, want)


def test_depthwise_conv2d_alias_matches_the_native_op(tmp_path, gl):
    rng = np.random.default_rng(2)
    w = rng.standard_normal((3, 3, 4, 2)).astype(np.float32)
    x = rng.standard_normal((1, 7, 7, 4)).astype(np.float32)
    outs = []
    for op in ("DepthwiseConv2dNative", "DepthwiseConv2d"):
        nodes = [mb.const("w"), mb.placeholder("x", [1, 7, 7, 4]),
                 mb.op("dw", op, ["x", "w"], strides=mb.attr_list_i([1, 2, 2, 1]), padding=mb.attr_s("SAME"),
                       dilations=mb.attr_list_i([1, 1, 1, 1])),
                 mb.op("Identity", "Identity", ["dw"])]
        doc, files = mb.model_json(nodes, {"w": w}, mb.signature({"x": ("x:0", [1, 7, 7, 4], "float32")},
                                                                 {"y": ("Identity:0", [1, 4, 4, 8], "float32")}))
        model = load_graph_model(mb.write(tmp_path / op, doc, files), backend=gl, strict=True)
        outs.append(model.predict({"x": x})["Identity:0"])
        model.dispose()
    assert outs[0].shape == (1, 4, 4, 8)
    np.testing.assert_array_equal(outs[0], outs[1])


GOLDENS = Path(__file__).resolve().parent / "fixtures" / "extra_op_goldens.npz"


def test_broadcast_args_matches_tensorflow():
    from gpu_backend.errors import ShapeError
    from gpu_backend.numpy_backend import run_reference
    with np.load(GOLDENS) as z:
        cases = sorted({k.split("/")[0] for k in z.files if k.startswith("bargs")})
        assert len(cases) == 4
        for case in cases:
            ins = [z[f"{case}/in0"], z[f"{case}/in1"]]
            if f"{case}/error" in z.files:
                with pytest.raises(ShapeError, match="cannot be broadcast"):
                    run_reference("BroadcastArgs", ins, {})
                continue
            (got,) = run_reference("BroadcastArgs", ins, {})
            assert got.dtype == z[f"{case}/out"].dtype
            np.testing.assert_array_equal(got, z[f"{case}/out"])


def test_broadcast_args_in_a_graph_runs_on_the_host(tmp_path, gl):
    """Shape(a), Shape(b) -> BroadcastArgs -> BroadcastTo: the shape arithmetic stays on the host."""
    nodes = [mb.placeholder("a", [2, 1, 3]), mb.placeholder("b", [4, 1]),
             {"name": "sa", "op": "Shape", "input": ["a"], "attr": {"T": {"type": "DT_FLOAT"}, "out_type": {"type": "DT_INT32"}}},
             {"name": "sb", "op": "Shape", "input": ["b"], "attr": {"T": {"type": "DT_FLOAT"}, "out_type": {"type": "DT_INT32"}}},
             {"name": "bs", "op": "BroadcastArgs", "input": ["sa", "sb"], "attr": {"T": {"type": "DT_INT32"}}},
             {"name": "y", "op": "BroadcastTo", "input": ["b", "bs"], "attr": {"T": {"type": "DT_FLOAT"}, "Tidx": {"type": "DT_INT32"}}},
             mb.op("Identity", "Identity", ["y"])]
    doc, files = mb.model_json(nodes, {}, mb.signature({"a": ("a:0", [2, 1, 3], "float32"), "b": ("b:0", [4, 1], "float32")},
                                                       {"y": ("Identity:0", [2, 4, 3], "float32")}))
    model = load_graph_model(mb.write(tmp_path / "bargs", doc, files), backend=gl, strict=True)
    b = np.arange(4, dtype=np.float32).reshape(4, 1)
    got = model.predict({"a": np.zeros((2, 1, 3), np.float32), "b": b})["Identity:0"]
    assert model.executor.plans["bs"].kind == "host"
    model.dispose()
    np.testing.assert_array_equal(got, np.broadcast_to(b, (2, 4, 3)))
