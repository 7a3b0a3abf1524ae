"""Load-time shape inference (loader/shape_inference.py, gpu_backend/shape_rules.py): shapes through
unknown batch sizes and shape arithmetic, shape clashes refused at load naming the node, and the
run-time check that compares every kernel's output with what was inferred.  tests/dtype_audit.py
compares every node of every graph model with the inference (tests/test_declared_dtypes.py)."""
from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import model_builder as mb
from gpu_backend import shape_rules
from loader import load_graph_model
from loader.errors import GraphError
from loader.executor import NodeError

ROOT = Path(__file__).resolve().parent
SHARED = ROOT.parent.parent / "shared" / "models"


def _ints(name: str) -> dict:
    return mb.const(name, "int32")


def _conv_flatten_model(tmp_path: Path, rng: np.random.Generator) -> Path:
    """x [?, 8, 8, 3] -> Conv2D(stride 2, SAME) -> Keras-style Flatten built from the tensor's own shape
    (Shape -> StridedSlice -> Pack -> Reshape) -> MatMul -> Softmax."""
    weights = {"w": rng.standard_normal((3, 3, 3, 4)).astype(np.float32),
               "begin": np.array([0], np.int32), "end": np.array([1], np.int32), "stride": np.array([1], np.int32),
               "minus1": np.array(-1, np.int32), "w2": rng.standard_normal((64, 5)).astype(np.float32)}
    nodes = [mb.placeholder("x", [-1, 8, 8, 3]), mb.const("w"), _ints("begin"), _ints("end"), _ints("stride"),
             _ints("minus1"), mb.const("w2"),
             mb.op("conv", "Conv2D", ["x", "w"], strides=mb.attr_list_i([1, 2, 2, 1]), padding=mb.attr_s("SAME"),
                   data_format=mb.attr_s("NHWC"), dilations=mb.attr_list_i([1, 1, 1, 1])),
             {"name": "shape", "op": "Shape", "input": ["conv"], "attr": {"T": {"type": "DT_FLOAT"},
                                                                         "out_type": {"type": "DT_INT32"}}},
             {"name": "batch", "op": "StridedSlice", "input": ["shape", "begin", "end", "stride"],
              "attr": {"T": {"type": "DT_INT32"}, "Index": {"type": "DT_INT32"}, "shrink_axis_mask": {"i": "1"},
                       "begin_mask": {"i": "0"}, "end_mask": {"i": "0"}, "ellipsis_mask": {"i": "0"},
                       "new_axis_mask": {"i": "0"}}},
             {"name": "target", "op": "Pack", "input": ["batch", "minus1"],
              "attr": {"T": {"type": "DT_INT32"}, "N": {"i": "2"}, "axis": {"i": "0"}}},
             {"name": "flat", "op": "Reshape", "input": ["conv", "target"],
              "attr": {"T": {"type": "DT_FLOAT"}, "Tshape": {"type": "DT_INT32"}}},
             mb.op("mm", "MatMul", ["flat", "w2"], transpose_a={"b": False}, transpose_b={"b": False}),
             mb.op("probs", "Softmax", ["mm"]),
             mb.op("Identity", "Identity", ["probs"])]
    sig = mb.signature({"x": ("x:0", [-1, 8, 8, 3], "float32")}, {"probs": ("Identity:0", [-1, 5], "float32")})
    doc, files = mb.model_json(nodes, weights, sig)
    return mb.write(tmp_path / "conv_flatten", doc, files)


def test_shapes_follow_an_unknown_batch_through_shape_arithmetic(tmp_path):
    path = _conv_flatten_model(tmp_path, np.random.default_rng(0))
    model = load_graph_model(path, backend="numpy", strict=True)
    shapes = model.shape_report.shapes
    assert shapes["conv"] == [(None, 4, 4, 4)]
    assert shapes["shape"] == [(4,)] and shapes["target"] == [(2,)]
    assert shapes["flat"] == [(None, 64)]            # the Reshape's shape came from Shape -> StridedSlice -> Pack
    assert shapes["probs"] == [(None, 5)]
    assert model.shape_report.unknown == 0
    out = model.predict(np.random.default_rng(1).standard_normal((3, 8, 8, 3)).astype(np.float32))
    assert out["Identity:0"].shape == (3, 5)


def test_a_fully_known_signature_gives_fully_known_shapes(tmp_path):
    rng = np.random.default_rng(0)
    doc, files, _ = mb.dense_model(rng, batch=2)
    model = load_graph_model(mb.write(tmp_path / "dense", doc, files), backend="numpy")
    report = model.shape_report
    assert report.partial == report.unknown == 0 and report.probes == 1
    assert report.shapes["logits"] == [(2, 3)]


def _matmul_model(tmp_path: Path, x_shape: list[int], w: np.ndarray, name: str = "mm") -> Path:
    nodes = [mb.placeholder("x", x_shape), mb.const("w"),
             mb.op(name, "MatMul", ["x", "w"], transpose_a={"b": False}, transpose_b={"b": False}),
             mb.op("Identity", "Identity", [name])]
    sig = mb.signature({"x": ("x:0", x_shape, "float32")}, {"y": ("Identity:0", [-1, w.shape[1]], "float32")})
    doc, files = mb.model_json(nodes, {"w": w}, sig)
    return mb.write(tmp_path / "mm", doc, files)


