"""Every tensor our backends return has the dtype the graph declares (TF's OpDef rules, recorded in
loader/data/op_defs.json) and the shape load-time inference gave it, over every graph model we have; and the converter's op list is covered
except for the ops listed here as not yet mapped."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from dtype_audit import audit, graph_model_dirs
from loader.declared_types import converter_ops, declared_dtypes
from loader.graph import Graph

ROOT = Path(__file__).resolve().parent
OWN = graph_model_dirs(ROOT / "fixtures")
SHARED = graph_model_dirs(ROOT.parent.parent / "shared" / "models", ROOT.parent.parent / "shared" / "models-dynamic")


def _id(p: Path) -> str:
    return f"{p.parent.name}/{p.name}"


@pytest.mark.parametrize("folder", OWN + SHARED, ids=_id)
def test_numpy_backend_returns_the_declared_dtypes_and_inferred_shapes(folder):
    checked, bad = audit(folder, "numpy")
    assert checked > 0 and not bad, "\n".join(bad)


@pytest.mark.parametrize("folder", [d for d in OWN + SHARED if "dynamic" not in str(d)], ids=_id)
def test_gl_backend_returns_the_declared_dtypes_and_inferred_shapes(folder, gl):
    checked, bad = audit(folder, gl)
    assert checked > 0 and not bad, "\n".join(bad)


def test_declared_dtypes_follow_the_op_def():
    g = Graph.from_topology({"node": [
        {"name": "c", "op": "Cast", "attr": {"SrcT": {"type": "DT_FLOAT"}, "DstT": {"type": "DT_INT32"}}},
        {"name": "s", "op": "Shape", "attr": {"T": {"type": "DT_FLOAT"}}},
        {"name": "u", "op": "Unique", "attr": {"T": {"type": "DT_FLOAT"}, "out_idx": {"type": "DT_INT32"}}},
        {"name": "p", "op": "Split", "attr": {"T": {"type": "DT_BOOL"}, "num_split": {"i": "3"}}},
        {"name": "n", "op": "IsNan", "attr": {"T": {"type": "DT_FLOAT"}}},
    ]})
    want = {"c": ["int32"], "s": ["int32"], "u": ["float32", "int32"], "p": ["bool"] * 3, "n": ["bool"]}
    for name, dtypes in want.items():
        assert declared_dtypes(g.nodes[name]) == dtypes, name


# Converter ops with no mapping yet (issue 11 listed them; the TF-DF ops were the last, loader/tfdf.py);
# the test fails when one is added without being removed here, or when a mapped op goes missing.
NOT_MAPPED: set[str] = set()


def test_converter_op_coverage():
    from loader.dynamic import DYNAMIC_GRAPH_OPS
    from loader.executor import GRAPH_OPS
    from loader.op_mapping import OPS
    ops = set(converter_ops())
    try:                                     # the live list, when the converter is installed
        import tensorflowjs  # type: ignore[import-not-found]
        live = {e["tfOpName"] for f in (Path(tensorflowjs.__file__).parent / "op_list").glob("*.json")
                for e in json.loads(f.read_text())}
        assert live == ops
    except ImportError:
        pass
    missing = ops - set(OPS) - GRAPH_OPS - DYNAMIC_GRAPH_OPS
    assert len(ops) == 248
    assert missing == NOT_MAPPED, f"newly mapped: {sorted(NOT_MAPPED - missing)}; lost: {sorted(missing - NOT_MAPPED)}"


def _int_graph(tmp_path, first_op: dict) -> Path:
    import numpy as np
    from model_builder import const, model_json, placeholder, signature, write
    nodes = [const("w", "int32"), placeholder("x", [2, 3], "int32"), first_op,
             {"name": "add", "op": "AddV2", "input": ["mm", "mm"], "attr": {"T": {"type": "DT_INT32"}}},
             {"name": "Identity", "op": "Identity", "input": ["add"], "attr": {"T": {"type": "DT_INT32"}}}]
    w = (np.arange(12, dtype=np.int32).reshape(3, 4) * 7919 + (1 << 25)).astype(np.int32)
    doc, files = model_json(nodes, {"w": w}, signature({"x": ("x:0", [2, 3], "int32")}, {"y": ("Identity:0", [2, 4], "int32")}))
    write(tmp_path, doc, files)
    return tmp_path


def test_a_dtype_the_graph_does_not_declare_is_reported_at_its_node(tmp_path):
    import numpy as np
    from loader import load_graph_model
    # 'mm' is a Cast to float32 (as declared); 'add' declares T=int32 but adds two float32s
    folder = _int_graph(tmp_path, {"name": "mm", "op": "Cast", "input": ["w"],
                                   "attr": {"SrcT": {"type": "DT_INT32"}, "DstT": {"type": "DT_FLOAT"}}})
    # at load, the edge that contradicts its consumer's OpDef: strict refuses the file, naming the node
    from loader.errors import GraphError
    with pytest.raises(GraphError, match=r"add \(AddV2\): input 0 \(mm:0, Cast\) is declared float32 but AddV2 "
                                         r"takes int32 there"):
        load_graph_model(folder, backend="numpy", strict=True)
    # not strict: one warning at load, and the run-time check names the node whose output disagrees
    with pytest.warns(RuntimeWarning, match="contradicts itself"):
        model = load_graph_model(folder, backend="numpy")
    with pytest.warns(RuntimeWarning, match="'add' \\(AddV2\\) output 0 is float32 but the graph declares int32"):
        model.predict(np.ones((2, 3), np.int32))
    model.dispose()


@pytest.mark.parametrize("backend", ["numpy", "gl"])
def test_int32_matmul_is_exact_and_int32(tmp_path, backend, gl):
    """Issue 11's spatial-transformer failure: an int32 MatMul (index arithmetic) feeding an int32 AddV2."""
    import numpy as np
    from loader import load_graph_model
    folder = _int_graph(tmp_path, {"name": "mm", "op": "MatMul", "input": ["x", "w"], "attr": {"T": {"type": "DT_INT32"}}})
    rng = np.random.default_rng(5)
    x = rng.integers(-(1 << 20), 1 << 20, (2, 3)).astype(np.int32)
    w = (np.arange(12, dtype=np.int64).reshape(3, 4) * 7919 + (1 << 25))
    want = (2 * (x.astype(np.int64) @ w)).astype(np.int32)          # wraps mod 2^32, as TF's int32 does
    assert np.any(np.abs(x.astype(np.int64) @ w) > 2**31)             # the products do overflow
    model = load_graph_model(folder, backend=gl if backend == "gl" else "numpy", strict=True)
    try:
        got = model.predict({"x": x})["Identity:0"]
    finally:
        model.dispose()
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("folder", OWN + SHARED, ids=_id)
def test_no_edge_contradicts_its_consumers_op_def(folder):
    """The load-time check (declared_types.input_dtype_problems) finds nothing in real converted models."""
    from loader.declared_types import input_dtype_problems
    graph = Graph.from_topology(json.loads((folder / "model.json").read_text())["modelTopology"])
    assert input_dtype_problems(graph.nodes) == []
