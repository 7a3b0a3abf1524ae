"""SparseFillEmptyRows, SparseReshape, SparseSegmentSum and SparseSegmentMean (gpu_backend/reference/sparse.py).

Three kinds of evidence: TF's own outputs and refusals (fixtures/sparse_goldens.npz, written by
fixtures/make_sparse_goldens.py), random inputs against the plain loops below (written from the ops'
definitions, sharing nothing with the kernels), and a model.json graph run under strict=True on the GL
and numpy backends, which checks the nodes are placed on the host and that the int64 outputs TF declares
come back as this project's int32.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import model_builder as mb
from golden_io import Golden, coverage, load_golden
from gpu_backend.errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from gpu_backend.numpy_backend import run_reference
from gpu_backend.registry import GL_KERNELS, HOST_KERNELS
from loader import load_graph_model

GOLDENS = Path(__file__).resolve().parent / "fixtures" / "sparse_goldens.npz"
OPS = ("SparseFillEmptyRows", "SparseReshape", "SparseSegmentSum", "SparseSegmentMean")

with np.load(GOLDENS) as _z:
    CASES = sorted({k.split("/")[0] for k in _z.files})

# Every case TF refused: (a phrase of TF's message, which says the golden is the refusal we think it is;
# a pattern of our message).  A golden error without an entry here, or an entry TF did not refuse, fails.
_SEG_ERRORS = {
    "unsorted": ("not increasing", r"segment_ids must be sorted .*segment_ids\[1\] = 0 follows 1"),
    "negative_last_id": ("must be >= 0", r"last segment id is -1; segment ids must be >= 0"),
    "negative_first_id": ("Segment id -1 out of range", r"segment id -1 \(segment_ids\[0\]\) is outside \[0, 1\)"),
    "index_out_of_range": ("indices[1] == 4", r"indices\[1\] = 4 is outside \[0, 4\)"),
    "negative_index": ("indices[1] == -1", r"indices\[1\] = -1 is outside \[0, 4\)"),
    "bad_index_before_unsorted": ("indices[0] == 5", r"indices\[0\] = 5 is outside \[0, 4\)"),
    "length_mismatch": ("same size", r"2 indices but 1 segment_ids"),
    "empty_data": ("indices[0] == 0 out of range [0, 0)", r"indices\[0\] = 0 is outside \[0, 0\)"),
}
ERRORS: dict[str, tuple[str, str]] = {
    "fill_zero_rows_nonempty": ("dense_shape[0] = 0", r"dense_shape \[0, 4\] has no rows but indices has 1 entries"),
    "fill_row_out_of_range": ("indices(1, 0) is invalid", r"indices\[1\] = \[5, 0\] has row 5, outside \[0, 5\)"),
    "fill_negative_row": ("indices(0, 0) is invalid", r"indices\[0\] = \[-1, 1\] has row -1, outside \[0, 5\)"),
    "fill_rank_mismatch": ("second dimension of `indices`", r"dense_shape \[3, 4\] has rank 2 but indices give 3"),
    "fill_values_mismatch": ("length of `values` (2)", r"2 values for 1 indices"),
    "rs_two_unknown": ("only one output dimension may be -1", r"-1 at dims \[0, 1\]; only one dimension"),
    "rs_size_mismatch": ("requested shape has 10", r"holds 12 dense values but new_shape \[5, 2\] holds 10"),
    "rs_not_multiple": ("multiple of 5", r"12 dense values, not a multiple of 5"),
    "rs_negative_size": ("must be non-negative, not -2", r"has size -2 at dim 0"),
    "rs_empty_dense_cannot_infer": ("cannot infer the missing input size", r"cannot infer the -1 .* multiply to 0"),
    "rs_entries_in_empty_dense": ("1 non zero elements", r"1 entries cannot be re-indexed .* both hold no dense"),
    "rs_rank_mismatch": ("rank must match", r"give 3 coordinates per entry but input_shape \[3, 4\] has rank 2"),
    **{f"{tag}_{k}": v for tag in ("sum", "mean") for k, v in _SEG_ERRORS.items()},
}


def golden(case: str) -> Golden:
    return load_golden(GOLDENS, case)


def test_goldens_cover_each_op_with_results_and_refusals():
    by_op = coverage(GOLDENS, CASES, OPS)
    assert all(c["ok"] >= 4 and c["error"] >= 3 for c in by_op.values()), by_op
    assert {c for c in CASES if golden(c)[4]} == set(ERRORS)


@pytest.mark.parametrize("case", CASES)
def test_reference_matches_tensorflow(case):
    op, inputs, attrs, want, tf_error = golden(case)
    before = [a.copy() for a in inputs]
    if tf_error is not None:
        tf_phrase, ours = ERRORS[case]
        assert tf_phrase in tf_error, f"{case}: TF refused for another reason: {tf_error}"
        with pytest.raises(ShapeError, match=re.escape(op) + ": .*" + ours):
            run_reference(op, inputs, attrs)
        return
    got = run_reference(op, inputs, attrs)
    assert want is not None and len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape, f"{case} output {k}: shape {g.shape}, TF {w.shape}"
        if w.dtype == np.int64:        # TF's int64 indices/shapes are int32 in this project
            assert g.dtype == np.int32, f"{case} output {k}: {g.dtype}"
        else:
            assert g.dtype == w.dtype, f"{case} output {k}: {g.dtype}, TF {w.dtype}"
        if w.dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, err_msg=f"{case} output {k}")
        else:
            np.testing.assert_array_equal(g, w, err_msg=f"{case} output {k}")
    for a, b in zip(inputs, before):
        np.testing.assert_array_equal(a, b, err_msg=f"{case}: the kernel modified an input")
    assert all(not np.shares_memory(g, a) for g in got for a in inputs), f"{case}: an output is a view of an input"


# ----------------------------------------------------------------- plain loops, from the definitions

def loop_fill_empty_rows(idx, vals, shape, default):
    rows, rank = int(shape[0]), len(shape)
    out_idx, out_val, empty, where = [], [], [], [0] * len(vals)
    for r in range(rows):
        mine = [i for i in range(len(vals)) if idx[i][0] == r]
        empty.append(not mine)
        if not mine:
            out_idx.append([r] + [0] * (rank - 1))
            out_val.append(default)
        for i in mine:
            where[i] = len(out_idx)
            out_idx.append(list(idx[i]))
            out_val.append(vals[i])
    return (np.array(out_idx, np.int32).reshape(-1, rank), np.array(out_val, vals.dtype), np.array(empty, bool),
            np.array(where, np.int32))


def loop_reshape(idx, old, new):
    if -1 in new:
        k = new.index(-1)
        known = int(np.prod([d for d in new if d != -1]))
        new = new[:k] + [int(np.prod(old)) // known] + new[k + 1:]
    out = []
    for entry in idx:
        linear = 0
        for c, d in zip(entry, old):
            linear = linear * d + int(c)
        coords = []
        for d in reversed(new):
            coords.append(linear % d)
            linear //= d
        out.append(coords[::-1])
    return np.array(out, np.int32).reshape(-1, len(new)), np.array(new, np.int32)


def loop_segment(data, idx, ids, mean):
    rows = int(ids[-1]) + 1 if len(ids) else 0
    sums = {s: np.zeros(data.shape[1:], np.float64) for s in range(rows)}
    counts = dict.fromkeys(range(rows), 0)
    for j, s in zip(idx, ids):
        sums[int(s)] += data[int(j)]
        counts[int(s)] += 1
    out = np.zeros((rows,) + data.shape[1:], np.float64)
    for s in range(rows):
        out[s] = sums[s] / counts[s] if mean and counts[s] else sums[s]
    return out.astype(data.dtype)


@pytest.mark.parametrize("seed", range(6))
def test_fill_empty_rows_matches_a_loop(seed):
    rng = np.random.default_rng(seed)
    rank = 1 + seed % 3
    shape = rng.integers(1, 9, rank).astype(np.int32)
    n = int(rng.integers(0, 3 * shape[0]))
    idx = np.stack([rng.integers(0, d, n) for d in shape], 1).astype(np.int32).reshape(n, rank)
    vals = rng.standard_normal(n).astype(np.float32) if seed % 2 else rng.integers(-9, 9, n).astype(np.int32)
    default = np.array(7, vals.dtype)
    got = run_reference("SparseFillEmptyRows", [idx, vals, shape, default], {})
    want = loop_fill_empty_rows(idx.tolist(), vals, shape.tolist(), default[()])
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.dtype == w.dtype, k
        np.testing.assert_array_equal(g, w, err_msg=f"seed {seed} output {k}")
    np.testing.assert_array_equal(got[1][got[3]], vals)     # reverse_index_map points at each input value


@pytest.mark.parametrize("seed", range(6))
def test_reshape_matches_a_loop(seed):
    rng = np.random.default_rng(100 + seed)
    old = rng.integers(1, 6, 1 + seed % 4).tolist()
    size = int(np.prod(old))
    dims = [f for f in range(1, size + 1) if size % f == 0]
    a = int(rng.choice(dims))
    new = [a, -1] if seed % 2 else [size // a, a]
    if seed >= 4:
        new = [1] + new + [1]
    n = int(rng.integers(0, size + 1))
    flat = rng.choice(size, n, replace=False)
    idx = np.stack(np.unravel_index(flat, old), 1).astype(np.int32).reshape(n, len(old))
    got = run_reference("SparseReshape", [idx, np.array(old, np.int32), np.array(new, np.int32)], {})
    want = loop_reshape(idx.tolist(), old, new)
    for g, w in zip(got, want):
        assert g.dtype == np.int32
        np.testing.assert_array_equal(g, w, err_msg=f"seed {seed}: {old} -> {new}")


@pytest.mark.parametrize("op", ["SparseSegmentSum", "SparseSegmentMean"])
@pytest.mark.parametrize("seed", range(5))
def test_segment_reductions_match_a_loop(op, seed):
    rng = np.random.default_rng(200 + seed)
    shape = (int(rng.integers(1, 12)),) + tuple(int(d) for d in rng.integers(1, 4, seed % 3))
    ints = op == "SparseSegmentSum" and seed % 2 == 1
    data = rng.integers(-50, 50, shape).astype(np.int32) if ints else rng.standard_normal(shape).astype(np.float32)
    n = int(rng.integers(0, 30))
    idx = rng.integers(0, shape[0], n).astype(np.int32)
    ids = np.sort(rng.integers(0, 10, n)).astype(np.int32)
    (got,) = run_reference(op, [data, idx, ids], {})
    want = loop_segment(data, idx, ids, op == "SparseSegmentMean")
    assert got.dtype == data.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


# ----------------------------------------------------------------- refusals TF's type system makes for it

def test_refusals_beyond_the_goldens():
    d = np.ones((3, 2), np.float32)
    i = np.array([0, 1], np.int32)
    with pytest.raises(UnsupportedDTypeError, match="SparseSegmentMean: data must be float, got int32"):
        run_reference("SparseSegmentMean", [d.astype(np.int32), i, i], {})
    with pytest.raises(UnsupportedDTypeError, match="SparseSegmentSum: data must be numeric, got bool"):
        run_reference("SparseSegmentSum", [d > 0, i, i], {})
    with pytest.raises(UnsupportedDTypeError, match="segment_ids must be an integer tensor"):
        run_reference("SparseSegmentSum", [d, i, i.astype(np.float32)], {})
    with pytest.raises(AttributeValueError, match="sparse_gradient must be a bool"):
        run_reference("SparseSegmentSum", [d, i, i], {"sparse_gradient": "yes"})
    with pytest.raises(ShapeError, match="data must have rank >= 1"):
        run_reference("SparseSegmentSum", [np.float32(1), i, i], {})
    with pytest.raises(UnsupportedDTypeError, match=r"default_value \(int32\) and values \(float32\)"):
        run_reference("SparseFillEmptyRows", [np.zeros((1, 1), np.int32), np.ones(1, np.float32),
                                               np.array([2], np.int32), np.array(0, np.int32)], {})
    with pytest.raises(ShapeError, match="default_value must be a scalar"):
        run_reference("SparseFillEmptyRows", [np.zeros((1, 1), np.int32), np.ones(1, np.float32),
                                               np.array([2], np.int32), np.zeros(1, np.float32)], {})
    with pytest.raises(ShapeError, match="takes 3 inputs"):
        run_reference("SparseReshape", [np.zeros((1, 1), np.int32), np.array([2], np.int32)], {})
    # TF's int64 shapes can exceed int32; this runtime's int32 cannot, so it refuses instead of wrapping
    with pytest.raises(ShapeError, match="outside the int32 range"):
        run_reference("SparseReshape", [np.zeros((1, 2), np.int32), np.array([2**20, 2**20], np.int32),
                                         np.array([-1], np.int32)], {})


# ----------------------------------------------------------------- a graph through the loader

def _graph(tmp_path: Path) -> Path:
    """x -> Relu (a device op on GL) -> SparseSegmentSum/Mean; a sparse tensor -> SparseFillEmptyRows ->
    SparseReshape; the segment sum feeds an AddV2 back on the device."""
    def t(dtype: str) -> dict:
        return {"type": mb.DT[dtype]}
    seg_attrs = {"T": t("float32"), "Tidx": t("int32"), "Tsegmentids": t("int32"), "sparse_gradient": {"b": False}}
    nodes = [
        mb.placeholder("x", [5, 3]), mb.placeholder("seg_idx", [-1], "int32"), mb.placeholder("seg_ids", [-1], "int32"),
        mb.placeholder("sp_idx", [-1, 2], "int32"), mb.placeholder("sp_val", [-1]),
        mb.placeholder("sp_shape", [2], "int32"), mb.const("dflt"), mb.const("new_shape", "int32"),
        mb.op("relu", "Relu", ["x"]),
        {"name": "ssum", "op": "SparseSegmentSum", "input": ["relu", "seg_idx", "seg_ids"], "attr": seg_attrs},
        {"name": "smean", "op": "SparseSegmentMean", "input": ["relu", "seg_idx", "seg_ids"], "attr": seg_attrs},
        mb.op("twice", "AddV2", ["ssum", "ssum"]),
        mb.op("fill", "SparseFillEmptyRows", ["sp_idx", "sp_val", "sp_shape", "dflt"]),
        {"name": "rs", "op": "SparseReshape", "input": ["fill", "sp_shape", "new_shape"], "attr": {}},
    ]
    outs = {"twice": ("twice", "float32"), "smean": ("smean", "float32"), "fill_idx": ("fill:0", "int32"),
            "fill_val": ("fill:1", "float32"), "fill_empty": ("fill:2", "bool"), "fill_rev": ("fill:3", "int32"),
            "rs_idx": ("rs:0", "int32"), "rs_shape": ("rs:1", "int32")}
    for k, (ref, dtype) in outs.items():
        nodes.append({"name": f"out_{k}", "op": "Identity", "input": [ref], "attr": {"T": t(dtype)}})
    sig = mb.signature({"x": ("x:0", [5, 3], "float32"), "seg_idx": ("seg_idx:0", [-1], "int32"),
                        "seg_ids": ("seg_ids:0", [-1], "int32"), "sp_idx": ("sp_idx:0", [-1, 2], "int32"),
                        "sp_val": ("sp_val:0", [-1], "float32"), "sp_shape": ("sp_shape:0", [2], "int32")},
                       {k: (f"out_{k}:0", [-1], d) for k, (_, d) in outs.items()})
    doc, files = mb.model_json(nodes, {"dflt": np.array(-1, np.float32), "new_shape": np.array([-1, 2], np.int32)}, sig)
    return mb.write(tmp_path / "sparse", doc, files)


def _feeds(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Same shapes every call, different values, so the outputs' sizes change between runs."""
    ids = np.sort(rng.integers(0, 6, 8)).astype(np.int32)
    return {"x": rng.standard_normal((5, 3)).astype(np.float32), "seg_idx": rng.integers(0, 5, 8).astype(np.int32),
            "seg_ids": ids, "sp_idx": np.stack([rng.integers(0, 6, 4), rng.integers(0, 4, 4)], 1).astype(np.int32),
            "sp_val": rng.standard_normal(4).astype(np.float32), "sp_shape": np.array([6, 4], np.int32)}


