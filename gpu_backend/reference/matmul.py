"""BatchMatMul / MatMul / _FusedMatMul with TF's batch broadcasting and fused epilogues."""
from __future__ import annotations

import numpy as np

from ..errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from ..registry import numpy_kernel


def activate(x: np.ndarray, act: str, alpha: float, prelu: np.ndarray | None) -> np.ndarray:
    with np.errstate(all="ignore"):
        if act == "linear":
            return x
        if act == "relu":
            return np.where(np.isnan(x), x, np.where(x > 0, x, 0.0))
        if act == "relu6":
            return np.where(np.isnan(x), x, np.clip(np.where(x > 0, x, 0.0), None, 6.0))
        if act == "elu":
            return np.where(x > 0, x, np.expm1(x))
        if act == "sigmoid":
            return 1.0 / (1.0 + np.exp(-x))
        if act == "leakyrelu":
            return np.where(x > 0, x, x * alpha)
        if act == "tanh":
            return np.tanh(x)
        if act == "hardswish":                       # grappler's _FusedHardSwish, as TF computes it
            return x * np.clip(x + np.float32(3), 0, 6) * np.float32(1 / 6)
        if act == "prelu":
            assert prelu is not None
            return np.where(x < 0, x * prelu, x)
    raise AttributeValueError(f"activation {act!r} is not supported")


def split_fused_inputs(op: str, inputs: list[np.ndarray], attrs: dict) -> tuple[str, np.ndarray | None, np.ndarray | None]:
    act = str(attrs.get("activation", "linear")).lower()
    rest = inputs[2:]
    prelu = None
    if act == "prelu":
        if not rest:
            raise AttributeValueError(f"{op}: prelu activation needs its weights as the last input")
        prelu = rest[-1]
        rest = rest[:-1]
    if len(rest) > 1:
        raise AttributeValueError(f"{op}: too many inputs")
    return act, (rest[0] if rest else None), prelu


@numpy_kernel("BatchMatMul", "MatMul", "_FusedMatMul")
def batch_matmul(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    if inputs[0].dtype != inputs[1].dtype or inputs[0].dtype not in (np.float32, np.int32):
        raise UnsupportedDTypeError(f"{op} takes two float32 or two int32 inputs, got {inputs[0].dtype} and "
                                    f"{inputs[1].dtype}")
    integer = inputs[0].dtype == np.int32
    # int32: exact, wrapping mod 2^32 as TF's int32 matmul does (int64 products and sums keep the low 32 bits)
    work = np.int64 if integer else np.float64
    a, b = inputs[0].astype(work), inputs[1].astype(work)
    if a.ndim < 2 or b.ndim < 2:
        raise ShapeError(f"BatchMatMul needs inputs of rank >= 2, got {a.shape} and {b.shape}")
    if attrs.get("transpose_a", False):
        a = np.swapaxes(a, -1, -2)
    if attrs.get("transpose_b", False):
        b = np.swapaxes(b, -1, -2)
    if a.shape[-1] != b.shape[-2]:
        raise ShapeError(f"BatchMatMul: inner dimensions differ ({a.shape[-1]} != {b.shape[-2]})")
    with np.errstate(over="ignore"):
        out = np.matmul(a, b)
    if integer:
        if op == "_FusedMatMul":
            raise UnsupportedDTypeError("_FusedMatMul takes float32 inputs (TF defines it for floats only)")
        return [out.astype(np.int32)]
    if op == "_FusedMatMul":
        act, bias, prelu = split_fused_inputs(op, inputs, attrs)
        if bias is not None:
            out = out + bias.astype(np.float64)
        out = activate(out, act, float(np.float32(attrs.get("leakyrelu_alpha", 0.2))),
                       None if prelu is None else prelu.astype(np.float64))
    return [out.astype(np.float32)]
