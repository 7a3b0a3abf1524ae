"""Convolutions and a whole model, GL against the numpy backend in the same run.

    python -m pytest bench/test_bench_models.py --benchmark-json=bench/results/models.json
    python bench/report.py bench/results/models.json

Also measures the convolution strategy: direct (what the GL backend does) against im2col + matmul
built from the same backend's kernels (pad, one strided slice per tap, concat, 1x1 convolution),
and records the extra memory im2col needs.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from test_bench_core import bench_kernel

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "models"
BACKENDS = ["gl-packed", "numpy"]

CONVS = {
    "Conv2D 3x3 1x64x64x32->32": ((1, 64, 64, 32), (3, 3, 32, 32), {"strides": [1, 1], "pad": "same"}, "Conv2D"),
    "Conv2D 1x1 1x64x64x64->64": ((1, 64, 64, 64), (1, 1, 64, 64), {"strides": [1, 1], "pad": "valid"}, "Conv2D"),
    "Depthwise 3x3 1x64x64x96": ((1, 64, 64, 96), (3, 3, 96, 1), {"strides": [1, 1], "pad": "same"},
                                 "DepthwiseConv2dNative"),
    "Depthwise 3x3 s2 1x64x64x96": ((1, 64, 64, 96), (3, 3, 96, 1), {"strides": [2, 2], "pad": "same"},
                                    "DepthwiseConv2dNative"),
}


@pytest.mark.parametrize("name", list(CONVS))
@pytest.mark.parametrize("backend", BACKENDS)
def test_conv(benchmark, backends, backend, name):
    xs, ws, attrs, op = CONVS[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs).astype(np.float32)
    w = (rng.standard_normal(ws) * 0.1).astype(np.float32)
    bench_kernel(benchmark, backends, backend, op, [x, w], attrs, group=name, constants=(1,))


def _im2col_conv(b, x, w, fh: int, fw: int):
    """3x3 'same' convolution as im2col + 1x1 convolution, from the backend's own kernels."""
    n, h, wd, c = x.shape
    (xp,) = b.run("PadV2", [x], {"paddings": [[0, 0], [fh // 2, fh // 2], [fw // 2, fw // 2], [0, 0]]})
    taps = []
    for i in range(fh):
        for j in range(fw):
            (t,) = b.run("StridedSlice", [xp], {"begin": [0, i, j, 0], "end": [n, i + h, j + wd, c],
                                                "strides": [1, 1, 1, 1]})
            taps.append(t)
    cols = taps[0]
    owned = []
    for k in range(1, len(taps), 7):     # Concat takes at most 8 inputs per call here
        (cols,) = b.run("Concat", [cols] + taps[k:k + 7], {"axis": 3})
        owned.append(cols)
    (y,) = b.run("Conv2D", [cols, w], {"strides": [1, 1], "pad": "valid"})
    peak = sum(int(np.prod(t.shape)) * 4 for t in owned[-1:])
    for t in [xp] + taps + owned:
        b.dispose(t)
    return y, peak


@pytest.mark.parametrize("strategy", ["direct", "im2col"])
def test_conv_strategy(benchmark, backends, strategy):
    b = backends["gl-packed"]
    rng = np.random.default_rng(1)
    x = b.upload(rng.standard_normal((1, 64, 64, 32)).astype(np.float32))
    w33 = rng.standard_normal((3, 3, 32, 32)).astype(np.float32) * 0.1
    w = b.upload(w33, constant=True)
    w1 = b.upload(w33.reshape(1, 1, 9 * 32, 32), constant=True)
    info = {}

    def once() -> None:
        if strategy == "direct":
            (y,) = b.run("Conv2D", [x, w], {"strides": [1, 1], "pad": "same"})
        else:
            y, info["im2col_bytes"] = _im2col_conv(b, x, w1, 3, 3)
        b.finish()
        b.dispose(y)

    once()
    benchmark.group = "Conv 3x3 1x64x64x32->32: direct vs im2col (GL)"
    benchmark.extra_info.update(backend=f"gl-{strategy}", op="Conv2D", **info)
    benchmark.pedantic(once, rounds=10, iterations=1, warmup_rounds=1)
    for h in (x, w, w1):
        b.dispose(h)


@pytest.mark.skipif(not (SHARED / "mobilenet_v2").exists(), reason="../shared/models is not present")
@pytest.mark.parametrize("backend", BACKENDS)
def test_mobilenet_v2(benchmark, backends, backend):
    from loader import load_graph_model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = load_graph_model(SHARED / "mobilenet_v2" / "model.json", backend=backends[backend])
    with np.load(SHARED / "mobilenet_v2" / "inputs.npz") as z:
        inputs = {k: z[k] for k in z.files}
    model.warmup(inputs)
    benchmark.group = "mobilenet_v2 predict (128x128, alpha 0.35)"
    benchmark.extra_info.update(backend=backend, op="predict")
    benchmark.pedantic(model.predict, args=(inputs,), rounds=15, iterations=1, warmup_rounds=2)
    model.dispose()
