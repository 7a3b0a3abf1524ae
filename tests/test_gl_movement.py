"""GL data-movement, shape, gather/scatter and creation kernels against the numpy reference (and TF's goldens).

Every kernel runs on both layouts (``any_gl``) with float32, int32 spanning the whole int32 range
(far beyond float32's exact 2^24) and bool data.  Beyond values, the tests pin down how the work is
done: which calls are views (no draw, no texture, the input's storage), which draw texel programs,
and that a second shape of the same structure (or a lower rank) reuses the compiled program.
Int32 and bool run a subset of the float32 cases (``subset``): one per program variant.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import gpu_backend.kernels.creation  # noqa: F401  (registers the kernels under test)
import gpu_backend.kernels.gather  # noqa: F401
import gpu_backend.kernels.shape_ops  # noqa: F401
import gpu_backend.kernels.slicing  # noqa: F401
from conftest import assert_matches, check_kernel, random_floats, random_ints, run_gl, run_ref
from gpu_backend import GLBackend
from gpu_backend.errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from gpu_backend.kernels.gather import MAX_SCATTER_UPDATES

DTYPES = ["float32", "int32", "bool"]


def data(rng: np.random.Generator, shape: Sequence[int], dtype: str) -> np.ndarray:
    """Random values of a dtype, never all zeros / all False."""
    if dtype == "float32":
        return random_floats(rng, shape)
    if dtype == "int32":
        return random_ints(rng, shape)
    x = rng.random(shape) > 0.5
    if x.size:
        x.flat[0] = True
    return x


def subset(dtype: str, cases: Sequence[Any], keep: Sequence[int]) -> list[Any]:
    """Every case for float32; for int32 and bool only `keep`, chosen to run each program variant
    (view, texel, element) once: the integer paths are exercised without compiling every structure
    three times (each program costs ~0.1-0.5 s of JIT on llvmpipe)."""
    return list(cases) if dtype == "float32" else [cases[i] for i in keep]


def check_all(b: GLBackend, op: str, x: np.ndarray, cases: Sequence[dict[str, Any]]) -> None:
    for attrs in cases:
        check_kernel(b, op, [x], attrs, rtol=0, atol=0)


def draw_styles(b: GLBackend, fn: Callable[[], Any]) -> list[tuple[str, str | None, str]]:
    """(kernel file, section, style) of every draw fn makes."""
    seen: list[tuple[str, str | None, str]] = []
    old = b.runner.on_draw
    b.runner.on_draw = lambda rec: seen.append((rec.spec.kernel, rec.spec.section, rec.spec.style))
    try:
        fn()
    finally:
        b.runner.on_draw = old
    return seen


# ------------------------------------------------------------------------------------ slices


SLICES = [
    {"begin": [0, 0, 0], "size": [-1, -1, -1]},
    {"begin": [1, 2, 0], "size": [2, 3, -1]},          # last dim whole: a view
    {"begin": [0, 1, 4], "size": [3, 4, 3]},           # aligned start, runs to the end: a view
    {"begin": [0, 1, 0], "size": [3, 4, 3]},           # aligned start, ragged end: texel draw
    {"begin": [2, 0, 3], "size": [1, 6, 2]},           # unaligned: element draw
    {"begin": [1, 6, 0], "size": [2, 0, 7]},           # empty
    {"begin": [0, 0, 7], "size": [3, 6, 0]},           # empty along the last dim
]


@pytest.mark.parametrize("dtype", DTYPES)
def test_slice(any_gl, dtype):
    x = data(np.random.default_rng(1), (3, 6, 7), dtype)
    check_all(any_gl, "Slice", x, subset(dtype, SLICES, [1, 3, 4, 5]))


def ss(begin, end, strides, **masks) -> dict[str, Any]:
    return {"begin": begin, "end": end, "strides": strides, **masks}


STRIDED = [
    ss([0, 4, 0, 2], [0, 0, 0, 3], [1, -2, -1, 1], begin_mask=0b0101, end_mask=0b0101, shrink_axis_mask=0b1000),
    ss([1, 0, 0], [0, 4, 0], [1, 1, 1], begin_mask=0b110, end_mask=0b101),            # begin/end masks
    ss([0, 1], [0, 6], [1, 2], ellipsis_mask=0b01),                                     # x[..., 1:6:2]
    ss([0, 0, 1], [0, 0, 3], [1, 1, 1], new_axis_mask=0b10, begin_mask=1, end_mask=1),  # x[:, None, 1:3]
    ss([1, -1], [2, 0], [1, 1], shrink_axis_mask=0b11),                                 # x[1, -1]
    ss([0, 0], [0, 0], [-1, -2], begin_mask=0b11, end_mask=0b11),                       # x[::-1, ::-2]
    ss([-100, 2], [100, -1], [1, 1]),                                                   # clamped
    ss([0, 3], [0, 3], [1, 1], begin_mask=1, end_mask=1),                               # empty
    ss([0, 5], [0, 1], [1, 1], begin_mask=1, end_mask=1),                               # backwards: empty
    ss([0, 4], [0, 7], [1, 1], ellipsis_mask=1),                                        # x[..., 4:7]: a view
    ss([0, 0], [0, 3], [1, 1], ellipsis_mask=1),                                        # x[..., 0:3]: texel
    ss([0, 6], [0, 0], [1, -1], ellipsis_mask=1),                                       # last dim reversed
    ss([0, 0], [0, 0], [1, 1], ellipsis_mask=1, new_axis_mask=0b10),                    # x[..., None]
    ss([1, 0, 0, 2], [2, 0, 0, 3], [1, 1, 1, 1], ellipsis_mask=0b10, new_axis_mask=0b100,
       shrink_axis_mask=0b1001),                                                        # x[1, ..., None, 2]
    ss([0], [0], [1], ellipsis_mask=1),                                                 # x[...]: identity
    ss([0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1], begin_mask=15, end_mask=15),           # x[:, :, :, :]
]


@pytest.mark.parametrize("dtype", DTYPES)
def test_strided_slice_every_mask_kind(any_gl, dtype):
    x = data(np.random.default_rng(2), (2, 6, 5, 7), dtype)
    check_all(any_gl, "StridedSlice", x, subset(dtype, STRIDED, [0, 2, 5, 10]))


def test_strided_slice_tfjs_bug_case_values(any_gl):
    """x[:, 4:0:-2, ::-1, 2]: rows 4 and 2, columns reversed, channel 2 (TF.js once got this wrong)."""
    x = np.arange(2 * 6 * 5 * 4, dtype=np.float32).reshape(2, 6, 5, 4)
    (got,) = run_gl(any_gl, "StridedSlice", [x], STRIDED[0])
    np.testing.assert_array_equal(got, x[:, 4:0:-2, ::-1, 2])


@pytest.mark.parametrize("dtype", DTYPES)
def test_split_v(any_gl, dtype):
    x = data(np.random.default_rng(3), (4, 6, 11), dtype)
    cases = [{"num_or_size_splits": 2, "axis": 0}, {"num_or_size_splits": [1, -1, 2], "axis": 1},
             {"num_or_size_splits": [4, 0, 5, 2], "axis": -1}, {"num_or_size_splits": [3, 8], "axis": 2},
             {"num_or_size_splits": [-1], "axis": -2}]
    check_all(any_gl, "SplitV", x, subset(dtype, cases, [1, 2]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_unpack(any_gl, dtype):
    x = data(np.random.default_rng(4), (3, 2, 5), dtype)
    check_all(any_gl, "Unpack", x, subset(dtype, [{"axis": 0}, {"axis": 1, "num": 2}, {"axis": -1}, {"axis": 2}],
                                          [0, 2]))
    check_kernel(any_gl, "Unpack", [data(np.random.default_rng(5), (4,), dtype)], {"axis": 0})


@pytest.mark.parametrize("dtype", DTYPES)
def test_reverse(any_gl, dtype):
    x = data(np.random.default_rng(6), (3, 4, 7), dtype)
    cases = [{"dims": []}, {"dims": [0]}, {"dims": [1, -3]}, {"dims": [-1]}, {"dims": [0, 1, 2]}, {"axis": [2, 1]}]
    check_all(any_gl, "Reverse", x, subset(dtype, cases, [1, 3]))


# ------------------------------------------------------------------------------ concat, pack


@pytest.mark.parametrize("dtype", DTYPES)
def test_concat(any_gl, dtype):
    rng = np.random.default_rng(7)
    a, b, c = data(rng, (2, 3, 5), dtype), data(rng, (2, 4, 5), dtype), data(rng, (2, 1, 5), dtype)
    check_kernel(any_gl, "Concat", [a, b, c], {"axis": 1})
    check_kernel(any_gl, "Concat", [a, b[:, :3, :2], a[..., :1]], {"axis": -1})      # ragged last dim: elements
    check_kernel(any_gl, "Concat", [a], {"axis": 0})
    if dtype == "float32":
        check_kernel(any_gl, "Concat", [a, b[:, :3], c.repeat(3, 1)], {"axis": -3})
        p, q = data(rng, (3, 8), dtype), data(rng, (3, 3), dtype)
        check_kernel(any_gl, "Concat", [p, p, q], {"axis": 1})                      # whole texels: texel draw


@pytest.mark.parametrize("dtype", DTYPES)
def test_concat_more_than_8_inputs(any_gl, dtype):
    rng = np.random.default_rng(8)
    parts = [data(rng, (2, 1 + k % 3, 3), dtype) for k in range(19)]
    check_kernel(any_gl, "Concat", parts, {"axis": 1})
    if dtype == "float32":
        check_kernel(any_gl, "Concat", [p[:, :1] for p in parts[:11]], {"axis": -1})


@pytest.mark.parametrize("dtype", DTYPES)
def test_pack(any_gl, dtype):
    rng = np.random.default_rng(9)
    xs = [data(rng, (3, 5), dtype) for _ in range(3)]
    for axis in subset(dtype, [0, 1, 2, -1, -3], [1, 3]):
        check_kernel(any_gl, "Pack", xs, {"axis": axis})
    check_kernel(any_gl, "Pack", xs[:1], {"axis": 2})
    scalars = [np.asarray(data(rng, (), dtype)) for _ in range(5)]
    check_kernel(any_gl, "Pack", scalars, {"axis": 0})
    if dtype == "float32":
        many = [data(rng, (2, 3), dtype) for _ in range(11)]
        check_kernel(any_gl, "Pack", many, {"axis": 1})
        check_kernel(any_gl, "Pack", many, {"axis": -1})


# --------------------------------------------------------------------------------- tile, pads


@pytest.mark.parametrize("dtype", DTYPES)
def test_tile(any_gl, dtype):
    rng = np.random.default_rng(10)
    x = data(rng, (2, 3, 5), dtype)
    cases = [{"reps": [1, 1, 1]}, {"reps": [2, 1, 1]}, {"reps": [1, 3, 2]}, {"reps": [3, 2, 1]}, {"reps": [1, 0, 2]}]
    check_all(any_gl, "Tile", x, subset(dtype, cases, [1, 2]))
    check_kernel(any_gl, "Tile", [data(rng, (3, 1, 1), dtype)], {"reps": [1, 4, 6]})  # a broadcast
    if dtype == "float32":
        check_kernel(any_gl, "Tile", [data(rng, (3, 8), dtype)], {"reps": [2, 3]})   # whole texels repeat


@pytest.mark.parametrize("dtype", DTYPES)
def test_pad(any_gl, dtype):
    rng = np.random.default_rng(11)
    x = data(rng, (3, 5, 6), dtype)
    value = {"float32": -2.5, "int32": 2**31 - 5, "bool": True}[dtype]
    cases = [{"paddings": [[1, 2], [0, 1], [4, 3]], "constant_value": value},     # aligned before: texel draw
             {"paddings": [[0, 0], [2, 0], [1, 2]], "constant_value": value},     # unaligned: element draw
             {"paddings": [[1, 0], [0, 3], [0, 0]]},                              # default 0
             {"paddings": [[0, 0], [0, 0], [0, 0]], "constant_value": value}]
    check_all(any_gl, "PadV2", x, subset(dtype, cases, [0, 1, 3]))
    check_kernel(any_gl, "Pad", [x], {"paddings": [[2, 1], [1, 1], [0, 5]]}, rtol=0, atol=0)
    check_kernel(any_gl, "PadV2", [np.asarray(data(rng, (), dtype))], {"paddings": [], "constant_value": value})


def test_pad_converts_the_constant_like_the_reference(any_gl):
    x = np.array([[1, 2], [3, 4]], np.int32)
    check_kernel(any_gl, "PadV2", [x], {"paddings": [[1, 1], [1, 1]], "constant_value": 2.7})
    check_kernel(any_gl, "PadV2", [x > 2], {"paddings": [[1, 1], [1, 1]], "constant_value": 0.5})
    f = np.ones((2, 3), np.float32)
    check_kernel(any_gl, "PadV2", [f], {"paddings": [[1, 1], [1, 1]], "constant_value": float("nan")})


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["REFLECT", "symmetric"])
def test_mirror_pad_up_to_the_limit(any_gl, dtype, mode):
    rng = np.random.default_rng(12)
    x = data(rng, (3, 4, 5), dtype)
    lim = [d - 1 if mode == "REFLECT" else d for d in x.shape]
    cases = [{"paddings": [[lim[0], lim[0]], [lim[1], 0], [0, lim[2]]], "mode": mode},   # at the limit
             {"paddings": [[1, 0], [2, 1], [0, 0]], "mode": mode},                       # last dim untouched
             {"paddings": [[0, 0], [0, 0], [2, 1]], "mode": mode}]
    check_all(any_gl, "MirrorPad", x, subset(dtype, cases, [0]))
    with pytest.raises(AttributeValueError):
        run_gl(any_gl, "MirrorPad", [x], {"paddings": [[lim[0] + 1, 0], [0, 0], [0, 0]], "mode": mode})


# --------------------------------------------------------------------------------- shape ops


@pytest.mark.parametrize("dtype", DTYPES)
def test_expand_dims_and_squeeze(any_gl, dtype):
    rng = np.random.default_rng(13)
    x = data(rng, (3, 1, 5), dtype)
    check_all(any_gl, "ExpandDims", x, [{"dim": 0}, {"dim": 2}, {"dim": 3}, {"dim": -1}, {"dim": -4}, {"dim": [1]}])
    check_kernel(any_gl, "ExpandDims", [np.asarray(data(rng, (), dtype))], {"dim": 0})
    y = data(rng, (1, 3, 1, 5, 1), dtype)
    check_all(any_gl, "Squeeze", y, [{}, {"axis": [0]}, {"axis": [-1]}, {"axis": [2, -5]}, {"axis": None}])
    check_kernel(any_gl, "Squeeze", [data(rng, (1, 1), dtype)], {})


@pytest.mark.parametrize("dtype", DTYPES)
def test_broadcast_to(any_gl, dtype):
    rng = np.random.default_rng(14)
    for shape, target in [((3, 1), (3, 4)), ((1, 5), (3, 5)), ((5,), (2, 3, 5)), ((2, 1, 1), (2, 3, 6)),
                          ((), (2, 3)), ((3, 4), (3, 4)), ((1, 3), (0, 3)), ((1,), (7,))]:
        check_kernel(any_gl, "BroadcastTo", [np.asarray(data(rng, shape, dtype))], {"shape": list(target)})


@pytest.mark.parametrize("dtype", DTYPES)
def test_depth_to_space_and_back(any_gl, dtype):
    rng = np.random.default_rng(15)
    for shape, bs in subset(dtype, [((2, 3, 2, 8), 2), ((1, 2, 3, 12), 2), ((1, 2, 2, 18), 3), ((2, 1, 3, 16), 2)],
                            [0, 2]):
        check_kernel(any_gl, "DepthToSpace", [data(rng, shape, dtype)], {"block_size": bs})
    for shape, bs in subset(dtype, [((2, 4, 6, 3), 2), ((1, 6, 3, 4), 3), ((1, 4, 2, 1), 2)], [0, 1]):
        check_kernel(any_gl, "SpaceToDepth", [data(rng, shape, dtype)], {"block_size": bs})


@pytest.mark.parametrize("dtype", DTYPES)
def test_space_to_batch_and_back(any_gl, dtype):
    rng = np.random.default_rng(16)
    s2b = [((2, 4, 5, 3), [2, 3], [[1, 1], [0, 1]]),      # channels left alone: texel draw
           ((1, 6, 5), [3, 2], [[0, 0], [2, 1]]),          # the last dim is spatial: element draw
           ((2, 5), [3], [[1, 0]]),
           ((1, 2, 2, 2, 3), [1, 2, 2], [[0, 1], [1, 1], [0, 0]])]
    for shape, block, pads in subset(dtype, s2b, [0, 1]):
        check_kernel(any_gl, "SpaceToBatchND", [data(rng, shape, dtype)], {"block_shape": block, "paddings": pads})
    b2s = [((12, 3, 2, 3), [2, 3], [[1, 0], [2, 1]]), ((6, 2, 3), [3, 2], [[0, 2], [1, 0]]),
           ((8, 1, 2, 1, 5), [2, 2, 2], [[0, 1], [1, 0], [0, 0]]), ((6, 4), [3], [[1, 2]])]
    for shape, block, crops in subset(dtype, b2s, [0, 1]):
        check_kernel(any_gl, "BatchToSpaceND", [data(rng, shape, dtype)], {"block_shape": block, "crops": crops})


# ------------------------------------------------------------------------------------ gathers


@pytest.mark.parametrize("dtype", DTYPES)
def test_gather_v2(any_gl, dtype):
    rng = np.random.default_rng(17)
    p = data(rng, (3, 5, 6), dtype)
    idx = rng.integers(-1, 7, (2, 4)).astype(np.int32)            # includes -1 and past-the-end indices
    for axis in subset(dtype, [0, 1, 2, -1, -2], [1, 3]):
        check_kernel(any_gl, "GatherV2", [p, idx], {"axis": axis})
    bidx = rng.integers(-1, 6, (3, 4)).astype(np.int32)
    check_kernel(any_gl, "GatherV2", [p, bidx], {"axis": 1, "batch_dims": 1})
    if dtype != "float32":
        return
    check_kernel(any_gl, "GatherV2", [p, np.array(2, np.int32)], {"axis": 1})
    check_kernel(any_gl, "GatherV2", [p, np.array(4, np.int32)], {"axis": -1})
    check_kernel(any_gl, "GatherV2", [p[0, 0], np.array(4, np.int32)], {"axis": 0})     # scalar output
    check_kernel(any_gl, "GatherV2", [p, bidx], {"axis": -1, "batch_dims": -1})
    b2 = rng.integers(0, 6, (3, 5, 2)).astype(np.int32)
    check_kernel(any_gl, "GatherV2", [p, b2], {"axis": 2, "batch_dims": 2})
    check_kernel(any_gl, "GatherV2", [p, b2[:, :, 0]], {"axis": -1, "batch_dims": 2})


def test_gather_v2_rejects_non_int_indices(gl):
    with pytest.raises(UnsupportedDTypeError):
        run_gl(gl, "GatherV2", [np.ones((3, 2), np.float32), np.zeros(2, np.float32)], {})


@pytest.mark.parametrize("dtype", DTYPES)
def test_gather_nd(any_gl, dtype):
    rng = np.random.default_rng(18)
    p = data(rng, (3, 4, 6), dtype)
    rows = np.array([[2, 1], [0, 3], [3, 0], [1, -1], [0, 0]], np.int32)       # two rows out of range
    check_kernel(any_gl, "GatherNd", [p, rows], {})
    full = np.array([[2, 1, 5], [0, 3, 0], [1, 2, 6], [2, 0, 3]], np.int32)
    check_kernel(any_gl, "GatherNd", [p, full], {})
    if dtype != "float32":
        return
    check_kernel(any_gl, "GatherNd", [p, full.reshape(2, 2, 3)], {})
    check_kernel(any_gl, "GatherNd", [p, np.array([[1], [2], [0]], np.int32)], {})
    check_kernel(any_gl, "GatherNd", [p, np.array([2, 3, 1], np.int32)], {})            # scalar output


# ------------------------------------------------------------------------------------ scatters


@pytest.mark.parametrize("dtype", DTYPES)
def test_scatter_nd_duplicates_add(any_gl, dtype):
    rng = np.random.default_rng(19)
    idx = np.array([[1], [3], [1], [9], [0], [1], [-1]], np.int32)        # duplicates and out-of-range rows
    check_kernel(any_gl, "ScatterNd", [idx, data(rng, (7, 3, 5), dtype)], {"shape": [4, 3, 5]})
    idx2 = np.array([[1, 2], [3, 0], [1, 2], [0, 4], [3, 0], [2, 5]], np.int32)
    check_kernel(any_gl, "ScatterNd", [idx2, data(rng, (6, 6), dtype)], {"shape": [4, 5, 6]})
    idx3 = rng.integers(0, 3, (40, 3)).astype(np.int32)
    check_kernel(any_gl, "ScatterNd", [idx3, data(rng, (40,), dtype)], {"shape": [3, 3, 3]})
    if dtype != "float32":
        return
    check_kernel(any_gl, "ScatterNd", [idx2.reshape(2, 3, 2), data(rng, (2, 3), dtype)], {"shape": [4, 5]})


def test_scatter_nd_float_order_and_int_wrap(any_gl):
    idx = np.array([[0], [0], [0], [1], [1]], np.int32)
    upd = np.array([1e8, 1.0, -1e8, 2**31 - 1, 2], np.float32)
    (got,) = check_kernel(any_gl, "ScatterNd", [idx, upd], {"shape": [2]}, rtol=0, atol=0)
    assert got[0] == 0.0                          # (1e8 + 1) - 1e8 in float32, in index order
    ints = np.array([5, 1, -5, 2**31 - 1, 2], np.int32)
    (wrap,) = check_kernel(any_gl, "ScatterNd", [idx, ints], {"shape": [2]})
    assert wrap[1] == -(2**31) + 1


@pytest.mark.parametrize("dtype", DTYPES)
def test_tensor_scatter_update_last_wins(any_gl, dtype):
    rng = np.random.default_rng(20)
    t = data(rng, (4, 3, 6), dtype)
    idx = np.array([[1], [9], [1], [3], [1], [-2]], np.int32)
    check_kernel(any_gl, "TensorScatterUpdate", [t, idx, data(rng, (6, 3, 6), dtype)], {})
    idx3 = np.array([[1, 2, 5], [0, 0, 0], [1, 2, 5], [3, 1, 6]], np.int32)        # single elements
    check_kernel(any_gl, "TensorScatterUpdate", [t, idx3, data(rng, (4,), dtype)], {})
    if dtype == "float32":
        idx2 = np.array([[1, 2], [0, 0], [1, 2], [3, 1]], np.int32)
        check_kernel(any_gl, "TensorScatterUpdate", [t, idx2, data(rng, (4, 6), dtype)], {})


def test_tensor_scatter_update_leaves_its_input_alone(any_gl):
    t = np.arange(12, dtype=np.float32).reshape(4, 3)
    ht = any_gl.upload(t)
    hi, hu = any_gl.upload(np.array([[1], [3]], np.int32)), any_gl.upload(np.full((2, 3), -1, np.float32))
    (out,) = any_gl.run("TensorScatterUpdate", [ht, hi, hu])
    np.testing.assert_array_equal(any_gl.read(ht), t)
    want = t.copy()
    want[[1, 3]] = -1
    np.testing.assert_array_equal(any_gl.read(out), want)
    for h in (ht, hi, hu, out):
        any_gl.dispose(h)


def test_scatter_with_too_many_updates_falls_back(gl):
    n = MAX_SCATTER_UPDATES + 1
    idx = (np.arange(n, dtype=np.int32) % 5).reshape(n, 1)
    upd = np.ones(n, np.int32)
    before = sum(v for k, v in gl.memory()["fallbacks"].items() if k.startswith("ScatterNd"))
    (got,) = run_gl(gl, "ScatterNd", [idx, upd], {"shape": [5]})
    after = sum(v for k, v in gl.memory()["fallbacks"].items() if k.startswith("ScatterNd"))
    assert after == before + 1
    np.testing.assert_array_equal(got, np.bincount(idx[:, 0], minlength=5).astype(np.int32))


# ------------------------------------------------------------------------------------ one-hot


def test_one_hot(any_gl):
    idx = np.array([[1, 2, -1, 0], [0, 5, 3, 4], [6, 2, 2, 1]], np.int32)
    for axis in (-1, 0, 1, 2):
        for dtype, on, off in [("float32", 2.5, -1.0), ("int32", 2**30 + 1, -(2**24) - 3), ("bool", True, False)]:
            check_kernel(any_gl, "OneHot", [idx], {"depth": 6, "axis": axis, "dtype": dtype, "on_value": on,
                                                   "off_value": off})
    check_kernel(any_gl, "OneHot", [np.array(3, np.int32)], {"depth": 5})
    check_kernel(any_gl, "OneHot", [idx], {"depth": 0})
    check_kernel(any_gl, "OneHot", [idx[0]], {"depth": 9, "on_value": 1.7, "off_value": 0.2, "dtype": "int32"})


# ------------------------------------------------------------------------------------ creation


def test_range(any_gl):
    for attrs in [{"start": 0, "stop": 10, "step": 3, "dtype": "int32"},
                  {"start": 2**30, "stop": 2**30 + 41, "step": 2, "dtype": "int32"},
                  {"start": 2**31 - 10, "stop": -(2**31), "step": -(2**30) + 7, "dtype": "int32"},
                  {"start": 5, "stop": 5, "step": 1, "dtype": "int32"},
                  {"start": 0.1, "stop": 10.0, "step": 0.1, "dtype": "float32"},
                  {"start": 1e7, "stop": 1e7 + 10, "step": 1.5},
                  {"start": 1.0, "stop": -2.0, "step": -0.3, "dtype": "DT_FLOAT"},
                  {"start": 0.0, "stop": 1.0, "step": -0.5}]:
        check_kernel(any_gl, "Range", [], attrs, rtol=0, atol=0)
    rng = np.random.default_rng(21)
    for _ in range(20):
        a, d = float(rng.standard_normal() * 100), float(rng.standard_normal())
        check_kernel(any_gl, "Range", [], {"start": a, "stop": a + d * 301, "step": d}, rtol=0, atol=0)


def test_fill(any_gl):
    for attrs in [{"shape": [3, 5], "value": 2**24 + 1, "dtype": "int32"}, {"shape": [4], "value": -(2**31)},
                  {"shape": [2, 3, 5], "value": True}, {"shape": [], "value": -2.25},
                  {"shape": [2, 0], "value": 1.0}, {"shape": [7], "value": np.float32(np.inf)},
                  {"shape": [3], "value": 3, "dtype": "DT_INT32"}]:
        check_kernel(any_gl, "Fill", [], attrs, rtol=0, atol=0)
    (got,) = run_gl(any_gl, "Fill", [], {"shape": [2, 2], "value": 2**31 - 1, "dtype": "int32"})
    assert (got == 2**31 - 1).all()


def test_linspace(any_gl):
    for attrs in [{"start": 0.0, "stop": 1.0, "num": 5}, {"start": -1.3, "stop": 7.1, "num": 37},
                  {"start": 3.0, "stop": 9.0, "num": 1}, {"start": 5.0, "stop": -5.0, "num": 7},
                  {"start": 0.001, "stop": 0.002, "num": 1001}]:
        check_kernel(any_gl, "LinSpace", [], attrs, rtol=0, atol=0)


# ----------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("kernel, inputs, attrs, error", [
    ("Slice", [np.ones((3, 4), np.float32)], {"begin": [0, 3], "size": [1, 2]}, AttributeValueError),
    ("StridedSlice", [np.ones((3, 4), np.float32)], {"begin": [0], "end": [1], "strides": [0]}, AttributeValueError),
    ("SplitV", [np.ones((3, 4), np.float32)], {"num_or_size_splits": 3, "axis": 1}, AttributeValueError),
    ("Concat", [np.ones((3, 4), np.float32), np.ones((3, 4), np.int32)], {"axis": 0}, UnsupportedDTypeError),
    ("Pack", [np.ones((3, 4), np.float32), np.ones((2, 4), np.float32)], {"axis": 0}, ShapeError),
    ("Squeeze", [np.ones((1, 3), np.float32)], {"axis": [1]}, ShapeError),
    ("BroadcastTo", [np.ones((3, 4), np.float32)], {"shape": [4, 4]}, ShapeError),
    ("DepthToSpace", [np.ones((1, 1, 2, 6), np.float32)], {"block_size": 2}, ShapeError),
    ("GatherNd", [np.ones((3, 4), np.float32), np.zeros((1, 3), np.int32)], {}, ShapeError),
    ("ScatterNd", [np.zeros((2, 1), np.int32), np.ones((3,), np.float32)], {"shape": [4]}, ShapeError),
    ("TensorScatterUpdate", [np.ones((3, 4), np.float32), np.zeros((1, 1), np.int32), np.ones((1, 4), np.int32)],
     {}, UnsupportedDTypeError),
    ("OneHot", [np.array([1, 2], np.int32)], {"depth": 3, "axis": -2}, AttributeValueError),
    ("Range", [], {"start": 0, "stop": 5, "step": 0}, AttributeValueError),
    ("LinSpace", [], {"start": 0, "stop": 1, "num": 0}, AttributeValueError),
])
def test_bad_calls_raise_like_the_reference(gl, kernel, inputs, attrs, error):
    with pytest.raises(error):
        run_ref(kernel, inputs, attrs)
    with pytest.raises(error):
        run_gl(gl, kernel, inputs, attrs)


# ------------------------------------------------------------------------- views: no copies


def assert_view(b: GLBackend, op: str, x: np.ndarray, attrs: dict[str, Any]) -> None:
    """The call makes no draw and no texture, every output shares the input's storage, and reads right."""
    h = b.upload(x)
    m0 = b.memory()
    outs = b.run(op, [h], attrs)
    m1 = b.memory()
    try:
        assert m1["draws"] == m0["draws"], f"{op} {attrs} drew"
        assert m1["texture_allocations"] == m0["texture_allocations"], f"{op} {attrs} allocated"
        for o in outs:
            assert b.tensor(o).storage is b.tensor(h).storage, f"{op} {attrs} copied"
        want = run_ref(op, [x], attrs)
        for o, w in zip(outs, want):
            assert_matches(b.read(o), w, 0, 0, f"{op} {attrs}")
    finally:
        for t in [h, *outs]:
            b.dispose(t)


