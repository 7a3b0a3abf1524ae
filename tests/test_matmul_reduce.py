"""MatMul family, reductions, softmax, transpose and reshape: GL against the numpy reference."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import check_kernel, random_floats, random_ints

MM_SHAPES = [((5, 7), (7, 9)), ((1, 1), (1, 1)), ((3, 13), (13, 6)), ((2, 3, 5, 4), (4, 3)),
             ((2, 1, 4, 6), (3, 6, 5)), ((17, 33), (33, 31)), ((1, 784), (784, 32)), ((4, 1, 3), (1, 3, 1))]


@pytest.mark.parametrize("sa,sb", MM_SHAPES)
@pytest.mark.parametrize("ta,tb", [(False, False), (False, True), (True, False), (True, True)])
def test_batch_matmul(any_gl, sa, sb, ta, tb):
    rng = np.random.default_rng(len(sa) * 7 + sa[-1])
    a, b = random_floats(rng, sa), random_floats(rng, sb)
    if ta:
        a = np.ascontiguousarray(np.swapaxes(a, -1, -2))
    if tb:
        b = np.ascontiguousarray(np.swapaxes(b, -1, -2))
    check_kernel(any_gl, "BatchMatMul", [a, b], {"transpose_a": ta, "transpose_b": tb}, rtol=1e-4, atol=1e-5)


def test_matmul_nan_inf_propagate(gl):
    a = np.array([[0.0, 1.0], [np.nan, 1.0], [2.0, 3.0]], np.float32)
    b = np.array([[np.inf, 1.0, 2.0], [1.0, 2.0, 3.0]], np.float32)
    (out,) = check_kernel(gl, "MatMul", [a, b])
    assert np.isnan(out[0, 0]) and np.isnan(out[1]).all() and np.isinf(out[2, 0])


@pytest.mark.parametrize("act", ["linear", "relu", "relu6", "elu", "sigmoid", "leakyrelu", "tanh", "hardswish", "prelu"])
def test_fused_matmul(any_gl, act):
    rng = np.random.default_rng(11)
    a, b = random_floats(rng, (6, 10), 2.0), random_floats(rng, (10, 7))
    bias, weights = random_floats(rng, (7,)), random_floats(rng, (7,))
    inputs = [a, b, bias] + ([weights] if act == "prelu" else [])
    check_kernel(any_gl, "_FusedMatMul", inputs, {"activation": act, "leakyrelu_alpha": 0.3}, rtol=1e-4, atol=1e-5)


def test_fused_matmul_transposed_prelu_without_bias(gl):
    rng = np.random.default_rng(12)
    a, b, w = random_floats(rng, (9, 5)), random_floats(rng, (3, 9)), random_floats(rng, (1, 3))
    check_kernel(gl, "_FusedMatMul", [a, b, w], {"activation": "prelu", "transpose_a": True, "transpose_b": True},
                 rtol=1e-4, atol=1e-5)


AXES = [None, 0, 3, -1, [1, 2], [0, 3], [0, 2], [1, 3], [0, 1, 2, 3], []]


@pytest.mark.parametrize("op", ["Sum", "Mean", "Max", "Min", "Prod"])
@pytest.mark.parametrize("keep", [False, True])
def test_reduce_float(any_gl, op, keep):
    rng = np.random.default_rng(13)
    x = random_floats(rng, (2, 3, 5, 7))
    for axes in AXES:
        check_kernel(any_gl, op, [x], {"axis": axes, "keep_dims": keep}, rtol=1e-5, atol=1e-5)
    x[0, 1, 2, 3] = np.nan
    x[1, 2, 0, 0] = np.inf
    for axes in ([1, 3], 0, None):
        check_kernel(any_gl, op, [x], {"axis": axes, "keep_dims": keep}, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("op", ["Sum", "Mean", "Max", "Min", "Prod"])
def test_reduce_int_exact_beyond_2_24(gl, op):
    rng = np.random.default_rng(14)
    x = random_ints(rng, (3, 4, 5))
    for axes in (None, 0, -1, [0, 2], [1]):
        check_kernel(gl, op, [x], {"axis": axes, "keep_dims": False})


@pytest.mark.parametrize("op", ["All", "Any"])
def test_reduce_bool(any_gl, op):
    rng = np.random.default_rng(15)
    x = rng.random((3, 4, 6)) > (0.2 if op == "All" else 0.8)
    for axes in (None, 0, -1, [0, 2]):
        for keep in (False, True):
            check_kernel(any_gl, op, [x], {"axis": axes, "keep_dims": keep})


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
def test_arg_reduce(any_gl, op):
    rng = np.random.default_rng(16)
    x = random_floats(rng, (3, 5, 9))
    for axis in (0, 1, 2, -1):
        check_kernel(any_gl, op, [x], {"axis": axis})
        check_kernel(any_gl, op, [random_ints(rng, (3, 5, 9))], {"axis": axis})
    # TF: NaN never wins, ties keep the first index, all-NaN rows give 0
    edge = np.array([[np.nan, 1, 3], [np.nan, np.nan, np.nan], [-np.inf, -np.inf, 0], [2, 2, 1], [1, 3, np.nan]],
                    np.float32)
    check_kernel(any_gl, op, [edge], {"axis": 1})


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("shape", [(7,), (3, 1000), (2, 5, 9), (4, 4, 3), (1, 1)])
def test_softmax(any_gl, op, shape):
    rng = np.random.default_rng(17)
    check_kernel(any_gl, op, [random_floats(rng, shape, 5.0)], rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax_nan_inf_rows(gl, op):
    x = np.array([[np.inf, 1.0, 0], [-np.inf, 1.0, 2], [-np.inf, -np.inf, -np.inf], [np.nan, 1, 2], [1e30, -1e30, 0]],
                 np.float32)
    check_kernel(gl, op, [x], rtol=2e-5, atol=1e-6)
    # the same rows repeated to 4200 columns: the two-draw path (per-row stats, then apply)
    check_kernel(gl, op, [np.tile(x, (1, 1400))], rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("shape", [(2, 5000), (1500, 130)])
def test_softmax_long_or_many_rows_use_two_draws(gl, op, shape):
    from gpu_backend.kernels.softmax import ROWWISE_MAX_C, ROWWISE_MAX_WORK
    rows, c = shape
    assert c > ROWWISE_MAX_C or rows * (-(-c // 4)) ** 2 > ROWWISE_MAX_WORK
    rng = np.random.default_rng(19)
    check_kernel(gl, op, [random_floats(rng, shape, 5.0)], rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("perm", [[1, 0, 2, 3], [0, 2, 1, 3], [3, 2, 1, 0], [0, 1, 3, 2], [2, 0, 3, 1], None])
def test_transpose(any_gl, perm):
    rng = np.random.default_rng(18)
    x = random_floats(rng, (2, 3, 5, 6))
    check_kernel(any_gl, "Transpose", [x], {"perm": perm})
    check_kernel(any_gl, "Transpose", [random_ints(rng, (2, 3, 5, 6))], {"perm": perm})
    check_kernel(any_gl, "Transpose", [x > 0], {"perm": perm})


def test_transpose_view_feeds_other_kernels(gl):
    """A transpose that keeps the last axis is a strided view; kernels reading it must see the transposed data."""
    rng = np.random.default_rng(19)
    x, y = random_floats(rng, (4, 3, 6)), random_floats(rng, (3, 4, 6))
    hx, hy = gl.upload(x), gl.upload(y)
    (t,) = gl.run("Transpose", [hx], {"perm": [1, 0, 2]})
    assert gl.tensor(t).storage is gl.tensor(hx).storage          # no copy
    (s,) = gl.run("Add", [t, hy])
    (r,) = gl.run("Reshape", [t], {"shape": [12, 6]})
    (m,) = gl.run("Sum", [t], {"axis": [1]})
    np.testing.assert_allclose(gl.read(s), np.transpose(x, (1, 0, 2)) + y, rtol=1e-6)
    np.testing.assert_array_equal(gl.read(r), np.transpose(x, (1, 0, 2)).reshape(12, 6))
    np.testing.assert_allclose(gl.read(m), np.transpose(x, (1, 0, 2)).sum(1), rtol=1e-5, atol=1e-6)
    for h in (hx, hy, t, s, r, m):
        gl.dispose(h)


@pytest.mark.parametrize("src,dst", [((2, 3, 4), (4, 6)), ((2, 3, 4), (6, -1)), ((24,), (2, 3, 4)), ((5, 7), (35,)),
                                     ((1, 8), (2, 2, 2)), ((3, 5, 8), (15, 8)), ((), (1, 1)), ((6,), (6, 1, 1))])
def test_reshape(any_gl, src, dst):
    rng = np.random.default_rng(20)
    x = np.asarray(random_floats(rng, src))
    check_kernel(any_gl, "Reshape", [x], {"shape": list(dst)})
    check_kernel(any_gl, "Reshape", [np.asarray(random_ints(rng, src))], {"shape": list(dst)})


def test_reshape_without_copy_when_last_dim_kept(gl):
    x = np.arange(2 * 3 * 4 * 8, dtype=np.float32).reshape(2, 3, 4, 8)
    h = gl.upload(x)
    before = gl.memory()["draws"]
    (r,) = gl.run("Reshape", [h], {"shape": [6, 4, 8]})
    (r2,) = gl.run("Reshape", [h], {"shape": [2, 12, 8]})
    (r3,) = gl.run("Reshape", [h], {"shape": [24, 8]})
    assert gl.memory()["draws"] == before
    for out in (r, r2, r3):
        assert gl.tensor(out).storage is gl.tensor(h).storage
    np.testing.assert_array_equal(gl.read(r3), x.reshape(24, 8))
    for out in (h, r, r2, r3):
        gl.dispose(out)


def test_identity_shares_texture(gl):
    h = gl.upload(np.ones((3, 3), np.float32))
    (i,) = gl.run("Identity", [h])
    assert gl.tensor(i).storage is gl.tensor(h).storage
    gl.dispose(h)
    np.testing.assert_array_equal(gl.read(i), np.ones((3, 3)))      # the view keeps the texture alive
    gl.dispose(i)


@pytest.mark.parametrize("mkn", [(5, 7, 9), (1, 1280, 1000), (3, 700, 17), (2, 13, 4)])
@pytest.mark.parametrize("act", ["linear", "relu6"])
def test_matmul_with_constant_weights(gl, mkn, act):
    """Constant weights are read from a buffer texture (and split-K for matrix-vector shapes)."""
    m, k, n = mkn
    rng = np.random.default_rng(k)
    a, w, bias = random_floats(rng, (m, k)), random_floats(rng, (k, n)), random_floats(rng, (n,))
    ha, hw, hb = gl.upload(a), gl.upload(w, constant=True), gl.upload(bias)
    (out,) = gl.run("_FusedMatMul", [ha, hw, hb], {"activation": act})
    from conftest import assert_matches, run_ref
    (want,) = run_ref("_FusedMatMul", [a, w, bias], {"activation": act})
    assert_matches(gl.read(out), want, rtol=1e-4, atol=1e-4)
    for h in (ha, hw, hb, out):
        gl.dispose(h)
