"""RaggedRange, RaggedGather and RaggedTensorToTensor (gpu_backend/reference/ragged.py).

Three kinds of evidence: TF's own outputs and refusals (fixtures/ragged_goldens.npz, written by
fixtures/make_ragged_goldens.py), random inputs against the plain nested-list loops below (written from
the ops' definitions, sharing nothing with the kernels), and a model.json graph run under strict=True on
the GL and numpy backends, which checks the nodes are placed on the host and that the int64 splits TF
declares come back as this project's int32.
"""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import model_builder as mb
from golden_io import Golden, coverage, load_golden
from gpu_backend.errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from gpu_backend.numpy_backend import run_reference
from gpu_backend.registry import GL_KERNELS, HOST_KERNELS
from loader import load_graph_model
from loader.dynamic import DATA_DEPENDENT_OPS
from loader.errors import ModelLoadError

GOLDENS = Path(__file__).resolve().parent / "fixtures" / "ragged_goldens.npz"
OPS = ("RaggedRange", "RaggedGather", "RaggedTensorToTensor")

with np.load(GOLDENS) as _z:
    CASES = sorted({k.split("/")[0] for k in _z.files})

A, S = AttributeValueError, ShapeError
# Every case TF refused: (a phrase of TF's message, which says the golden is the refusal we think it is; the
# error class we raise; a pattern of our message).  A golden error without an entry here, or an entry TF did
# not refuse, fails.
ERRORS: dict[str, tuple[str, type[Exception], str]] = {
    "range_zero_delta": ("Requires delta != 0", S, r"deltas\[1\] is 0; a range needs a nonzero step"),
    "range_length_mismatch": ("must have the same shape", S, r"scalars or vectors of one length, got shapes \[2\], \[3\]"),
    "range_matrix_starts": ("starts must be a scalar or vector", S, r"starts must be a scalar or a vector, got shape \[1, 2\]"),
    "range_float_infinite": ("Requires ((limit - start) / delta)", S, r"row 0, range\(0.0, inf, 1.0\), has no finite size"),
    "gather_index_out_of_range": ("indices[0] = 3 is not in [0, 3)", S, r"indices\[0\] = 3 is not in \[0, 3\)"),
    "gather_negative_index": ("indices[1] = -1 is not in [0, 3)", S, r"indices\[1\] = -1 is not in \[0, 3\)"),
    "gather_rank2_index_out_of_range": ("indices[1,0] = 3", S, r"indices\[1, 0\] = 3 is not in \[0, 3\)"),
    "gather_unsorted_splits": ("must be sorted", S, r"params_nested_splits\[0\] must be sorted; entry 2 = 2 follows 3"),
    "gather_unsorted_outer_splits": ("must be sorted", S, r"params_nested_splits\[0\] must be sorted; entry 2 = 1 follows 2"),
    "gather_splits_past_values": ("must not point past values", S,
                                  r"params_nested_splits\[0\] ends at 7, past the 5 entries of params_dense_values"),
    "gather_empty_splits": ("may not be empty", S, r"params_nested_splits\[0\] is empty"),
    "gather_negative_splits": ("must be non-negative", S, r"params_nested_splits\[0\] starts at -1; splits must be >= 0"),
    "gather_scalar_values": ("params.rank must be nonzero", S, r"params_dense_values must have rank >= 1"),
    "tt_row_lengths": ("Cannot handle type ROW_LENGTHS", A, r"ROW_LENGTHS, which TensorFlow's kernel does not handle"),
    "tt_row_starts": ("Cannot handle type ROW_STARTS", A, r"ROW_STARTS, which TensorFlow's kernel does not handle"),
    "tt_unknown_type": ("Unknown string for partition info type", A, r"'UNIFORM_ROW_LENGTH', not a partition type"),
    "tt_rowids_first": ("Cannot handle VALUE_ROWIDS in first dimension", A, r"starts with VALUE_ROWIDS"),
    "tt_first_dim_size_not_first": ("Cannot handle partition type FIRST_DIM_SIZE", A,
                                    r"row_partition_types\[1\] is FIRST_DIM_SIZE; it can only be the first"),
    "tt_no_types": ("No row_partition_types given", A, r"no row_partition_types given"),
    "tt_shape_rank_mismatch": ("rt_input.rank = 2 but shape.rank = 3", S,
                               r"shape \[-1, -1, -1\] has rank 3 but the ragged tensor has rank 2"),
    "tt_empty_shape": ("rt_input.rank = 2 but shape.rank = 0", S, r"shape \[\] has rank 0 but the ragged tensor has rank 2"),
    "tt_scalar_shape_not_minus_one": ("only valid scalar shape", S, r"a scalar shape must be -1 .*got 3"),
    "tt_shape_below_minus_one": ("Dimension -2 must be >= -1", S, r"shape \[-2, -1\] has -2 at dim 0"),
    "tt_inner_dim_mismatch": ("rt_input.shape[2] = 2 but shape[2] = 3", S,
                              r"asks for 3 at dim 2, but the values' inner dimension there is 2"),
    "tt_default_incompatible": ("default_value.shape[-1] = 3", S, r"default_value of shape \[3\] does not broadcast"),
    "tt_default_rank_too_high": ("default_value.rank = 2  must be less than", S,
                                 r"default_value of shape \[1, 2\] does not broadcast"),
    "tt_scalar_values": ("flat_values.rank = 0", S, r"values must have rank >= 1, got a scalar"),
    "tt_unsorted_splits": ("Invalid row split size", S, r"\(ROW_SPLITS\) must be sorted; entry 2 = 2 follows 3"),
    "tt_splits_not_from_zero": ("Invalid row split size", S, r"\(ROW_SPLITS\) starts at 1; row splits must start at 0"),
    "tt_empty_splits": ("requires at least one element", S, r"row_partition_tensors\[0\] \(ROW_SPLITS\) is empty"),
    "tt_rowid_too_large": ("next_value_rowid=2 which is not less than 2", S, r"\(VALUE_ROWIDS\)\[2\] = 2 is not in \[0, 2\)"),
    "tt_negative_rowid": ("next_value_rowid=-1", S, r"\(VALUE_ROWIDS\)\[2\] = -1 is not in \[0, 3\)"),
    "tt_negative_first_dim_size": ("Dimension -1 must be >= 0", S, r"FIRST_DIM_SIZE is -1"),
    "tt_inner_rows_exceed_outer": ("Row partition size is greater than output size: 3 > 2", S,
                                   r"row_partition_tensors\[1\] \(ROW_SPLITS\) has 3 rows but the level above has only 2"),
}