X4 = np.arange(4 * 6 * 5 * 8, dtype=np.float32).reshape(4, 6, 5, 8) - 300.0
VIEWS_BOTH_LAYOUTS = [
    ("Slice", {"begin": [1, 0, 2, 0], "size": [2, -1, 3, -1]}),                  # contiguous slice
    ("Slice", {"begin": [0, 1, 0, 4], "size": [-1, 2, -1, 4]}),                  # whole texels of the last dim
    ("StridedSlice", ss([0, 4, 0, 0], [0, 0, 0, 0], [1, -2, -1, 1], begin_mask=0b1101, end_mask=0b1101)),
    ("StridedSlice", ss([3, 0], [0, 0], [-2, 3], end_mask=0b11)),                # x[3::-2, ::3]
    ("StridedSlice", ss([1, 0, 2], [2, 0, 0], [1, 1, 1], shrink_axis_mask=0b101, new_axis_mask=0b010)),
    ("StridedSlice", ss([0, 0, 0], [0, 0, 0], [1, 1, 1], ellipsis_mask=1, new_axis_mask=0b10, begin_mask=0b100,
                        end_mask=0b100)),                                        # x[..., None, :]
    ("Unpack", {"axis": 1}),
    ("SplitV", {"num_or_size_splits": [1, -1, 2], "axis": 1}),
    ("SplitV", {"num_or_size_splits": [4, 4], "axis": -1}),
    ("Reverse", {"dims": [0, 2]}),
    ("ExpandDims", {"dim": 0}),
    ("ExpandDims", {"dim": -2}),
    ("Tile", {"reps": [1, 1, 1, 1]}),
    ("PadV2", {"paddings": [[0, 0]] * 4}),
    ("MirrorPad", {"paddings": [[0, 0]] * 4, "mode": "reflect"}),
    ("SpaceToBatchND", {"block_shape": [1, 1], "paddings": [[0, 0], [0, 0]]}),
    ("BroadcastTo", {"shape": [3, 4, 6, 5, 8]}),
]
VIEWS_UNPACKED_ONLY = [   # these move the packed last dim's lanes, so only the unpacked layout keeps them views
    ("Slice", {"begin": [0, 0, 0, 1], "size": [-1, -1, -1, 3]}),
    ("StridedSlice", ss([0, 4, 0, 2], [0, 0, 0, 3], [1, -2, -1, 1], begin_mask=0b0101, end_mask=0b0101,
                        shrink_axis_mask=0b1000)),
    ("Unpack", {"axis": -1}),
    ("Reverse", {"dims": [3, 1]}),
    ("ExpandDims", {"dim": 4}),
]


