"""TensorFlow's ragged-tensor ops: RaggedRange, RaggedGather, RaggedTensorToTensor.

Why they are host kernels (registered with ``host_kernel``, the implementation on every backend): a
ragged tensor is a flat values tensor plus row partitions (splits, row ids), and the size of every
output is read off those partitions' *values* (how long each range is, how many values the gathered
rows hold, the longest row when a dimension of the dense shape is -1).  A fragment shader cannot size
its own output, so TF.js runs these on its CPU side too; the executor places their nodes on the host
instead of counting them as a numpy fallback.

Index dtype: TF's splits (``Tsplits``/``Tindex``) are usually int64.  This project has no int64
(``gpu_backend.dtypes`` maps DT_INT64 to int32), so partitions of any integer width are accepted and
every splits output is int32; arithmetic on positions is done in int64 and a result outside the int32
range is refused, never wrapped.

Errors: each input TF refuses is refused here too (ShapeError for inconsistent partitions, shapes and
out-of-range indices, UnsupportedDTypeError for wrong dtypes, AttributeValueError for attributes), with
a message naming the offending entry.  Some malformed partitions TF does *not* check, and then reads
past its buffers or crashes (RaggedTensorToTensor's unsorted value_rowids or splits pointing past the
values; RaggedGather with an OUTPUT_RAGGED_RANK that does not match the indices): those are refused
here, since no graph can rely on what TF does with them.  Where TF checks nothing and still gives a
defined result (RaggedGather's splits need not start at 0; trailing values no partition reaches are
ignored) we do the same.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from ..op_checks import index_int32, int_tensor
from ..registry import host_kernel

_I32 = np.iinfo(np.int32)
# RaggedTensorToTensor's row_partition_types: the ones TF's kernel handles, and the ones it names but refuses
PARTITION_TYPES = ("FIRST_DIM_SIZE", "VALUE_ROWIDS", "ROW_SPLITS")
_TF_REFUSES = ("ROW_LENGTHS", "ROW_STARTS", "ROW_LIMITS")


def _splits_of(lengths: np.ndarray) -> np.ndarray:
    """Row lengths -> row splits [0, l0, l0 + l1, ...] (int64)."""
    return np.concatenate([np.zeros(1, np.int64), np.cumsum(lengths, dtype=np.int64)])


def _expand_ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Concatenation of arange(s, e) over the (s, e) pairs, without a Python loop over rows."""
    lengths = ends - starts
    total = int(lengths.sum())
    offsets = np.cumsum(lengths) - lengths                  # where each range starts in the output
    return np.repeat(starts - offsets, lengths) + np.arange(total, dtype=np.int64)


def _first_unsorted(a: np.ndarray) -> int | None:
    """Index i of the first a[i] < a[i - 1], or None when a is non-decreasing."""
    down = np.flatnonzero(a[1:] < a[:-1])
    return int(down[0]) + 1 if down.size else None


# ----------------------------------------------------------------------------- RaggedRange

