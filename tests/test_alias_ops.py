"""TF.js's own op names that its converter accepts: Ones, Zeros (creation) and DepthwiseConv2d."""
from __future__ import annotations

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