@pytest.mark.parametrize("op, attrs", VIEWS_BOTH_LAYOUTS, ids=lambda v: v if isinstance(v, str) else None)
def test_views_do_not_copy(any_gl, op, attrs):
    assert_view(any_gl, op, X4, attrs)


@pytest.mark.parametrize("op, attrs", VIEWS_UNPACKED_ONLY, ids=lambda v: v if isinstance(v, str) else None)
def test_views_do_not_copy_unpacked(gl_unpacked, op, attrs):
    assert_view(gl_unpacked, op, X4, attrs)


def test_size_one_dims_are_views(any_gl):
    y = np.arange(4 * 5, dtype=np.float32).reshape(4, 1, 5, 1)
    assert_view(any_gl, "Squeeze", y, {"axis": [1]})
    assert_view(any_gl, "BroadcastTo", y, {"shape": [2, 4, 3, 5, 1]})
    assert_view(any_gl, "Tile", y, {"reps": [1, 7, 1, 1]})
    assert_view(any_gl, "Pack", y, {"axis": 0})


def test_views_of_views_and_kernels_reading_them(any_gl):
    """Views stack (a squeeze of a reversed slice is still a view) and other kernels read them right."""
    b = any_gl
    h = b.upload(X4)
    (r,) = b.run("Reverse", [h], {"dims": [1]})
    (s,) = b.run("StridedSlice", [r], ss([2, 0], [3, 0], [1, -1], shrink_axis_mask=1, begin_mask=2, end_mask=2))
    (e,) = b.run("ExpandDims", [s], {"dim": 1})
    (q,) = b.run("Squeeze", [e], {"axis": [1]})
    for t in (r, s, e, q):
        assert b.tensor(t).storage is b.tensor(h).storage
    want = X4[:, ::-1][2, ::-1]
    np.testing.assert_array_equal(b.read(q), want)
    (add,) = b.run("Add", [q, s])
    (cat,) = b.run("Concat", [q, s], {"axis": 0})
    (res,) = b.run("Reshape", [q], {"shape": [-1]})
    hi = b.upload(np.array([4, 0, 2], np.int32))
    (g,) = b.run("GatherV2", [q, hi], {"axis": 0})
    (p,) = b.run("PadV2", [q], {"paddings": [[1, 0], [0, 1], [4, 0]], "constant_value": 7.0})
    np.testing.assert_array_equal(b.read(add), want * 2)
    np.testing.assert_array_equal(b.read(cat), np.concatenate([want, want]))
    np.testing.assert_array_equal(b.read(res), want.reshape(-1))
    np.testing.assert_array_equal(b.read(g), want[[4, 0, 2]])
    np.testing.assert_array_equal(b.read(p), np.pad(want, [(1, 0), (0, 1), (4, 0)], constant_values=7.0))
    b.dispose(h)
    np.testing.assert_array_equal(b.read(q), want)            # views keep the texture alive
    for t in (r, s, e, q, add, cat, res, hi, g, p):
        b.dispose(t)