def test_a_weight_of_the_wrong_size_is_refused_at_load_naming_the_node(tmp_path):
    path = _matmul_model(tmp_path, [-1, 5], np.ones((6, 3), np.float32), name="dense/MatMul")
    with pytest.raises(GraphError, match=r"dense/MatMul.*\[\?, 5\].*\[6, 3\].*inner dimensions differ"):
        load_graph_model(path, backend="numpy", strict=True)
    with pytest.warns(RuntimeWarning, match="dense/MatMul"):
        model = load_graph_model(path, backend="numpy")
    assert model.shape_report is None
    with pytest.raises(NodeError, match="dense/MatMul"):
        model.predict(np.ones((2, 5), np.float32))


def test_a_clash_that_depends_on_the_batch_size_is_only_a_warning(tmp_path):
    """Reshape [?, 10] -> [5, 20] works for a batch of 10 only: a warning at load, never an error."""
    weights = {"shape": np.array([5, 20], np.int32)}
    nodes = [mb.placeholder("x", [-1, 10]), _ints("shape"),
             {"name": "r", "op": "Reshape", "input": ["x", "shape"],
              "attr": {"T": {"type": "DT_FLOAT"}, "Tshape": {"type": "DT_INT32"}}},
             mb.op("Identity", "Identity", ["r"])]
    sig = mb.signature({"x": ("x:0", [-1, 10], "float32")}, {"y": ("Identity:0", [5, 20], "float32")})
    doc, files = mb.model_json(nodes, weights, sig)
    path = mb.write(tmp_path / "reshape", doc, files)
    with pytest.warns(RuntimeWarning, match="at every size tried for the unknown dims"):
        model = load_graph_model(path, backend="numpy", strict=True)
    assert model.shape_report.shapes["r"] == [None]
    assert model.predict(np.ones((10, 10), np.float32))["Identity:0"].shape == (5, 20)


def test_the_run_time_check_reports_a_kernel_that_disagrees_with_the_inference(tmp_path, monkeypatch):
    """A wrong shape rule (standing in for a kernel returning the wrong shape) is caught at its node."""
    path = _conv_flatten_model(tmp_path, np.random.default_rng(0))
    monkeypatch.setitem(shape_rules.SHAPE_RULES, "Softmax", lambda shapes, attrs: [shapes[0][:-1] + (6,)])
    x = np.ones((2, 8, 8, 3), np.float32)
    model = load_graph_model(path, backend="numpy", strict=True)
    with pytest.raises(NodeError, match=r"'probs' \(Softmax\) output 0 has shape \[2, 5\] but load-time shape "
                                        r"inference gave \['\?', 6\]"):
        model.predict(x)
    lenient = load_graph_model(path, backend="numpy")
    with pytest.warns(RuntimeWarning, match="load-time shape inference"):
        lenient.predict(x)


def _one_op_model(tmp_path: Path, name: str, x_shape: list[int], node: dict, dtype: str = "float32",
                  out_type: str = "DT_FLOAT") -> Path:
    nodes = [mb.placeholder("x", x_shape, dtype), node,
             mb.op("Identity", "Identity", [node["name"]], T={"type": out_type})]
    sig = mb.signature({"x": ("x:0", x_shape, dtype)}, {"y": ("Identity:0", [-1], "float32")})
    doc, files = mb.model_json(nodes, {}, sig)
    return mb.write(tmp_path / name, doc, files)


def test_squeeze_without_axes_of_an_unknown_dim_is_unknown(tmp_path):
    """[?, 1, 5]: whether dim 0 goes depends on whether the batch is 1, so the rank is not known."""
    free = _one_op_model(tmp_path, "sq", [-1, 1, 5], mb.op("s", "Squeeze", ["x"], squeeze_dims={"list": {}}))
    model = load_graph_model(free, backend="numpy", strict=True)
    assert model.shape_report.shapes["s"] == [None]
    assert model.predict(np.ones((1, 1, 5), np.float32))["Identity:0"].shape == (5,)
    axis = _one_op_model(tmp_path, "sq1", [-1, 1, 5], mb.op("s", "Squeeze", ["x"], squeeze_dims=mb.attr_list_i([1])))
    assert load_graph_model(axis, backend="numpy", strict=True).shape_report.shapes["s"] == [(None, 5)]


def test_data_dependent_sizes_are_unknown_but_their_ranks_are_not(tmp_path):
    node = {"name": "w", "op": "Where", "input": ["x"], "attr": {"T": {"type": "DT_BOOL"}}}
    path = _one_op_model(tmp_path, "where", [3, 4], node, dtype="bool", out_type="DT_INT64")
    model = load_graph_model(path, backend="numpy", strict=True)
    assert model.shape_report.shapes["w"] == [(None, 2)]
    mask = np.random.default_rng(0).random((3, 4)) > 0.5
    assert model.predict(mask)["Identity:0"].shape == (int(mask.sum()), 2)


def test_inspect_lists_inferred_shapes(tmp_path):
    path = _conv_flatten_model(tmp_path, np.random.default_rng(0))
    out = subprocess.run([sys.executable, "-m", "loader.cli", "inspect", str(path), "--shapes"], capture_output=True,
                         text=True, check=True, cwd=ROOT.parent).stdout
    assert "output shapes inferred at load: " in out
    assert "conv (Conv2D): [?, 4, 4, 4]" in out and "flat (Reshape): [?, 64]" in out


@pytest.mark.shared_models
@pytest.mark.skipif(not SHARED.exists(), reason="../shared/models not present")
@pytest.mark.parametrize("name", sorted(p.parent.name for p in SHARED.glob("*/model.json")) if SHARED.exists() else [])
def test_every_shape_of_the_shared_static_models_is_inferred(name):
    """A regression floor: with today's rules no node of these converter-made models is unknown."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = load_graph_model(SHARED / name / "model.json", backend="numpy", strict=True)
    report = model.shape_report
    assert report is not None and report.unknown == 0, [n for n, s in report.shapes.items() if None in s]
