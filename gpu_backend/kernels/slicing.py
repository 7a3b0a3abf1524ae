"""Slice, StridedSlice, SplitV, Unpack, Reverse, Concat, Pack, Tile, Pad/PadV2 and MirrorPad.

Attributes are resolved by the pure helpers of ``gpu_backend.slicing`` (the same calls the numpy
reference makes), so both backends accept and reject exactly the same specs.  Each op then takes
the cheapest of three paths:

1. a view (no draw, no texture): any strided window whose packed last dim keeps its grouping of
   four, including negative steps on other dims, stride-0 broadcasts, dims pinned (shrunk) or
   inserted (size 1); on the unpacked layout every strided mapping is a view;
2. a texel program (one fetch per output texel) when the packed last dim's lanes stay aligned;
3. an element program gathering each value through ``X_elem`` otherwise.

``remap`` implements the choice for every op that is a strided mapping of one input; the
helpers ``mapped_view`` and ``remap`` are shared with the shape-op kernels.

Draws run at a canonical rank (at least ``CANON_RANK``, leading size-1 dims added as views and
dropped from the output by a reshape view): programs are specialised by rank, so a graph slicing
and concatenating tensors of ranks 1 to 4 compiles one program per kind instead of four, at the
cost of a few multiply-adds on size-1 dims.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ..dtypes import numpy_dtype
from ..errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from ..layout import View, texel_shape
from ..registry import gl_kernel
from ..runner import Arg, GLTensor, ProgramRunner
from ..shapes import normalize_axis
from ..slicing import (concat_shape, int_list, pad_shape, resolve_slice, resolve_strided_slice, reverse_axes,
                       split_sizes, tile_shape)
from .elementwise import MATH

REMAP_TEXEL = ("kernels/remap.glsl", "texel")
REMAP_ELEM = ("kernels/remap.glsl", "elem")
MAX_INPUTS_PER_DRAW = 8
CANON_RANK = 4


# ------------------------------------------------------------------------------------ shared helpers


def mapped_view(view: View, out_shape: Sequence[int], out_to_in: Sequence[int | None], begin: Sequence[int],
                step: Sequence[int], tail_ok: bool = False) -> View | None:
    """The view reading ``out[c] = in[x]`` with ``x[d] = begin[d] + step[d] * c[k]`` for each output dim k
    walking input dim ``d = out_to_in[k]`` (None: an inserted size-1 dim); input dims no output dim walks
    stay at ``begin[d]``.  None when the packed layout cannot express it.

    Packed, the output's last dim must be the input's last dim taken from a multiple of 4 with step 1 and
    ending at the input's end or on a multiple of 4 (whole texels, zero tail), or both last dims must hold
    one value per texel (size 1).  ``tail_ok`` drops the end condition: such a view is only fit to be read
    by a draw, whose main() masks the tail, never to be handed out as a tensor.
    """
    if view.splat:
        return None
    in_shape = view.shape
    rank = len(in_shape)
    out_shape = tuple(int(d) for d in out_shape)
    if view.packed:
        in_last = in_shape[-1] if in_shape else 1
        out_last = out_shape[-1] if out_shape else 1
        if not (in_last == 1 and out_last == 1):
            if not out_shape or out_to_in[-1] != rank - 1:
                return None
            b, st, n = begin[rank - 1], step[rank - 1], out_shape[-1]
            if b % 4 or st != 1:
                return None
            if not tail_ok and not (b + n == in_last or (b + n) % 4 == 0):
                return None
    ox, oy = view.offset
    for d in range(rank):
        b = begin[d] // 4 if (view.packed and d == rank - 1) else begin[d]
        sx, sy = view.strides[d]
        ox += b * sx
        oy += b * sy
    strides: list[tuple[int, int]] = []
    for k, d in enumerate(out_to_in):
        if d is None or out_shape[k] == 1:
            strides.append((0, 0))
        else:
            sx, sy = view.strides[d]
            strides.append((sx * step[d], sy * step[d]))
    if not out_shape:
        strides = [(0, 0)]
    return replace(view, shape=out_shape, tshape=texel_shape(out_shape, view.packed), strides=tuple(strides),
                   offset=(ox, oy), splat=False)


def canon(rank: int) -> int:
    """The rank a draw runs at."""
    return max(rank, CANON_RANK)


def lift(view: View, rank: int, at: int = 0) -> View:
    """The view with size-1 dims inserted at position `at` up to `rank` dims (always a view: the
    last dim is untouched, or the tensor is a scalar whose single value sits in lane 0)."""
    n = len(view.shape)
    if n == rank:
        return view
    out_to_in: list[int | None] = list(range(n))
    out_to_in[at:at] = [None] * (rank - n)
    shape = tuple(view.shape[d] if d is not None else 1 for d in out_to_in)
    v = mapped_view(view, shape, out_to_in, [0] * n, [1] * n)
    assert v is not None, f"size-1 dims at {at} of a {view.shape} view change its packed last dim"
    return v


def run_canonical(gl: ProgramRunner, kernel: str, section: str | None, style: str, inputs: dict[str, Arg],
                  out_shape: Sequence[int], dtype: str, at: int = 0, **kwargs: Any) -> GLTensor:
    """gl.run into the output lifted to its canonical rank (size-1 dims inserted at `at`, which the
    caller's inputs and uniforms already account for), handed back under its real shape (a view)."""
    out_shape = tuple(int(d) for d in out_shape)
    rank = canon(len(out_shape))
    full = out_shape[:at] + (1,) * (rank - len(out_shape)) + out_shape[at:]
    out = gl.run(kernel, section, style, inputs, full, dtype, **kwargs)
    if full == out_shape:
        return out
    view = gl.reshape(out, out_shape)      # a fresh dense tensor losing size-1 dims: always a view
    gl.release(out)
    return view


def remap(gl: ProgramRunner, x: GLTensor, out_shape: Sequence[int], out_to_in: Sequence[int | None],
          begin: Sequence[int], step: Sequence[int], label: str) -> GLTensor:
    """A strided mapping of x (see ``mapped_view``): a view when the layout allows, else a texel
    program through a window view, else the element program ``slicing.glsl:strided``."""
    out_shape = tuple(int(d) for d in out_shape)
    if math.prod(out_shape) == 0:
        return gl.alloc(out_shape, x.dtype)
    v = mapped_view(x.view, out_shape, out_to_in, begin, step)
    if v is not None:
        return gl.share(x, v)
    # the draw runs at canonical ranks: leading size-1 output dims (new axes), input dims lifted
    pout = canon(len(out_shape)) - len(out_shape)
    full = (1,) * pout + out_shape
    full_to_in = [None] * pout + list(out_to_in)
    w = mapped_view(x.view, full, full_to_in, begin, step, tail_ok=True)
    if w is not None:
        return run_canonical(gl, "remap.glsl", "view", "texel", {"X": Arg(x, view=w)}, out_shape, x.dtype,
                             packed=x.view.packed, label=label)
    xr = canon(x.rank)
    pin = xr - x.rank
    smat = np.zeros((len(full), xr), "i4")
    for k, d in enumerate(full_to_in):
        if d is not None:
            smat[k, pin + d] = step[d]
    sb = [0] * pin + list(begin)
    return run_canonical(gl, "slicing.glsl", "strided", "element", {"X": Arg(x, elem=True, view=lift(x.view, xr))},
                         out_shape, x.dtype, uniforms={"sb": _i4(sb), "smat": smat.reshape(-1)},
                         libs=[REMAP_ELEM], packed=x.view.packed, label=label)


def units(shape: Sequence[int], packed: bool, texel: bool) -> list[int]:
    """A shape with its last dim counted in texels when a packed texel program reads it."""
    s = list(shape) if len(shape) else [1]
    if texel and packed:
        s[-1] = (s[-1] + 3) // 4
    return s


def _i4(values: Sequence[int]) -> np.ndarray:
    return np.asarray(list(values), dtype="i4")


def _same_dtype(op: str, inputs: list[GLTensor]) -> str:
    if not inputs:
        raise AttributeValueError(f"{op}: needs at least one input tensor")
    kinds = {t.dtype for t in inputs}
    if len(kinds) > 1:
        raise UnsupportedDTypeError(f"{op}: all inputs must have one dtype, got {sorted(kinds)}; insert a Cast")
    return inputs[0].dtype


def _identity(x: GLTensor) -> tuple[list[int | None], list[int], list[int]]:
    return list(range(x.rank)), [0] * x.rank, [1] * x.rank


# --------------------------------------------------------------------------------- slices and splits


@gl_kernel("Slice")
def slice_(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x = inputs[0]
    begin, size = resolve_slice(x.shape, attrs.get("begin"), attrs.get("size"))
    return [remap(gl, x, size, list(range(x.rank)), begin, [1] * x.rank, op)]


@gl_kernel("StridedSlice")
def strided_slice(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    """Shrunk dims are pinned at their index, new axes inserted with size 1, negative strides walk
    backwards: all one strided mapping, so a view whenever the packed last dim allows."""
    x = inputs[0]
    spec = resolve_strided_slice(
        x.shape, attrs.get("begin"), attrs.get("end"), attrs.get("strides"),
        begin_mask=int(attrs.get("begin_mask", 0) or 0), end_mask=int(attrs.get("end_mask", 0) or 0),
        ellipsis_mask=int(attrs.get("ellipsis_mask", 0) or 0), new_axis_mask=int(attrs.get("new_axis_mask", 0) or 0),
        shrink_axis_mask=int(attrs.get("shrink_axis_mask", 0) or 0))
    if spec.num_elements == 0:
        return [gl.alloc(spec.output_shape, x.dtype)]
    return [remap(gl, x, spec.output_shape, spec.output_to_input, spec.begin, spec.strides, op)]


@gl_kernel("SplitV")
def split_v(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x = inputs[0]
    if x.rank == 0:
        raise ShapeError(f"{op}: cannot split a scalar")
    axis = normalize_axis(int(attrs.get("axis", 0)), x.rank, f"{op} axis")
    sizes = split_sizes(x.shape[axis], attrs.get("num_or_size_splits"), op)
    outs = []
    start = 0
    for n in sizes:
        begin = [0] * x.rank
        begin[axis] = start
        shape = list(x.shape)
        shape[axis] = n
        outs.append(remap(gl, x, shape, list(range(x.rank)), begin, [1] * x.rank, op))
        start += n
    return outs


@gl_kernel("Unpack")
def unpack(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x = inputs[0]
    if x.rank == 0:
        raise ShapeError(f"{op}: cannot unstack a scalar")
    axis = normalize_axis(int(attrs.get("axis", 0)), x.rank, f"{op} axis")
    num = attrs.get("num")
    if num is not None and int(num) != x.shape[axis]:
        raise AttributeValueError(f"{op}: num={num} but dim {axis} of shape {list(x.shape)} has {x.shape[axis]}")
    keep = [d for d in range(x.rank) if d != axis]
    shape = [x.shape[d] for d in keep]
    outs = []
    for k in range(x.shape[axis]):
        begin = [0] * x.rank
        begin[axis] = k
        outs.append(remap(gl, x, shape, keep, begin, [1] * x.rank, op))
    return outs


@gl_kernel("Reverse")
def reverse(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    """A negative-stride view, except the packed last dim (its lanes would run backwards)."""
    x = inputs[0]
    axes = reverse_axes(attrs.get("dims", attrs.get("axis")), x.rank)
    out_to_in, begin, step = _identity(x)
    for a in axes:
        begin[a] = x.shape[a] - 1
        step[a] = -1
    return [remap(gl, x, x.shape, out_to_in, begin, step, op)]


# ---------------------------------------------------------------------------------- concat and pack


@gl_kernel("Concat")
def concat(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    dtype = _same_dtype(op, inputs)
    axis, out_shape = concat_shape([t.shape for t in inputs], int(attrs.get("axis", 0)), op)
    if len(inputs) == 1:
        return [gl.share(inputs[0], inputs[0].view)]
    return [_concat_tree(gl, inputs, axis, out_shape, dtype, op)]


def _concat_tree(gl: ProgramRunner, inputs: list[GLTensor], axis: int, out_shape: tuple[int, ...], dtype: str,
                 label: str) -> GLTensor:
    """Up to 8 inputs per draw; longer lists are concatenated in groups, then the groups."""
    if len(inputs) <= MAX_INPUTS_PER_DRAW:
        return _concat_draw(gl, inputs, axis, out_shape, dtype, False, label)
    parts: list[GLTensor] = []
    try:
        for i in range(0, len(inputs), MAX_INPUTS_PER_DRAW):
            group = inputs[i:i + MAX_INPUTS_PER_DRAW]
            if len(group) == 1:
                parts.append(gl.share(group[0], group[0].view))
                continue
            shape = list(out_shape)
            shape[axis] = sum(t.shape[axis] for t in group)
            parts.append(_concat_draw(gl, group, axis, tuple(shape), dtype, False, label))
        return _concat_tree(gl, parts, axis, out_shape, dtype, label)
    finally:
        for p in parts:
            gl.release(p)


def _concat_draw(gl: ProgramRunner, inputs: list[GLTensor], axis: int, out_shape: tuple[int, ...], dtype: str,
                 pack: bool, label: str) -> GLTensor:
    """One draw of slicing.glsl:concat for <= 8 inputs, lifted to the canonical rank.  Texel style
    unless the pieces split texels of the packed last dim: a Concat along it with a piece (other
    than the last) not a multiple of 4, or a Pack whose new axis is the output's last."""
    packed = inputs[0].view.packed
    out_rank = len(out_shape)
    last_axis = axis == out_rank - 1
    if pack:
        texel = not packed or not last_axis
        extents = [1] * len(inputs)
    else:
        texel = not packed or not last_axis or all(t.shape[axis] % 4 == 0 for t in inputs[:-1])
        extents = [t.shape[axis] for t in inputs]
    offsets = [0]
    for e in extents:
        offsets.append(offsets[-1] + e)
    if texel and packed and last_axis:
        offsets = [(o + 3) // 4 for o in offsets]
    pad = canon(out_rank) - out_rank          # leading size-1 dims of the canonical-rank draw
    in_rank = canon(out_rank) - int(pack)
    args = {f"X{k}": Arg(t, elem=not texel, view=lift(t.view, in_rank)) for k, t in enumerate(inputs)}
    defines = [("N", str(len(inputs))), ("PACK", str(int(pack))), ("STYLE_TEXEL", str(int(texel)))]
    amask = np.zeros(canon(out_rank), "i4")
    amask[axis + pad] = 1
    return run_canonical(gl, "slicing.glsl", "concat", "texel" if texel else "element", args, out_shape, dtype,
                         uniforms={"axis": axis + pad, "amask": amask, "cat_off": _i4(offsets)}, defines=defines,
                         packed=packed, label=label)


@gl_kernel("Pack")
def pack(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    dtype = _same_dtype(op, inputs)
    shape = inputs[0].shape
    for k, t in enumerate(inputs):
        if t.shape != shape:
            raise ShapeError(f"{op}: input {k} has shape {list(t.shape)} but input 0 has {list(shape)}; "
                             "stacked tensors must share one shape")
    axis = normalize_axis(int(attrs.get("axis", 0)), len(shape) + 1, f"{op} axis")
    out_shape = shape[:axis] + (len(inputs),) + shape[axis:]
    if len(inputs) == 1:
        x = inputs[0]
        out_to_in: list[int | None] = list(range(x.rank))
        out_to_in.insert(axis, None)
        return [remap(gl, x, out_shape, out_to_in, [0] * x.rank, [1] * x.rank, op)]
    if len(inputs) <= MAX_INPUTS_PER_DRAW:
        return [_concat_draw(gl, inputs, axis, out_shape, dtype, True, op)]
    parts = []
    try:
        for i in range(0, len(inputs), MAX_INPUTS_PER_DRAW):
            group = inputs[i:i + MAX_INPUTS_PER_DRAW]
            parts.append(pack(gl, op, group, {"axis": axis}))
        pieces = [p[0] for p in parts]
        return [_concat_tree(gl, pieces, axis, out_shape, dtype, op)]
    finally:
        for p in parts:
            gl.release(p[0])


# -------------------------------------------------------------------------------------- tile and pads


@gl_kernel("Tile")
def tile(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    """Repeating a size-1 dim is a broadcast (a stride-0 view unless it is the packed last dim);
    other repeats draw ``out[c] = x[c % shape]``, by texels when the last dim is not repeated or
    holds whole texels."""
    x = inputs[0]
    out_shape = tile_shape(x.shape, attrs.get("reps"))
    reps = int_list(attrs.get("reps"), op, "reps")
    if math.prod(out_shape) == 0:
        return [gl.alloc(out_shape, x.dtype)]
    if all(r == 1 for r in reps):
        return [gl.share(x, x.view)]
    if all(r == 1 or d == 1 for r, d in zip(reps, x.shape)):
        out_to_in, begin, _ = _identity(x)
        v = mapped_view(x.view, out_shape, out_to_in, begin, [0 if r > 1 else 1 for r in reps])
        if v is not None:
            return [gl.share(x, v)]
    packed = x.view.packed
    texel = not packed or reps[-1] == 1 or x.shape[-1] % 4 == 0
    rank = canon(x.rank)
    lim = [1] * (rank - x.rank) + units(x.shape, packed, texel)
    return [run_canonical(gl, "slicing.glsl", "tile", "texel" if texel else "element",
                          {"X": Arg(x, elem=not texel, view=lift(x.view, rank))}, out_shape, x.dtype,
                          uniforms={"lim": _i4(lim)}, libs=[REMAP_TEXEL if texel else REMAP_ELEM], packed=packed,
                          label=op)]


def scalar_uniforms(value: object, dtype: str, op: str, name: str) -> dict[str, float | int]:
    """A constant as the float and int uniforms a program picks from by its output dtype, converted
    with numpy's casting (as the reference: 2.7 -> 2 for int32, non-zero -> True for bool)."""
    try:
        v = np.array(value).astype(numpy_dtype(dtype))[()]
    except (TypeError, ValueError):
        raise AttributeValueError(f"{op}: {name} {value!r} is not a number") from None
    if dtype == "float32":
        return {"f": float(v), "i": 0}
    return {"f": 0.0, "i": int(v)}


def _pad_draw(gl: ProgramRunner, x: GLTensor, pads: list[tuple[int, int]], out_shape: tuple[int, ...], mode: int,
              value: dict[str, float | int], label: str) -> GLTensor:
    packed = x.view.packed
    lo_last, hi_last = pads[-1]
    if mode == 0:
        texel = not packed or lo_last % 4 == 0
    else:
        texel = not packed or (lo_last == 0 and hi_last == 0)
    rank = canon(x.rank)
    lift_by = rank - x.rank
    uniforms = {"lo": _i4([0] * lift_by + [lo for lo, _ in pads]), "xs": _i4([1] * lift_by + list(x.shape)),
                "mode": mode, "fval": value["f"], "ival": value["i"]}
    return run_canonical(gl, "slicing.glsl", "pad", "texel" if texel else "element",
                         {"X": Arg(x, elem=not texel, view=lift(x.view, rank))}, out_shape, x.dtype,
                         uniforms=uniforms, defines=[("STYLE_TEXEL", str(int(texel)))], libs=[MATH], packed=packed,
                         label=label)


@gl_kernel("PadV2", "Pad")
def pad(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x = inputs[0]
    pads, out_shape = pad_shape(x.shape, attrs.get("paddings"), op)
    value = scalar_uniforms(attrs.get("constant_value", 0), x.dtype, op, "constant_value")
    if x.rank == 0 or all(lo == 0 and hi == 0 for lo, hi in pads):
        return [gl.share(x, x.view)]
    return [_pad_draw(gl, x, pads, out_shape, 0, value, op)]


@gl_kernel("MirrorPad")
def mirror_pad(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x = inputs[0]
    mode = str(attrs.get("mode", "")).lower()
    if mode not in ("reflect", "symmetric"):
        raise AttributeValueError(f"{op}: mode must be 'reflect' or 'symmetric', got {attrs.get('mode')!r}")
    pads, out_shape = pad_shape(x.shape, attrs.get("paddings"), op, mode)
    if x.rank == 0 or all(lo == 0 and hi == 0 for lo, hi in pads):
        return [gl.share(x, x.view)]
    return [_pad_draw(gl, x, pads, out_shape, 1 if mode == "reflect" else 2, {"f": 0.0, "i": 0}, op)]
