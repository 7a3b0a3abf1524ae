"""ExpandDims, Squeeze, BroadcastTo, DepthToSpace/SpaceToDepth and SpaceToBatchND/BatchToSpaceND.

ExpandDims and Squeeze only add or drop size-1 dims: a view of any input (strided views included)
unless the packed last dim changes size, where the element copy runs.  BroadcastTo is a stride-0
view unless it would splat the packed last dim.  The block rearrangements are index maps
(shaders/kernels/shape_ops.glsl), drawn by texels when whole texels of the packed last dim move
together, at the canonical rank of ``slicing.canon`` (SpaceToBatchND/BatchToSpaceND insert the
size-1 dims after the batch dim, where they act as spatial dims with block 1).
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import AttributeValueError, ShapeError
from ..layout import broadcast_view
from ..op_checks import single_int as _single_int
from ..registry import gl_kernel
from ..runner import Arg, GLTensor, ProgramRunner
from ..shapes import normalize_axis
from ..slicing import (batch_to_space_shape, block_size_attr, depth_to_space_shape, int_list, space_to_batch_shape,
                       space_to_depth_shape)
from .slicing import REMAP_ELEM, REMAP_TEXEL, canon, lift, remap, run_canonical, units


def _unit_dims(gl: ProgramRunner, x: GLTensor, out_shape: tuple[int, ...], out_to_in: list[int | None],
               op: str) -> GLTensor:
    """Insert/drop size-1 dims as a strided mapping: a view of any input (strided or not) unless the
    packed last dim changes size.  ``gl.reshape`` could not do better there: with only size-1 dims
    changing, the packed last dim is never a multiple of 4 on both sides, so it would copy too."""
    return remap(gl, x, out_shape, out_to_in, [0] * x.rank, [1] * x.rank, op)


@gl_kernel("ExpandDims")
def expand_dims(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x = inputs[0]
    dim = _single_int(attrs.get("dim", attrs.get("axis", 0)), op, "dim")
    if not -(x.rank + 1) <= dim <= x.rank:
        raise AttributeValueError(f"{op}: dim {dim} is out of range [{-(x.rank + 1)}, {x.rank}] "
                                  f"for an input of rank {x.rank}")
    dim %= x.rank + 1
    out_to_in: list[int | None] = list(range(x.rank))
    out_to_in.insert(dim, None)
    return [_unit_dims(gl, x, x.shape[:dim] + (1,) + x.shape[dim:], out_to_in, op)]


@gl_kernel("Squeeze")
def squeeze(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x = inputs[0]
    axis = attrs.get("axis")
    if axis is None or (isinstance(axis, (list, tuple)) and not axis):
        drop = {d for d, n in enumerate(x.shape) if n == 1}
    else:
        drop = {normalize_axis(a, x.rank, f"{op} axis") for a in int_list(axis, op, "axis")}
        for d in sorted(drop):
            if x.shape[d] != 1:
                raise ShapeError(f"{op}: cannot squeeze dim {d} of shape {list(x.shape)}: its size is "
                                 f"{x.shape[d]}, not 1")
    keep: list[int | None] = [d for d in range(x.rank) if d not in drop]
    return [_unit_dims(gl, x, tuple(x.shape[d] for d in keep), keep, op)]


@gl_kernel("BroadcastTo")
def broadcast_to(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    """A stride-0 view; broadcasting the packed last dim would need a splat view (lane x read as
    all four), which no other kernel expects of a tensor, so that case is a texel draw."""
    x = inputs[0]
    shape = tuple(int_list(attrs.get("shape"), op, "shape"))
    ok = len(shape) >= x.rank and all(
        d == 1 or d == t for d, t in zip(x.shape[::-1], shape[::-1])) and all(t >= 0 for t in shape)
    if not ok:
        raise ShapeError(f"{op}: an input of shape {list(x.shape)} cannot be broadcast to {list(shape)} "
                         "(each input dim, aligned right, must be 1 or equal to the target's)")
    if math.prod(shape) == 0:
        return [gl.alloc(shape, x.dtype)]
    if shape == x.shape:
        return [gl.share(x, x.view)]
    view = broadcast_view(x.view, shape)
    if not view.splat:
        return [gl.share(x, view)]
    return [gl.run("remap.glsl", "view", "texel", {"X": Arg(x, "bcast")}, shape, x.dtype, packed=x.view.packed,
                   label=op)]


def _nhwc(op: str, attrs: dict) -> None:
    fmt = attrs.get("data_format", "NHWC")
    if fmt != "NHWC":
        raise AttributeValueError(f"{op}: only data_format 'NHWC' is supported, got {fmt!r}")


def _remap_draw(gl: ProgramRunner, x: GLTensor, section: str, texel: bool, out_shape: tuple[int, ...],
                uniforms: dict, op: str) -> GLTensor:
    """DepthToSpace / SpaceToDepth (always rank 4, so no lifting)."""
    if math.prod(out_shape) == 0:
        return gl.alloc(out_shape, x.dtype)
    return gl.run("shape_ops.glsl", section, "texel" if texel else "element", {"X": Arg(x, elem=not texel)},
                  out_shape, x.dtype, uniforms=uniforms, libs=[REMAP_TEXEL if texel else REMAP_ELEM],
                  packed=x.view.packed, label=op)


@gl_kernel("DepthToSpace")
def depth_to_space(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    """TF's DCR order; whole texels move when the output depth is a multiple of 4."""
    x = inputs[0]
    _nhwc(op, attrs)
    bs = block_size_attr(attrs.get("block_size"), op)
    out_shape = depth_to_space_shape(x.shape, bs)
    depth = out_shape[3]
    texel = not x.view.packed or depth % 4 == 0
    cu = depth // 4 if (texel and x.view.packed) else depth
    return [_remap_draw(gl, x, "depth_to_space", texel, out_shape, {"bs": bs, "cu": max(cu, 1)}, op)]