@host_kernel("RaggedRange")
def ragged_range(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """Row i is range(starts[i], limits[i], deltas[i]); outputs [rt_nested_splits, rt_dense_values].

    Scalars broadcast against the vectors (all scalars: one row).  A row is empty when the step points
    away from its limit.  Row sizes and values follow TF's arithmetic: integers exactly, floats in the
    input dtype (size ceil(|(limit - start) / delta|), values by repeated ``value += delta``, so a float
    range has TF's rounding, e.g. 0.70000005 for the 8th step of 0.1).  A delta of 0, or a float range
    with no finite size (inf or NaN bounds), is refused as TF refuses it.
    """
    if len(inputs) != 3:
        raise ShapeError(f"{op} takes 3 inputs [starts, limits, deltas], got {len(inputs)}")
    arrays = [np.asarray(a) for a in inputs]
    names = ("starts", "limits", "deltas")
    for name, a in zip(names, arrays):
        if a.ndim > 1:
            raise ShapeError(f"{op}: {name} must be a scalar or a vector, got shape {list(a.shape)}")
        if a.dtype.kind not in "iuf":
            raise UnsupportedDTypeError(f"{op}: {name} must be a float or integer tensor, got {a.dtype}")
    if len({a.dtype for a in arrays}) != 1:
        raise UnsupportedDTypeError(f"{op}: starts, limits and deltas must have one dtype, got "
                                    f"{', '.join(str(a.dtype) for a in arrays)}")
    lengths = {a.shape[0] for a in arrays if a.ndim == 1}
    if len(lengths) > 1:
        raise ShapeError(f"{op}: starts, limits and deltas must be scalars or vectors of one length, got shapes "
                         f"{', '.join(str(list(a.shape)) for a in arrays)}")
    nrows = lengths.pop() if lengths else 1
    dtype = arrays[0].dtype
    starts, limits, deltas = (np.broadcast_to(a, (nrows,)) for a in arrays)
    zero = np.flatnonzero(deltas == 0)
    if zero.size:
        raise ShapeError(f"{op}: deltas[{int(zero[0])}] is 0; a range needs a nonzero step")
    away = ((deltas > 0) & (limits < starts)) | ((deltas < 0) & (limits > starts))
    if dtype.kind == "f":
        with np.errstate(all="ignore"):
            steps = np.abs((limits - starts) / deltas)      # in the input dtype, as TF computes it
        bad = np.flatnonzero(~away & ~np.isfinite(steps))
        if bad.size:
            i = int(bad[0])
            raise ShapeError(f"{op}: row {i}, range({starts[i]}, {limits[i]}, {deltas[i]}), has no finite size")
        sizes = np.where(away, 0, np.ceil(np.where(away, 0, steps))).astype(np.float64)
    else:
        s64, l64, d64 = (a.astype(np.int64) for a in (starts, limits, deltas))
        sizes = np.where(away, 0, (np.abs(l64 - s64) + np.abs(d64) - 1) // np.abs(d64)).astype(np.float64)
    if sizes.sum() > _I32.max:
        raise ShapeError(f"{op}: the ranges hold {int(sizes.sum())} values, more than the int32 splits this "
                         "runtime uses can index")
    sizes_i = sizes.astype(np.int64)
    splits = _splits_of(sizes_i)
    row = np.repeat(np.arange(nrows), sizes_i)
    if dtype.kind == "f":
        # TF adds delta to a running value in the input dtype; accumulate does the same, row by row
        steps_in = np.repeat(deltas, sizes_i).astype(dtype)
        steps_in[splits[:-1][sizes_i > 0]] = starts[sizes_i > 0]
        values = np.empty(int(splits[-1]), dtype)
        for i in np.flatnonzero(sizes_i):
            a, b = splits[i], splits[i + 1]
            values[a:b] = np.add.accumulate(steps_in[a:b], dtype=dtype)
    else:
        k = np.arange(int(splits[-1]), dtype=np.int64) - splits[row]
        # exact, then int32: the values lie between a start and a limit, so they fit whenever those do
        values = index_int32(op, "rt_dense_values", starts.astype(np.int64)[row] + k * deltas.astype(np.int64)[row])
    return [index_int32(op, "rt_nested_splits", splits), values]


# ----------------------------------------------------------------------------- RaggedGather

@host_kernel("RaggedGather")
def ragged_gather(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """Gather rows of a ragged tensor: inputs [params_nested_splits..., params_dense_values, indices].

    Outputs [output_nested_splits..., output_dense_values] with indices.rank - 1 + PARAMS_RAGGED_RANK
    splits: first one uniform split per outer dimension of indices (each index row is a row of the
    result), then the gathered rows' own partitions, re-based to start at 0.  A scalar index drops the
    outermost partition (the result is that one row).  Indices are checked first, against the rows of
    params, then the splits (non-empty, non-negative start, sorted, within the level below), in TF's
    order.  OUTPUT_RAGGED_RANK / PARAMS_RAGGED_RANK, when given, must agree with the inputs (TF aborts
    the process on a wrong OUTPUT_RAGGED_RANK; here it is an AttributeValueError).
    """
    if len(inputs) < 3:
        raise ShapeError(f"{op} takes [params_nested_splits..., params_dense_values, indices] with at least one "
                         f"splits tensor, got {len(inputs)} inputs")
    *splits_in, values, indices_in = (np.asarray(a) for a in inputs)
    ragged = len(splits_in)
    for key, want in (("PARAMS_RAGGED_RANK", ragged), ("OUTPUT_RAGGED_RANK", indices_in.ndim - 1 + ragged)):
        got = attrs.get(key)
        if got is not None and got != want:
            raise AttributeValueError(f"{op}: {key} is {got!r} but the inputs make it {want} ({ragged} params "
                                      f"splits, indices of rank {indices_in.ndim})")
    splits = [int_tensor(op, f"params_nested_splits[{k}]", s, 1) for k, s in enumerate(splits_in)]
    if len({s.dtype for s in splits_in}) != 1:
        raise UnsupportedDTypeError(f"{op}: params_nested_splits must share one dtype (Tsplits), got "
                                    f"{', '.join(str(s.dtype) for s in splits_in)}")
    indices = int_tensor(op, "indices", indices_in)
    flat = indices.reshape(-1)
    nparams = splits[0].shape[0] - 1
    bad = np.flatnonzero((flat < 0) | (flat >= nparams))
    if bad.size:
        i = int(bad[0])
        where = ", ".join(str(int(c)) for c in np.unravel_index(i, indices.shape)) if indices.ndim else ""
        raise ShapeError(f"{op}: indices[{where}] = {int(flat[i])} is not in [0, {nparams}), the rows of params")
    if values.ndim == 0:
        raise ShapeError(f"{op}: params_dense_values must have rank >= 1, got a scalar")
    for k, s in enumerate(splits):
        below = values.shape[0] if k == ragged - 1 else splits[k + 1].shape[0] - 1
        what = "params_dense_values" if k == ragged - 1 else f"the rows of params_nested_splits[{k + 1}]"
        if s.size == 0:
            raise ShapeError(f"{op}: params_nested_splits[{k}] is empty; splits hold at least one entry")
        if s[0] < 0:
            raise ShapeError(f"{op}: params_nested_splits[{k}] starts at {int(s[0])}; splits must be >= 0")
        i = _first_unsorted(s)
        if i is not None:
            raise ShapeError(f"{op}: params_nested_splits[{k}] must be sorted; entry {i} = {int(s[i])} follows "
                             f"{int(s[i - 1])}")
        if s[-1] > below:
            raise ShapeError(f"{op}: params_nested_splits[{k}] ends at {int(s[-1])}, past the {below} entries of "
                             f"{what}")

    out_splits: list[np.ndarray] = []
    for d in range(indices.ndim - 1):                       # each outer index dimension: a uniform partition
        rows = int(np.prod(indices.shape[:d + 1]))
        out_splits.append(np.arange(rows + 1, dtype=np.int64) * indices.shape[d + 1])
    starts, ends = splits[0][flat], splits[0][flat + 1]
    for k in range(ragged):
        out_splits.append(_splits_of(ends - starts))
        picked = _expand_ranges(starts, ends)               # rows (k < ragged - 1) or values gathered
        if k < ragged - 1:
            starts, ends = splits[k + 1][picked], splits[k + 1][picked + 1]
    if indices.ndim == 0:                                   # one row: its own partition is not an output
        out_splits = out_splits[1:]
    return [index_int32(op, "output_nested_splits", s) for s in out_splits] + [values[picked]]


# ----------------------------------------------------------------------------- RaggedTensorToTensor

def partition_types(op: str, types: Sequence[str | bytes] | None, count: int | None = None) -> list[str]:
    """row_partition_types checked as TF checks them (FIRST_DIM_SIZE or ROW_SPLITS first, then ROW_SPLITS /
    VALUE_ROWIDS), and against the number of partition tensors when known.  The loader calls this at load
    time so a graph TF could not run either fails naming its node."""
    if isinstance(types, (str, bytes)):
        raise AttributeValueError(f"{op}: row_partition_types must be a list of strings, got {types!r}")
    if not types:
        raise AttributeValueError(f"{op}: no row_partition_types given")
    out = [t.decode() if isinstance(t, bytes) else str(t) for t in types]
    for k, t in enumerate(out):
        if t in _TF_REFUSES:
            raise AttributeValueError(f"{op}: row_partition_types[{k}] is {t}, which TensorFlow's kernel does not "
                                      f"handle either; only {', '.join(PARTITION_TYPES)} are supported")
        if t not in PARTITION_TYPES:
            raise AttributeValueError(f"{op}: row_partition_types[{k}] is {t!r}, not a partition type; expected "
                                      f"one of {', '.join(PARTITION_TYPES)}")
        if k == 0 and t == "VALUE_ROWIDS":
            raise AttributeValueError(f"{op}: row_partition_types starts with VALUE_ROWIDS, which cannot give the "
                                      "number of rows; FIRST_DIM_SIZE must come before it")
        if k > 0 and t == "FIRST_DIM_SIZE":
            raise AttributeValueError(f"{op}: row_partition_types[{k}] is FIRST_DIM_SIZE; it can only be the first")
    if count is not None and count != len(out):
        raise AttributeValueError(f"{op}: row_partition_types {out} names {len(out)} partitions but "
                                  f"{count} row_partition_tensors are given")
    return out


def _out_shape(op: str, shape_in: np.ndarray, rank: int, inner: tuple[int, ...]) -> list[int]:
    """The requested shape as a list of length rank (-1: take it from the data), checked against the values'
    uniform inner dimensions, which cannot be padded or truncated."""
    shape = int_tensor(op, "shape", shape_in)
    if shape.ndim > 1:
        raise ShapeError(f"{op}: shape must be a scalar or a vector, got shape {list(shape.shape)}")
    if shape.ndim == 0:
        if int(shape) != -1:
            raise ShapeError(f"{op}: a scalar shape must be -1 (nothing known), got {int(shape)}")
        return [-1] * rank
    dims = shape.tolist()
    if len(dims) != rank:
        raise ShapeError(f"{op}: shape {dims} has rank {len(dims)} but the ragged tensor has rank {rank}")
    for i, d in enumerate(dims):
        if d < -1:
            raise ShapeError(f"{op}: shape {dims} has {d} at dim {i}; sizes must be >= 0 (or -1 to infer)")
    for i, have in enumerate(inner, start=rank - len(inner)):
        if dims[i] not in (-1, have):
            raise ShapeError(f"{op}: shape {dims} asks for {dims[i]} at dim {i}, but the values' inner dimension "
                             f"there is {have} (only ragged dimensions can be padded or truncated)")
    return dims


def _level(op: str, kind: str, k: int, part: np.ndarray, parents: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One ragged partition of `parents` elements: (row of each child, its column in that row, row lengths)."""
    name = f"row_partition_tensors[{k}] ({kind})"
    p = int_tensor(op, name, part, 1)
    if kind == "ROW_SPLITS":
        if p.size == 0:
            raise ShapeError(f"{op}: {name} is empty; row splits hold at least one entry")
        if p[0] != 0:
            raise ShapeError(f"{op}: {name} starts at {int(p[0])}; row splits must start at 0")
        i = _first_unsorted(p)
        if i is not None:
            raise ShapeError(f"{op}: {name} must be sorted; entry {i} = {int(p[i])} follows {int(p[i - 1])}")
        rows = p.size - 1
        if rows > parents:
            raise ShapeError(f"{op}: {name} has {rows} rows but the level above has only {parents} elements")
        lengths = np.diff(p)
        row = np.repeat(np.arange(rows, dtype=np.int64), lengths)
        return row, np.arange(row.size, dtype=np.int64) - p[row], lengths
    bad = np.flatnonzero((p < 0) | (p >= parents))
    if bad.size:
        i = int(bad[0])
        raise ShapeError(f"{op}: {name}[{i}] = {int(p[i])} is not in [0, {parents}), the rows of the level above")
    i = _first_unsorted(p)
    if i is not None:
        raise ShapeError(f"{op}: {name} must be sorted; entry {i} = {int(p[i])} follows {int(p[i - 1])}")
    first = np.searchsorted(p, p, side="left")              # first child of each child's row
    return p, np.arange(p.size, dtype=np.int64) - first, np.bincount(p, minlength=parents)


@host_kernel("RaggedTensorToTensor")
def ragged_tensor_to_tensor(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """A ragged tensor as a dense one: inputs [shape, values, default_value, row_partition_tensors...].

    Each dimension of `shape` that is -1 (or every one, for a scalar -1) becomes the number of rows (the
    outermost) or the longest row of that level, counted over all rows even those a smaller outer size
    drops; a given size pads short rows with default_value and truncates long ones.  default_value
    broadcasts to one element of values (rank < values.rank).  Each value lands at the flat position
    built level by level: position = parent position * dim + column in the row, dropped when either is
    out of range.  Values after the last one the partitions reach are ignored, as in TF.
    """
    if len(inputs) < 4:
        raise ShapeError(f"{op} takes [shape, values, default_value, row_partition_tensors...] with at least one "
                         f"partition, got {len(inputs)} inputs")
    shape_in, values, default, *parts = (np.asarray(a) for a in inputs)
    types = partition_types(op, attrs.get("row_partition_types"), len(parts))
    if values.ndim == 0:
        raise ShapeError(f"{op}: values must have rank >= 1, got a scalar")
    if default.dtype != values.dtype:
        raise UnsupportedDTypeError(f"{op}: default_value ({default.dtype}) and values ({values.dtype}) must have "
                                    "the same dtype")
    inner = values.shape[1:]
    if default.ndim >= values.ndim or any(d not in (1, v) for d, v in zip(default.shape[::-1], inner[::-1])):
        raise ShapeError(f"{op}: default_value of shape {list(default.shape)} does not broadcast to one element of "
                         f"values (shape {list(inner)}, values being {list(values.shape)})")
    if len({p.dtype for p in parts}) != 1:
        raise UnsupportedDTypeError(f"{op}: row_partition_tensors must share one dtype (Tindex), got "
                                    f"{', '.join(str(p.dtype) for p in parts)}")
    if types[0] == "FIRST_DIM_SIZE":
        n = int(int_tensor(op, "row_partition_tensors[0] (FIRST_DIM_SIZE)", parts[0], 0))
        if n < 0:
            raise ShapeError(f"{op}: FIRST_DIM_SIZE is {n}; a number of rows must be >= 0")
        levels = list(zip(range(1, len(parts)), types[1:], parts[1:]))
    else:
        first = parts[0]
        n = max(first.shape[0] - 1, 0) if first.ndim == 1 else 0   # _level refuses a malformed one
        levels = list(zip(range(len(parts)), types, parts))
    ragged_rank = len(levels)
    dims = _out_shape(op, shape_in, ragged_rank + values.ndim, inner)

    out_dims = [n if dims[0] == -1 else dims[0]]
    pos = np.where(np.arange(n) < out_dims[0], np.arange(n, dtype=np.int64), -1)   # output row of each element
    for d, (k, kind, part) in enumerate(levels, start=1):
        row, col, lengths = _level(op, kind, k, part, n)
        width = (int(lengths.max()) if lengths.size else 0) if dims[d] == -1 else dims[d]
        out_dims.append(width)
        parent = pos[row]
        pos = np.where((parent >= 0) & (col < width), parent * width + col, -1)
        n = row.size
    if n > values.shape[0]:
        raise ShapeError(f"{op}: the row partitions place {n} values but values has only {values.shape[0]}")
    full = [*out_dims, *inner]
    if int(np.prod(full, dtype=np.float64)) > _I32.max:
        raise ShapeError(f"{op}: the dense result {full} has more elements than this runtime can index")
    out = np.empty(full, values.dtype)
    out[...] = default
    flat = out.reshape((int(np.prod(out_dims, dtype=np.int64)), *inner))
    keep = pos >= 0
    flat[pos[keep]] = values[:n][keep]
    return [out]
