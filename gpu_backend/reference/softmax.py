"""Softmax and LogSoftmax over the last axis, with TF's formula (so NaN/Inf rows behave alike)."""
from __future__ import annotations

import numpy as np

from ..errors import AttributeValueError
from ..registry import numpy_kernel


@numpy_kernel("Softmax", "LogSoftmax")
def softmax(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x = inputs[0].astype(np.float64)
    dim = int(attrs.get("dim", attrs.get("axis", -1)))
    if x.ndim == 0 or dim not in (-1, x.ndim - 1):
        raise AttributeValueError(f"{op} runs over the last axis only")
    with np.errstate(all="ignore"):
        m = np.max(x, axis=-1, keepdims=True) if x.shape[-1] else np.zeros(x.shape[:-1] + (1,))
        shifted = x - m
        s = np.sum(np.exp(shifted), axis=-1, keepdims=True)
        r = shifted - np.log(s) if op == "LogSoftmax" else np.exp(shifted) / s
    return [r.astype(np.float32)]
