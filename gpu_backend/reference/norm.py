"""Normalisations: inference-mode FusedBatchNorm, LRN across channels, and EuclideanNorm.

FusedBatchNorm takes TF.js's input order [x, mean, variance, offset?, scale?]
(TF's own op orders them x, scale, offset, mean, variance; the TF.js converter
reorders), with missing offset/scale meaning 0/1.
"""
from __future__ import annotations

import numpy as np

from ..errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from ..registry import numpy_kernel
from ..shapes import normalize_axes
from .conv import INT32_MIN, check_broadcasts_to, wrap_int32


def _float_only(op: str, x: np.ndarray, what: str = "input") -> None:
    if x.dtype.kind != "f":
        raise UnsupportedDTypeError(f"{op}: {what} must be float32 (TensorFlow has no {x.dtype} kernel), "
                                    f"got {x.dtype}")


@numpy_kernel("FusedBatchNorm")
def fused_batch_norm(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """(x - mean) / sqrt(variance + eps) * scale + offset, the parameters broadcasting against x."""
    if len(inputs) < 3:
        raise ShapeError(f"{op} needs inputs [x, mean, variance, offset?, scale?], got {len(inputs)} inputs")
    x = inputs[0]
    params = {name: (inputs[k] if len(inputs) > k else None)
              for k, name in enumerate(("mean", "variance", "offset", "scale"), start=1)}
    _float_only(op, x)
    for name, p in params.items():
        if p is None:
            continue
        _float_only(op, p, name)
        check_broadcasts_to(op, name, p.shape, x.shape,
                            f" (x's shape; give it one value per channel, shape [{x.shape[-1] if x.ndim else 1}])")
    # TF adds epsilon to a float32 variance in float32; use the float32 value of the attribute
    eps = float(np.float32(attrs.get("variance_epsilon", 0.001)))
    mean, var = params["mean"].astype(np.float64), params["variance"].astype(np.float64)
    offset = 0.0 if params["offset"] is None else params["offset"].astype(np.float64)
    scale = 1.0 if params["scale"] is None else params["scale"].astype(np.float64)
    with np.errstate(all="ignore"):
        out = (x.astype(np.float64) - mean) / np.sqrt(var + eps) * scale + offset
    return [out.astype(np.float32)]


@numpy_kernel("LRN")
def lrn(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """x / (bias + alpha * sum of x^2 over channels [c - r, c + r]) ** beta, as tf.raw_ops.LRN.

    TF needs rank 4; rank 3 is accepted too (TF.js allows it, and only the last
    axis matters).
    """
    x = inputs[0]
    if x.ndim not in (3, 4):
        raise ShapeError(f"{op}: input must have rank 4 ([batch, height, width, channels]) or 3, "
                         f"got shape {list(x.shape)}")
    _float_only(op, x)
    radius = int(attrs.get("depth_radius", 5))
    if radius < 0:
        raise AttributeValueError(f"{op}: depth_radius must be >= 0, got {radius}")
    bias = float(np.float32(attrs.get("bias", 1.0)))
    alpha = float(np.float32(attrs.get("alpha", 1.0)))
    beta = float(np.float32(attrs.get("beta", 0.5)))
    xf = x.astype(np.float64)
    sq = np.square(xf)
    # sum of squares over channels [c - r, c + r]: one shifted add per offset, with zeros past either end
    channels = x.shape[-1]
    r = min(radius, channels)                    # a wider window sees nothing more
    padded = np.pad(sq, [(0, 0)] * (x.ndim - 1) + [(r, r)])
    window = np.zeros_like(sq)
    for k in range(2 * r + 1):
        window += padded[..., k: k + channels]
    with np.errstate(all="ignore"):
        out = xf / np.power(bias + alpha * window, beta)
    return [out.astype(np.float32)]


@numpy_kernel("EuclideanNorm")
def euclidean_norm(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """sqrt(sum(x^2)) over `axis` (None = all).

    Floats: squares are taken in float32 as TF does (so 1e20 overflows to inf
    and 1e-30 underflows to 0 exactly as in TF), then summed in float64.
    int32: TF squares and sums in wrapping int32, takes the square root and
    truncates; a sum that wrapped negative gives NaN, which converts to
    INT32_MIN on TF's x86 build, and we return the same.
    """
    x = inputs[0]
    if x.dtype.kind == "b":
        raise UnsupportedDTypeError(f"{op} does not take bool inputs")
    axes = normalize_axes(attrs.get("axis"), x.ndim)
    keep = bool(attrs.get("keep_dims", False))
    if x.dtype.kind in "iu":
        sq = wrap_int32(x.astype(np.int64) ** 2).astype(np.int64)
        total = wrap_int32(np.sum(sq, axis=axes, keepdims=keep)).astype(np.float64)
        with np.errstate(invalid="ignore"):
            root = np.trunc(np.sqrt(total))
        return [np.where(np.isnan(root), float(INT32_MIN), root).astype(np.int32)]
    with np.errstate(over="ignore", under="ignore"):
        sq = np.square(x.astype(np.float32)).astype(np.float64)
    total = np.sum(sq, axis=axes, keepdims=keep)
    overflow = total > float(np.finfo(np.float32).max)          # TF's float32 sum would be inf there
    return [np.where(overflow, np.inf, np.sqrt(total)).astype(np.float32)]
