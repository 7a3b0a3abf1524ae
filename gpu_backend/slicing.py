"""Pure index arithmetic of the data-movement kernels (slices, splits, pads, gathers).

Every function here turns attributes plus input shapes into plain integers,
validating them with TensorFlow's rules, and never touches tensor data. The
numpy reference kernels and the GL kernels both call these, so a slice spec is
resolved (and rejected) identically on both backends, while the data movement
itself stays independently implemented on each.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .errors import AttributeValueError, ShapeError
from .shapes import Shape, normalize_axis

# StridedSlice masks are 32-bit ints in TF: bit i refers to entry i of begin/end/strides.
_MAX_SPARSE_DIMS = 31


def int_list(value: object, kernel: str, name: str) -> list[int]:
    """An attribute that must be a list of ints (a scalar counts as a one-element list)."""
    if value is None:
        raise AttributeValueError(f"{kernel}: missing attribute {name!r}")
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return [int(value)]
    try:
        out = [int(v) for v in value]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise AttributeValueError(f"{kernel}: attribute {name!r} must be a list of ints, got {value!r}") from None
    return out


def pairs(value: object, rank: int, kernel: str, name: str) -> list[tuple[int, int]]:
    """A [[before, after], ...] attribute with one non-negative pair per dimension."""
    if value is None:
        raise AttributeValueError(f"{kernel}: missing attribute {name!r}")
    try:
        out = [(int(p[0]), int(p[1])) for p in value]  # type: ignore[union-attr, index]
        ok = all(len(p) == 2 for p in value)  # type: ignore[union-attr, arg-type]
    except (TypeError, ValueError, IndexError):
        ok, out = False, []
    if not ok:
        raise AttributeValueError(f"{kernel}: {name} must be a list of [before, after] pairs, got {value!r}")
    if len(out) != rank:
        raise AttributeValueError(
            f"{kernel}: {name} has {len(out)} pairs but the input has rank {rank}; give one [before, after] per dim")
    for d, (lo, hi) in enumerate(out):
        if lo < 0 or hi < 0:
            raise AttributeValueError(f"{kernel}: {name}[{d}] = {[lo, hi]} is negative; amounts must be >= 0")
    return out


# ---------------------------------------------------------------------------------------------- Slice


def resolve_slice(shape: Sequence[int], begin: object, size: object) -> tuple[list[int], list[int]]:
    """tf.raw_ops.Slice: begin in [0, dim], size -1 meaning 'to the end', begin + size <= dim.

    Unlike StridedSlice nothing is clamped: TF rejects out-of-range values, so do we.
    """
    rank = len(shape)
    b = int_list(begin, "Slice", "begin")
    s = int_list(size, "Slice", "size")
    if len(b) != rank or len(s) != rank:
        raise AttributeValueError(
            f"Slice: begin {b} and size {s} must both have one entry per input dim (rank {rank})")
    sizes = []
    for d, (lo, n) in enumerate(zip(b, s)):
        dim = shape[d]
        if not 0 <= lo <= dim:
            raise AttributeValueError(f"Slice: begin[{d}] = {lo} is outside [0, {dim}] for input shape {list(shape)}")
        if n == -1:
            n = dim - lo
        if not 0 <= n <= dim - lo:
            raise AttributeValueError(
                f"Slice: size[{d}] = {s[d]} is outside [0, {dim - lo}] (dim {dim}, begin {lo}); "
                "use -1 for 'to the end'")
        sizes.append(n)
    return b, sizes


# --------------------------------------------------------------------------------------- StridedSlice


@dataclass(frozen=True)
class StridedSliceSpec:
    """A StridedSlice call resolved against one input shape.

    For input dim d the slice takes ``sizes[d]`` elements at ``begin[d] + k * strides[d]``;
    the tensor so produced (shape ``sizes``, the "processing shape") is then reshaped to
    ``output_shape``, which drops the ``shrink`` dims (each of size 1) and inserts the size-1
    new axes.  ``output_to_input[k]`` is the input dim that output dim k walks, or None for
    a new axis; a GL kernel maps output coordinates to input coordinates with it.
    """

    input_shape: Shape
    begin: tuple[int, ...]
    end: tuple[int, ...]
    strides: tuple[int, ...]
    sizes: tuple[int, ...]
    shrink: tuple[bool, ...]
    output_shape: Shape
    output_to_input: tuple[int | None, ...]

    @property
    def is_identity(self) -> bool:
        """True when the output is the input unchanged (a copy suffices)."""
        return (self.output_to_input == tuple(range(len(self.input_shape))) and self.sizes == self.input_shape
                and all(b == 0 and s == 1 for b, s in zip(self.begin, self.strides)))

    @property
    def num_elements(self) -> int:
        n = 1
        for s in self.sizes:
            n *= s
        return n

    def input_index(self, out_index: Sequence[int]) -> tuple[int, ...]:
        """The input coordinate read for one output coordinate (reference for GL index math)."""
        coord = list(self.begin)
        for k, d in enumerate(self.output_to_input):
            if d is not None:
                coord[d] = self.begin[d] + self.strides[d] * int(out_index[k])
        return tuple(coord)


_NEW_AXIS = -1
_SHRUNK = -2


def resolve_strided_slice(shape: Sequence[int], begin: object, end: object, strides: object | None = None,
                          begin_mask: int = 0, end_mask: int = 0, ellipsis_mask: int = 0,
                          new_axis_mask: int = 0, shrink_axis_mask: int = 0) -> StridedSliceSpec:
    """tf.raw_ops.StridedSlice's resolution of (begin, end, strides, masks) for an input shape.

    Steps, following TF: (1) the sparse spec (one entry per begin/end/strides element) gets an
    implicit trailing ellipsis when it has none; (2) it is expanded into a dense spec with one
    entry per input dim: the ellipsis covers the dims no other entry claims, a new-axis entry
    claims no input dim (ellipsis beats new-axis, new-axis beats shrink at the same bit); (3)
    each dim's begin/end is made explicit: masked ends go to the extreme of the walk direction,
    negatives count from the end, then everything is clamped, except shrunk dims, whose index
    must be in range and whose stride must be positive; (4) sizes are ceil(interval / stride),
    0 for an empty or backwards interval.
    """
    kernel = "StridedSlice"
    rank = len(shape)
    b = int_list(begin, kernel, "begin")
    e = int_list(end, kernel, "end")
    s = int_list(strides, kernel, "strides") if strides is not None else [1] * len(b)
    if not len(b) == len(e) == len(s):
        raise AttributeValueError(f"{kernel}: begin {b}, end {e} and strides {s} must have the same length")
    if len(b) > _MAX_SPARSE_DIMS:
        raise AttributeValueError(f"{kernel}: at most {_MAX_SPARSE_DIMS} slice entries are supported, got {len(b)}")
    masks = {"begin_mask": begin_mask, "end_mask": end_mask, "ellipsis_mask": ellipsis_mask,
             "new_axis_mask": new_axis_mask, "shrink_axis_mask": shrink_axis_mask}
    for name, m in masks.items():
        if isinstance(m, bool) or not isinstance(m, int) or m < 0:
            raise AttributeValueError(f"{kernel}: {name} must be a non-negative int bit mask, got {m!r}")
    if ellipsis_mask & (ellipsis_mask - 1):
        raise AttributeValueError(f"{kernel}: ellipsis_mask {ellipsis_mask:#b} has more than one bit set; "
                                  "a slice may contain only one ellipsis")

    # Step 1: the sparse spec, with an implicit trailing ellipsis when there is none.
    n_sparse = len(b)
    ellipsis = ellipsis_mask & ((1 << n_sparse) - 1)
    new_after_ellipsis = 0
    seen = False
    for i in range(n_sparse):
        if seen and (new_axis_mask >> i) & 1:
            new_after_ellipsis += 1
        if (ellipsis >> i) & 1:
            seen = True
    if not seen:
        ellipsis |= 1 << n_sparse
        n_sparse += 1

    # Step 2: the dense spec, one entry per input dim.
    d_begin = [0] * rank
    d_end = [0] * rank
    d_stride = [1] * rank
    d_bmask = [False] * rank
    d_emask = [False] * rank
    d_shrink = [False] * rank
    gather: list[int] = []      # per output dim: an input dim, or _NEW_AXIS / _SHRUNK
    full = 0
    for i in range(n_sparse):
        if (ellipsis >> i) & 1:
            stop = min(rank - (n_sparse - i) + 1 + new_after_ellipsis, rank)
            while full < stop:
                d_bmask[full] = d_emask[full] = True
                gather.append(full)
                full += 1
        elif (new_axis_mask >> i) & 1:
            gather.append(_NEW_AXIS)
        else:
            if full == rank:
                raise ShapeError(f"{kernel}: the slice spec indexes more dims than the input has "
                                 f"(shape {list(shape)}, begin {b}, new_axis_mask {new_axis_mask:#b})")
            d_begin[full], d_end[full], d_stride[full] = b[i], e[i], s[i]
            d_bmask[full] = bool((begin_mask >> i) & 1)
            d_emask[full] = bool((end_mask >> i) & 1)
            if (shrink_axis_mask >> i) & 1:
                d_shrink[full] = True
                gather.append(_SHRUNK)
            else:
                gather.append(full)
            full += 1

    # Step 3: explicit, clamped begin/end per input dim; Step 4: processing sizes.
    sizes = []
    for d in range(rank):
        dim, stride = int(shape[d]), d_stride[d]
        if stride == 0:
            raise AttributeValueError(f"{kernel}: strides[{d}] is 0; strides must be non-zero")
        if d_shrink[d]:
            if stride < 0:
                raise AttributeValueError(f"{kernel}: dim {d} is indexed by a single element (shrink_axis_mask) "
                                          f"with stride {stride}; only positive strides are allowed there")
            idx = d_begin[d] + dim if d_begin[d] < 0 else d_begin[d]
            if not 0 <= idx < dim:
                raise AttributeValueError(f"{kernel}: index {d_begin[d]} is out of bounds for dim {d} of size {dim} "
                                          f"(input shape {list(shape)})")
            d_begin[d], d_end[d] = idx, idx + 1
        else:
            lo, hi = (0, dim) if stride > 0 else (-1, dim - 1)
            d_begin[d] = _canonical(d_begin[d], d_bmask[d], dim, lo, hi, lo if stride > 0 else hi)
            d_end[d] = _canonical(d_end[d], d_emask[d], dim, lo, hi, hi if stride > 0 else lo)
        interval = d_end[d] - d_begin[d]
        if interval == 0 or (interval < 0) != (stride < 0):
            sizes.append(0)
        else:
            q, r = divmod(abs(interval), abs(stride))
            sizes.append(q + (1 if r else 0))

    out_shape = tuple(1 if g == _NEW_AXIS else sizes[g] for g in gather if g != _SHRUNK)
    out_to_in = tuple(None if g == _NEW_AXIS else g for g in gather if g != _SHRUNK)
    return StridedSliceSpec(tuple(int(v) for v in shape), tuple(d_begin), tuple(d_end), tuple(d_stride),
                            tuple(sizes), tuple(d_shrink), out_shape, out_to_in)


def _canonical(x: int, masked: bool, dim: int, lo: int, hi: int, masked_value: int) -> int:
    if masked:
        return masked_value
    x = x + dim if x < 0 else x
    return min(max(x, lo), hi)


def python_slice(begin: int, stride: int, size: int) -> slice:
    """The python slice taking `size` elements from `begin` by `stride` (negative stride safe)."""
    if size == 0:
        return slice(0, 0, 1)
    stop = begin + stride * size
    return slice(begin, None if stop < 0 else stop, stride)


# ------------------------------------------------------------------------------------ Split / Concat


def split_sizes(dim: int, num_or_size_splits: object, kernel: str = "SplitV") -> list[int]:
    """Piece sizes of tf.split along a dim of size `dim`.

    An int n splits into n equal pieces (dim must divide); a list gives the sizes, at most one
    of them -1 meaning 'the rest', and they must add up to dim exactly.
    """
    if num_or_size_splits is None:
        raise AttributeValueError(f"{kernel}: missing attribute 'num_or_size_splits'")
    if isinstance(num_or_size_splits, int) and not isinstance(num_or_size_splits, bool):
        n = num_or_size_splits
        if n <= 0 or dim % n:
            raise AttributeValueError(
                f"{kernel}: cannot split a dim of size {dim} into {n} equal pieces; num_or_size_splits must be a "
                f"positive divisor of {dim} (or a list of sizes)")
        return [dim // n] * n
    sizes = int_list(num_or_size_splits, kernel, "num_or_size_splits")
    if not sizes:
        raise AttributeValueError(f"{kernel}: num_or_size_splits is an empty list")
    unknown = [i for i, v in enumerate(sizes) if v == -1]
    if len(unknown) > 1 or any(v < -1 for v in sizes):
        raise AttributeValueError(
            f"{kernel}: sizes {sizes} may contain one -1 and otherwise only non-negative values")
    known = sum(v for v in sizes if v != -1)
    if unknown:
        if known > dim:
            raise AttributeValueError(f"{kernel}: sizes {sizes} add up to {known}, more than the dim size {dim}")
        sizes[unknown[0]] = dim - known
    elif known != dim:
        raise AttributeValueError(
            f"{kernel}: sizes {sizes} add up to {known} but the dim being split has size {dim}; "
            "they must add up exactly (or use -1 for one of them)")
    return sizes


def concat_shape(shapes: Sequence[Sequence[int]], axis: int, kernel: str = "Concat") -> tuple[int, Shape]:
    """(normalized axis, output shape) of concatenating tensors of `shapes` along `axis`."""
    if not shapes:
        raise AttributeValueError(f"{kernel}: needs at least one input")
    rank = len(shapes[0])
    if rank == 0:
        raise ShapeError(f"{kernel}: cannot concatenate scalars; use Pack to stack them")
    ax = normalize_axis(int(axis), rank, f"{kernel} axis")
    for k, sh in enumerate(shapes):
        if len(sh) != rank or any(a != c for i, (a, c) in enumerate(zip(sh, shapes[0])) if i != ax):
            raise ShapeError(f"{kernel}: input {k} has shape {list(sh)}, which does not match input 0's "
                             f"{list(shapes[0])} outside axis {ax}")
    out = list(shapes[0])
    out[ax] = sum(sh[ax] for sh in shapes)
    return ax, tuple(out)


# ----------------------------------------------------------------------------------------- Pads, tile


def pad_shape(shape: Sequence[int], paddings: object, kernel: str = "PadV2", mode: str = "constant") -> tuple[
        list[tuple[int, int]], Shape]:
    """Validated paddings and the padded shape.

    MirrorPad limits follow TF: 'reflect' does not repeat the edge so each amount must be
    < dim; 'symmetric' repeats it so amounts may reach dim.
    """
    pads = pairs(paddings, len(shape), kernel, "paddings")
    if mode != "constant":
        for d, ((lo, hi), dim) in enumerate(zip(pads, shape)):
            limit = dim - 1 if mode == "reflect" else dim
            if lo > limit or hi > limit:
                raise AttributeValueError(
                    f"{kernel}: paddings[{d}] = {[lo, hi]} is too large for a dim of size {dim} in {mode!r} mode "
                    f"(each amount must be <= {limit})")
    return pads, tuple(dim + lo + hi for dim, (lo, hi) in zip(shape, pads))


def tile_shape(shape: Sequence[int], reps: object) -> Shape:
    r = int_list(reps, "Tile", "reps")
    if len(r) != len(shape):
        raise AttributeValueError(f"Tile: reps {r} must have one entry per input dim (input shape {list(shape)})")
    if any(v < 0 for v in r):
        raise AttributeValueError(f"Tile: reps {r} must be non-negative")
    return tuple(d * v for d, v in zip(shape, r))


def reverse_axes(dims: object, rank: int) -> tuple[int, ...]:
    axes = int_list(dims, "Reverse", "dims") if dims is not None else []
    norm = [normalize_axis(a, rank, "Reverse dims entry") for a in axes]
    if len(set(norm)) != len(norm):
        raise AttributeValueError(f"Reverse: dims {axes} names an axis more than once")
    return tuple(sorted(norm))


# ---------------------------------------------------------------------------------------------- Gather


@dataclass(frozen=True)
class GatherSpec:
    """GatherV2 resolved: params viewed as [batch, outer, axis_dim, inner], indices as [batch, n]."""

    axis: int
    batch_dims: int
    batch: int
    outer: int
    axis_dim: int
    inner: int
    indices_per_batch: int
    output_shape: Shape


def resolve_gather(params_shape: Sequence[int], indices_shape: Sequence[int], axis: int = 0,
                   batch_dims: int = 0) -> GatherSpec:
    """TF's GatherV2 shape rules: negative batch_dims counts from the indices' rank, negative
    axis from the params' rank, batch_dims <= axis, and the leading batch dims must agree."""
    kernel = "GatherV2"
    p_rank, i_rank = len(params_shape), len(indices_shape)
    bd = int(batch_dims)
    if bd < 0:
        bd += i_rank
    if not 0 <= bd <= i_rank:
        raise AttributeValueError(f"{kernel}: batch_dims {batch_dims} is out of range for indices of rank {i_rank}")
    ax = int(axis)
    if ax < 0:
        ax += p_rank
    if not 0 <= ax < p_rank:
        raise AttributeValueError(f"{kernel}: axis {axis} is out of range for params of rank {p_rank}")
    if bd > ax:
        raise AttributeValueError(f"{kernel}: batch_dims ({bd}) must be <= axis ({ax})")
    if tuple(params_shape[:bd]) != tuple(indices_shape[:bd]):
        raise ShapeError(f"{kernel}: the first {bd} dims of params {list(params_shape)} and indices "
                         f"{list(indices_shape)} must be equal (batch_dims={bd})")

    def prod(v: Sequence[int]) -> int:
        n = 1
        for x in v:
            n *= int(x)
        return n

    out = tuple(params_shape[:ax]) + tuple(indices_shape[bd:]) + tuple(params_shape[ax + 1:])
    return GatherSpec(ax, bd, prod(params_shape[:bd]), prod(params_shape[bd:ax]), int(params_shape[ax]),
                      prod(params_shape[ax + 1:]), prod(indices_shape[bd:]), out)