def test_flat_layout_views_and_draws():
    """Tensors too wide for any x/y split are stored flat; views and draws over them stay right."""
    b = GLBackend(layout="unpacked", max_texture_size=16)
    try:
        x = np.arange(7 * 30, dtype=np.float32).reshape(7, 30)
        assert b.tensor(h := b.upload(x)).view.mode == "F"
        b.dispose(h)
        assert_view(b, "Reverse", x, {"dims": [0, 1]})
        assert_view(b, "StridedSlice", x, ss([5, 29], [0, 2], [-2, -3]))
        check_kernel(b, "Tile", [x[:3]], {"reps": [2, 1]})
        check_kernel(b, "Concat", [x[:3], x[:4, ::-1].copy()], {"axis": 0})
        check_kernel(b, "GatherV2", [x, np.array([3, 29, 0], np.int32)], {"axis": 1})
    finally:
        b.close()
    p = GLBackend(max_texture_size=8)
    try:
        x = np.arange(3 * 2 * 40, dtype=np.float32).reshape(3, 2, 40)
        assert p.tensor(h := p.upload(x)).view.mode == "F"
        p.dispose(h)
        assert_view(p, "StridedSlice", x, ss([2, 0, 8], [0, 2, 40], [-1, 1, 1], end_mask=1))
        check_kernel(p, "MirrorPad", [x[:2]], {"paddings": [[1, 0], [0, 0], [0, 0]], "mode": "symmetric"})
        check_kernel(p, "Slice", [x], {"begin": [0, 1, 3], "size": [3, 1, 30]})
    finally:
        p.close()


