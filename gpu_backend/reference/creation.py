"""Range, Fill and LinSpace: tensors made from attributes alone.

Arithmetic is float32 where TF's kernels compute in float32 (Range's size and
values, LinSpace's step), so the element values and counts match TF exactly,
including the cases where float32 rounding changes the length of a range.
"""
from __future__ import annotations

import numpy as np

from ..dtypes import numpy_dtype
from ..errors import AttributeValueError
from ..op_checks import dtype_attr, number_attr as _number, range_spec
from ..registry import numpy_kernel
from ..slicing import int_list


@numpy_kernel("Range")
def range_(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """start, start+step, ... up to (excluding) stop (see op_checks.range_spec for the length)."""
    kind, a, d, size = range_spec(op, attrs)
    if kind == "int32":
        return [(int(a) + int(d) * np.arange(size, dtype=np.int64)).astype(np.int32)]
    a32, d32 = np.float32(a), np.float32(d)
    return [(a32 + np.arange(size, dtype=np.float32) * d32).astype(np.float32)]


@numpy_kernel("Fill")
def fill(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """dtype defaults to bool for a bool value and float32 otherwise (TF.js's inference)."""
    shape = int_list(attrs.get("shape"), op, "shape")
    if any(d < 0 for d in shape):
        raise AttributeValueError(f"{op}: shape {shape} has a negative dim")
    value = _number(op, attrs, "value")
    dtype = numpy_dtype(dtype_attr(attrs, "bool" if isinstance(value, bool) else "float32"))
    return [np.full(shape, np.array(value).astype(dtype), dtype)]


@numpy_kernel("LinSpace")
def lin_space(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """num evenly spaced float32 values from start to stop inclusive, as TF's kernel: a float32
    step (stop - start) / (num - 1), start + i * step, and the last value exactly stop."""
    start, stop = np.float32(_number(op, attrs, "start")), np.float32(_number(op, attrs, "stop"))
    num = int(_number(op, attrs, "num"))
    if num <= 0:
        raise AttributeValueError(f"{op}: num must be > 0, got {num}")
    if num == 1:
        return [np.array([start], np.float32)]
    with np.errstate(all="ignore"):
        step = (stop - start) / np.float32(num - 1)
        out = (start + np.arange(num, dtype=np.float32) * step).astype(np.float32)
    out[-1] = stop
    return [out]
