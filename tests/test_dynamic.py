"""Graphs with control flow, TensorArrays/TensorLists and data-dependent ops: our converter-made
fixtures and ../shared/models-dynamic against TensorFlow, and malformed control flow."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import model_builder as mb
from conftest import SHARED
from loader import load_graph_model
from loader.dynamic import DynamicExecutor
from loader.executor import Executor, NodeError
from loader.inspect import inspect_model
from test_shared_models import check_outputs

FIXTURES = sorted(p.parent for p in (Path(__file__).parent / "fixtures" / "dynamic").glob("*/model.json"))
SHARED_DYNAMIC = sorted(p.parent for p in (SHARED / "models-dynamic").glob("*/model.json"))


def _run(folder: Path, backend) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = load_graph_model(folder / "model.json", backend=backend)
    # graphs with control flow run on the dynamic executor; data-dependent ops alone need no frames
    assert model.is_dynamic == bool(model.control_flow_ops())
    assert isinstance(model.executor, DynamicExecutor) == model.is_dynamic
    assert model.is_dynamic or model.data_dependent_ops()
    with np.load(folder / "inputs.npz") as z:
        inputs = {k: z[k] for k in z.files}
    with np.load(folder / "expected.npz") as z:
        expected = {k: z[k] for k in z.files}
    check_outputs(model.predict(inputs), expected)
    check_outputs(model.predict(inputs), expected)          # a second run: nothing left over from the first
    model.dispose()


@pytest.mark.parametrize("folder", FIXTURES, ids=[p.name for p in FIXTURES])
def test_own_dynamic_fixtures_match_tensorflow(gl, folder):
    before = gl.memory()["live_tensors"]
    _run(folder, gl)
    assert gl.memory()["live_tensors"] == before           # runs and disposal leave nothing behind


@pytest.mark.shared_models
@pytest.mark.skipif(not SHARED_DYNAMIC, reason="../shared/models-dynamic is not present")
@pytest.mark.parametrize("folder", SHARED_DYNAMIC, ids=[p.name for p in SHARED_DYNAMIC])
def test_shared_dynamic_models_match_tensorflow(gl, folder):
    _run(folder, gl)


def test_numpy_backend_runs_dynamic_graphs_too():
    _run(FIXTURES[0], "numpy")


def test_static_models_keep_the_static_executor(gl):
    from loader.cli import example_model_dir
    model = load_graph_model(example_model_dir() / "model.json", backend=gl)
    assert not model.is_dynamic and type(model.executor) is Executor
    model.dispose()


def test_summary_and_inspect_mark_dynamic_graphs(gl):
    folder = next(p for p in FIXTURES if p.name == "detector")
    model = load_graph_model(folder / "model.json", backend=gl)
    text = model.summary()
    assert "dynamic graph" in text and "Switch" in text and "LoopCond" in text
    assert model.control_flow_ops()["Merge"] >= 1
    model.dispose()
    report = inspect_model(folder)
    assert report.control_flow and "dynamic graph" in report.format()
    assert "NonMaxSuppressionV5" in report.placement


def test_profile_shows_each_crossing_to_the_host(gl, tmp_path):
    """Scores computed on GL feed a non-max suppression that runs on the numpy side: exactly that
    small tensor crosses to the host, and the profile shows the crossing under the NMS node."""
    weights = {"max_out": np.array(4, np.int32), "iou": np.array(0.5, np.float32),
               "floor": np.array(-np.inf, np.float32)}
    nodes = [mb.const("max_out", "int32"), mb.const("iou"), mb.const("floor"), mb.placeholder("boxes", [16, 4]),
             mb.placeholder("logits", [16]), mb.op("scores", "Sigmoid", ["logits"]),
             mb.op("nms", "NonMaxSuppressionV3", ["boxes", "scores", "max_out", "iou", "floor"]),
             mb.op("Identity", "Identity", ["nms"])]
    doc, files = mb.model_json(nodes, weights, mb.signature(
        {"boxes": ("boxes:0", [16, 4], "float32"), "logits": ("logits:0", [16], "float32")},
        {"keep": ("Identity:0", [-1], "int32")}))
    model = load_graph_model(mb.write(tmp_path / "nms", doc, files), backend=gl)
    rng = np.random.default_rng(0)
    corners = rng.uniform(0, 0.7, (16, 2)).astype(np.float32)
    boxes = np.concatenate([corners, corners + 0.3], 1)
    logits = rng.standard_normal(16).astype(np.float32)
    prof = model.profile({"boxes": boxes, "logits": logits})
    nms = next(n for n in prof.nodes if n.op == "NonMaxSuppressionV3")
    assert nms.placement == "fallback"
    crossed = [t for t in nms.transfers if t.kind == "readback"]
    assert len(crossed) == 1 and crossed[0].nbytes == 16 * 4          # the scores, nothing else
    sig = next(n for n in prof.nodes if n.op == "Sigmoid")
    assert sig.placement == "device"
    from gpu_backend.numpy_backend import run_reference
    (want,) = run_reference("NonMaxSuppressionV3", [boxes, 1 / (1 + np.exp(-logits))],
                            {"max_output_size": 4, "iou_threshold": 0.5})
    np.testing.assert_array_equal(model.predict({"boxes": boxes, "logits": logits})["Identity:0"], want)
    model.dispose()


# -- malformed control flow ---------------------------------------------------------------------
def _switch_merge_model(tmp_path: Path, merge_inputs: list[str]) -> Path:
    weights = {"pred": np.array(False)}
    nodes = [mb.const("pred", "bool"), mb.placeholder("x", [3]),
             {"name": "sw", "op": "Switch", "input": ["x", "pred"], "attr": {"T": {"type": "DT_FLOAT"}}},
             {"name": "merge", "op": "Merge", "input": merge_inputs, "attr": {"T": {"type": "DT_FLOAT"}}},
             mb.op("Identity", "Identity", ["merge"])]
    doc, files = mb.model_json(nodes, weights, mb.signature({"x": ("x:0", [3], "float32")},
                                                            {"y": ("Identity:0", [3], "float32")}))
    return mb.write(tmp_path / "switch_merge", doc, files)


def test_cond_takes_the_live_branch(gl, tmp_path):
    model = load_graph_model(_switch_merge_model(tmp_path, ["sw:1", "sw"]), backend=gl)
    x = np.array([1.0, 2.0, 3.0], np.float32)
    np.testing.assert_array_equal(model.predict(x)["Identity:0"], x)


def test_merge_with_no_live_input_is_named(gl, tmp_path):
    model = load_graph_model(_switch_merge_model(tmp_path, ["sw:1", "sw:1"]), backend=gl)
    with pytest.raises(NodeError, match=r"output Identity:0 is dead.*Merge node\(s\) merge received no live input"):
        model.predict(np.ones(3, np.float32))


def test_a_loop_that_does_not_end_hits_the_iteration_limit(gl):
    folder = next(p for p in FIXTURES if p.name == "cond_in_loop")     # 7 iterations
    model = load_graph_model(folder / "model.json", backend=gl, max_iterations=5)
    with np.load(folder / "inputs.npz") as z:
        inputs = {k: z[k] for k in z.files}
    with pytest.raises(NodeError, match=r"loop frame .* did not end within max_iterations=5 .*NextIteration"):
        model.predict(inputs)
    model.dispose()
    assert gl.memory()["live_tensors"] >= 0


def test_functional_while_hits_the_iteration_limit_too(gl):
    folder = next(p for p in FIXTURES if p.name == "cond_in_loop_v2")       # StatelessWhile, 7 trips
    model = load_graph_model(folder / "model.json", backend=gl, max_iterations=3)
    with np.load(folder / "inputs.npz") as z:
        inputs = {k: z[k] for k in z.files}
    with pytest.raises(NodeError, match=r"loop .*StatelessWhile.* did not end within max_iterations=3"):
        model.predict(inputs)
    model.dispose()


def test_tensor_array_read_out_of_range_is_named(gl, tmp_path):
    weights = {"size": np.array(2, np.int32), "i0": np.array(0, np.int32), "i5": np.array(5, np.int32)}
    nodes = [mb.const("size", "int32"), mb.const("i0", "int32"), mb.const("i5", "int32"), mb.placeholder("x", [3]),
             {"name": "ta", "op": "TensorArrayV3", "input": ["size"], "attr": {"dtype": {"type": "DT_FLOAT"}}},
             {"name": "write", "op": "TensorArrayWriteV3", "input": ["ta", "i0", "x", "ta:1"],
              "attr": {"T": {"type": "DT_FLOAT"}}},
             {"name": "read", "op": "TensorArrayReadV3", "input": ["ta", "i5", "write"],
              "attr": {"dtype": {"type": "DT_FLOAT"}}},
             mb.op("Identity", "Identity", ["read"])]
    doc, files = mb.model_json(nodes, weights, mb.signature({"x": ("x:0", [3], "float32")},
                                                            {"y": ("Identity:0", [3], "float32")}))
    model = load_graph_model(mb.write(tmp_path / "ta", doc, files), backend=gl)
    with pytest.raises(NodeError, match=r"node 'read' \(TensorArrayReadV3\): index 5 is out of range .* size 2"):
        model.predict(np.ones(3, np.float32))
