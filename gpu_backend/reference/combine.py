"""Select, AddN and ClipByValue."""
from __future__ import annotations

import numpy as np

from ..errors import AttributeValueError, ShapeError
from ..registry import numpy_kernel


@numpy_kernel("Select", "SelectV2")
def select(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    cond, t, e = inputs
    if op == "Select" and cond.ndim == 1 and t.ndim > 1:
        if cond.shape[0] != t.shape[0]:
            raise ShapeError("Select: condition does not match the first dimension")
        cond = cond.reshape(cond.shape + (1,) * (t.ndim - 1))
    return [np.where(cond, t, e)]


@numpy_kernel("AddN")
def add_n(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    if any(x.shape != inputs[0].shape for x in inputs):
        raise ShapeError("AddN inputs must share one shape")
    if inputs[0].dtype.kind == "i":
        total = np.sum([x.astype(np.int64) for x in inputs], axis=0)
        return [((total + 2**31) % 2**32 - 2**31).astype(np.int32)]
    total = inputs[0].astype(np.float32).copy()
    for x in inputs[1:]:
        total = total + x   # float32 left-to-right, as TF's AddN
    return [total]


@numpy_kernel("ClipByValue")
def clip_by_value(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x = inputs[0]
    if len(inputs) == 3:
        lo, hi = inputs[1], inputs[2]
    else:
        try:
            lo, hi = attrs["clip_value_min"], attrs["clip_value_max"]
        except KeyError as missing:
            raise AttributeValueError(f"ClipByValue needs the attribute {missing}") from None
        lo, hi = np.asarray(lo, x.dtype), np.asarray(hi, x.dtype)
    r = np.where(x > hi, hi, x)
    r = np.where(r < lo, lo, r)
    return [r.astype(x.dtype)]
