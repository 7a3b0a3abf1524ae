"""ResizeBilinear, ResizeNearestNeighbor and CropAndResize on GL, NHWC, both layouts.

One texel program per op: each fragment computes one output texel (4 channels when packed) from the
sample positions of its row and column.  The positions are computed in the shader in float32, in the
reference's operation order (gpu_backend/reference/image.py), from float32 scales computed here
exactly as the reference computes them; this keeps nearest picks and CropAndResize's inside-test
identical to TF's.  Attribute parsing and validation call the reference's own helpers, so both
backends accept and refuse the same calls with the same messages.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..dtypes import numpy_dtype
from ..errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from ..layout import View
from ..reference.image import _flags, _images, _scale, _size_pair
from ..registry import gl_kernel
from ..runner import Arg, GLTensor, ProgramRunner
from .elementwise import MATH

NEAREST_MODES = {"legacy": 0, "align_corners": 1, "half_pixel": 2}


def proxy(t: GLTensor) -> np.ndarray:
    """A zero-memory array with t's shape and dtype, for the reference's shape/dtype validators."""
    return np.broadcast_to(np.zeros((), numpy_dtype(t.dtype)), t.shape)


def batch_of_one(view: View) -> View:
    """A rank-3 image read as a batch of one: a leading size-1 dim (stride 0), no copy."""
    return replace(view, shape=(1,) + view.shape, tshape=(1,) + view.tshape, strides=((0, 0),) + view.strides)


def _resize(gl: ProgramRunner, op: str, x: GLTensor, attrs: dict, section: str, out_dtype: str, align: bool,
            uniforms: dict) -> GLTensor:
    """Run a resize program on a rank-3 or rank-4 image, returning the output at the input's rank."""
    out_h, out_w = _size_pair(op, attrs, "size")
    rank3 = x.rank == 3
    in_shape = (1,) + x.shape if rank3 else x.shape
    # the reference's float32 scales, bit for bit (the shader multiplies by them, never divides)
    uniforms["scale"] = np.array([_scale(in_shape[1], out_h, align), _scale(in_shape[2], out_w, align)], np.float32)
    uniforms["in_hw"] = (in_shape[1], in_shape[2])
    out_shape = (in_shape[0], out_h, out_w, in_shape[3])
    arg = Arg(x, view=batch_of_one(x.view)) if rank3 else Arg(x)
    out = gl.run("image.glsl", section, "texel", {"X": arg}, out_shape, out_dtype, uniforms=uniforms,
                 libs=[MATH], packed=x.view.packed, label=op)
    if not rank3:
        return out
    try:
        return gl.reshape(out, out_shape[1:])
    finally:
        gl.release(out)


@gl_kernel("ResizeBilinear")
def resize_bilinear(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    """float32 output for every image dtype (TF interpolates int pixels as float32)."""
    x = inputs[0]
    _images(op, proxy(x))                                   # rank 3/4, no bools, non-empty image
    align, half = _flags(op, attrs)
    return [_resize(gl, op, x, attrs, "resize_bilinear", "float32", align,
                    {"half_pixel": int(half)})]


@gl_kernel("ResizeNearestNeighbor")
def resize_nearest_neighbor(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    """The output keeps the image's dtype: picks are copies, so int32 stays exact."""
    x = inputs[0]
    _images(op, proxy(x))
    align, half = _flags(op, attrs)
    mode = NEAREST_MODES["half_pixel" if half else "align_corners" if align else "legacy"]
    return [_resize(gl, op, x, attrs, "resize_nearest", x.dtype, align, {"mode": mode})]


@gl_kernel("CropAndResize")
def crop_and_resize(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    """Crops read their box and image index in the shader (no readback).

    The reference refuses out-of-range box indices and non-finite boxes, which needs the values;
    the GL kernel does not read them back, so an invalid index gives NaN rows and a NaN/Inf box
    gives extrapolation_value (documented gap).
    """
    if len(inputs) != 3:
        raise ShapeError(f"{op} needs inputs [image, boxes, box_ind], got {len(inputs)} inputs")
    image, boxes, box_ind = inputs
    if image.rank != 4:
        raise ShapeError(f"{op}: image must have rank 4 ([batch, height, width, channels]), "
                         f"got shape {list(image.shape)}")
    if image.dtype == "bool":
        raise UnsupportedDTypeError(f"{op} does not take bool images")
    if boxes.rank != 2 or boxes.shape[1] != 4:
        raise ShapeError(f"{op}: boxes must have shape [num_boxes, 4], got {list(boxes.shape)}")
    if box_ind.shape != (boxes.shape[0],):
        raise ShapeError(f"{op}: box_ind must have shape [{boxes.shape[0]}] (one image index per box), "
                         f"got {list(box_ind.shape)}")
    if box_ind.dtype != "int32":
        raise UnsupportedDTypeError(f"{op}: box_ind must be int32, got {box_ind.dtype}")
    if boxes.dtype == "bool":
        raise UnsupportedDTypeError(f"{op}: boxes must be float32, got bool")
    crop_h, crop_w = _size_pair(op, attrs, "crop_size")
    method = str(attrs.get("method", "bilinear")).lower()
    if method not in ("bilinear", "nearest"):
        raise AttributeValueError(f"{op}: method {attrs.get('method')!r} is not supported; use 'bilinear' or 'nearest'")
    fill = float(np.float32(attrs.get("extrapolation_value", 0.0)))
    out_shape = (boxes.shape[0], crop_h, crop_w, image.shape[3])
    flat = gl.reshape(boxes, (boxes.shape[0] * 4,))          # a view in both layouts (4 values per row)
    args = {"X": Arg(image), "Boxes": Arg(flat, elem=True), "BoxInd": Arg(box_ind, elem=True)}
    try:
        return [gl.run("image.glsl", "crop_and_resize", "texel", args, out_shape, "float32",
                       uniforms={"method": int(method == "nearest"), "fill": fill, "batch": image.shape[0],
                                 "in_hw": image.shape[1:3], "crop": (crop_h, crop_w)}, libs=[MATH],
                       packed=image.view.packed, label=op)]
    finally:
        gl.release(flat)
