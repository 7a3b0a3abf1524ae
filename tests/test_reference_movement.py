"""The numpy reference's data-movement, shape, gather/scatter and creation kernels against TensorFlow.

tests/fixtures/tf_goldens_movement.npz holds tf.raw_ops outputs recorded by
tests/fixtures/make_tf_goldens_movement.py (TF 2.19); these ops move or create values
without arithmetic (or with TF's exact float32 arithmetic), so every comparison is exact.
The rest checks what the goldens cannot: errors, out-of-range indices (TF on CPU raises
there) and the pure index helpers of gpu_backend.slicing.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import gpu_backend.reference.creation  # noqa: F401  (registers the kernels under test)
import gpu_backend.reference.gather  # noqa: F401
import gpu_backend.reference.shape_ops  # noqa: F401
import gpu_backend.reference.slicing  # noqa: F401
from conftest import assert_matches, run_ref
from gpu_backend.errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from gpu_backend.slicing import (batch_to_space_shape, concat_shape, pad_shape, python_slice, resolve_gather,
                                 resolve_slice, resolve_strided_slice, space_to_batch_shape, split_sizes, tile_shape)

GOLDENS = np.load(Path(__file__).with_name("fixtures") / "tf_goldens_movement.npz")
CASES = sorted({k.split("/")[0] for k in GOLDENS.files})


def load(case: str) -> tuple[str, list[np.ndarray], dict, list[np.ndarray]]:
    call = json.loads(str(GOLDENS[f"{case}/call"]))
    files = set(GOLDENS.files)
    inputs = []
    while f"{case}/in{len(inputs)}" in files:
        inputs.append(GOLDENS[f"{case}/in{len(inputs)}"])
    if f"{case}/out" in files:
        outs = [GOLDENS[f"{case}/out"]]
    else:
        outs = []
        while f"{case}/out{len(outs)}" in files:
            outs.append(GOLDENS[f"{case}/out{len(outs)}"])
    return call["kernel"], inputs, call["attrs"], outs


def exact(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert_matches(got, want, rtol=0, atol=0, what=what)
    if want.dtype.kind == "f":   # same bits too: -0.0 stays -0.0, NaN payloads aside
        finite = ~np.isnan(want)
        assert np.array_equal(np.signbit(got[finite]), np.signbit(want[finite])), what


def test_goldens_cover_every_kernel():
    kernels = {json.loads(str(GOLDENS[f"{c}/call"]))["kernel"] for c in CASES}
    assert kernels == {"Slice", "StridedSlice", "SplitV", "Concat", "Pack", "Unpack", "Tile", "PadV2", "Pad",
                       "MirrorPad", "Reverse", "ExpandDims", "Squeeze", "BroadcastTo", "DepthToSpace",
                       "SpaceToDepth", "SpaceToBatchND", "BatchToSpaceND", "GatherV2", "GatherNd", "ScatterNd",
                       "TensorScatterUpdate", "OneHot", "Range", "Fill", "LinSpace"}


@pytest.mark.parametrize("case", CASES)
def test_reference_matches_tensorflow(case):
    kernel, inputs, attrs, want = load(case)
    copies = [x.copy() for x in inputs]
    got = run_ref(kernel, inputs, attrs)
    assert len(got) == len(want), f"{case}: {len(got)} outputs, TF has {len(want)}"
    for k, (g, w) in enumerate(zip(got, want)):
        exact(g, w, f"{case} output {k}")
        for x in inputs:
            assert not np.shares_memory(g, x), f"{case}: output {k} is a view of an input"
    for x, c in zip(inputs, copies):
        np.testing.assert_array_equal(x, c, err_msg=f"{case} modified its input")


# ----------------------------------------------------------------------------- out-of-range indices


def test_gather_out_of_range_reads_zero():
    p = np.arange(12, dtype=np.float32).reshape(3, 4) + 1
    (got,) = run_ref("GatherV2", [p, np.array([2, -1, 3, 0], np.int32)], {"axis": 0})
    np.testing.assert_array_equal(got, np.stack([p[2], np.zeros(4), np.zeros(4), p[0]]).astype(np.float32))
    (got,) = run_ref("GatherV2", [p, np.array([[4, 1], [0, -5]], np.int32)], {"axis": 1, "batch_dims": 0})
    assert got.shape == (3, 2, 2)
    np.testing.assert_array_equal(got[:, 0, 0], 0)
    np.testing.assert_array_equal(got[:, 0, 1], p[:, 1])
    np.testing.assert_array_equal(got[:, 1, 1], 0)
    (got,) = run_ref("GatherV2", [np.zeros((0, 2), np.int32), np.array([0, 1], np.int32)], {})
    np.testing.assert_array_equal(got, np.zeros((2, 2), np.int32))


def test_gather_nd_out_of_range_rows_are_zero():
    p = (np.arange(24, dtype=np.int32).reshape(2, 3, 4) + 2**25)
    idx = np.array([[1, 2], [2, 0], [0, -1], [0, 1]], np.int32)
    (got,) = run_ref("GatherNd", [p, idx], {})
    np.testing.assert_array_equal(got, np.stack([p[1, 2], np.zeros(4, np.int32), np.zeros(4, np.int32), p[0, 1]]))


def test_scatter_nd_drops_out_of_range_and_adds_duplicates():
    idx = np.array([[1], [5], [1], [-1], [0]], np.int32)
    (got,) = run_ref("ScatterNd", [idx, np.array([1, 2, 3, 4, 5], np.int32)], {"shape": [3]})
    np.testing.assert_array_equal(got, np.array([5, 4, 0], np.int32))
    (wrap,) = run_ref("ScatterNd", [np.array([[0], [0]], np.int32), np.array([2**31 - 1, 2], np.int32)],
                      {"shape": [1]})
    np.testing.assert_array_equal(wrap, np.array([-(2**31) + 1], np.int32))


def test_tensor_scatter_update_last_wins_and_keeps_input():
    t = np.zeros((4, 2), np.float32)
    idx = np.array([[1], [9], [1], [3], [1]], np.int32)
    upd = np.arange(10, dtype=np.float32).reshape(5, 2)
    (got,) = run_ref("TensorScatterUpdate", [t, idx, upd], {})
    np.testing.assert_array_equal(got, np.array([[0, 0], [8, 9], [0, 0], [6, 7]], np.float32))
    assert not t.any()


def test_one_hot_axis_and_dtype_errors():
    with pytest.raises(AttributeValueError, match="axis"):
        run_ref("OneHot", [np.array([1, 2], np.int32)], {"depth": 3, "axis": -2})
    with pytest.raises(AttributeValueError, match="depth"):
        run_ref("OneHot", [np.array([1], np.int32)], {"depth": -1})
    with pytest.raises(UnsupportedDTypeError):
        run_ref("OneHot", [np.array([1], np.int32)], {"depth": 2, "dtype": "complex64"})
    with pytest.raises(UnsupportedDTypeError, match="indices"):
        run_ref("GatherV2", [np.ones(3, np.float32), np.array([0.0], np.float32)], {})


# --------------------------------------------------------------------------------------- bad attributes

X = np.arange(12, dtype=np.float32).reshape(3, 4)


@pytest.mark.parametrize("kernel, inputs, attrs, error, match", [
    ("MirrorPad", [X], {"paddings": [[3, 0], [0, 0]], "mode": "reflect"}, AttributeValueError, "<= 2"),
    ("MirrorPad", [X], {"paddings": [[0, 0], [0, 5]], "mode": "SYMMETRIC"}, AttributeValueError, "<= 4"),
    ("MirrorPad", [X], {"paddings": [[1, 1], [1, 1]], "mode": "edge"}, AttributeValueError, "reflect"),
    ("MirrorPad", [X], {"paddings": [[1, 1]], "mode": "reflect"}, AttributeValueError, "rank 2"),
    ("PadV2", [X], {"paddings": [[-1, 0], [0, 0]]}, AttributeValueError, "negative"),
    ("PadV2", [X], {"paddings": [[1, 2, 3], [0, 0]]}, AttributeValueError, "pairs"),
    ("Squeeze", [X.reshape(1, 3, 4)], {"axis": [1]}, ShapeError, "size is 3"),
    ("Squeeze", [X], {"axis": [2]}, AttributeValueError, "out of range"),
    ("SplitV", [X], {"num_or_size_splits": [1, 2], "axis": 1}, AttributeValueError, "add up to 3"),
    ("SplitV", [X], {"num_or_size_splits": [-1, -1, 4], "axis": 1}, AttributeValueError, "one -1"),
    ("SplitV", [X], {"num_or_size_splits": [5, -1], "axis": 1}, AttributeValueError, "more than"),
    ("SplitV", [X], {"num_or_size_splits": 3, "axis": 1}, AttributeValueError, "equal pieces"),
    ("Reverse", [X], {"dims": [0, -2]}, AttributeValueError, "more than once"),
    ("Reverse", [X], {"dims": [2]}, AttributeValueError, "out of range"),
    ("Tile", [X], {"reps": [2]}, AttributeValueError, "one entry per input dim"),
    ("Tile", [X], {"reps": [1, -1]}, AttributeValueError, "non-negative"),
    ("Slice", [X], {"begin": [0, 3], "size": [1, 2]}, AttributeValueError, "size\\[1\\]"),
    ("Slice", [X], {"begin": [-1, 0], "size": [1, 1]}, AttributeValueError, "begin\\[0\\]"),
    ("Slice", [X], {"begin": [0], "size": [1]}, AttributeValueError, "rank 2"),
    ("StridedSlice", [X], {"begin": [0], "end": [1], "strides": [0]}, AttributeValueError, "non-zero"),
    ("StridedSlice", [X], {"begin": [5], "end": [6], "strides": [1], "shrink_axis_mask": 1}, AttributeValueError,
     "out of bounds"),
    ("StridedSlice", [X], {"begin": [1], "end": [2], "strides": [-1], "shrink_axis_mask": 1}, AttributeValueError,
     "positive"),
    ("StridedSlice", [X], {"begin": [0, 0], "end": [1, 1], "strides": [1, 1], "ellipsis_mask": 3},
     AttributeValueError, "one ellipsis"),
    ("StridedSlice", [X], {"begin": [0, 0, 0], "end": [1, 1, 1], "strides": [1, 1, 1]}, ShapeError, "more dims"),
    ("StridedSlice", [X], {"begin": [0, 0], "end": [1], "strides": [1, 1]}, AttributeValueError, "same length"),
    ("Concat", [X, X[:, :2]], {"axis": 0}, ShapeError, "outside axis 0"),
    ("Concat", [X, X.astype(np.int32)], {"axis": 0}, UnsupportedDTypeError, "one dtype"),
    ("Concat", [np.float32(1), np.float32(2)], {"axis": 0}, ShapeError, "scalars"),
    ("Pack", [X, X[:2]], {"axis": 0}, ShapeError, "one shape"),
    ("Pack", [X, X], {"axis": 3}, AttributeValueError, "out of range"),
    ("Unpack", [X], {"axis": 2}, AttributeValueError, "out of range"),
    ("ExpandDims", [X], {"dim": 3}, AttributeValueError, "out of range"),
    ("BroadcastTo", [X], {"shape": [4, 4]}, ShapeError, "cannot be broadcast"),
    ("BroadcastTo", [X], {"shape": [4]}, ShapeError, "cannot be broadcast"),
    ("DepthToSpace", [X.reshape(1, 1, 2, 6)], {"block_size": 2}, ShapeError, "divisible"),
    ("DepthToSpace", [X.reshape(1, 1, 3, 4)], {"block_size": 1}, AttributeValueError, ">= 2"),
    ("DepthToSpace", [X.reshape(1, 1, 3, 4)], {"block_size": 2, "data_format": "NCHW"}, AttributeValueError,
     "NHWC"),
    ("SpaceToDepth", [X.reshape(1, 3, 4, 1)], {"block_size": 2}, ShapeError, "divisible"),
    ("SpaceToBatchND", [X.reshape(1, 3, 4)], {"block_shape": [2], "paddings": [[0, 0]]}, ShapeError, "divisible"),
    ("SpaceToBatchND", [X.reshape(1, 3, 4)], {"block_shape": [0], "paddings": [[0, 0]]}, AttributeValueError,
     ">= 1"),
    ("BatchToSpaceND", [X.reshape(3, 2, 2)], {"block_shape": [2], "crops": [[0, 0]]}, ShapeError, "divisible"),
    ("BatchToSpaceND", [X.reshape(4, 3, 1)], {"block_shape": [2], "crops": [[4, 3]]}, AttributeValueError,
     "removes more"),
    ("GatherV2", [X, np.array([0], np.int32)], {"axis": 2}, AttributeValueError, "axis 2"),
    ("GatherV2", [X, np.zeros((2, 1), np.int32)], {"axis": 1, "batch_dims": 2}, AttributeValueError, "batch_dims"),
    ("GatherV2", [X, np.zeros((2, 1), np.int32)], {"axis": 1, "batch_dims": 1}, ShapeError, "must be equal"),
    ("GatherNd", [X, np.zeros((1, 3), np.int32)], {}, ShapeError, "rank 2"),
    ("ScatterNd", [np.zeros((2, 1), np.int32), np.ones((3,), np.float32)], {"shape": [4]}, ShapeError, "need"),
    ("TensorScatterUpdate", [X, np.zeros((1, 1), np.int32), np.ones((1, 4), np.int32)], {}, UnsupportedDTypeError,
     "dtype"),
    ("ScatterNd", [np.zeros((2, 0), np.int32), np.ones((2, 3), np.float32)], {"shape": [3]}, ShapeError,
     "no coordinates"),
    ("TensorScatterUpdate", [X, np.zeros((0,), np.int32), X], {}, ShapeError, "no coordinates"),
    ("Range", [], {"start": 0, "stop": 5, "step": 0}, AttributeValueError, "non-zero"),
    ("Range", [], {"start": 0, "stop": 5, "step": 0.5, "dtype": "int32"}, AttributeValueError, "integer"),
    ("Range", [], {"start": 0, "step": 1}, AttributeValueError, "stop"),
    ("LinSpace", [], {"start": 0, "stop": 1, "num": 0}, AttributeValueError, "num"),
    ("Fill", [], {"shape": [2, -1], "value": 1}, AttributeValueError, "negative"),
])
def test_bad_attributes_raise_clear_errors(kernel, inputs, attrs, error, match):
    with pytest.raises(error, match=match) as info:
        run_ref(kernel, inputs, attrs)
    assert kernel in str(info.value), f"the message should name the kernel: {info.value}"


# --------------------------------------------------------------------------------- semantics not in TF


def test_range_backwards_is_empty_and_fill_infers_dtype():
    (r,) = run_ref("Range", [], {"start": 5, "stop": 0, "step": 1, "dtype": "int32"})
    assert r.shape == (0,) and r.dtype == np.int32
    (r,) = run_ref("Range", [], {"start": 0.0, "stop": 1.0, "step": -0.5})
    assert r.shape == (0,) and r.dtype == np.float32
    (f,) = run_ref("Fill", [], {"shape": [2], "value": True})
    assert f.dtype == np.bool_ and f.all()
    (f,) = run_ref("Fill", [], {"shape": [2], "value": 3})
    assert f.dtype == np.float32


def test_split_v_single_minus_one_is_the_whole_tensor():
    # TF's SplitV rejects size_splits=[-1] (it compares -1 with the dim before resolving it); TF.js and
    # we resolve it first, which is what the -1 means.
    (got,) = run_ref("SplitV", [X], {"num_or_size_splits": [-1], "axis": 1})
    np.testing.assert_array_equal(got, X)


def test_one_element_lists_and_squeeze_defaults():
    (e,) = run_ref("ExpandDims", [X], {"dim": [1]})
    assert e.shape == (3, 1, 4)
    (s,) = run_ref("Squeeze", [X.reshape(1, 3, 1, 4)], {"axis": None})
    assert s.shape == (3, 4)
    (s,) = run_ref("Squeeze", [X.reshape(1, 3, 1, 4)], {})
    assert s.shape == (3, 4)


# --------------------------------------------------------------------------------- pure helper units


def test_resolve_strided_slice_tfjs_bug_case():
    # x[:, 4:0:-2, ::-1, 2] on a [2, 6, 5, 4] input
    spec = resolve_strided_slice((2, 6, 5, 4), [0, 4, 0, 2], [0, 0, 0, 3], [1, -2, -1, 1],
                                 begin_mask=0b0101, end_mask=0b0101, shrink_axis_mask=0b1000)
    assert spec.begin == (0, 4, 4, 2)
    assert spec.end == (2, 0, -1, 3)
    assert spec.strides == (1, -2, -1, 1)
    assert spec.sizes == (2, 2, 5, 1)
    assert spec.shrink == (False, False, False, True)
    assert spec.output_shape == (2, 2, 5)
    assert spec.output_to_input == (0, 1, 2)
    assert spec.input_index((1, 1, 0)) == (1, 2, 4, 2)
    assert not spec.is_identity


def test_resolve_strided_slice_new_axis_and_ellipsis():
    # x[None, 1:, ..., ::2] on [3, 4, 5]
    spec = resolve_strided_slice((3, 4, 5), [0, 1, 0, 0], [0, 0, 0, 0], [1, 1, 1, 2],
                                 begin_mask=0b1000, end_mask=0b1010, ellipsis_mask=0b0100, new_axis_mask=0b0001)
    assert spec.output_shape == (1, 2, 4, 3)
    assert spec.output_to_input == (None, 0, 1, 2)
    assert spec.sizes == (2, 4, 3)
    assert spec.input_index((0, 1, 3, 2)) == (2, 3, 4)
    # x[...] and x[:] are identities; x[..., None] adds a trailing axis
    assert resolve_strided_slice((3, 4), [0], [0], [1], ellipsis_mask=1).is_identity
    assert resolve_strided_slice((3, 4), [0], [0], [1], begin_mask=1, end_mask=1).is_identity
    assert resolve_strided_slice((3, 4), [0, 0], [0, 0], [1, 1], ellipsis_mask=1,
                                 new_axis_mask=2).output_shape == (3, 4, 1)


def test_resolve_strided_slice_clamps_and_empties():
    spec = resolve_strided_slice((5,), [-100], [100], [3])
    assert (spec.begin, spec.end, spec.sizes) == ((0,), (5,), (2,))
    spec = resolve_strided_slice((5,), [100], [-100], [-2])
    assert (spec.begin, spec.end, spec.sizes) == ((4,), (-1,), (3,))
    assert resolve_strided_slice((5,), [3], [1], [1]).sizes == (0,)
    assert resolve_strided_slice((0, 2), [0], [0], [-1], begin_mask=1, end_mask=1).sizes == (0, 2)
    assert resolve_strided_slice((), [0], [0], [1], new_axis_mask=1).output_shape == (1,)


def test_python_slice_negative_strides():
    x = list(range(8))
    assert x[python_slice(5, -1, 6)] == [5, 4, 3, 2, 1, 0]
    assert x[python_slice(6, -3, 3)] == [6, 3, 0]
    assert x[python_slice(7, -2, 0)] == []
    assert x[python_slice(1, 3, 3)] == [1, 4, 7]


def test_split_sizes_and_shape_helpers():
    assert split_sizes(6, 3) == [2, 2, 2]
    assert split_sizes(9, [2, -1, 3]) == [2, 4, 3]
    assert split_sizes(4, [4, -1]) == [4, 0]
    with pytest.raises(AttributeValueError):
        split_sizes(5, 0)
    assert concat_shape([(2, 3), (2, 1)], -1) == (1, (2, 4))
    assert pad_shape((3, 4), [[1, 2], [0, 4]], "MirrorPad", "symmetric") == ([(1, 2), (0, 4)], (6, 8))
    with pytest.raises(AttributeValueError):
        pad_shape((3, 4), [[1, 2], [0, 4]], "MirrorPad", "reflect")
    assert tile_shape((2, 0, 3), [2, 5, 0]) == (4, 0, 0)
    assert resolve_slice((4, 5), [1, 2], [-1, 3]) == ([1, 2], [3, 3])
    assert space_to_batch_shape((2, 3, 5, 7), [2, 3], [[1, 0], [0, 1]]) == ([2, 3], [(1, 0), (0, 1)], (12, 2, 2, 7))
    assert batch_to_space_shape((12, 2, 2, 7), [2, 3], [[1, 0], [0, 1]]) == ([2, 3], [(1, 0), (0, 1)], (2, 3, 5, 7))


def test_resolve_gather():
    spec = resolve_gather((2, 3, 5, 4), (2, 7), axis=-2, batch_dims=-1)
    assert (spec.axis, spec.batch_dims) == (2, 1)
    assert (spec.batch, spec.outer, spec.axis_dim, spec.inner, spec.indices_per_batch) == (2, 3, 5, 4, 7)
    assert spec.output_shape == (2, 3, 7, 4)
    assert resolve_gather((5, 3), (), axis=0).output_shape == (3,)
