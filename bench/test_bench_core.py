"""Core kernels, GL (packed and unpacked layouts) against the numpy backend, in one run.

    python -m pytest bench/test_bench_core.py --benchmark-json=bench/results/core.json
    python bench/report.py bench/results/core.json

Each GL round is `run` + glFinish (the GPU work, inputs already resident, output disposed);
the numpy round is the same `run` on NumpyBackend.  Medians are compared within a group.
"""
from __future__ import annotations

import numpy as np
import pytest

BACKENDS = ["gl-packed", "gl-unpacked", "numpy"]


def bench_kernel(benchmark, backends, name: str, op: str, arrays, attrs=None, group: str = "",
                 constants: tuple[int, ...] = ()) -> None:
    """`constants`: indices of the arrays uploaded as constants (weights, as a model's loader does)."""
    b = backends[name]
    handles = [b.upload(a, constant=i in constants) for i, a in enumerate(arrays)]

    def once() -> None:
        outs = b.run(op, handles, attrs or {})
        if hasattr(b, "finish"):
            b.finish()
        for o in outs:
            b.dispose(o)

    once()  # compile the program and pay its first draw outside the measurement
    benchmark.group = group
    benchmark.extra_info.update(backend=name, op=op, shapes=[list(a.shape) for a in arrays])
    benchmark.pedantic(once, rounds=15, iterations=1, warmup_rounds=1)
    for h in handles:
        b.dispose(h)


@pytest.mark.parametrize("n", [256, 512, 1024])
@pytest.mark.parametrize("backend", BACKENDS)
def test_matmul(benchmark, backends, backend, n):
    if backend == "gl-unpacked" and n == 1024:
        pytest.skip("the unpacked matmul takes seconds at 1024: 256/512 show the ratio")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    bench_kernel(benchmark, backends, backend, "MatMul", [a, b], group=f"MatMul {n}x{n}x{n}")


@pytest.mark.parametrize("op", ["Add", "Multiply"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_elementwise_1m(benchmark, backends, backend, op):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((1024, 1024)).astype(np.float32)
    b = rng.standard_normal((1024, 1024)).astype(np.float32)
    bench_kernel(benchmark, backends, backend, op, [a, b], group=f"{op} 1M elements")


@pytest.mark.parametrize("backend", BACKENDS)
def test_unary_1m(benchmark, backends, backend):
    a = np.random.default_rng(2).standard_normal((1024, 1024)).astype(np.float32)
    bench_kernel(benchmark, backends, backend, "Sigmoid", [a], group="Sigmoid 1M elements")


@pytest.mark.parametrize("backend", BACKENDS)
def test_broadcast_add_1m(benchmark, backends, backend):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((1024, 1024)).astype(np.float32)
    b = rng.standard_normal((1024,)).astype(np.float32)
    bench_kernel(benchmark, backends, backend, "Add", [a, b], group="Add 1M + row broadcast")


@pytest.mark.parametrize("shape", [(64, 1000), (1024, 128)])
@pytest.mark.parametrize("backend", BACKENDS)
def test_softmax(benchmark, backends, backend, shape):
    a = np.random.default_rng(4).standard_normal(shape).astype(np.float32)
    bench_kernel(benchmark, backends, backend, "Softmax", [a], group=f"Softmax {shape[0]}x{shape[1]}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_reduce_mean(benchmark, backends, backend):
    a = np.random.default_rng(5).standard_normal((1, 32, 32, 256)).astype(np.float32)
    bench_kernel(benchmark, backends, backend, "Mean", [a], {"axis": [1, 2]}, group="Mean over HW 1x32x32x256")