def golden(case: str) -> Golden:
    return load_golden(GOLDENS, case)


def test_goldens_cover_each_op_with_results_and_refusals():
    by_op = coverage(GOLDENS, CASES, OPS)
    assert all(c["ok"] >= 8 and c["error"] >= 4 for c in by_op.values()), by_op
    assert {c for c in CASES if golden(c)[4]} == set(ERRORS)


@pytest.mark.parametrize("case", CASES)
def test_reference_matches_tensorflow(case):
    op, inputs, attrs, want, tf_error = golden(case)
    before = [a.copy() for a in inputs]
    if tf_error is not None:
        tf_phrase, cls, ours = ERRORS[case]
        assert tf_phrase in tf_error, f"{case}: TF refused for another reason: {tf_error}"
        with pytest.raises(cls, match=re.escape(op) + ": .*" + ours):
            run_reference(op, inputs, attrs)
        return
    got = run_reference(op, inputs, attrs)
    assert want is not None and len(got) == len(want), (len(got), None if want is None else len(want))
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape, f"{case} output {k}: shape {g.shape}, TF {w.shape}"
        if w.dtype == np.int64:        # TF's int64 splits are int32 in this project
            assert g.dtype == np.int32, f"{case} output {k}: {g.dtype}"
        else:
            assert g.dtype == w.dtype, f"{case} output {k}: {g.dtype}, TF {w.dtype}"
        np.testing.assert_array_equal(g, w, err_msg=f"{case} output {k}")     # exact, floats included
    for a, b in zip(inputs, before):
        np.testing.assert_array_equal(a, b, err_msg=f"{case}: the kernel modified an input")
    assert all(not np.shares_memory(g, a) for g in got for a in inputs), f"{case}: an output is a view of an input"


# ----------------------------------------------------------------- plain loops, from the definitions

def nested(splits: list[np.ndarray], values: np.ndarray) -> list:
    """A ragged tensor as nested Python lists (the rows of values at the innermost level)."""
    rows: list = list(values)
    for s in reversed(splits):
        rows = [rows[int(s[i]):int(s[i + 1])] for i in range(len(s) - 1)]
    return rows


