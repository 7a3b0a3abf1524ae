"""Slice, StridedSlice, SplitV, Concat, Pack/Unpack, Tile, Pad/PadV2, MirrorPad and Reverse.

The index arithmetic (clamping, masks, split sizes, pad limits) lives in
``gpu_backend.slicing`` so the GL kernels resolve attributes identically; this
module only moves the data with numpy.  Every output is a fresh array, never a
view of an input, because the backend may hand outputs out as independent tensors.
"""
from __future__ import annotations

import numpy as np

from ..errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from ..registry import numpy_kernel
from ..shapes import normalize_axis
from ..slicing import (concat_shape, int_list, pad_shape, python_slice, resolve_slice, resolve_strided_slice,
                       reverse_axes, split_sizes, tile_shape)


def _same_dtype(op: str, inputs: list[np.ndarray]) -> None:
    if not inputs:
        raise AttributeValueError(f"{op}: needs at least one input tensor")
    kinds = {x.dtype for x in inputs}
    if len(kinds) > 1:
        raise UnsupportedDTypeError(f"{op}: all inputs must have one dtype, got {sorted(str(k) for k in kinds)}; "
                                    "insert a Cast")


@numpy_kernel("Slice")
def slice_(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x = inputs[0]
    begin, size = resolve_slice(x.shape, attrs.get("begin"), attrs.get("size"))
    return [np.array(x[tuple(slice(b, b + n) for b, n in zip(begin, size))], copy=True)]


@numpy_kernel("StridedSlice")
def strided_slice(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x = inputs[0]
    spec = resolve_strided_slice(
        x.shape, attrs.get("begin"), attrs.get("end"), attrs.get("strides"),
        begin_mask=int(attrs.get("begin_mask", 0) or 0), end_mask=int(attrs.get("end_mask", 0) or 0),
        ellipsis_mask=int(attrs.get("ellipsis_mask", 0) or 0), new_axis_mask=int(attrs.get("new_axis_mask", 0) or 0),
        shrink_axis_mask=int(attrs.get("shrink_axis_mask", 0) or 0))
    index = tuple(python_slice(b, s, n) for b, s, n in zip(spec.begin, spec.strides, spec.sizes))
    taken = np.array(x[index], dtype=x.dtype, copy=True)
    return [taken.reshape(spec.output_shape)]


@numpy_kernel("SplitV")
def split_v(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x = inputs[0]
    if x.ndim == 0:
        raise ShapeError(f"{op}: cannot split a scalar")
    axis = normalize_axis(int(attrs.get("axis", 0)), x.ndim, f"{op} axis")
    sizes = split_sizes(x.shape[axis], attrs.get("num_or_size_splits"), op)
    bounds = np.cumsum([0] + sizes)
    outs = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        index = tuple(slice(int(lo), int(hi)) if d == axis else slice(None) for d in range(x.ndim))
        outs.append(np.array(x[index], copy=True))
    return outs


@numpy_kernel("Concat")
def concat(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    _same_dtype(op, inputs)
    axis, _ = concat_shape([x.shape for x in inputs], int(attrs.get("axis", 0)), op)
    return [np.concatenate(inputs, axis=axis)]


@numpy_kernel("Pack")
def pack(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    _same_dtype(op, inputs)
    shape = inputs[0].shape
    for k, x in enumerate(inputs):
        if x.shape != shape:
            raise ShapeError(f"{op}: input {k} has shape {list(x.shape)} but input 0 has {list(shape)}; "
                             "stacked tensors must share one shape")
    axis = normalize_axis(int(attrs.get("axis", 0)), len(shape) + 1, f"{op} axis")
    return [np.stack(inputs, axis=axis)]


@numpy_kernel("Unpack")
def unpack(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x = inputs[0]
    if x.ndim == 0:
        raise ShapeError(f"{op}: cannot unstack a scalar")
    axis = normalize_axis(int(attrs.get("axis", 0)), x.ndim, f"{op} axis")
    num = attrs.get("num")
    if num is not None and int(num) != x.shape[axis]:
        raise AttributeValueError(f"{op}: num={num} but dim {axis} of shape {list(x.shape)} has {x.shape[axis]}")
    return [np.array(np.take(x, i, axis=axis), copy=True) for i in range(x.shape[axis])]


@numpy_kernel("Tile")
def tile(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x = inputs[0]
    out_shape = tile_shape(x.shape, attrs.get("reps"))
    reps = int_list(attrs.get("reps"), op, "reps")
    return [np.tile(x, reps).reshape(out_shape)]   # np.tile copies, even when every rep is 1


def _fill_value(value: object, dtype: np.dtype, op: str) -> np.generic:
    try:
        return np.array(value).astype(dtype)[()]
    except (TypeError, ValueError):
        raise AttributeValueError(f"{op}: constant_value {value!r} is not a number") from None


@numpy_kernel("PadV2", "Pad")
def pad(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x = inputs[0]
    pads, _ = pad_shape(x.shape, attrs.get("paddings"), op)
    value = _fill_value(attrs.get("constant_value", 0), x.dtype, op)
    if x.ndim == 0:
        return [x.copy()]
    return [np.pad(x, pads, mode="constant", constant_values=value)]


@numpy_kernel("MirrorPad")
def mirror_pad(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x = inputs[0]
    mode = str(attrs.get("mode", "")).lower()
    if mode not in ("reflect", "symmetric"):
        raise AttributeValueError(f"{op}: mode must be 'reflect' or 'symmetric', got {attrs.get('mode')!r}")
    pads, _ = pad_shape(x.shape, attrs.get("paddings"), op, mode)
    if x.ndim == 0:
        return [x.copy()]
    out = x
    for d, (lo, hi) in enumerate(pads):   # np.pad refuses reflect on any empty axis, even one left unpadded
        if lo or hi:
            width = [(0, 0)] * x.ndim
            width[d] = (lo, hi)
            out = np.pad(out, width, mode=mode)
    return [np.array(out, copy=out is x)]


@numpy_kernel("Reverse")
def reverse(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x = inputs[0]
    axes = reverse_axes(attrs.get("dims", attrs.get("axis")), x.ndim)
    return [np.array(np.flip(x, axes) if axes else x, copy=True)]
