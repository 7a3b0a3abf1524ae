"""Shared fixtures: one GL backend per layout for the whole session (programs compile once,
the software driver's first draw per program is the expensive part) and the numpy reference."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gpu_backend import GLBackend, NumpyBackend

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def gl() -> GLBackend:
    b = GLBackend()
    yield b
    b.close()


@pytest.fixture(scope="session")
def gl_unpacked() -> GLBackend:
    b = GLBackend(layout="unpacked")
    yield b
    b.close()


@pytest.fixture(scope="session", params=["packed", "unpacked"])
def any_gl(request: pytest.FixtureRequest, gl: GLBackend, gl_unpacked: GLBackend) -> GLBackend:
    return gl if request.param == "packed" else gl_unpacked


@pytest.fixture(scope="session")
def ref() -> NumpyBackend:
    return NumpyBackend()


def run_gl(b: GLBackend, op: str, arrays: Sequence[np.ndarray], attrs: dict[str, Any] | None = None) -> list[np.ndarray]:
    """Run one kernel on the GL backend and read every output back, disposing all handles."""
    handles = [b.upload(a) for a in arrays]
    outs = b.run(op, handles, attrs or {})
    try:
        return [b.read(o) for o in outs]
    finally:
        for h in list(handles) + list(outs):
            b.dispose(h)


def run_ref(op: str, arrays: Sequence[np.ndarray], attrs: dict[str, Any] | None = None) -> list[np.ndarray]:
    from gpu_backend.numpy_backend import run_reference
    return run_reference(op, list(arrays), attrs or {})


def assert_matches(got: np.ndarray, want: np.ndarray, rtol: float = 1e-5, atol: float = 1e-6, what: str = "") -> None:
    """Same shape and dtype; floats within tolerance with NaNs in the same places; ints/bools exact."""
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    if got.dtype.kind == "f":
        assert np.array_equal(np.isnan(got), np.isnan(want)), f"{what}: NaN positions differ"
        finite = ~np.isnan(want)
        np.testing.assert_allclose(got[finite], want[finite], rtol=rtol, atol=atol, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def check_kernel(b: GLBackend, op: str, arrays: Sequence[np.ndarray], attrs: dict[str, Any] | None = None,
                 rtol: float = 1e-5, atol: float = 1e-6) -> list[np.ndarray]:
    got = run_gl(b, op, arrays, attrs)
    want = run_ref(op, arrays, attrs)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert_matches(g, w, rtol, atol, f"{op} output {i} for inputs {[a.shape for a in arrays]} {attrs}")
    return got


def random_floats(rng: np.random.Generator, shape: Sequence[int], scale: float = 1.0) -> np.ndarray:
    """Random float32 data that is never all zeros (and never exactly zero in the first element)."""
    x = (rng.standard_normal(shape) * scale).astype(np.float32)
    if x.size:
        x.flat[0] = 0.75 * scale
    return x


def random_ints(rng: np.random.Generator, shape: Sequence[int], lo: int = -(2**31), hi: int = 2**31 - 1) -> np.ndarray:
    """int32 data spanning the whole range by default (far beyond float32's exact 2^24)."""
    x = rng.integers(lo, hi, size=shape, dtype=np.int64, endpoint=True).astype(np.int32)
    if x.size:
        x.flat[0] = 2**24 + 1 if hi > 2**24 else hi
    return x


EDGE_FLOATS = np.array([np.nan, -np.inf, np.inf, -0.0, 0.0, 1e-8, -1e-8, 1e-30, 0.5, -0.5, 1.0, -1.0, 2.5, -2.5,
                        1.5, 0.4999, 20.0, -20.0, 88.0, -88.0, 100.0, -100.0, 1e10, -1e10, 3.0e38, 0.999, -0.999,
                        1.0001, 3.0, -3.0, 7.0, -7.0], np.float32)
EDGE_INTS = np.array([0, 1, -1, 2, -2, 7, -7, 3, 2**31 - 1, -(2**31), 2**24 + 1, -(2**24 + 3), 100000, 46341,
                      -46341, 2**30], np.int32)