def from_nested(rows: list, ragged_rank: int, inner: tuple[int, ...], dtype: Any) -> tuple[list[np.ndarray], np.ndarray]:
    """Nested lists (ragged_rank levels of lists above the value rows) -> (splits, values)."""
    splits: list[np.ndarray] = []
    level = rows
    for _ in range(ragged_rank):
        splits.append(np.array([0] + list(np.cumsum([len(r) for r in level])), np.int32))
        level = [x for r in level for x in r]
    return splits, np.array(level, dtype).reshape((len(level),) + inner)


def loop_range(starts, limits, deltas):
    n = max(np.size(a) for a in (starts, limits, deltas))
    rows = []
    for i in range(n):
        s, lim, d = (a.reshape(-1)[i if a.ndim else 0] for a in (starts, limits, deltas))
        row, x = [], s
        while (d > 0 and x < lim) or (d < 0 and x > lim):
            row.append(x)
            x = x + d
        rows.append(row)
    return from_nested(rows, 1, (), starts.dtype)


def loop_gather(splits, values, indices):
    params = nested(splits, values)
    def pick(ix):
        return params[int(ix)] if np.ndim(ix) == 0 else [pick(j) for j in ix]
    return from_nested(pick(indices), indices.ndim - 1 + len(splits), values.shape[1:], values.dtype)


def loop_to_tensor(rows: list, dims: list[int], inner: tuple[int, ...], default: np.ndarray, dtype: Any) -> np.ndarray:
    """Dense [*dims, *inner]: row i of a level goes to index i when i < the dim, the rest is default."""
    def dense(level: Any, depth: int) -> np.ndarray:
        if depth == len(dims):
            return np.array(level, dtype)
        out = [dense(level[i], depth + 1) if i < len(level) else None for i in range(dims[depth])]
        fill = np.broadcast_to(default, (*dims[depth + 1:], *inner)).astype(dtype)
        return np.array([fill if o is None else o for o in out], dtype).reshape((dims[depth], *dims[depth + 1:], *inner))
    return dense(rows, 0)


def random_ragged(rng: np.random.Generator, ragged_rank: int, nrows: int, inner: tuple[int, ...]) -> list:
    """Nested lists with empty rows now and then; the value rows are float32 arrays of shape inner."""
    if ragged_rank == 0:
        return [rng.standard_normal(inner).astype(np.float32) for _ in range(nrows)]
    return [random_ragged(rng, ragged_rank - 1, int(rng.integers(0, 4)), inner) for _ in range(nrows)]


def widths(rows: list, ragged_rank: int) -> list[int]:
    """Longest row at each ragged level (what a -1 dimension becomes)."""
    out, level = [len(rows)], rows
    for _ in range(ragged_rank):
        out.append(max((len(r) for r in level), default=0))
        level = [x for r in level for x in r]
    return out


@pytest.mark.parametrize("seed", range(6))
def test_range_matches_a_loop(seed):
    rng = np.random.default_rng(300 + seed)
    n = int(rng.integers(0, 12))
    floats = seed % 2 == 1
    dtype = np.float32 if floats else np.int32
    starts = rng.integers(-10, 10, n).astype(dtype)
    limits = rng.integers(-10, 10, n).astype(dtype)
    # float steps are powers of two, so repeated addition is exact and TF's ceil-size rule equals the loop's
    deltas = (rng.choice([-0.5, -0.25, 0.25, 1.0], n) if floats else rng.choice([-3, -1, 1, 2, 4], n)).astype(dtype)
    if seed >= 4:
        starts = starts[:1].reshape(()) if n else np.array(0, dtype)     # scalar start, broadcast
    splits, values = run_reference("RaggedRange", [starts, limits, deltas], {})
    (want_splits,), want_values = loop_range(starts, limits, deltas)
    assert splits.dtype == np.int32 and values.dtype == dtype
    np.testing.assert_array_equal(splits, want_splits)
    np.testing.assert_array_equal(values, want_values)


@pytest.mark.parametrize("seed", range(6))
def test_gather_matches_a_loop(seed):
    rng = np.random.default_rng(400 + seed)
    ragged_rank = 1 + seed % 3
    inner = ((), (2,), (1, 3))[seed % 3]
    rows = random_ragged(rng, ragged_rank, int(rng.integers(1, 8)), inner)
    splits, values = from_nested(rows, ragged_rank, inner, np.float32)
    idx_shape = [(), (7,), (3, 2), (2, 0)][seed % 4]
    indices = rng.integers(0, len(rows), idx_shape).astype(np.int32)
    got = run_reference("RaggedGather", [*splits, values, indices], {})
    want_splits, want_values = loop_gather(splits, values, indices)
    assert len(got) == len(want_splits) + 1 == indices.ndim + ragged_rank
    for g, w in zip(got[:-1], want_splits):
        assert g.dtype == np.int32
        np.testing.assert_array_equal(g, w)
    assert got[-1].shape == want_values.shape
    np.testing.assert_array_equal(got[-1], want_values)


