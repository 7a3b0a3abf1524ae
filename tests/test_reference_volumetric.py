"""The numpy reference's Conv3D / MaxPool3D / AvgPool3D against TensorFlow and against direct loops.

tests/fixtures/tf_goldens_volumetric.npz holds TF's outputs (recorded by
tests/fixtures/make_tf_goldens_volumetric.py).  TF's MaxPool3D lets a NaN win in its scalar loop (the
channels past the last whole SIMD packet) until a later tap replaces it; the reference, like TF's
vectorised loop, never lets NaN win.  So MaxPool3D goldens with NaN inputs are compared outside the
windows holding a NaN, except those with 8 channels, which TF ran vectorised and are compared whole.
"""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_matches, random_floats, random_ints, run_ref
from gpu_backend.window import window_geometry_3d

GOLDENS = np.load(Path(__file__).with_name("fixtures") / "tf_goldens_volumetric.npz")
CASES = sorted({k.split("/")[0] for k in GOLDENS.files})


def load(case: str) -> tuple[str, list[np.ndarray], dict, np.ndarray]:
    call = json.loads(str(GOLDENS[f"{case}/call"]))
    inputs = [GOLDENS[f"{case}/in{k}"] for k in range(3) if f"{case}/in{k}" in GOLDENS.files]
    return call["kernel"], inputs, call["attrs"], GOLDENS[f"{case}/out"]


def test_goldens_cover_every_kernel():
    assert {load(c)[0] for c in CASES} == {"Conv3D", "MaxPool3D", "AvgPool3D"}


@pytest.mark.parametrize("case", CASES)
def test_reference_matches_tensorflow(case):
    kernel, inputs, attrs, want = load(case)
    (got,) = run_ref(kernel, inputs, attrs)
    x = inputs[0]
    if kernel == "MaxPool3D" and np.isnan(x).any() and x.shape[-1] % 8:
        (nan_window,) = run_ref("MaxPool3D", [np.isnan(x).astype(np.float32)], attrs)
        keep = nan_window <= 0
        assert keep.sum() > want.size // 5, "too few windows left to compare"
        got, want = got[keep], want[keep]
    assert_matches(got, want, rtol=1e-5, atol=1e-5, what=case)
    if kernel == "MaxPool3D":        # exact: -inf vs the lowest float, +inf, no rounding
        np.testing.assert_array_equal(got, want, err_msg=case)


# ---------------------------------------------------------------- direct loops (float64, one tap at a time)
def loop_conv3d(x: np.ndarray, f: np.ndarray, attrs: dict) -> np.ndarray:
    win = window_geometry_3d("Conv3D", attrs, x.shape[1:4], f.shape[:3])
    out = np.zeros((x.shape[0],) + win.out + (f.shape[4],))
    for n, od, oh, ow in itertools.product(range(x.shape[0]), *map(range, win.out)):
        for a, b, c in itertools.product(*map(range, win.k)):
            i = [o * s - p + k * d for o, s, p, k, d in zip((od, oh, ow), win.s, win.front, (a, b, c), win.d)]
            if all(0 <= v < size for v, size in zip(i, x.shape[1:4])):
                out[n, od, oh, ow] += x[n, i[0], i[1], i[2]].astype(np.float64) @ f[a, b, c].astype(np.float64)
    return out.astype(np.float32)


def loop_pool3d(x: np.ndarray, attrs: dict, op: str) -> np.ndarray:
    k = attrs["filter_size"]
    win = window_geometry_3d(op, attrs, x.shape[1:4], (k, k, k) if isinstance(k, int) else k, (1, 1, 1))
    out = np.zeros((x.shape[0],) + win.out + (x.shape[4],), np.float64 if op == "AvgPool3D" else x.dtype)
    for n, od, oh, ow in itertools.product(range(x.shape[0]), *map(range, win.out)):
        lo = [o * s - p for o, s, p in zip((od, oh, ow), win.s, win.front)]
        real = x[n, max(lo[0], 0): lo[0] + win.k[0], max(lo[1], 0): lo[1] + win.k[1],
                 max(lo[2], 0): lo[2] + win.k[2]].reshape(-1, x.shape[4])
        padded = real.shape[0] < np.prod(win.k)
        if op == "AvgPool3D":
            out[n, od, oh, ow] = real.astype(np.float64).mean(0)
        elif x.dtype == np.int32:
            out[n, od, oh, ow] = real.max(0)
        else:
            out[n, od, oh, ow] = np.fmax(np.fmax.reduce(real, 0), np.finfo(np.float32).min if padded else -np.inf)
    return out.astype(x.dtype)


LOOPS = [  # input, filter, attributes
    ((2, 5, 7, 6, 3), (3, 2, 3, 3, 5), {"strides": [1, 2, 1], "pad": "same", "dilations": [1, 1, 2]}),
    ((1, 6, 5, 7, 5), (2, 3, 2, 5, 3), {"strides": 3, "pad": "valid"}),
    ((1, 4, 6, 5, 2), (2, 2, 2, 2, 4), {"strides": [1, 1, 2, 1, 1], "pad": "same", "dilations": [1, 3, 2, 1, 1]}),
]


@pytest.mark.parametrize("case", range(len(LOOPS)))
def test_conv3d_matches_a_direct_loop(case):
    xs, fs, attrs = LOOPS[case]
    rng = np.random.default_rng(500 + case)
    x, f = random_floats(rng, xs), random_floats(rng, fs)
    assert_matches(run_ref("Conv3D", [x, f], attrs)[0], loop_conv3d(x, f, attrs), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op", ["MaxPool3D", "AvgPool3D"])
@pytest.mark.parametrize("case", range(len(LOOPS)))
def test_pools_match_a_direct_loop(op, case):
    xs, fs, attrs = LOOPS[case]
    rng = np.random.default_rng(600 + case)
    x = random_floats(rng, xs)
    x[0, 0, 0, :2, 0] = -np.inf
    x[0, 1, 1, 1, 1] = np.nan
    pattrs = {"filter_size": list(fs[:3]), "strides": attrs["strides"], "pad": attrs["pad"]}
    (got,) = run_ref(op, [x], pattrs)
    assert_matches(got, loop_pool3d(x, pattrs, op), rtol=1e-6, atol=1e-6)
    if op == "MaxPool3D":
        xi = random_ints(rng, xs)
        xi[0, 0, 0, 0, 0] = 2**24 + 1
        xi[0, 0, 0, 1, 0] = 2**24
        np.testing.assert_array_equal(run_ref(op, [xi], pattrs)[0], loop_pool3d(xi, pattrs, op))
