"""ExpandDims, Squeeze, BroadcastTo, DepthToSpace/SpaceToDepth and SpaceToBatchND/BatchToSpaceND.

The block rearrangements are written as reshape -> transpose -> reshape so the
element order is visibly TF's: DepthToSpace reads depth as (block row, block
column, channel) ("DCR"), and SpaceToBatchND puts the block offset outermost in
the batch (batch index = offset * N + n), which is what BatchToSpaceND undoes.
"""
from __future__ import annotations

import numpy as np

from ..errors import AttributeValueError, ShapeError
from ..op_checks import single_int as _single_int
from ..registry import numpy_kernel
from ..shapes import broadcast_shapes, normalize_axis
from ..slicing import (batch_to_space_shape, block_size_attr, depth_to_space_shape, int_list, space_to_batch_shape,
                       space_to_depth_shape)


@numpy_kernel("ExpandDims")
def expand_dims(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x = inputs[0]
    dim = _single_int(attrs.get("dim", attrs.get("axis", 0)), op, "dim")
    if not -(x.ndim + 1) <= dim <= x.ndim:
        raise AttributeValueError(f"{op}: dim {dim} is out of range [{-(x.ndim + 1)}, {x.ndim}] "
                                  f"for an input of rank {x.ndim}")
    dim %= x.ndim + 1
    return [x.reshape(x.shape[:dim] + (1,) + x.shape[dim:]).copy()]


@numpy_kernel("Squeeze")
def squeeze(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x = inputs[0]
    axis = attrs.get("axis")
    if axis is None or (isinstance(axis, (list, tuple)) and not axis):
        drop = {d for d, n in enumerate(x.shape) if n == 1}
    else:
        drop = {normalize_axis(a, x.ndim, f"{op} axis") for a in int_list(axis, op, "axis")}
        for d in sorted(drop):
            if x.shape[d] != 1:
                raise ShapeError(f"{op}: cannot squeeze dim {d} of shape {list(x.shape)}: its size is "
                                 f"{x.shape[d]}, not 1")
    return [x.reshape(tuple(n for d, n in enumerate(x.shape) if d not in drop)).copy()]


@numpy_kernel("BroadcastTo")
def broadcast_to(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x = inputs[0]
    shape = tuple(int_list(attrs.get("shape"), op, "shape"))
    ok = len(shape) >= x.ndim and all(
        d == 1 or d == t for d, t in zip(x.shape[::-1], shape[::-1])) and all(t >= 0 for t in shape)
    if not ok:
        raise ShapeError(f"{op}: an input of shape {list(x.shape)} cannot be broadcast to {list(shape)} "
                         "(each input dim, aligned right, must be 1 or equal to the target's)")
    return [np.array(np.broadcast_to(x, shape), copy=True)]


def _nhwc(op: str, attrs: dict) -> None:
    fmt = attrs.get("data_format", "NHWC")
    if fmt != "NHWC":
        raise AttributeValueError(f"{op}: only data_format 'NHWC' is supported, got {fmt!r}")


@numpy_kernel("DepthToSpace")
def depth_to_space(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x = inputs[0]
    _nhwc(op, attrs)
    bs = block_size_attr(attrs.get("block_size"), op)
    out_shape = depth_to_space_shape(x.shape, bs)
    n, h, w, _ = x.shape
    t = x.reshape(n, h, w, bs, bs, out_shape[3]).transpose(0, 1, 3, 2, 4, 5)
    return [np.array(t, copy=True).reshape(out_shape)]


@numpy_kernel("SpaceToDepth")
def space_to_depth(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x = inputs[0]
    _nhwc(op, attrs)
    bs = block_size_attr(attrs.get("block_size"), op)
    out_shape = space_to_depth_shape(x.shape, bs)
    n, h, w, c = x.shape
    t = x.reshape(n, h // bs, bs, w // bs, bs, c).transpose(0, 1, 3, 2, 4, 5)
    return [np.array(t, copy=True).reshape(out_shape)]


@numpy_kernel("SpaceToBatchND")
def space_to_batch_nd(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x = inputs[0]
    block, pads, out_shape = space_to_batch_shape(x.shape, attrs.get("block_shape"), attrs.get("paddings"))
    m = len(block)
    rest = x.shape[1 + m:]
    padded = np.pad(x, [(0, 0)] + pads + [(0, 0)] * len(rest))
    # [n, s1/b1, b1, ..., sm/bm, bm, rest] -> [b1, ..., bm, n, s1/b1, ..., sm/bm, rest]
    split = [x.shape[0]]
    for i, bs in enumerate(block):
        split += [padded.shape[1 + i] // bs, bs]
    t = padded.reshape(split + list(rest))
    trailing = [1 + 2 * m + j for j in range(len(rest))]
    perm = [2 + 2 * i for i in range(m)] + [0] + [1 + 2 * i for i in range(m)] + trailing
    return [np.array(t.transpose(perm), copy=True).reshape(out_shape)]


@numpy_kernel("BatchToSpaceND")
def batch_to_space_nd(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x = inputs[0]
    block, crops, out_shape = batch_to_space_shape(x.shape, attrs.get("block_shape"), attrs.get("crops"))
    m = len(block)
    rest = x.shape[1 + m:]
    n = out_shape[0]
    # [b1, ..., bm, n, s1, ..., sm, rest] -> [n, s1, b1, ..., sm, bm, rest]
    t = x.reshape(block + [n] + list(x.shape[1:]))
    perm = [m] + [v for i in range(m) for v in (m + 1 + i, i)] + [2 * m + 1 + j for j in range(len(rest))]
    full = np.array(t.transpose(perm), copy=True).reshape(
        [n] + [x.shape[1 + i] * block[i] for i in range(m)] + list(rest))
    index = (slice(None),) + tuple(slice(lo, full.shape[1 + i] - hi) for i, (lo, hi) in enumerate(crops))
    return [np.array(full[index], copy=True)]


@numpy_kernel("BroadcastArgs")
def broadcast_args(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """The broadcast of two shape vectors (a shape computation; it runs where the shapes live, the host)."""
    s0, s1 = (np.asarray(a) for a in inputs[:2])
    if s0.ndim != 1 or s1.ndim != 1:
        raise ShapeError(f"BroadcastArgs takes two shape vectors, got ranks {s0.ndim} and {s1.ndim}")
    out = broadcast_shapes([int(v) for v in s0], [int(v) for v in s1])
    return [np.asarray(out, dtype=s0.dtype if s0.size else s1.dtype).reshape(-1)]
