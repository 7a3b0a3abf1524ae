"""FusedBatchNorm (inference), LRN and EuclideanNorm on GL, both layouts.

FusedBatchNorm is one element-wise texel program with its parameters read broadcast.  LRN is a
texel program that walks the channel texels its 4 lanes' windows reach, so a window costs about
(2 * radius + 4) / 4 fetches instead of 2 * radius + 1 per value.  EuclideanNorm is composed from
the existing programs (Square, then the Sum reduction, then Sqrt) plus a small exact integer
square root for int32, so it adds one program at most and inherits the reduction's axis handling.
Validation calls the reference's helpers, so both backends refuse the same calls the same way.
"""
from __future__ import annotations

import numpy as np

from ..errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from ..reference.conv import check_broadcasts_to
from ..reference.norm import _float_only
from ..registry import GLFallback, gl_kernel
from ..runner import Arg, GLTensor, ProgramRunner
from ..shapes import normalize_axes
from .elementwise import MATH, unary
from .image import proxy
from .reduce import reduce

PARAMS = ("Mean", "Var", "Offset", "Scale")


@gl_kernel("FusedBatchNorm")
def fused_batch_norm(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    """Inference only, TF.js's input order [x, mean, variance, offset?, scale?] (as the reference)."""
    if len(inputs) < 3:
        raise ShapeError(f"{op} needs inputs [x, mean, variance, offset?, scale?], got {len(inputs)} inputs")
    x = inputs[0]
    _float_only(op, proxy(x))
    args: dict[str, Arg] = {"X": Arg(x, "bcast")}
    for k, (name, what) in enumerate(zip(PARAMS, ("mean", "variance", "offset", "scale")), start=1):
        if k >= len(inputs):
            continue
        p = inputs[k]
        _float_only(op, proxy(p), what)
        check_broadcasts_to(op, what, p.shape, x.shape,
                            f" (x's shape; give it one value per channel, shape [{x.shape[-1] if x.rank else 1}])")
        if p.view.packed != x.view.packed:
            # read at x's texel coordinates: a parameter grouped differently would mix channels
            raise GLFallback(f"{op}: {what} is in a different layout (packed/unpacked) than x")
        args[name] = Arg(p, "bcast")
    defines = [("HAS_OFFSET", str(int("Offset" in args))), ("HAS_SCALE", str(int("Scale" in args)))]
    eps = float(np.float32(attrs.get("variance_epsilon", 0.001)))
    return [gl.run("norm.glsl", "batch_norm", "texel", args, x.shape, "float32", uniforms={"eps": eps},
                   defines=defines, libs=[MATH], packed=x.view.packed, label=op)]


@gl_kernel("LRN")
def lrn(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    """Across channels (the last dim); rank 3 or 4 like the reference (only the last axis matters)."""
    x = inputs[0]
    if x.rank not in (3, 4):
        raise ShapeError(f"{op}: input must have rank 4 ([batch, height, width, channels]) or 3, "
                         f"got shape {list(x.shape)}")
    _float_only(op, proxy(x))
    radius = int(attrs.get("depth_radius", 5))
    if radius < 0:
        raise AttributeValueError(f"{op}: depth_radius must be >= 0, got {radius}")
    channels = x.shape[-1]
    uniforms = {"radius": min(radius, channels), "channels": channels,
                "bias": float(np.float32(attrs.get("bias", 1.0))), "alpha": float(np.float32(attrs.get("alpha", 1.0))),
                "beta": float(np.float32(attrs.get("beta", 0.5)))}
    return [gl.run("norm.glsl", "lrn", "texel", {"X": Arg(x)}, x.shape, "float32", uniforms=uniforms,
                   libs=[MATH], packed=x.view.packed, label=op)]


@gl_kernel("EuclideanNorm")
def euclidean_norm(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    """sqrt(sum(x^2)): float32 squares (overflow to Inf like TF) summed in float32, or int32 wrapping."""
    x = inputs[0]
    if x.dtype == "bool":
        raise UnsupportedDTypeError(f"{op} does not take bool inputs")
    axes = normalize_axes(attrs.get("axis"), x.rank)
    keep = bool(attrs.get("keep_dims", False))
    (sq,) = unary(gl, "Square", [x], {})
    try:
        (total,) = reduce(gl, "Sum", [sq], {"axis": list(axes), "keep_dims": keep})
    finally:
        gl.release(sq)
    try:
        if x.dtype == "float32":
            return unary(gl, "Sqrt", [total], {})
        return [gl.run("norm.glsl", "int_sqrt", "texel", {"X": Arg(total)}, total.shape, "int32",
                       packed=total.view.packed, label=f"{op}(isqrt)")]
    finally:
        gl.release(total)