# ------------------------------------------------------------------------------ draw styles


@pytest.mark.parametrize("op, inputs, attrs, style", [
    ("Slice", [np.ones((3, 6, 7), np.float32)], {"begin": [0, 1, 0], "size": [3, 4, 3]}, "texel"),
    ("Slice", [np.ones((3, 6, 7), np.float32)], {"begin": [0, 1, 1], "size": [3, 4, 3]}, "element"),
    ("Concat", [np.ones((2, 3, 5), np.float32)] * 3, {"axis": 1}, "texel"),
    ("Concat", [np.ones((2, 8), np.float32), np.ones((2, 3), np.float32)], {"axis": 1}, "texel"),
    ("Concat", [np.ones((2, 3), np.float32), np.ones((2, 8), np.float32)], {"axis": 1}, "element"),
    ("Pack", [np.ones((2, 3), np.float32)] * 3, {"axis": 1}, "texel"),
    ("Pack", [np.ones((2, 3), np.float32)] * 3, {"axis": 2}, "element"),
    ("Tile", [np.ones((2, 5), np.float32)], {"reps": [3, 1]}, "texel"),
    ("Tile", [np.ones((2, 5), np.float32)], {"reps": [1, 2]}, "element"),
    ("PadV2", [np.ones((2, 5), np.float32)], {"paddings": [[1, 1], [4, 2]]}, "texel"),
    ("PadV2", [np.ones((2, 5), np.float32)], {"paddings": [[1, 1], [1, 2]]}, "element"),
    ("MirrorPad", [np.ones((3, 5), np.float32)], {"paddings": [[1, 2], [0, 0]], "mode": "reflect"}, "texel"),
    ("GatherV2", [np.ones((4, 5), np.float32), np.zeros(3, np.int32)], {"axis": 0}, "texel"),
    ("GatherV2", [np.ones((4, 5), np.float32), np.zeros(3, np.int32)], {"axis": 1}, "element"),
    ("GatherNd", [np.ones((4, 5), np.float32), np.zeros((3, 1), np.int32)], {}, "texel"),
    ("DepthToSpace", [np.ones((1, 2, 2, 16), np.float32)], {"block_size": 2}, "texel"),
    ("SpaceToDepth", [np.ones((1, 2, 2, 4), np.float32)], {"block_size": 2}, "texel"),
    ("SpaceToBatchND", [np.ones((1, 4, 4, 3), np.float32)], {"block_shape": [2, 2], "paddings": [[0, 0]] * 2},
     "texel"),
    ("BroadcastTo", [np.ones((3, 1), np.float32)], {"shape": [3, 6]}, "texel"),
    ("OneHot", [np.zeros((3, 2), np.int32)], {"depth": 5, "axis": 1}, "texel"),
])
def test_aligned_lanes_draw_texel_programs(gl, op, inputs, attrs, style):
    styles = draw_styles(gl, lambda: run_gl(gl, op, inputs, attrs))
    assert styles and styles[-1][2] == style, styles