def _expected(f: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    relu = np.maximum(f["x"], 0)
    fill = loop_fill_empty_rows(f["sp_idx"].tolist(), f["sp_val"], f["sp_shape"].tolist(), np.float32(-1))
    rs = loop_reshape(fill[0].tolist(), f["sp_shape"].tolist(), [-1, 2])
    ssum = loop_segment(relu, f["seg_idx"], f["seg_ids"], mean=False)
    return {"twice": ssum + ssum, "smean": loop_segment(relu, f["seg_idx"], f["seg_ids"], mean=True),
            "fill_idx": fill[0], "fill_val": fill[1], "fill_empty": fill[2], "fill_rev": fill[3],
            "rs_idx": rs[0], "rs_shape": rs[1]}


@pytest.mark.parametrize("backend", ["gl", "numpy"])
def test_graph_runs_the_sparse_ops_on_the_host(tmp_path, request, backend):
    assert set(OPS) <= set(HOST_KERNELS.names()) and not set(OPS) & set(GL_KERNELS.names())
    b = request.getfixturevalue("gl") if backend == "gl" else request.getfixturevalue("ref")
    model = load_graph_model(_graph(tmp_path), backend=b, strict=True)
    try:
        kinds = {name: model.executor.plans[name].kind for name in ("fill", "rs", "ssum", "smean")}
        # host kernels are placed on the host on every backend (on GL: not a numpy fallback, which
        # strict=True would refuse)
        assert kinds == dict.fromkeys(kinds, "host"), kinds
        assert model.executor.plans["relu"].kind == "device"
        rng = np.random.default_rng(5)
        sizes = set()
        for run in range(3):                          # later runs must not replay the first one's sizes
            feeds = _feeds(rng)
            got = model.predict(feeds)
            want = _expected(feeds)
            for k, w in want.items():
                g = got[f"out_{k}:0"]
                assert g.dtype == w.dtype and g.shape == w.shape, (run, k, g.dtype, g.shape, w.shape)
                np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6, err_msg=f"run {run} {k}")
            sizes.add((got["out_fill_idx:0"].shape, got["out_twice:0"].shape))
            stats = model.executor.last_stats
            assert stats.fallback_kernels == 0
            if backend == "gl":
                assert stats.host_kernels == 4 and not stats.replayed
        assert len(sizes) > 1, "the feeds did not change the output sizes; the test would not see a stale replay"
    finally:
        model.dispose()
