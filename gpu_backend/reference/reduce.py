"""Reductions, ArgMax/ArgMin and their TF semantics (NaN propagation, int wrap, truncating int mean)."""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedDTypeError
from ..registry import numpy_kernel
from ..shapes import normalize_axes, normalize_axis


def _wrap32(x: np.ndarray) -> np.ndarray:
    return ((x.astype(np.int64) + 2**31) % 2**32 - 2**31).astype(np.int32)


@numpy_kernel("Sum", "Mean", "Prod", "Max", "Min", "All", "Any")
def reduce(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x = inputs[0]
    axes = normalize_axes(attrs.get("axis"), x.ndim)
    keep = bool(attrs.get("keep_dims", False))
    if not axes:
        return [x.copy()]
    if op in ("All", "Any"):
        if x.dtype != np.bool_:
            raise UnsupportedDTypeError(f"{op} takes bool inputs")
        return [(np.all if op == "All" else np.any)(x, axis=axes, keepdims=keep)]
    if x.dtype == np.bool_:
        raise UnsupportedDTypeError(f"{op} does not take bool inputs")
    if x.dtype.kind == "i":
        x64 = x.astype(np.int64)
        if op == "Sum":
            return [_wrap32(np.sum(x64, axis=axes, keepdims=keep))]     # wraps like TF
        if op == "Mean":
            # TF's integer mean is exact: the true sum (no wrap), truncated toward zero
            s = np.sum(x64, axis=axes, keepdims=keep)
            n = max(int(np.prod([x.shape[a] for a in axes])), 1)
            return [(np.sign(s) * (np.abs(s) // n)).astype(np.int32)]
        if op == "Prod":
            r = np.ones(np.sum(x64, axis=axes, keepdims=keep).shape, np.int64)
            moved = np.moveaxis(x64, axes, list(range(x.ndim - len(axes), x.ndim)))
            flat = moved.reshape(moved.shape[: x.ndim - len(axes)] + (-1,))
            acc = np.ones(flat.shape[:-1], np.int64)
            for k in range(flat.shape[-1]):
                acc = (acc * flat[..., k]) % 2**32
            return [_wrap32(acc.reshape(r.shape))]
        fn = np.max if op == "Max" else np.min
        return [fn(x, axis=axes, keepdims=keep).astype(np.int32)]
    xf = x.astype(np.float64)
    with np.errstate(all="ignore"):
        if op == "Sum":
            r = np.sum(xf, axis=axes, keepdims=keep)
        elif op == "Mean":
            r = np.mean(xf, axis=axes, keepdims=keep) if x.size else np.full(
                np.sum(xf, axis=axes, keepdims=keep).shape, np.nan)
        elif op == "Prod":
            r = np.prod(xf, axis=axes, keepdims=keep)
        elif op == "Max":
            r = np.max(xf, axis=axes, keepdims=keep, initial=-np.inf)
        else:
            r = np.min(xf, axis=axes, keepdims=keep, initial=np.inf)
    return [np.asarray(r).astype(np.float32)]


@numpy_kernel("ArgMax", "ArgMin")
def arg_reduce(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x = inputs[0]
    axis_attr = attrs.get("axis", 0)
    if isinstance(axis_attr, (list, tuple)):
        axis_attr = axis_attr[0]
    axis = normalize_axis(int(axis_attr), x.ndim)
    moved = np.moveaxis(x, axis, -1)
    if x.dtype.kind == "f":
        # TF: NaN never wins, ties keep the first index, all-NaN gives 0
        filler = -np.inf if op == "ArgMax" else np.inf
        clean = np.where(np.isnan(moved), filler, moved)
    else:
        clean = moved
    idx = np.argmax(clean, axis=-1) if op == "ArgMax" else np.argmin(clean, axis=-1)
    return [idx.astype(np.int32)]
