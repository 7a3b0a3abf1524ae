"""Range, Fill and LinSpace: tensors made from attributes alone.

Arithmetic is float32 where TF's kernels compute in float32 (Range's size and
values, LinSpace's step), so the element values and counts match TF exactly,
including the cases where float32 rounding changes the length of a range.
"""
from __future__ import annotations

import math

import numpy as np

from ..dtypes import numpy_dtype
from ..errors import AttributeValueError
from ..op_checks import dtype_attr, number_attr as _number
from ..registry import numpy_kernel
from ..slicing import int_list


@numpy_kernel("Range")
def range_(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """start, start+step, ... up to (excluding) stop: ceil((stop - start) / step) values, none
    when that is negative (TF raises there instead; TF.js returns an empty tensor)."""
    dtype = numpy_dtype(dtype_attr(attrs, "float32"))
    start, stop, step = (_number(op, attrs, n) for n in ("start", "stop", "step"))
    if step == 0:
        raise AttributeValueError(f"{op}: step must be non-zero (start={start}, stop={stop})")
    if dtype == np.int32:
        vals = [start, stop, step]
        if any(float(v) != int(v) for v in vals):
            raise AttributeValueError(f"{op}: dtype int32 needs integer start/stop/step, got {vals}")
        a, b, d = (int(v) for v in vals)
        size = max(0, -((a - b) // d)) if (b - a) * d > 0 else 0
        return [(a + d * np.arange(size, dtype=np.int64)).astype(np.int32)]
    if dtype != np.float32:
        raise AttributeValueError(f"{op}: dtype must be float32 or int32, got {attrs.get('dtype')!r}")
    a, b, d = (np.float32(v) for v in (start, stop, step))
    with np.errstate(all="ignore"):
        q = (b - a) / d                             # float32, as TF
    if not np.isfinite(q):
        raise AttributeValueError(f"{op}: start={start}, stop={stop}, step={step} do not give a finite length")
    size = max(0, math.ceil(float(q)))
    return [(a + np.arange(size, dtype=np.float32) * d).astype(np.float32)]


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