def test_scatter_draws_rows_then_a_texel_gather(gl):
    idx, upd = np.array([[1], [0]], np.int32), np.ones((2, 6), np.float32)
    styles = draw_styles(gl, lambda: run_gl(gl, "ScatterNd", [idx, upd], {"shape": [3, 6]}))
    assert [(s[1], s[2]) for s in styles] == [("scatter_rows", "element"), ("scatter", "texel")]


def test_creation_programs_have_no_inputs(gl):
    for op, attrs in [("Range", {"start": 0, "stop": 9, "step": 1}), ("Fill", {"shape": [3], "value": 1.0}),
                      ("LinSpace", {"start": 0, "stop": 1, "num": 4})]:
        run_gl(gl, op, [], attrs)
    specs = [p.spec for p in gl.runner.programs.programs() if p.spec.kernel == "creation.glsl"]
    assert specs and all(not s.inputs for s in specs)


# ----------------------------------------------------------------------- one program per structure


@pytest.mark.parametrize("op, first, second", [
    ("Slice", ([(3, 6, 7)], {"begin": [1, 1, 1], "size": [2, 3, 5]}),
     ([(5, 9, 3)], {"begin": [0, 2, 1], "size": [4, 6, 1]})),
    ("StridedSlice", ([(4, 6, 5)], ss([3, 0, 4], [0, 6, 0], [-1, 2, -2], end_mask=0b101)),
     ([(7, 3, 9)], ss([5, 1, 8], [1, 3, 1], [-2, 1, -3]))),
    ("Concat", ([(2, 3, 5), (2, 4, 5)], {"axis": 1}), ([(3, 1, 7), (3, 6, 7)], {"axis": 1})),
    ("Pack", ([(2, 3), (2, 3)], {"axis": 0}), ([(5, 7), (5, 7)], {"axis": 0})),
    ("Tile", ([(2, 3, 5)], {"reps": [2, 1, 3]}), ([(4, 2, 3)], {"reps": [1, 3, 2]})),
    ("PadV2", ([(3, 5)], {"paddings": [[1, 2], [1, 0]]}), ([(6, 2)], {"paddings": [[0, 1], [3, 3]]})),
    ("MirrorPad", ([(3, 5)], {"paddings": [[1, 2], [1, 0]], "mode": "reflect"}),
     ([(6, 4)], {"paddings": [[0, 5], [3, 2]], "mode": "symmetric"})),
    ("SpaceToBatchND", ([(1, 4, 6, 3)], {"block_shape": [2, 3], "paddings": [[0, 0], [0, 0]]}),
     ([(2, 6, 2, 5)], {"block_shape": [3, 1], "paddings": [[1, 2], [0, 0]]})),
    ("GatherV2", ([(3, 5, 6), (2, 4)], {"axis": 1}), ([(6, 2, 9), (7, 1)], {"axis": 1})),
    # draws run at a canonical rank (>= 4), so lower ranks and other axes share the program too
    ("Slice", ([(3, 6, 7)], {"begin": [1, 1, 1], "size": [2, 3, 5]}), ([(9, 3)], {"begin": [2, 1], "size": [4, 1]})),
    ("Concat", ([(2, 3, 5), (2, 4, 5)], {"axis": 1}), ([(6, 3), (2, 3)], {"axis": 0})),
    ("GatherV2", ([(3, 5, 6), (2, 4)], {"axis": 1}), ([(4, 9), (3,)], {"axis": 0})),
    ("GatherV2", ([(3, 5, 6), (4,)], {"axis": 2}), ([(4, 9), (3, 2)], {"axis": 1})),
    ("PadV2", ([(3, 5)], {"paddings": [[1, 2], [1, 0]]}), ([(2, 6, 2)], {"paddings": [[1, 0], [0, 1], [3, 3]]})),
])
def test_second_shape_reuses_the_program(gl, op, first, second):
    rng = np.random.default_rng(22)

    def arrays(shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
        out = [random_floats(rng, shapes[0])]
        for s in shapes[1:]:
            out.append(rng.integers(0, 2, s).astype(np.int32) if op == "GatherV2" else random_floats(rng, s))
        return out

    check_kernel(gl, op, arrays(first[0]), first[1], rtol=0, atol=0)
    misses = gl.memory()["program_cache_misses"]
    check_kernel(gl, op, arrays(second[0]), second[1], rtol=0, atol=0)
    assert gl.memory()["program_cache_misses"] == misses


# ----------------------------------------------------------------------------- TF's goldens


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


@pytest.mark.parametrize("case", CASES)
def test_gl_matches_tensorflow(gl, case):
    kernel, inputs, attrs, want = load(case)
    got = run_gl(gl, kernel, inputs, attrs)
    assert len(got) == len(want), f"{case}: {len(got)} outputs, TF has {len(want)}"
    for k, (g, w) in enumerate(zip(got, want)):
        assert_matches(g, w, rtol=0, atol=0, what=f"{case} output {k}")
        if w.dtype.kind == "f":   # same bits too: -0.0 stays -0.0
            finite = ~np.isnan(w)
            assert np.array_equal(np.signbit(g[finite]), np.signbit(w[finite])), case
