"""Bincount and DenseBincount: histograms of non-negative integers.

They run on the host on every backend (a scatter-add whose output size is a runtime value; TF.js
runs them on its CPU side too). The output dtype follows the weights, as in TF, also when the
weights are empty (TF's "no weights" spelling): float32 counts for empty float weights, int32 for
empty int weights. Values >= size are dropped, negative values are an error, as TF's CPU kernel.
"""
from __future__ import annotations

import numpy as np

from ..errors import AttributeValueError, ShapeError
from ..registry import host_kernel


def _size(op: str, size: np.ndarray) -> int:
    size = np.asarray(size)
    if size.size != 1:
        raise ShapeError(f"{op}: size must be a scalar, got shape {list(size.shape)}")
    n = int(size.reshape(-1)[0])
    if n < 0:
        raise AttributeValueError(f"{op}: size ({n}) must be non-negative")
    return n


def _bins(op: str, values: np.ndarray, weights: np.ndarray, size: int, binary: bool) -> np.ndarray:
    """One histogram row: ``values`` and ``weights`` are 1-D (weights empty for counting)."""
    out_dtype = weights.dtype
    keep = values < size
    v = values[keep].astype(np.int64)
    if binary:
        out = np.zeros(size, out_dtype)
        out[v] = 1
        return out
    if weights.size == 0:
        return np.bincount(v, minlength=size)[:size].astype(out_dtype)
    w = weights[keep]
    if np.issubdtype(out_dtype, np.integer):
        acc = np.zeros(size, np.int64)
        np.add.at(acc, v, w.astype(np.int64))
        return acc.astype(out_dtype)
    # float32 sums accumulated in float32, in input order, as TF's CPU loop does
    acc32 = np.zeros(size, np.float32)
    np.add.at(acc32, v, w.astype(np.float32))
    return acc32.astype(out_dtype)


def _check(op: str, arr: np.ndarray, weights: np.ndarray) -> None:
    if not np.issubdtype(arr.dtype, np.integer):
        raise AttributeValueError(f"{op}: the values must be integers, not {arr.dtype}")
    if arr.size and int(arr.min()) < 0:
        raise AttributeValueError(f"{op}: Input arr must be non-negative (found {int(arr.min())})")
    if weights.size and weights.shape != arr.shape:
        raise ShapeError(f"{op}: weights of shape {list(weights.shape)} must match the values' shape "
                         f"{list(arr.shape)} (or be empty)")


@host_kernel("Bincount")
def bincount(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """TF's Bincount(arr, size, weights): counts over all of ``arr`` (any shape) into a [size] vector."""
    arr, size_t, weights = (np.asarray(a) for a in inputs[:3])
    size = _size(op, size_t)
    _check(op, arr, weights)
    w = weights.reshape(-1) if weights.size else weights.reshape(0)
    return [_bins(op, arr.reshape(-1), w, size, False)]


@host_kernel("DenseBincount")
def dense_bincount(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """TF's DenseBincount(input, size, weights; binary_output): rank 1 -> [size], rank 2 -> one row each."""
    arr, size_t, weights = (np.asarray(a) for a in inputs[:3])
    size = _size(op, size_t)
    if arr.ndim not in (1, 2):
        raise ShapeError(f"{op}: the input must be of rank 1 or 2, got rank {arr.ndim}")
    _check(op, arr, weights)
    binary = bool(attrs.get("binary_output", False))
    if arr.ndim == 1:
        return [_bins(op, arr, weights.reshape(-1) if weights.size else weights.reshape(0), size, binary)]
    rows = [_bins(op, arr[i], weights[i] if weights.size else weights.reshape(0), size, binary)
            for i in range(arr.shape[0])]
    return [np.stack(rows) if rows else np.zeros((0, size), weights.dtype)]
