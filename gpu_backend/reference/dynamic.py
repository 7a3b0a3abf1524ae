"""Kernels whose output shape depends on the data: NMS (V3/V4/V5), Where, Unique, ListDiff, SparseToDense."""
from __future__ import annotations

import heapq
import math

import numpy as np

from ..errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from ..registry import numpy_kernel

_F32 = np.float32
_TINY = np.finfo(np.float32).tiny


def _ftz(x: np.ndarray) -> np.ndarray:
    """Flush float32 subnormals to (signed) zero.  TF runs its CPU kernels with the FTZ/DAZ
    flags set, and in NMS that decides things: a soft-decayed score that would be subnormal
    is exactly 0 in TF, so it fails a score_threshold of 0 and ties with other zeros by index."""
    x = np.asarray(x, _F32)
    return np.where(np.abs(x) < _TINY, x * _F32(0), x).astype(_F32)


def _number(op: str, attrs: dict, name: str, default: object = ...) -> float:
    value = attrs.get(name, default)
    if value is ...:
        raise AttributeValueError(f"{op} needs the attribute {name!r}")
    arr = np.asarray(value)
    if arr.size != 1 or arr.dtype.kind not in "iuf":
        raise AttributeValueError(f"{op}: attribute {name!r} must be a number, got {value!r}")
    return float(arr.reshape(-1)[0])


# ----------------------------------------------------------------------------- NMS