# ------------------------------------------------------------------------- Space <-> batch / depth


def block_size_attr(value: object, kernel: str) -> int:
    try:
        bs = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        bs = 0
    if bs < 2:
        raise AttributeValueError(f"{kernel}: block_size must be an int >= 2, got {value!r}")
    return bs


def depth_to_space_shape(shape: Sequence[int], block_size: int) -> Shape:
    """NHWC [n, h, w, c] -> [n, h*bs, w*bs, c/(bs*bs)]; c must divide by bs*bs."""
    if len(shape) != 4:
        raise ShapeError(f"DepthToSpace: input must be 4-D NHWC, got shape {list(shape)}")
    n, h, w, c = shape
    if c % (block_size * block_size):
        raise ShapeError(f"DepthToSpace: depth {c} is not divisible by block_size^2 = {block_size * block_size}")
    return (n, h * block_size, w * block_size, c // (block_size * block_size))


def space_to_depth_shape(shape: Sequence[int], block_size: int) -> Shape:
    """NHWC [n, h, w, c] -> [n, h/bs, w/bs, c*bs*bs]; h and w must divide by bs."""
    if len(shape) != 4:
        raise ShapeError(f"SpaceToDepth: input must be 4-D NHWC, got shape {list(shape)}")
    n, h, w, c = shape
    if h % block_size or w % block_size:
        raise ShapeError(f"SpaceToDepth: height {h} and width {w} must both be divisible by block_size {block_size}")
    return (n, h // block_size, w // block_size, c * block_size * block_size)


def space_to_batch_shape(shape: Sequence[int], block_shape: object, paddings: object) -> tuple[
        list[int], list[tuple[int, int]], Shape]:
    """(block, pads, output shape) of SpaceToBatchND: the M spatial dims after the batch dim are
    padded, must then divide by the block, and the block factors move into the batch dim."""
    kernel = "SpaceToBatchND"
    block = int_list(block_shape, kernel, "block_shape")
    m = len(block)
    if any(v < 1 for v in block):
        raise AttributeValueError(f"{kernel}: block_shape {block} entries must be >= 1")
    if len(shape) < m + 1:
        raise ShapeError(f"{kernel}: input shape {list(shape)} needs at least {m + 1} dims for block_shape {block}")
    pads = pairs(paddings, m, kernel, "paddings")
    out = [int(shape[0])]
    for i, (bs, (lo, hi)) in enumerate(zip(block, pads)):
        padded = shape[1 + i] + lo + hi
        if padded % bs:
            raise ShapeError(f"{kernel}: padded size {padded} of spatial dim {i} (input dim {1 + i}) is not "
                             f"divisible by block_shape[{i}] = {bs}")
        out.append(padded // bs)
        out[0] *= bs
    return block, pads, tuple(out) + tuple(shape[1 + m:])


def batch_to_space_shape(shape: Sequence[int], block_shape: object, crops: object) -> tuple[
        list[int], list[tuple[int, int]], Shape]:
    """(block, crops, output shape) of BatchToSpaceND, the inverse of SpaceToBatchND: the batch
    must divide by prod(block), and the crops may not exceed the expanded spatial sizes."""
    kernel = "BatchToSpaceND"
    block = int_list(block_shape, kernel, "block_shape")
    m = len(block)
    if any(v < 1 for v in block):
        raise AttributeValueError(f"{kernel}: block_shape {block} entries must be >= 1")
    if len(shape) < m + 1:
        raise ShapeError(f"{kernel}: input shape {list(shape)} needs at least {m + 1} dims for block_shape {block}")
    cr = pairs(crops, m, kernel, "crops")
    total = 1
    for bs in block:
        total *= bs
    if shape[0] % total:
        raise ShapeError(f"{kernel}: batch {shape[0]} is not divisible by the product of block_shape {block} ({total})")
    out = [int(shape[0]) // total]
    for i, (bs, (lo, hi)) in enumerate(zip(block, cr)):
        full = shape[1 + i] * bs
        if lo + hi > full:
            raise AttributeValueError(f"{kernel}: crops[{i}] = {[lo, hi]} removes more than the {full} elements "
                                      f"of spatial dim {i}")
        out.append(full - lo - hi)
    return block, cr, tuple(out) + tuple(shape[1 + m:])