@pytest.mark.parametrize("seed", range(8))
def test_to_tensor_matches_a_loop(seed):
    rng = np.random.default_rng(500 + seed)
    ragged_rank = 1 + seed % 2
    inner = ((), (2,))[seed // 2 % 2]
    rows = random_ragged(rng, ragged_rank, int(rng.integers(0, 7)), inner)
    splits, values = from_nested(rows, ragged_rank, inner, np.float32)
    full = widths(rows, ragged_rank)
    # some dims inferred (-1), some smaller (truncation) or larger (padding) than the data's
    dims = [[-1, int(rng.integers(0, w + 3))][int(rng.integers(0, 2))] for w in full]
    shape = dims + [-1] * len(inner) if seed < 6 else dims + list(inner)
    default = rng.standard_normal(inner[-1:] if seed % 3 == 0 else ()).astype(np.float32)
    if seed >= 4:                        # first level as FIRST_DIM_SIZE + VALUE_ROWIDS
        rowids = np.repeat(np.arange(len(splits[0]) - 1), np.diff(splits[0])).astype(np.int32)
        parts = [np.array(len(rows), np.int32), rowids, *splits[1:]]
        types = ["FIRST_DIM_SIZE", "VALUE_ROWIDS"] + ["ROW_SPLITS"] * (ragged_rank - 1)
    else:
        parts, types = list(splits), ["ROW_SPLITS"] * ragged_rank
    (got,) = run_reference("RaggedTensorToTensor", [np.array(shape, np.int32), values, default, *parts],
                           {"row_partition_types": types})
    out_dims = [f if d == -1 else d for d, f in zip(dims, full)]
    want = loop_to_tensor(rows, out_dims, inner, default, np.float32)
    assert got.dtype == np.float32 and got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_array_equal(got, want)


# ----------------------------------------------------------------- refusals beyond the goldens
# Inputs TF does not check and then reads past its buffers or aborts on, and what TF's type system refuses.

def _tt(shape, values, default, parts, types):
    return run_reference("RaggedTensorToTensor", [np.array(shape, np.int32), values, default, *parts],
                         {"row_partition_types": types})


def test_refusals_beyond_the_goldens():
    v = np.arange(5, dtype=np.float32)
    i32 = np.int32
    fv = ["FIRST_DIM_SIZE", "VALUE_ROWIDS"]
    with pytest.raises(ShapeError, match=r"\(VALUE_ROWIDS\) must be sorted; entry 2 = 0 follows 2"):
        _tt([-1, -1], v, np.float32(0), [i32(3), np.array([0, 2, 0, 2, 2], i32)], fv)
    with pytest.raises(ShapeError, match="the row partitions place 6 values but values has only 5"):
        _tt([-1, -1], v, np.float32(0), [np.array([0, 2, 2, 6], i32)], ["ROW_SPLITS"])
    with pytest.raises(ShapeError, match="the row partitions place 6 values but values has only 5"):
        _tt([-1, -1], v, np.float32(0), [i32(4), np.array([0, 0, 2, 2, 2, 3], i32)], fv)
    with pytest.raises(ShapeError, match="place 7 values but values has only 5"):
        _tt([-1], v, np.float32(0), [i32(7)], ["FIRST_DIM_SIZE"])
    with pytest.raises(AttributeValueError, match=r"names 1 partitions but 2 row_partition_tensors"):
        _tt([-1, -1], v, np.float32(0), [np.array([0, 5], i32)] * 2, ["ROW_SPLITS"])
    with pytest.raises(ShapeError, match=r"\(ROW_SPLITS\) must be a vector"):
        _tt([-1, -1], v, np.float32(0), [np.array([[0, 5]], i32)], ["ROW_SPLITS"])
    with pytest.raises(UnsupportedDTypeError, match=r"default_value \(int32\) and values \(float32\)"):
        _tt([-1, -1], v, np.int32(0), [np.array([0, 5], i32)], ["ROW_SPLITS"])
    with pytest.raises(UnsupportedDTypeError, match="shape must be an integer tensor"):
        run_reference("RaggedTensorToTensor", [np.array([-1., -1.], np.float32), v, np.float32(0),
                                               np.array([0, 5], i32)], {"row_partition_types": ["ROW_SPLITS"]})
    # RaggedGather: TF aborts the process on an OUTPUT_RAGGED_RANK that does not fit the indices
    splits = np.array([0, 2, 2, 5], i32)
    with pytest.raises(AttributeValueError, match="OUTPUT_RAGGED_RANK is 1 but the inputs make it 2"):
        run_reference("RaggedGather", [splits, v, np.zeros((2, 2), i32)], {"OUTPUT_RAGGED_RANK": 1})
    with pytest.raises(AttributeValueError, match="PARAMS_RAGGED_RANK is 2 but the inputs make it 1"):
        run_reference("RaggedGather", [splits, v, np.zeros(2, i32)], {"PARAMS_RAGGED_RANK": 2})
    # outer splits past the inner rows: TF reads past its splits buffer
    with pytest.raises(ShapeError, match=r"params_nested_splits\[0\] ends at 4, past the 3 entries of the rows of "
                                         r"params_nested_splits\[1\]"):
        run_reference("RaggedGather", [np.array([0, 2, 4], i32), np.array([0, 1, 3, 5], i32), v,
                                       np.array([1], i32)], {})
    with pytest.raises(UnsupportedDTypeError, match="indices must be an integer tensor"):
        run_reference("RaggedGather", [splits, v, np.zeros(2, np.float32)], {})
    with pytest.raises(ShapeError, match="takes .* at least one splits tensor, got 2 inputs"):
        run_reference("RaggedGather", [v, np.zeros(2, i32)], {})
    with pytest.raises(UnsupportedDTypeError, match="starts, limits and deltas must have one dtype"):
        run_reference("RaggedRange", [np.int32(0), np.float32(3), np.int32(1)], {})
    with pytest.raises(UnsupportedDTypeError, match="must be a float or integer tensor, got bool"):
        run_reference("RaggedRange", [np.bool_(0), np.bool_(1), np.bool_(1)], {})
    # TF's int64 splits can exceed int32; this runtime's int32 cannot, so it refuses instead of wrapping
    with pytest.raises(ShapeError, match="more than the int32 splits this runtime uses can index"):
        run_reference("RaggedRange", [np.array([0, 0], i32), np.array([2**31 - 1, 2**31 - 1], i32), np.int32(1)], {})


# ----------------------------------------------------------------- a graph through the loader

def _t(dtype: str) -> dict:
    return {"type": mb.DT[dtype]}


def _list_s(*texts: str) -> dict:
    return {"list": {"s": [base64.b64encode(t.encode()).decode() for t in texts]}}


def _graph(tmp_path: Path, types: tuple[str, ...] = ("ROW_SPLITS", "ROW_SPLITS")) -> Path:
    """starts + 0 (a device op on GL) -> RaggedRange -> RaggedGather with rank-2 indices -> RaggedTensorToTensor
    (two ROW_SPLITS levels) -> AddV2 back on the device; and Relu(x) -> RaggedTensorToTensor with FIRST_DIM_SIZE +
    VALUE_ROWIDS, a fixed first dim (truncation/padding) and a broadcast default row."""
    I64 = {"type": "DT_INT64"}
    nodes = [
        mb.placeholder("starts", [-1], "int32"), mb.placeholder("limits", [-1], "int32"),
        mb.placeholder("idx", [-1, 2], "int32"), mb.placeholder("x", [-1, 2]), mb.placeholder("rowids", [-1], "int32"),
        mb.const("zero", "int32"), mb.const("delta", "int32"), mb.const("shape3", "int32"), mb.const("fill", "int32"),
        mb.const("shape_x", "int32"), mb.const("nrows", "int32"), mb.const("fill_x"),
        {"name": "s0", "op": "AddV2", "input": ["starts", "zero"], "attr": {"T": _t("int32")}},
        {"name": "rr", "op": "RaggedRange", "input": ["s0", "limits", "delta"], "attr": {"T": _t("int32"), "Tsplits": I64}},
        {"name": "g", "op": "RaggedGather", "input": ["rr", "rr:1", "idx"],
         "attr": {"Tvalues": _t("int32"), "Tindices": _t("int32"), "Tsplits": I64,
                  "PARAMS_RAGGED_RANK": {"i": "1"}, "OUTPUT_RAGGED_RANK": {"i": "2"}}},
        {"name": "tt", "op": "RaggedTensorToTensor", "input": ["shape3", "g:2", "fill", "g", "g:1"],
         "attr": {"T": _t("int32"), "Tindex": I64, "Tshape": _t("int32"), "num_row_partition_tensors": {"i": "2"},
                  "row_partition_types": _list_s(*types)}},
        {"name": "twice", "op": "AddV2", "input": ["tt", "tt"], "attr": {"T": _t("int32")}},
        mb.op("relu", "Relu", ["x"]),
        {"name": "tx", "op": "RaggedTensorToTensor", "input": ["shape_x", "relu", "fill_x", "nrows", "rowids"],
         "attr": {"T": _t("float32"), "Tindex": _t("int32"), "Tshape": _t("int32"),
                  "num_row_partition_tensors": {"i": "2"}, "row_partition_types": _list_s("FIRST_DIM_SIZE", "VALUE_ROWIDS")}},
    ]
    outs = {"rr_splits": ("rr:0", "int32"), "rr_values": ("rr:1", "int32"), "g_outer": ("g:0", "int32"),
            "g_inner": ("g:1", "int32"), "g_values": ("g:2", "int32"), "twice": ("twice", "int32"),
            "tx": ("tx", "float32")}
    for k, (ref, dtype) in outs.items():
        nodes.append({"name": f"out_{k}", "op": "Identity", "input": [ref], "attr": {"T": _t(dtype)}})
    sig = mb.signature({"starts": ("starts:0", [-1], "int32"), "limits": ("limits:0", [-1], "int32"),
                        "idx": ("idx:0", [-1, 2], "int32"), "x": ("x:0", [-1, 2], "float32"),
                        "rowids": ("rowids:0", [-1], "int32")},
                       {k: (f"out_{k}:0", [-1], d) for k, (_, d) in outs.items()})
    weights = {"zero": np.array(0, np.int32), "delta": np.array(2, np.int32), "shape3": np.array([-1, -1, -1], np.int32),
               "fill": np.array(-1, np.int32), "shape_x": np.array([3, -1, 2], np.int32), "nrows": np.array(4, np.int32),
               "fill_x": np.array([0.5, -0.5], np.float32)}
    doc, files = mb.model_json(nodes, weights, sig)
    return mb.write(tmp_path / "ragged", doc, files)


def _feeds(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Same shapes every call, different values, so the outputs' sizes change between runs."""
    n = 5
    return {"starts": rng.integers(-4, 4, n).astype(np.int32), "limits": rng.integers(-4, 12, n).astype(np.int32),
            "idx": rng.integers(0, n, (3, 2)).astype(np.int32), "x": rng.standard_normal((6, 2)).astype(np.float32),
            "rowids": np.sort(rng.integers(0, 4, 6)).astype(np.int32)}


def _expected(f: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    (rr_splits,), rr_values = loop_range(f["starts"], f["limits"], np.int32(2))
    (g_outer, g_inner), g_values = loop_gather([rr_splits], rr_values, f["idx"])
    rows = nested([g_outer, g_inner], g_values)
    tt = loop_to_tensor(rows, widths(rows, 2), (), np.int32(-1), np.int32)
    relu = np.maximum(f["x"], 0)
    x_rows = [[relu[j] for j in range(len(relu)) if f["rowids"][j] == r] for r in range(4)]
    tx = loop_to_tensor(x_rows, [3, widths(x_rows, 1)[1]], (2,), np.array([0.5, -0.5], np.float32), np.float32)
    return {"rr_splits": rr_splits, "rr_values": rr_values, "g_outer": g_outer, "g_inner": g_inner,
            "g_values": g_values, "twice": tt + tt, "tx": tx}


@pytest.mark.parametrize("backend", ["gl", "numpy"])
def test_graph_runs_the_ragged_ops_on_the_host(tmp_path, request, backend):
    assert set(OPS) <= set(HOST_KERNELS.names()) and not set(OPS) & set(GL_KERNELS.names())
    assert set(OPS) <= DATA_DEPENDENT_OPS
    b = request.getfixturevalue("gl") if backend == "gl" else request.getfixturevalue("ref")
    model = load_graph_model(_graph(tmp_path), backend=b, strict=True)
    try:
        kinds = {name: model.executor.plans[name].kind for name in ("rr", "g", "tt", "tx")}
        # host kernels are placed on the host on every backend (on GL: not a numpy fallback, which
        # strict=True would refuse)
        assert kinds == dict.fromkeys(kinds, "host"), kinds
        assert model.executor.plans["g"].num_outputs == 3
        assert model.executor.plans["s0"].kind == "device" and model.executor.plans["relu"].kind == "device"
        rng = np.random.default_rng(7)
        sizes = set()
        for run in range(3):                          # later runs must not replay the first one's sizes
            feeds = _feeds(rng)
            got = model.predict(feeds)
            want = _expected(feeds)
            for k, w in want.items():
                g = got[f"out_{k}:0"]
                assert g.dtype == w.dtype and g.shape == w.shape, (run, k, g.dtype, g.shape, w.shape)
                np.testing.assert_array_equal(g, w, err_msg=f"run {run} {k}")
            sizes.add((got["out_rr_values:0"].shape, got["out_twice:0"].shape, got["out_tx:0"].shape))
            stats = model.executor.last_stats
            assert stats.fallback_kernels == 0
            if backend == "gl":
                assert stats.host_kernels == 4 and not stats.replayed
        assert len(sizes) > 1, "the feeds did not change the output sizes; the test would not see a stale replay"
    finally:
        model.dispose()


def test_a_partition_type_tf_cannot_handle_fails_at_load_naming_the_node(tmp_path):
    with pytest.raises(ModelLoadError, match=r"tt \(RaggedTensorToTensor\): row_partition_types\[1\] is ROW_LENGTHS"):
        load_graph_model(_graph(tmp_path, ("ROW_SPLITS", "ROW_LENGTHS")), backend="numpy", strict=True)


# ----------------------------------------------------------------- a graph made by tensorflowjs_converter

CONVERTED = Path(__file__).resolve().parent / "fixtures" / "ragged" / "range_gather_to_tensor"


@pytest.mark.parametrize("backend", ["gl", "numpy"])
def test_converted_ragged_pipeline_matches_tensorflow(request, backend):
    """tf.ragged.range -> tf.gather -> .to_tensor() as the real converter writes it (fixtures/make_ragged_fixture.py):
    TF's recorded outputs, then other inputs against the loops, with sizes the first run did not have."""
    b = request.getfixturevalue("gl") if backend == "gl" else request.getfixturevalue("ref")
    model = load_graph_model(CONVERTED, backend=b, strict=True)
    try:
        ragged_nodes = [n for n, p in model.executor.plans.items() if p.node.op in OPS]
        assert sorted(model.executor.plans[n].node.op for n in ragged_nodes) == sorted(
            ["RaggedRange", "RaggedGather", "RaggedTensorToTensor", "RaggedTensorToTensor"])
        if backend == "gl":
            assert all(model.executor.plans[n].kind == "host" for n in ragged_nodes)
        sig = json.loads((CONVERTED / "model.json").read_text())["signature"]["outputs"]
        with np.load(CONVERTED / "inputs.npz") as z, np.load(CONVERTED / "expected.npz") as e:
            feeds, want = {k: z[k] for k in z.files}, {k: e[k] for k in e.files}
        feeds2 = {"starts": np.array([1, -2, 4], np.int32), "limits": np.array([9, 0, 4], np.int32),
                  "rows": np.array([0, 2, 1, 1, 0, 2, 2], np.int32)}
        (splits,), values = loop_range(feeds2["starts"], feeds2["limits"], np.int32(1))
        (g_splits,), g_values = loop_gather([splits], values, feeds2["rows"])
        rows, all_rows = nested([g_splits], g_values), nested([splits], values)
        want2 = {"dense": 2 * loop_to_tensor(rows, widths(rows, 1), (), np.int32(-1), np.int32),
                 "fixed": loop_to_tensor(all_rows, [3, 4], (), np.int32(7), np.int32)}
        for f, w in ((feeds, want), (feeds2, want2)):
            got = model.predict(f)
            for key, expected in w.items():
                g = got[sig[key]["name"]]
                assert g.dtype == expected.dtype and g.shape == expected.shape, (key, g.dtype, g.shape, expected.shape)
                np.testing.assert_array_equal(g, expected, err_msg=key)
        assert want["dense"].shape != want2["dense"].shape
        assert model.executor.last_stats.fallback_kernels == 0
    finally:
        model.dispose()