@gl_kernel("SpaceToDepth")
def space_to_depth(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x = inputs[0]
    _nhwc(op, attrs)
    bs = block_size_attr(attrs.get("block_size"), op)
    out_shape = space_to_depth_shape(x.shape, bs)
    depth = x.shape[3]
    texel = not x.view.packed or depth % 4 == 0
    cu = depth // 4 if (texel and x.view.packed) else depth
    return [_remap_draw(gl, x, "space_to_depth", texel, out_shape, {"bs": bs, "cu": max(cu, 1)}, op)]


def _block_uniforms(rank: int, block: list[int], pads: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Per-dim block sizes and before-amounts at the canonical rank (size-1 dims inserted after the
    batch dim): the spatial dims are the m dims before the original trailing ones, 1 and 0 elsewhere."""
    full = canon(rank)
    first = 1 + full - rank
    blk = [1] * full
    lo = [0] * full
    for i, (b, (p, _)) in enumerate(zip(block, pads)):
        blk[first + i] = b
        lo[first + i] = p
    return np.asarray(blk, "i4"), np.asarray(lo, "i4")


def _batch_draw(gl: ProgramRunner, x: GLTensor, section: str, texel: bool, out_shape: tuple[int, ...],
                uniforms: dict, op: str) -> GLTensor:
    """SpaceToBatchND / BatchToSpaceND at the canonical rank: size-1 dims go after the batch dim,
    where they count as spatial dims with block 1."""
    if math.prod(out_shape) == 0:
        return gl.alloc(out_shape, x.dtype)
    rank = canon(x.rank)
    return run_canonical(gl, "shape_ops.glsl", section, "texel" if texel else "element",
                         {"X": Arg(x, elem=not texel, view=lift(x.view, rank, at=1))}, out_shape, x.dtype, at=1,
                         uniforms=uniforms, libs=[REMAP_TEXEL if texel else REMAP_ELEM], packed=x.view.packed,
                         label=op)


@gl_kernel("SpaceToBatchND")
def space_to_batch_nd(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x = inputs[0]
    block, pads, out_shape = space_to_batch_shape(x.shape, attrs.get("block_shape"), attrs.get("paddings"))
    if not block or all(b == 1 for b in block) and all(p == (0, 0) for p in pads):
        return [gl.share(x, x.view)]
    texel = not x.view.packed or len(block) < x.rank - 1
    blk, lo = _block_uniforms(x.rank, block, pads)
    shape = units(x.shape, x.view.packed, texel)
    lim = np.asarray(shape[:1] + [1] * (canon(x.rank) - x.rank) + shape[1:], "i4")
    uniforms = {"nb": max(x.shape[0], 1), "blk": blk, "lo": lo, "lim": lim}
    return [_batch_draw(gl, x, "space_to_batch", texel, out_shape, uniforms, op)]


@gl_kernel("BatchToSpaceND")
def batch_to_space_nd(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x = inputs[0]
    block, crops, out_shape = batch_to_space_shape(x.shape, attrs.get("block_shape"), attrs.get("crops"))
    if not block or all(b == 1 for b in block) and all(c == (0, 0) for c in crops):
        return [gl.share(x, x.view)]
    texel = not x.view.packed or len(block) < x.rank - 1
    blk, lo = _block_uniforms(x.rank, block, crops)
    uniforms = {"nb": max(out_shape[0], 1), "blk": blk, "lo": lo}
    return [_batch_draw(gl, x, "batch_to_space", texel, out_shape, uniforms, op)]
