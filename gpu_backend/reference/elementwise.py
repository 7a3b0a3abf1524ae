"""Element-wise unary and binary ops in numpy, with TensorFlow's results on NaN, Inf, -0 and ints.

Floats are computed in float64 and rounded to float32 once, so the reference is
at least as accurate as TF's float32 kernels.  Integer division or modulo by
zero gives 0 and negative integer powers truncate (TF raises errors there);
the GL kernels do the same.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import UnsupportedDTypeError
from ..registry import numpy_kernel
from .. import op_tables as T

_erf = np.frompyfunc(math.erf, 1, 1)


def _f64(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64)


def ftz(x: np.ndarray) -> np.ndarray:
    """float32 with subnormal results flushed to a signed zero, as TF's CPU kernels (and GPUs) run."""
    x = np.asarray(x).astype(np.float32)
    return np.where(np.abs(x) < np.finfo(np.float32).tiny, np.copysign(np.float32(0), x), x).astype(np.float32)


def _check(op: str, arrays: list[np.ndarray], allowed: str) -> None:
    for a in arrays:
        letter = {"f": "f", "i": "i", "b": "b"}[a.dtype.kind if a.dtype.kind != "u" else "i"]
        if letter not in allowed:
            raise UnsupportedDTypeError(f"{op} does not take {a.dtype} inputs")


def _softplus(x: np.ndarray) -> np.ndarray:
    t = 13.942385
    with np.errstate(over="ignore"):
        return np.where(x > t, x, np.where(x < -t, np.exp(x), np.log1p(np.exp(np.minimum(x, t)))))


_FLOAT_UNARY = {
    "Abs": np.abs, "Neg": np.negative, "Square": np.square,
    "Sign": lambda x: np.where(np.isnan(x), x, (x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)),
    "Floor": np.floor, "Ceil": np.ceil, "Round": np.round,
    "Relu": lambda x: np.where(np.isnan(x), x, np.where(x > 0, x, 0.0)),
    "Relu6": lambda x: np.where(np.isnan(x), x, np.clip(np.where(x > 0, x, 0.0), None, 6.0)),
    "Elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "Selu": lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x)),
    "Sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "Softplus": _softplus, "Tanh": np.tanh, "Exp": np.exp, "Expm1": np.expm1, "Log": np.log,
    "Log1p": np.log1p, "Sqrt": np.sqrt, "Rsqrt": lambda x: 1.0 / np.sqrt(x), "Reciprocal": lambda x: 1.0 / x,
    "Erf": lambda x: np.asarray(_erf(x)).astype(np.float64),   # frompyfunc gives a bare float for 0-d x
    "Sin": np.sin, "Cos": np.cos, "Tan": np.tan,
    "Asin": np.arcsin, "Acos": np.arccos, "Atan": np.arctan, "Sinh": np.sinh, "Cosh": np.cosh,
    "Asinh": np.arcsinh, "Acosh": np.arccosh, "Atanh": np.arctanh,
}


