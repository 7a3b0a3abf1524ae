"""Every element-wise kernel, GL against the numpy reference: edge values, odd shapes, broadcasting."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from gpu_backend import op_tables as T
from conftest import EDGE_FLOATS, EDGE_INTS, check_kernel, random_floats, random_ints

FLOAT_UNARY = sorted(op for op, (allowed, _) in T.UNARY.items() if "f" in allowed and op != "Cast")
INT_UNARY = sorted(op for op, (allowed, _) in T.UNARY.items() if "i" in allowed and op != "Cast")
# llvmpipe's sin/cos reduce arguments accurately up to about 1e5 only (TF reduces any float exactly)
TRIG = {"Sin", "Cos", "Tan"}


def unary_input(op: str) -> np.ndarray:
    rng = np.random.default_rng(abs(hash(op)) % 2**32)
    edge = EDGE_FLOATS[np.abs(np.nan_to_num(EDGE_FLOATS, posinf=0, neginf=0)) < 1e5] if op in TRIG else EDGE_FLOATS
    x = np.concatenate([edge, random_floats(rng, (70,), 3.0), rng.uniform(-1, 1, 40).astype(np.float32)])
    return np.resize(x, (3, 5, 9)).astype(np.float32)   # odd sizes: 9 values = 2 full texels + 1 lane


@pytest.mark.parametrize("op", FLOAT_UNARY)
def test_unary_float(any_gl, op):
    attrs = {"alpha": 0.3} if op in ("LeakyRelu", "Step") else {}
    check_kernel(any_gl, op, [unary_input(op)], attrs, rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("op", INT_UNARY)
def test_unary_int(gl, op):
    rng = np.random.default_rng(1)
    x = np.concatenate([EDGE_INTS, random_ints(rng, (29,))]).reshape(5, 9)
    check_kernel(gl, op, [x])


@pytest.mark.parametrize("op", ["LogicalNot", "ZerosLike", "OnesLike"])
def test_unary_bool(gl, op):
    x = np.random.default_rng(2).random((4, 7)) > 0.5
    check_kernel(gl, op, [x])


@pytest.mark.parametrize("src,dst", [(s, d) for s in ("float32", "int32", "bool") for d in ("float32", "int32", "bool")])
def test_cast(any_gl, src, dst):
    rng = np.random.default_rng(3)
    if src == "float32":
        x = np.concatenate([EDGE_FLOATS, np.array([2.9, -2.9, 2147483520.0, -2147483648.0, 2147483648.0], np.float32),
                            random_floats(rng, (13,), 1e3)])
    elif src == "int32":
        x = np.concatenate([EDGE_INTS, random_ints(rng, (9,))])
    else:
        x = rng.random(25) > 0.5
    check_kernel(any_gl, "Cast", [x.reshape(1, -1)], {"dtype": dst})


def test_round_is_half_to_even(gl):
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5, 0.49999997], np.float32)
    (got,) = check_kernel(gl, "Round", [x])
    np.testing.assert_array_equal(got, [0, 2, 2, -0.0, -2, -2, 4, 0])


def _pairs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.array(list(itertools.product(values, values)))
    n = len(values)
    return p[:, 0].reshape(n, n).astype(values.dtype), p[:, 1].reshape(n, n).astype(values.dtype)


FLOAT_BINARY = sorted(op for op, (allowed, _) in T.BINARY.items() if "f" in allowed)
INT_BINARY = sorted(op for op, (allowed, _) in T.BINARY.items() if "i" in allowed)


@pytest.mark.parametrize("op", FLOAT_BINARY)
def test_binary_float_edge_values(any_gl, op):
    a, b = _pairs(EDGE_FLOATS)
    # Pow with a fractional exponent goes through exp2(y * log2(x)): about 1e-5 relative error
    check_kernel(any_gl, op, [a, b], rtol=2e-5 if op == "Pow" else 3e-6, atol=1e-6)


@pytest.mark.parametrize("op", INT_BINARY)
def test_binary_int_edge_values(gl, op):
    a, b = _pairs(EDGE_INTS)
    check_kernel(gl, op, [a, b])


@pytest.mark.parametrize("op", ["LogicalAnd", "LogicalOr", "Equal", "NotEqual"])
def test_binary_bool(gl, op):
    a, b = _pairs(np.array([True, False, True]))
    check_kernel(gl, op, [a, b])


@pytest.mark.parametrize("sa,sb", [((3, 1, 5), (4, 1)), ((2, 3, 4, 5), (5,)), ((), (3, 4)), ((7, 1), (1, 9)),
                                   ((2, 1, 3, 1), (1, 5, 1, 6)), ((6,), ()), ((1, 1, 1, 13), (3, 2, 5, 1)),
                                   ((2, 3, 1, 4, 5), (3, 7, 1, 5))])
@pytest.mark.parametrize("op", ["Add", "Sub", "Multiply", "Maximum", "Greater", "Pow"])
def test_binary_broadcasting(any_gl, op, sa, sb):
    rng = np.random.default_rng(4)
    a, b = random_floats(rng, sa), random_floats(rng, sb)
    if op == "Pow":
        a = np.abs(a) + 0.5
    check_kernel(any_gl, op, [a, b], rtol=3e-6)


def test_binary_broadcasting_int_beyond_2_24(gl):
    rng = np.random.default_rng(5)
    a = random_ints(rng, (4, 1, 6))
    b = random_ints(rng, (3, 1))
    for op in ("Add", "Sub", "Multiply", "FloorDiv", "FloorMod", "Maximum", "Less", "Equal"):
        check_kernel(gl, op, [a, b])


def test_select(any_gl):
    rng = np.random.default_rng(6)
    cond = rng.random((3, 1, 7)) > 0.5
    t = np.concatenate([EDGE_FLOATS[:21]]).reshape(3, 7)
    e = random_floats(rng, (2, 1, 3, 1))
    check_kernel(any_gl, "SelectV2", [cond, t, e])
    ti, ei = random_ints(rng, (2, 5)), random_ints(rng, (2, 5))
    check_kernel(any_gl, "Select", [rng.random(2) > 0.5, ti, ei])       # v1: a vector picks rows
    check_kernel(any_gl, "Select", [rng.random((2, 5)) > 0.5, ti > 0, ei > 0])


@pytest.mark.parametrize("n", [1, 2, 3, 8, 11, 17])
def test_add_n(any_gl, n):
    rng = np.random.default_rng(n)
    xs = [random_floats(rng, (3, 7)) for _ in range(n)]
    check_kernel(any_gl, "AddN", xs, rtol=1e-6)
    check_kernel(any_gl, "AddN", [random_ints(rng, (5,), -(2**30), 2**30) for _ in range(n)])


def test_clip_by_value(any_gl):
    rng = np.random.default_rng(7)
    x = np.concatenate([EDGE_FLOATS, random_floats(rng, (13,))]).reshape(5, 9)
    check_kernel(any_gl, "ClipByValue", [x], {"clip_value_min": -1.5, "clip_value_max": 2.0})
    check_kernel(any_gl, "ClipByValue", [x, np.float32(-1.0), np.full((9,), 0.5, np.float32)])
    xi = random_ints(rng, (3, 5), -100, 100)
    check_kernel(any_gl, "ClipByValue", [xi], {"clip_value_min": -7, "clip_value_max": 9})