def _cmin(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """C++ std::min(a, b) == (b < a ? b : a); differs from np.minimum only when NaN is involved."""
    return np.where(b < a, b, a)


def _cmax(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """C++ std::max(a, b) == (a < b ? b : a)."""
    return np.where(a < b, b, a)


class _Boxes:
    """Corners normalised to (ymin, xmin, ymax, xmax) and areas, all float32 as in TF's kernel."""

    def __init__(self, boxes: np.ndarray) -> None:
        b = _ftz(boxes)
        self.ymin, self.xmin = _cmin(b[:, 0], b[:, 2]), _cmin(b[:, 1], b[:, 3])
        self.ymax, self.xmax = _cmax(b[:, 0], b[:, 2]), _cmax(b[:, 1], b[:, 3])
        with np.errstate(all="ignore"):
            self.area = _ftz(_ftz(self.ymax - self.ymin) * _ftz(self.xmax - self.xmin))

    def iou(self, i: int, others: np.ndarray) -> np.ndarray:
        """IoU of box i with each box of `others`, in float32, 0 where either box is empty."""
        with np.errstate(all="ignore"):
            h = _cmax(_ftz(_cmin(self.ymax[i], self.ymax[others]) - _cmax(self.ymin[i], self.ymin[others])), _F32(0))
            w = _cmax(_ftz(_cmin(self.xmax[i], self.xmax[others]) - _cmax(self.xmin[i], self.xmin[others])), _F32(0))
            inter = _ftz(h * w)
            iou = _ftz(inter / _ftz(_ftz(self.area[i] + self.area[others]) - inter))
        empty = (self.area[i] <= 0) | (self.area[others] <= 0)
        return np.where(empty, _F32(0), iou).astype(_F32)


def non_max_suppression(boxes: np.ndarray, scores: np.ndarray, max_output: int, iou_threshold: float,
                        score_threshold: float, sigma: float) -> tuple[list[int], list[float]]:
    """Greedy (soft-)NMS, step for step as TF's CPU kernel, so ties and thresholds agree exactly.

    Candidates leave a max-queue ordered by (score desc, index asc).  A candidate is compared
    with the boxes selected since it was last examined, newest first; each comparison
    multiplies its score by exp(-0.5 * iou**2 / sigma) (soft) or by 1 / 0 (hard: IoU <= /
    > iou_threshold, and IoU above the threshold discards it).  The scan stops early once the
    score falls to score_threshold or below.  Unchanged score: selected.  Lowered score still
    above the threshold: re-queued with the lower score.  Otherwise dropped.  In soft mode
    (sigma > 0) iou_threshold is not used at all, as in TF.
    All arithmetic is float32 in TF's order (the decayed score is a running float32 product),
    with subnormals flushed to zero as on TF's CPU threads.
    """
    geo = _Boxes(boxes)
    s = _ftz(scores)
    thr = _F32(score_threshold)
    iou_thr = _F32(iou_threshold)
    soft = sigma > 0
    scale = _F32(-0.5) / _F32(sigma) if soft else _F32(0)
    queue = [(-float(s[i]), i, 0) for i in range(len(s)) if s[i] > thr]   # NaN scores never enter
    heapq.heapify(queue)
    selected: list[int] = []
    selected_scores: list[float] = []
    while len(selected) < max_output and queue:
        neg, idx, begin = heapq.heappop(queue)
        original = _F32(-neg)
        score = original
        suppressed = False
        prior = np.array(selected[begin:][::-1], np.int64)   # newest selection first
        if prior.size:
            sim = geo.iou(idx, prior)
            with np.errstate(all="ignore"):
                # exponent in float32 like TF; exp itself correctly rounded (via float64) like C's expf
                weight = _ftz(np.exp(_ftz(_ftz(scale * sim) * sim).astype(np.float64)))
            if not soft:
                weight = np.where(sim <= iou_thr, weight, _F32(0)).astype(_F32)
            with np.errstate(all="ignore"):
                # |weight| <= 1, so once a product is subnormal it stays subnormal or 0: flushing the
                # finished running product equals flushing after every step, as TF does
                running = _ftz(np.multiply.accumulate(np.concatenate([[original], weight]).astype(_F32),
                                                      dtype=_F32)[1:])
            hard_hit = (sim > iou_thr) if not soft else np.zeros(sim.shape, bool)
            stop = hard_hit | (running <= thr)
            if stop.any():
                at = int(np.argmax(stop))
                suppressed = bool(hard_hit[at])
                score = running[at]
            else:
                score = running[-1]
        if suppressed:
            continue
        if score == original:
            selected.append(idx)
            selected_scores.append(float(score))
        elif score > thr:
            heapq.heappush(queue, (-float(score), idx, len(selected)))
    return selected, selected_scores


@numpy_kernel("NonMaxSuppressionV3", "NonMaxSuppressionV4", "NonMaxSuppressionV5")
def nms(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """tf.raw_ops.NonMaxSuppressionV3/V4/V5 on boxes [N, 4] (y1, x1, y2, x2; corners in either
    order) and scores [N].  Attributes: max_output_size (required), iou_threshold (0.5),
    score_threshold (-inf), V4/V5: pad_to_max_output_size (False), V5: soft_nms_sigma (0).

    V3 returns selected indices [M]; V4 adds valid_outputs (int32 scalar); V5 returns indices,
    their (soft-decayed) scores and valid_outputs.  With padding, indices and scores are
    padded with zeros to max_output_size."""
    if len(inputs) != 2:
        raise ShapeError(f"{op} takes 2 inputs (boxes [N, 4], scores [N]), got {len(inputs)}")
    boxes, scores = inputs
    if boxes.dtype.kind != "f" or scores.dtype.kind != "f":
        raise UnsupportedDTypeError(f"{op}: boxes and scores must be float32, got {boxes.dtype} and {scores.dtype}")
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ShapeError(f"{op}: boxes must have shape [N, 4], got {list(boxes.shape)}")
    if scores.shape != (boxes.shape[0],):
        raise ShapeError(f"{op}: scores must have shape [{boxes.shape[0]}] to match boxes, got {list(scores.shape)}")
    max_output = _number(op, attrs, "max_output_size")
    if max_output != int(max_output) or max_output < 0:
        raise AttributeValueError(f"{op}: max_output_size must be a non-negative integer, got {max_output}")
    iou_threshold = _number(op, attrs, "iou_threshold", 0.5)
    if not 0.0 <= iou_threshold <= 1.0:
        raise AttributeValueError(f"{op}: iou_threshold must be in [0, 1], got {iou_threshold}")
    score_threshold = _number(op, attrs, "score_threshold", -math.inf)
    sigma = _number(op, attrs, "soft_nms_sigma", 0.0) if op == "NonMaxSuppressionV5" else 0.0
    if not sigma >= 0.0:
        raise AttributeValueError(f"{op}: soft_nms_sigma must be >= 0 (0 = hard NMS), got {sigma}")
    pad = bool(attrs.get("pad_to_max_output_size", False)) and op != "NonMaxSuppressionV3"
    selected, sel_scores = non_max_suppression(boxes, scores, int(max_output), iou_threshold,
                                               score_threshold, sigma)
    valid = len(selected)
    size = int(max_output) if pad else valid
    idx = np.zeros(size, np.int32)
    idx[:valid] = selected
    if op == "NonMaxSuppressionV3":
        return [idx]
    count = np.array(valid, np.int32)
    if op == "NonMaxSuppressionV4":
        return [idx, count]
    sc = np.zeros(size, _F32)
    sc[:valid] = sel_scores
    return [idx, sc, count]


# ----------------------------------------------------------------------------- Where / sets

@numpy_kernel("Where")
def where(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """Coordinates [num_true, rank] of the true (nonzero; NaN counts as nonzero) entries, row-major.
    TF returns int64; the backend has no int64, so they are int32 (exact below 2**31)."""
    if len(inputs) != 1:
        raise ShapeError(f"Where takes one input (the condition), got {len(inputs)}; "
                         f"the three-input form is Select / SelectV2")
    cond = inputs[0]
    if cond.ndim == 0:
        raise ShapeError("Where needs a condition of rank >= 1 (TF's WhereOp refuses scalars); "
                         "reshape it to [1] first")
    mask = cond if cond.dtype == np.bool_ else cond != 0
    coords = np.argwhere(mask).astype(np.int32)
    return [coords.reshape(coords.shape[0], cond.ndim)]


def _first_occurrence_groups(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first index of each distinct value, ordered by first appearance; group id of every element).

    Equality is `==`, as in TF's hash map: -0.0 equals 0.0 (the first one seen is kept) and
    every NaN is a value of its own.
    """
    n = x.shape[0]
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.argsort(x, kind="stable")       # NaNs last; stable keeps first appearances first
    xs = x[order]
    new_group = np.ones(n, bool)
    new_group[1:] = xs[1:] != xs[:-1]          # NaN != NaN: each NaN starts its own group
    group_sorted = np.cumsum(new_group) - 1
    firsts = order[new_group]                   # first (lowest) original index of each group
    rank = np.empty(len(firsts), np.int64)
    rank[np.argsort(firsts, kind="stable")] = np.arange(len(firsts))
    group = np.empty(n, np.int64)
    group[order] = rank[group_sorted]
    return np.sort(firsts), group


@numpy_kernel("Unique", "UniqueV2")
def unique(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """y = distinct values in order of first appearance, idx[i] = position of x[i] in y (int32).
    UniqueV2 with an axis on an N-D input: distinct slices along that axis (rows compared
    element-wise with ==, so a slice holding NaN is never equal to another, as in TF)."""
    x = inputs[0]
    axis = attrs.get("axis", None)
    if isinstance(axis, (list, tuple)):
        if len(axis) > 1:
            raise AttributeValueError(f"{op}: axis must be a single integer, got {axis!r}")
        axis = axis[0] if axis else None
    if x.ndim != 1 and op == "UniqueV2" and axis is not None:
        return _unique_slices(op, x, int(axis))
    if axis is not None and int(axis) not in (0, -1):
        raise AttributeValueError(f"{op}: only axis 0 of a 1-D input is supported, got axis={axis}")
    if x.ndim != 1:
        raise ShapeError(f"{op} supports only 1-D input, got shape {list(x.shape)}")
    firsts, group = _first_occurrence_groups(x)
    return [x[firsts].copy(), group.astype(np.int32)]


def _unique_slices(op: str, x: np.ndarray, axis: int) -> list[np.ndarray]:
    if not -x.ndim <= axis < x.ndim:
        raise AttributeValueError(f"{op}: axis {axis} is out of range for rank {x.ndim}")
    axis %= x.ndim
    moved = np.moveaxis(x, axis, 0)
    rows = moved.reshape(moved.shape[0], -1)
    keep: list[int] = []
    idx = np.zeros(rows.shape[0], np.int32)
    for i, row in enumerate(rows):
        for j, k in enumerate(keep):
            if np.array_equal(rows[k], row):      # NaN != NaN: such rows stay distinct
                idx[i] = j
                break
        else:
            idx[i] = len(keep)
            keep.append(i)
    return [np.ascontiguousarray(np.moveaxis(moved[keep], 0, axis)), idx]


@numpy_kernel("ListDiff")
def list_diff(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """Values of x that are not in y (by `==`: 0.0 removes -0.0, NaN is never in y), in x's order,
    and their positions in x (int32)."""
    if len(inputs) != 2:
        raise ShapeError(f"ListDiff takes 2 inputs (x, y), got {len(inputs)}")
    x, y = inputs
    if x.ndim != 1 or y.ndim != 1:
        raise ShapeError(f"ListDiff needs 1-D x and y, got shapes {list(x.shape)} and {list(y.shape)}")
    if x.dtype != y.dtype:
        raise UnsupportedDTypeError(f"ListDiff: x ({x.dtype}) and y ({y.dtype}) must have the same dtype")
    ys = np.sort(y)
    pos = np.searchsorted(ys, x)
    found = np.zeros(x.shape, bool)
    inside = pos < ys.size
    found[inside] = ys[pos[inside]] == x[inside]   # NaN == NaN is False, -0.0 == 0.0 is True
    keep = np.flatnonzero(~found)
    return [x[keep].copy(), keep.astype(np.int32)]


@numpy_kernel("SparseToDense")
def sparse_to_dense(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """Dense tensor of output_shape filled with default_value, with sparse_values written at
    sparse_indices ([N, R], [N] for R = 1, or a scalar for one index).

    Inputs in TF's order: [sparse_indices, output_shape, sparse_values, default_value].  The
    TF.js form (3 inputs [sparse_indices, sparse_values, default_value] with the attribute
    output_shape) is accepted too.  validate_indices is ignored: indices need not be sorted,
    and a repeated index keeps the last value written; an index outside the shape is an error
    (as in TF).
    """
    if len(inputs) == 4:
        indices, shape_arr, values, default = inputs
    elif len(inputs) == 3 and "output_shape" in attrs:
        indices, values, default = inputs
        shape_arr = np.asarray(attrs["output_shape"])
    else:
        raise ShapeError(f"SparseToDense takes 4 inputs [sparse_indices, output_shape, sparse_values, "
                         f"default_value] (or 3 with the attribute output_shape), got {len(inputs)}")
    if indices.dtype.kind not in "iu" or np.asarray(shape_arr).dtype.kind not in "iu":
        raise UnsupportedDTypeError("SparseToDense: sparse_indices and output_shape must be integers")
    shape_arr = np.asarray(shape_arr)
    if shape_arr.ndim != 1:
        raise ShapeError(f"SparseToDense: output_shape must be 1-D, got shape {list(shape_arr.shape)}")
    shape = tuple(int(d) for d in shape_arr)
    if any(d < 0 for d in shape):
        raise ShapeError(f"SparseToDense: output_shape {list(shape)} has a negative dimension")
    if indices.ndim > 2:
        raise ShapeError(f"SparseToDense: sparse_indices must be 0-D, 1-D or 2-D, got shape {list(indices.shape)}")
    idx = indices.astype(np.int64).reshape(-1, 1) if indices.ndim < 2 else indices.astype(np.int64)
    n = idx.shape[0]
    if idx.shape[1] != len(shape):
        raise ShapeError(f"SparseToDense: sparse_indices give {idx.shape[1]} coordinates per value but "
                         f"output_shape {list(shape)} has rank {len(shape)}")
    if values.ndim > 1 or (values.ndim == 1 and values.shape[0] != n):
        raise ShapeError(f"SparseToDense: sparse_values has shape {list(values.shape)}, should be [] or [{n}]")
    if default.size != 1:
        raise ShapeError(f"SparseToDense: default_value must be a scalar, got shape {list(default.shape)}")
    if default.dtype != values.dtype:
        raise UnsupportedDTypeError(f"SparseToDense: default_value ({default.dtype}) and sparse_values "
                                    f"({values.dtype}) must have the same dtype")
    dims = np.array(shape, np.int64)
    bad = (idx < 0) | (idx >= dims)
    if bad.any():
        row = int(np.argmax(bad.any(axis=1)))
        raise ShapeError(f"SparseToDense: index {idx[row].tolist()} (entry {row}) is out of bounds for "
                         f"output_shape {list(shape)}")
    out = np.full(shape, default.reshape(()), values.dtype)
    vals = np.broadcast_to(values, (n,))
    if n:
        flat = np.ravel_multi_index(tuple(idx.T), shape) if shape else np.zeros(n, np.int64)
        # a repeated index keeps the last value written (TF with validate_indices=False)
        last = n - 1 - np.unique(flat[::-1], return_index=True)[1]
        out.reshape(-1)[flat[last]] = vals[last]
    return [out]