@numpy_kernel(*T.UNARY)
def unary(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x = inputs[0]
    allowed, _ = T.UNARY[op]
    _check(op, [x], allowed)
    out_dtype = T.unary_out_dtype(op, _name(x.dtype), attrs)
    if op == "Cast":
        return [_cast(x, out_dtype)]
    if op == "ZerosLike":
        return [np.zeros_like(x)]
    if op == "OnesLike":
        return [np.ones_like(x)]
    if op == "LogicalNot":
        return [np.logical_not(x)]
    if op in ("IsNan", "IsInf", "IsFinite"):
        return [{"IsNan": np.isnan, "IsInf": np.isinf, "IsFinite": np.isfinite}[op](x)]
    if x.dtype.kind == "i":
        return [_int_unary(op, x)]
    with np.errstate(all="ignore"):
        if op in ("LeakyRelu", "Step"):
            alpha = float(attrs.get("alpha", T.DEFAULT_ALPHA[op]))
            xf = _f64(x)
            if op == "LeakyRelu":
                r = np.where(xf > 0, xf, xf * np.float64(np.float32(alpha)))
            else:
                r = np.where(np.isnan(xf), xf, np.where(xf > 0, 1.0, alpha))
        else:
            r = _FLOAT_UNARY[op](_f64(x))
        return [ftz(r)]


def _int_unary(op: str, x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        if op == "Abs":
            return np.abs(x)
        if op == "Neg":
            return np.negative(x)
        if op == "Square":
            return np.multiply(x, x)
        if op == "Sign":
            return np.sign(x)
        if op in ("Floor", "Ceil", "Round"):
            return x.copy()
        if op == "Relu":
            return np.maximum(x, 0)
        if op == "Relu6":
            return np.clip(x, 0, 6)
    raise UnsupportedDTypeError(f"{op} does not take int32 inputs")


def _name(dtype: np.dtype) -> str:
    return {"f": "float32", "i": "int32", "b": "bool"}[dtype.kind]


def _cast(x: np.ndarray, to: str) -> np.ndarray:
    if to == "bool":
        return x != 0
    if to == "float32":
        return x.astype(np.float32)
    # to int32
    if x.dtype.kind == "f":
        xf = x.astype(np.float64)
        bad = ~np.isfinite(xf) | (xf >= 2.0**31) | (xf < -(2.0**31))
        out = np.where(bad, 0, np.trunc(np.where(bad, 0, xf))).astype(np.int64)
        return np.where(bad, np.iinfo(np.int32).min, out).astype(np.int32)
    return x.astype(np.int32)


# -- binary -----------------------------------------------------------------------------
def _int_floordiv(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a64, b64 = a.astype(np.int64), b.astype(np.int64)
    safe = np.where(b64 == 0, 1, b64)
    q = np.floor_divide(a64, safe)
    return np.where(b64 == 0, 0, q).astype(np.int64)


def _int_truncdiv(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a64, b64 = a.astype(np.int64), b.astype(np.int64)
    safe = np.where(b64 == 0, 1, b64)
    q = np.trunc(a64 / safe).astype(np.int64)
    q = np.where(np.abs(a64) >= 2**53, (np.abs(a64) // np.abs(safe)) * np.sign(a64) * np.sign(safe), q)
    return np.where(b64 == 0, 0, q)


def _int_pow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a64, b64 = np.broadcast_arrays(a.astype(np.int64), b.astype(np.int64))
    out = np.empty(a64.shape, np.int64)
    for idx in np.ndindex(a64.shape):
        x, y = int(a64[idx]), int(b64[idx])
        if y < 0:
            r = 1 if x == 1 else ((-1 if y % 2 else 1) if x == -1 else 0)
        else:
            r = pow(x, y, 2**32)
        out[idx] = r
    return out


def _wrap32(x: np.ndarray) -> np.ndarray:
    return ((x.astype(np.int64) + 2**31) % 2**32 - 2**31).astype(np.int32)


def _float_floormod(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    r = np.fmod(a, b)
    adjust = (r != 0) & ((r < 0) != (b < 0))
    return np.where(adjust, r + b, r)


def _atan2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.arctan2(a, b)


_FLOAT_BINARY = {
    "Add": np.add, "Sub": np.subtract, "Multiply": np.multiply, "RealDiv": np.divide,
    "FloorDiv": lambda a, b: np.floor(a / b), "FloorMod": _float_floormod, "Mod": _float_floormod,
    "TruncateMod": np.fmod,
    "Pow": np.power, "Maximum": np.maximum, "Minimum": np.minimum,
    "SquaredDifference": lambda a, b: np.square(a - b), "Atan2": _atan2,
    "DivNoNan": lambda a, b: np.where(b == 0, 0.0, a / np.where(b == 0, 1.0, b)),
    "Prelu": lambda a, b: np.where(a < 0, a * b, a),
}
_COMPARE = {"Equal": np.equal, "NotEqual": np.not_equal, "Greater": np.greater, "GreaterEqual": np.greater_equal,
            "Less": np.less, "LessEqual": np.less_equal}


@numpy_kernel(*T.BINARY)
def binary(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    a, b = inputs
    allowed, _ = T.BINARY[op]
    _check(op, [a, b], allowed)
    if a.dtype != b.dtype:
        raise UnsupportedDTypeError(f"{op} needs inputs of one dtype, got {a.dtype} and {b.dtype}")
    np.broadcast_shapes(a.shape, b.shape)
    if op in _COMPARE:
        return [_COMPARE[op](a, b)]
    if op == "LogicalAnd":
        return [np.logical_and(a, b)]
    if op == "LogicalOr":
        return [np.logical_or(a, b)]
    if a.dtype.kind == "i":
        a64, b64 = a.astype(np.int64), b.astype(np.int64)
        if op == "Add":
            r = a64 + b64
        elif op == "Sub":
            r = a64 - b64
        elif op == "Multiply":
            r = a64 * b64
        elif op in ("RealDiv", "DivNoNan"):
            r = _int_truncdiv(a, b)
        elif op == "FloorDiv":
            r = _int_floordiv(a, b)
        elif op == "TruncateMod":
            safe = np.where(b64 == 0, 1, b64)
            r = np.where(b64 == 0, 0, np.fmod(a64, safe))
        elif op in ("FloorMod", "Mod"):
            q = _int_floordiv(a, b)
            r = np.where(np.broadcast_to(b64, q.shape) == 0, 0, a64 - q * b64)
        elif op == "Pow":
            r = _int_pow(a, b)
        elif op == "Maximum":
            r = np.maximum(a64, b64)
        elif op == "Minimum":
            r = np.minimum(a64, b64)
        elif op == "SquaredDifference":
            r = (a64 - b64) ** 2
        elif op == "BitwiseAnd":
            r = a64 & b64
        else:
            raise UnsupportedDTypeError(f"{op} does not take int32 inputs")
        return [_wrap32(r)]
    with np.errstate(all="ignore"):
        if op == "FloorDiv":   # the quotient is rounded (and may underflow) in float32 before floor, as in TF
            return [np.floor(ftz(a.astype(np.float32) / b.astype(np.float32)))]
        r = _FLOAT_BINARY[op](_f64(a), _f64(b))
        return [ftz(r)]
