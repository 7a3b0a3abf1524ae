"""TopK and SearchSorted with TensorFlow's tie and NaN rules."""
from __future__ import annotations

import numpy as np

from ..errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from ..op_checks import top_k_count
from ..registry import numpy_kernel


@numpy_kernel("TopK")
def top_k(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """The k largest entries of the last axis, largest first; equal values keep the lower index first.

    NaN ranks below every number (below -inf), NaNs among themselves by index.  TF has no
    rule to match here: its CPU kernel compares with `<`, which is not an ordering once NaN
    is present, so its output depends on which internal path runs and on where the NaNs sit
    (k=1 on [nan, 5, nan] gives NaN but on [nan, 5] gives 5; for k > 1 even the numbers can
    come out unsorted).  "NaN never wins" is what TF does in most rows and is the rule of
    this backend's ArgMax, so TopK(k=1) and ArgMax agree.

    `sorted=False` lets TF return the k entries in any order; this kernel always returns them
    sorted, which is one of the allowed orders.
    """
    x = inputs[0]
    if x.dtype.kind not in "fi":
        raise UnsupportedDTypeError(f"TopK takes float32 or int32 input, got {x.dtype}")
    k = top_k_count(op, attrs, x.shape)
    if x.dtype.kind == "f":
        # key ascending == value descending; NaN keys sort last in numpy, i.e. below every number
        key = -x.astype(np.float64)
    else:
        key = -x.astype(np.int64)  # int64 so that -(-2**31) does not overflow
    order = np.argsort(key, axis=-1, kind="stable")[..., :k]   # stable: ties keep the lower index first
    values = np.take_along_axis(x, order, axis=-1)
    return [values.astype(x.dtype), order.astype(np.int32)]


def _bound(rows: np.ndarray, vals: np.ndarray, upper: bool) -> np.ndarray:
    """std::lower_bound / std::upper_bound, step for step, for every value of every row.

    TF's kernel calls the C++ binary search per value; replaying its exact probe sequence
    (rather than np.searchsorted) gives TF's answer even where the "sorted" input is not
    sorted or holds NaN, where any two binary searches may legitimately disagree.
    """
    batch, m = vals.shape
    n = rows.shape[1]
    first = np.zeros((batch, m), np.int64)
    count = np.full((batch, m), n, np.int64)
    b_idx = np.arange(batch)[:, None]
    while np.any(count > 0):
        active = count > 0
        half = count >> 1
        middle = np.where(active, first + half, 0)   # first + half < n wherever count > 0
        probe = rows[b_idx, middle]
        # lower_bound moves right while probe < value; upper_bound while !(value < probe)
        go_right = ~(vals < probe) if upper else (probe < vals)
        go_right &= active
        stay = active & ~go_right
        first = np.where(go_right, first + half + 1, first)
        count = np.where(go_right, count - half - 1, np.where(stay, half, count))
    return first


@numpy_kernel("SearchSorted")
def search_sorted(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """For each value, the insertion index into its row of `sorted_sequence` (int32).

    side="left" is tf.raw_ops.LowerBound (first index whose entry is not < value),
    side="right" is UpperBound (first index whose entry is > value).  As in TF, both inputs
    have the same rank and the same leading (batch) dimensions; a 1-D sequence with 2-D
    values is refused, as TF refuses it, rather than broadcast.
    """
    if len(inputs) != 2:
        raise ShapeError(f"SearchSorted takes 2 inputs (sorted_sequence, values), got {len(inputs)}")
    seq, vals = inputs
    side = attrs.get("side", "left")
    if side not in ("left", "right"):
        raise AttributeValueError(f"SearchSorted: side must be 'left' or 'right', got {side!r}")
    for name, a in (("sorted_sequence", seq), ("values", vals)):
        if a.dtype.kind not in "fi":
            raise UnsupportedDTypeError(f"SearchSorted: {name} must be float32 or int32, got {a.dtype}")
    if seq.dtype != vals.dtype:
        raise UnsupportedDTypeError(
            f"SearchSorted: sorted_sequence ({seq.dtype}) and values ({vals.dtype}) must have the same dtype")
    if seq.ndim < 1 or seq.ndim != vals.ndim or seq.shape[:-1] != vals.shape[:-1]:
        raise ShapeError(
            f"SearchSorted: sorted_sequence {list(seq.shape)} and values {list(vals.shape)} must have the same "
            f"rank (>= 1) and the same leading dimensions, as in TF; for one sequence shared by many rows "
            f"reshape the values to [1, -1] and the sequence to [1, N], or tile the sequence")
    batch = int(np.prod(seq.shape[:-1]))
    rows = seq.reshape(batch, seq.shape[-1])
    v2 = vals.reshape(batch, vals.shape[-1])
    idx = _bound(rows, v2, side == "right")
    return [idx.reshape(vals.shape).astype(np.int32)]
