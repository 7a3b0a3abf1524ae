"""TensorFlow's sparse-tensor ops: SparseFillEmptyRows, SparseReshape, SparseSegmentSum/SparseSegmentMean.

Why they are host kernels (registered with ``host_kernel``, the implementation on every backend): the
shape of every output depends on input *values* (how many rows are empty, the inferred -1 of a new
shape, the last segment id), and the work is a scatter/gather over a handful of indices.  A fragment
shader cannot size its own output, so TF.js runs these on its CPU side as well; the executor places
their nodes on the host instead of counting them as a numpy fallback.

Index dtype: TF's sparse indices, dense shapes and reverse maps are int64.  This project has no int64
(``gpu_backend.dtypes`` maps DT_INT64 to int32, and int64 data is narrowed when no value changes), so
these kernels take integer inputs of any width and return every index/shape output as int32.  Internal
arithmetic (SparseReshape's linear positions) is done in int64 and a result outside the int32 range is
refused, never wrapped.

Errors: each input TF refuses is refused here too (ShapeError for inconsistent shapes and out-of-range
ids, UnsupportedDTypeError for wrong dtypes), with a message naming the offending entry.  Where TF does
*not* validate (SparseFillEmptyRows' columns after the first, SparseReshape's coordinates) neither do
we, so a graph that TF runs also runs here and gives TF's result.
"""
from __future__ import annotations

import numpy as np

from ..errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from ..op_checks import index_int32, int_tensor
from ..registry import host_kernel

_I64_MAX = np.iinfo(np.int64).max


def _arity(op: str, inputs: list[np.ndarray], names: tuple[str, ...]) -> list[np.ndarray]:
    if len(inputs) != len(names):
        raise ShapeError(f"{op} takes {len(names)} inputs [{', '.join(names)}], got {len(inputs)}")
    return [np.asarray(a) for a in inputs]


# ----------------------------------------------------------------------------- SparseFillEmptyRows

