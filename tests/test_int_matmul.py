"""int32 MatMul / BatchMatMul: exact int32 results with TF's mod-2^32 wrap-around."""
import numpy as np

from gpu_backend.reference.matmul import batch_matmul


def _exact(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.matmul(a.astype(object), b.astype(object))
    return np.vectorize(lambda v: ((int(v) + 2**31) % 2**32) - 2**31, otypes=[np.int64])(out).astype(np.int32)


def test_reference_int_matmul_wraps_exactly() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(-2**31, 2**31, (2, 3, 5)).astype(np.int32)
    b = rng.integers(-50, 50, (1, 7, 5)).astype(np.int32)
    a[0, 0, 0] = 2**24 + 1
    r = batch_matmul("BatchMatMul", [a, b], {"transpose_b": True})[0]
    assert r.dtype == np.int32
    np.testing.assert_array_equal(r, _exact(a, np.swapaxes(b, -1, -2)))


import pytest  # noqa: E402

from conftest import run_gl  # noqa: E402


@pytest.mark.parametrize("a_shape,b_shape,ta,tb", [((2, 3, 5), (1, 5, 7), False, False), ((4, 6), (6, 3), False, False),
                                                  ((3, 2, 4, 9), (2, 7, 4), True, True), ((1, 1), (1, 13), False, False)])
def test_gl_int_matmul_is_exact_and_wraps_like_tf(any_gl, a_shape, b_shape, ta, tb):
    rng = np.random.default_rng(len(a_shape) * 10 + b_shape[-1])
    a = rng.integers(-2**31, 2**31, a_shape).astype(np.int32)       # products far past 2^24, sums that wrap
    b = rng.integers(-(2**20), 2**20, b_shape).astype(np.int32)
    a.reshape(-1)[0] = 2**24 + 1
    before = sum(v for k, v in any_gl.fallbacks.items() if "MatMul" in k)
    (got,) = run_gl(any_gl, "BatchMatMul", [a, b], {"transpose_a": ta, "transpose_b": tb})
    assert sum(v for k, v in any_gl.fallbacks.items() if "MatMul" in k) == before       # ran on GL
    aa = np.swapaxes(a, -1, -2) if ta else a
    bb = np.swapaxes(b, -1, -2) if tb else b
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, _exact(aa, bb))
