"""GatherV2, GatherNd, ScatterNd, TensorScatterUpdate and OneHot.

Out-of-range indices: TensorFlow on CPU raises an error, TensorFlow on GPU
reads zeros (gathers) or skips the update (scatters). A GL kernel cannot raise
from inside a shader, so the GPU behaviour is the only one both backends can
share; the reference therefore implements it. In-range results are exactly TF's.
"""
from __future__ import annotations

import numpy as np

from ..dtypes import normalize_dtype, numpy_dtype
from ..errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from ..registry import numpy_kernel
from ..slicing import int_list, resolve_gather


def _indices(op: str, idx: np.ndarray) -> np.ndarray:
    if idx.dtype.kind not in "iu":
        raise UnsupportedDTypeError(f"{op}: indices must be int32, got {idx.dtype}")
    return idx.astype(np.int64)


@numpy_kernel("GatherV2")
def gather_v2(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """params.shape[:axis] + indices.shape[batch_dims:] + params.shape[axis+1:]; indices outside
    [0, params.shape[axis]) (negatives included) give zeros, as TF on GPU (TF on CPU raises)."""
    params, idx = inputs[0], _indices(op, inputs[1])
    spec = resolve_gather(params.shape, idx.shape, int(attrs.get("axis", 0)), int(attrs.get("batch_dims", 0)))
    if spec.axis_dim == 0:
        return [np.zeros(spec.output_shape, params.dtype)]
    p = params.reshape(spec.batch, spec.outer, spec.axis_dim, spec.inner)
    i = idx.reshape(spec.batch, spec.indices_per_batch)
    valid = (i >= 0) & (i < spec.axis_dim)
    taken = p[np.arange(spec.batch)[:, None], :, np.where(valid, i, 0)]     # [batch, n, outer, inner]
    taken = np.where(valid[:, :, None, None], taken, np.zeros((), params.dtype))
    return [np.ascontiguousarray(taken.transpose(0, 2, 1, 3)).reshape(spec.output_shape)]


def _nd_rows(op: str, idx: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, int]:
    """Flatten [..., K] indices into row numbers of shape[:K] and an in-range mask."""
    if idx.ndim == 0:
        raise ShapeError(f"{op}: indices must have rank >= 1 (the last dim holds coordinates), got a scalar")
    k = idx.shape[-1]
    if k > len(shape):
        raise ShapeError(f"{op}: indices have {k} coordinates per row but the tensor has only rank {len(shape)}")
    flat = idx.reshape(int(np.prod(idx.shape[:-1], dtype=np.int64)), k)
    dims = np.array(shape[:k], np.int64)
    valid = np.all((flat >= 0) & (flat < dims), axis=1)
    rows = np.zeros(flat.shape[0], np.int64)
    for j in range(k):
        rows = rows * dims[j] + np.where(valid, flat[:, j], 0)
    return rows, valid, k


@numpy_kernel("GatherNd")
def gather_nd(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """indices [..., K] pick slices params[i0, ..., iK-1]; a row with any out-of-range coordinate
    gives a zero slice (TF on GPU; TF on CPU raises)."""
    params, idx = inputs[0], _indices(op, inputs[1])
    rows, valid, k = _nd_rows(op, idx, params.shape)
    slice_shape = params.shape[k:]
    out_shape = idx.shape[:-1] + slice_shape
    n_rows = int(np.prod(params.shape[:k], dtype=np.int64))
    if n_rows == 0:
        return [np.zeros(out_shape, params.dtype)]
    table = params.reshape((n_rows,) + slice_shape)
    taken = table[rows]
    mask = valid.reshape((-1,) + (1,) * len(slice_shape))
    return [np.where(mask, taken, np.zeros((), params.dtype)).reshape(out_shape)]


def _check_updates(op: str, idx_shape: tuple[int, ...], k: int, shape: tuple[int, ...],
                   updates: np.ndarray) -> None:
    if k == 0:   # TF refuses these too: every update would overwrite the whole tensor
        raise ShapeError(f"{op}: indices of shape {list(idx_shape)} have no coordinates (last dim 0); "
                         "each index row needs at least one coordinate")
    want = tuple(idx_shape[:-1]) + tuple(shape[k:])
    if updates.shape != want:
        raise ShapeError(f"{op}: updates have shape {list(updates.shape)} but indices {list(idx_shape)} and "
                         f"shape {list(shape)} need {list(want)}")


@numpy_kernel("ScatterNd")
def scatter_nd(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """Zeros of `shape` plus each update at its index. Duplicate indices add up in index order,
    in float32 like TF's sequential CPU loop (int32 wraps, bool ORs); out-of-range rows are
    dropped (TF on GPU; TF on CPU raises)."""
    idx, updates = _indices(op, inputs[0]), inputs[1]
    shape = tuple(int_list(attrs.get("shape"), op, "shape"))
    if any(d < 0 for d in shape):
        raise AttributeValueError(f"{op}: shape {list(shape)} has a negative dim")
    rows, valid, k = _nd_rows(op, idx, shape)
    _check_updates(op, idx.shape, k, shape, updates)
    slice_shape = shape[k:]
    n_rows = int(np.prod(shape[:k], dtype=np.int64))
    upd = updates.reshape((-1,) + slice_shape)[valid]
    rows = rows[valid]
    if updates.dtype == np.bool_:
        out = np.zeros((n_rows,) + slice_shape, np.bool_)
        np.logical_or.at(out, rows, upd)
    elif updates.dtype.kind == "i":
        acc = np.zeros((n_rows,) + slice_shape, np.int64)
        np.add.at(acc, rows, upd.astype(np.int64))
        out = ((acc + 2**31) % 2**32 - 2**31).astype(np.int32)
    else:
        out = np.zeros((n_rows,) + slice_shape, np.float32)
        np.add.at(out, rows, upd.astype(np.float32))
    return [out.reshape(shape)]


@numpy_kernel("TensorScatterUpdate")
def tensor_scatter_update(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """A copy of `tensor` with slices replaced; for duplicate indices the last update wins (TF's
    sequential CPU order), out-of-range rows are dropped. The input is never modified."""
    tensor, idx, updates = inputs[0], _indices(op, inputs[1]), inputs[2]
    if updates.dtype != tensor.dtype:
        raise UnsupportedDTypeError(f"{op}: updates ({updates.dtype}) must have the tensor's dtype ({tensor.dtype})")
    rows, valid, k = _nd_rows(op, idx, tensor.shape)
    _check_updates(op, idx.shape, k, tensor.shape, updates)
    slice_shape = tensor.shape[k:]
    out = tensor.copy()
    n_rows = int(np.prod(tensor.shape[:k], dtype=np.int64))
    if n_rows == 0 or not valid.any():
        return [out]
    table = out.reshape((n_rows,) + slice_shape)
    upd = updates.reshape((-1,) + slice_shape)[valid]
    rows = rows[valid]
    # keep only the last update of each row: unique() on the reversed rows finds last occurrences
    uniq, first_in_reversed = np.unique(rows[::-1], return_index=True)
    table[uniq] = upd[::-1][first_in_reversed]
    return [out]


@numpy_kernel("OneHot")
def one_hot(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """depth is inserted at `axis` (-1 = last, or 0..rank as in TF); indices outside
    [0, depth), negatives included, give an all-off_value vector as in TF."""
    idx = _indices(op, inputs[0])
    depth = int(attrs.get("depth", 0))
    if depth < 0:
        raise AttributeValueError(f"{op}: depth must be >= 0, got {depth}")
    axis = int(attrs.get("axis", -1))
    if not -1 <= axis <= idx.ndim:
        raise AttributeValueError(f"{op}: axis must be -1 or in [0, {idx.ndim}] for indices of rank {idx.ndim}, "
                                  f"got {axis}")
    if axis == -1:
        axis = idx.ndim
    dtype = numpy_dtype(normalize_dtype(attrs.get("dtype", "float32")))
    on = np.array(attrs.get("on_value", 1)).astype(dtype)
    off = np.array(attrs.get("off_value", 0)).astype(dtype)
    positions = np.arange(depth, dtype=np.int64).reshape((depth,) + (1,) * (idx.ndim - axis))
    hot = np.expand_dims(idx, axis) == positions
    return [np.where(hot, on, off).astype(dtype)]