@host_kernel("SparseFillEmptyRows")
def sparse_fill_empty_rows(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """Give every empty row of a sparse tensor one entry, default_value at column 0.

    Outputs [output_indices, output_values, empty_row_indicator, reverse_index_map]: entries are laid
    out row by row (a row's entries keep their input order; an empty row gets the single entry
    [row, 0, ..., 0]), empty_row_indicator[r] says row r was empty, and reverse_index_map[i] is where
    input entry i went (what the gradient needs).  Only the row coordinate is checked, as in TF.
    """
    indices, values, dense_shape, default = _arity(op, inputs, ("indices", "values", "dense_shape", "default_value"))
    idx = int_tensor(op, "indices", indices, 2)
    shape = int_tensor(op, "dense_shape", dense_shape, 1)
    if values.ndim != 1:
        raise ShapeError(f"{op}: values must be a vector, got shape {list(values.shape)}")
    if default.ndim != 0:
        raise ShapeError(f"{op}: default_value must be a scalar, got shape {list(default.shape)}")
    if default.dtype != values.dtype:
        raise UnsupportedDTypeError(f"{op}: default_value ({default.dtype}) and values ({values.dtype}) must "
                                    "have the same dtype")
    if shape.size == 0:
        raise ShapeError(f"{op}: dense_shape is empty; a sparse tensor has rank >= 1")
    n, rank = idx.shape
    if values.shape[0] != n:
        raise ShapeError(f"{op}: {values.shape[0]} values for {n} indices (indices is {list(idx.shape)})")
    if shape.size != rank:
        raise ShapeError(f"{op}: dense_shape {shape.tolist()} has rank {shape.size} but indices give {rank} "
                         "coordinates per entry")
    rows = int(shape[0])
    if rows < 0:
        raise ShapeError(f"{op}: dense_shape {shape.tolist()} has a negative number of rows")
    if rows == 0 and n:
        raise ShapeError(f"{op}: dense_shape {shape.tolist()} has no rows but indices has {n} entries")
    row_of = idx[:, 0]
    bad = np.flatnonzero((row_of < 0) | (row_of >= rows))
    if bad.size:
        i = int(bad[0])
        raise ShapeError(f"{op}: indices[{i}] = {idx[i].tolist()} has row {int(row_of[i])}, outside [0, {rows}) "
                         f"for dense_shape {shape.tolist()}")

    counts = np.bincount(row_of, minlength=rows)
    empty = counts == 0
    slots = np.where(empty, 1, counts)                 # an empty row still takes one output entry
    row_start = np.cumsum(slots) - slots               # first output position of each row
    entry_start = np.cumsum(counts) - counts           # first position of each row among sorted entries
    order = np.argsort(row_of, kind="stable")          # stable: a row's entries keep their input order
    sorted_rows = row_of[order]
    reverse = np.empty(n, np.int64)
    reverse[order] = row_start[sorted_rows] + (np.arange(n) - entry_start[sorted_rows])

    total = int(slots.sum())
    out_idx = np.zeros((total, rank), np.int64)
    out_idx[reverse] = idx
    empty_rows = np.flatnonzero(empty)
    out_idx[row_start[empty_rows], 0] = empty_rows
    out_val = np.full(total, default, values.dtype)
    out_val[reverse] = values
    return [index_int32(op, "output_indices", out_idx), out_val, empty.copy(), index_int32(op, "reverse_index_map", reverse)]


# ----------------------------------------------------------------------------- SparseReshape

def _new_shape(op: str, dense_size: int, old: list[int], new: list[int]) -> list[int]:
    """new_shape with its -1 (at most one) resolved against the dense size, checked as TF checks it."""
    unknown = [i for i, d in enumerate(new) if d == -1]
    for i, d in enumerate(new):
        if d < -1:
            raise ShapeError(f"{op}: new_shape {new} has size {d} at dim {i}; sizes must be >= 0 (or one -1)")
    if len(unknown) > 1:
        raise ShapeError(f"{op}: new_shape {new} has -1 at dims {unknown}; only one dimension can be inferred")
    known = 1
    for d in new:
        if d != -1:
            known *= d
    out = list(new)
    if unknown:
        if known == 0:
            raise ShapeError(f"{op}: cannot infer the -1 of new_shape {new} when the other sizes multiply to 0")
        if dense_size % known:
            raise ShapeError(f"{op}: input_shape {old} holds {dense_size} dense values, not a multiple of {known} "
                             f"(the product of new_shape {new} without its -1)")
        out[unknown[0]] = dense_size // known
    elif known != dense_size:
        raise ShapeError(f"{op}: input_shape {old} holds {dense_size} dense values but new_shape {new} holds {known}")
    return out


def _strides(shape: list[int]) -> np.ndarray:
    """Row-major strides in elements (int64; the caller has checked the dense size fits)."""
    strides = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        strides[d] = strides[d + 1] * shape[d + 1]
    return np.array(strides, np.int64)


@host_kernel("SparseReshape")
def sparse_reshape(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """Re-index a sparse tensor's entries for a new dense shape (one -1 is inferred).

    Outputs [output_indices, output_shape].  Each entry keeps its row-major position: the linear
    offset under input_shape is split again under the new shape.  As in TF the coordinates are not
    bounds-checked, and an unchanged shape returns the indices as they are.  The split uses C-style
    truncating division, which is what TF's kernel does with a (meaningless) negative position.
    """
    indices, input_shape, new_shape = _arity(op, inputs, ("input_indices", "input_shape", "new_shape"))
    idx = int_tensor(op, "input_indices", indices, 2)
    old = int_tensor(op, "input_shape", input_shape, 1).tolist()
    new = int_tensor(op, "new_shape", new_shape, 1).tolist()
    if idx.shape[1] != len(old):
        raise ShapeError(f"{op}: input_indices give {idx.shape[1]} coordinates per entry but input_shape {old} "
                         f"has rank {len(old)}")
    if any(d < 0 for d in old):
        raise ShapeError(f"{op}: input_shape {old} has a negative dimension")
    dense_size = 1
    for d in old:
        dense_size *= d
    if dense_size > _I64_MAX:
        raise ShapeError(f"{op}: input_shape {old} holds {dense_size} dense values, more than int64 can index")
    out_shape = _new_shape(op, dense_size, old, new)
    shape_out = index_int32(op, "output_shape", np.array(out_shape, np.int64))
    if out_shape == old:
        return [index_int32(op, "output_indices", idx), shape_out]
    if dense_size == 0:
        if idx.shape[0]:
            raise ShapeError(f"{op}: {idx.shape[0]} entries cannot be re-indexed from input_shape {old} to "
                             f"{out_shape}: both hold no dense values")
        return [np.zeros((0, len(out_shape)), np.int32), shape_out]
    linear = idx @ _strides(old) if old else np.zeros(idx.shape[0], np.int64)
    out = np.empty((idx.shape[0], len(out_shape)), np.int64)
    rest = linear
    for d, stride in enumerate(_strides(out_shape)):
        q = np.abs(rest) // stride * np.sign(rest)      # truncating division, as in C
        out[:, d] = q
        rest = rest - q * stride
    return [index_int32(op, "output_indices", out), shape_out]


# ----------------------------------------------------------------------------- SparseSegmentSum / Mean

def _check_segments(op: str, ids: np.ndarray, idx: np.ndarray, rows: int, starts: np.ndarray,
                    num_rows: int) -> None:
    """TF's checks in TF's order: it walks the segments front to back and, at each one, refuses ids
    that go down, then an id outside [0, rows), then a gathered index outside data's rows; the first
    problem met is the one reported."""
    run_ids = ids[starts]
    ends = np.append(starts[1:], ids.size)
    down = np.append(run_ids[1:] < run_ids[:-1], False)
    outside = (run_ids < 0) | (run_ids >= rows)
    bad_index = (idx < 0) | (idx >= num_rows)
    bad_run = np.add.reduceat(bad_index.astype(np.int64), starts) > 0
    problems = np.flatnonzero(down | outside | bad_run)
    if not problems.size:
        return
    k = int(problems[0])
    if down[k]:
        raise ShapeError(f"{op}: segment_ids must be sorted (non-decreasing); segment_ids[{int(ends[k])}] = "
                         f"{int(run_ids[k + 1])} follows {int(run_ids[k])}")
    if outside[k]:
        raise ShapeError(f"{op}: segment id {int(run_ids[k])} (segment_ids[{int(starts[k])}]) is outside "
                         f"[0, {rows}); ids must be >= 0 and sorted")
    i = int(starts[k] + np.flatnonzero(bad_index[starts[k]:ends[k]])[0])
    raise ShapeError(f"{op}: indices[{i}] = {int(idx[i])} is outside [0, {num_rows}), the rows of data")


@host_kernel("SparseSegmentSum", "SparseSegmentMean")
def sparse_segment_reduce(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """out[s] = sum (or mean) of data[indices[j]] over the j with segment_ids[j] == s.

    The output has segment_ids[-1] + 1 rows (0 when indices is empty); a segment no id names is 0,
    and so is the mean of an empty segment.  segment_ids must be sorted, as TF requires.  Sums are
    accumulated in float64 (int64 for integers, cast back with TF's int32 wrap-around) and the mean is
    sum / count.  The ``sparse_gradient`` attribute only chooses how TF builds the gradient; the
    forward result does not depend on it, so any bool is accepted.
    """
    data, indices, segment_ids = _arity(op, inputs, ("data", "indices", "segment_ids"))
    sparse_gradient = attrs.get("sparse_gradient", False)
    if not isinstance(sparse_gradient, (bool, np.bool_)):
        raise AttributeValueError(f"{op}: sparse_gradient must be a bool, got {sparse_gradient!r}")
    if data.ndim < 1:
        raise ShapeError(f"{op}: data must have rank >= 1 (segments are its rows), got a scalar")
    allowed = "f" if op == "SparseSegmentMean" else "fiu"
    if data.dtype.kind not in allowed:
        raise UnsupportedDTypeError(f"{op}: data must be {'float' if allowed == 'f' else 'numeric'}, got {data.dtype}")
    idx = int_tensor(op, "indices", indices, 1)
    ids = int_tensor(op, "segment_ids", segment_ids, 1)
    if idx.size != ids.size:
        raise ShapeError(f"{op}: {idx.size} indices but {ids.size} segment_ids; they pair up one to one")
    n = ids.size
    if n and ids[-1] < 0:
        raise ShapeError(f"{op}: the last segment id is {int(ids[-1])}; segment ids must be >= 0")
    rows = int(ids[-1]) + 1 if n else 0
    acc = np.float64 if data.dtype.kind == "f" else np.int64
    out = np.zeros((rows,) + data.shape[1:], acc)
    if n:
        starts = np.concatenate([[0], np.flatnonzero(ids[1:] != ids[:-1]) + 1])
        _check_segments(op, ids, idx, rows, starts, data.shape[0])
        sums = np.add.reduceat(data[idx].astype(acc), starts, axis=0)
        if op == "SparseSegmentMean":
            counts = np.diff(np.append(starts, n)).reshape((-1,) + (1,) * (data.ndim - 1))
            sums = sums / counts
        out[ids[starts]] = sums
    return [out.astype(data.dtype)]
