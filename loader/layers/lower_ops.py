"""Keras 3 operation layers: calls of `keras.ops` functions inside a functional model are saved as
layers of their own (a Masking layer's mask, for example, is NotEqual then Any).  Their positional args
mix tensors and plain values ([x, 0.0])."""
from __future__ import annotations

from typing import Any

import numpy as np

from .builder import KTensor
from .ops import norm_axis
from .registry import LayerCall, LayerConfigError, layer
from .topology import layer_dtype

COMPARISONS = {"NotEqual": "NotEqual", "Equal": "Equal", "Greater": "Greater", "GreaterEqual": "GreaterEqual",
               "Less": "Less", "LessEqual": "LessEqual"}
LOGICAL = {"LogicalAnd": "LogicalAnd", "LogicalOr": "LogicalOr"}


def _operands(c: LayerCall) -> tuple[KTensor, KTensor]:
    """The two operands of a binary op: tensors, or a tensor and a Python number."""
    args: list[Any] = list(c.args)
    if len(args) == 1 and isinstance(args[0], list):
        args = args[0]
    if len(args) != 2:
        raise LayerConfigError(f"{c.class_name} expects 2 operands, got {len(args)}")
    a, b = args
    f = c.f
    if not isinstance(a, KTensor) and not isinstance(b, KTensor):
        raise LayerConfigError(f"{c.class_name} of two constants")
    if not isinstance(a, KTensor):
        a = f.const(np.asarray(a, np.float32 if b.dtype == "float32" else np.int32), "operand", b.dtype)
    if not isinstance(b, KTensor):
        b = f.const(np.asarray(b, np.float32 if a.dtype == "float32" else np.int32), "operand", a.dtype)
    return a, b


@layer(*COMPARISONS)
def comparison(c: LayerCall) -> list[KTensor]:
    a, b = _operands(c)
    if a.dtype != b.dtype:
        b = c.f.cast(b, a.dtype)
    return [c.f.binary(COMPARISONS[c.class_name], a, b, dtype="bool")]


@layer(*LOGICAL)
def logical(c: LayerCall) -> list[KTensor]:
    a, b = _operands(c)
    return [c.f.binary(LOGICAL[c.class_name], c.f.cast(a, "bool"), c.f.cast(b, "bool"), dtype="bool")]


@layer("LogicalNot")
def logical_not(c: LayerCall) -> list[KTensor]:
    return [c.f.unary("LogicalNot", c.f.cast(c.x, "bool"), dtype="bool")]


@layer("Any", "All", propagates_mask=False)
def any_all(c: LayerCall) -> list[KTensor]:
    x = c.f.cast(c.x, "bool")
    axis = c.cfg("axis")
    axes = list(range(x.rank)) if axis is None else [norm_axis(int(a), x.rank) for a in
                                                      (axis if isinstance(axis, list) else [axis])]
    return [c.f.reduce(c.class_name, x, axes, bool(c.cfg("keepdims", False)))]


@layer("Cast")
def cast(c: LayerCall) -> list[KTensor]:
    return [c.f.cast(c.x, layer_dtype({"dtype": c.cfg("dtype", "float32")}))]
