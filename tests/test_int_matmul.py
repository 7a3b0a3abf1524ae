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
