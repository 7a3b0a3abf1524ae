"""MaxPool and AvgPool (NHWC) with TensorFlow's CPU semantics.

MaxPool follows TF's CPU kernel, which keeps a running max that starts at the
dtype's lowest value and is updated with a max that drops NaN: NaN never
propagates (a window holding a NaN and 3.0 gives 3.0), and a window that is
all NaN or all -inf gives float32's lowest (-3.4028235e38), not NaN or -inf.
AvgPool divides by the number of real (non-padding) elements in the window, so
SAME / explicit padding never dilutes the average; NaN and Inf propagate
through its sum as usual.
"""
from __future__ import annotations

import numpy as np

from ..errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from ..registry import numpy_kernel
from ..window import Window, check_data_format, spatial_pair, window_geometry
from .matmul import activate
from .conv import FLOAT32_LOWEST, INT32_MIN, pad_for_window, \
    window_taps


def _prepare(op: str, inputs: list[np.ndarray], attrs: dict) -> tuple[np.ndarray, Window]:
    x = inputs[0]
    check_data_format(op, attrs)
    if x.ndim != 4:
        raise ShapeError(f"{op}: input must have rank 4 ([batch, height, width, channels]), got shape {list(x.shape)}")
    if x.dtype.kind == "b":
        raise UnsupportedDTypeError(f"{op} does not take bool inputs")
    k_h, k_w = spatial_pair(op, attrs, "filter_size")
    # TF's and TF.js's MaxPool / AvgPool kernels have no dilation, so no 'dilations' attribute is read
    win = window_geometry(op, attrs, x.shape[1], x.shape[2], k_h, k_w, dilations=(1, 1))
    return x, win


def _activation(op: str, out: np.ndarray, attrs: dict, dtype_kind: str) -> np.ndarray:
    """The loader's folded activation (attribute `activation`): linear, relu, relu6 or leakyrelu."""
    act = str(attrs.get("activation", "linear")).lower()
    if act not in ("linear", "relu", "relu6", "leakyrelu"):
        raise AttributeValueError(f"{op}: activation {act!r} is not supported (linear, relu, relu6, leakyrelu)")
    if act == "linear":
        return out
    if dtype_kind != "f":
        raise UnsupportedDTypeError(f"{op}: an activation needs float32 input")
    return activate(out, act, float(np.float32(attrs.get("leakyrelu_alpha", 0.2))), None)


@numpy_kernel("MaxPool")
def max_pool(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """pad_zeros: padding taps count as zeros (a zero Pad in front of a VALID pool, folded)."""
    x, win = _prepare(op, inputs, attrs)
    shape = (x.shape[0], win.out_h, win.out_w, x.shape[3])
    zeros = bool(attrs.get("pad_zeros", False))
    if x.dtype.kind in "iu":
        xp = pad_for_window(x.astype(np.int64), win, 0 if zeros else INT32_MIN)
        acc = np.full(shape, INT32_MIN, np.int64)
        for _, _, tap in window_taps(xp, win):
            acc = np.maximum(acc, tap)
        _activation(op, acc, attrs, "i")
        return [acc.astype(np.int32)]
    xp = pad_for_window(x.astype(np.float64), win, 0.0 if zeros else np.nan)   # fmax skips NaN padding
    acc = np.full(shape, FLOAT32_LOWEST)
    for _, _, tap in window_taps(xp, win):
        acc = np.fmax(acc, tap)
    return [_activation(op, acc, attrs, "f").astype(np.float32)]


@numpy_kernel("AvgPool")
def avg_pool(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x, win = _prepare(op, inputs, attrs)
    if x.dtype.kind != "f":
        raise UnsupportedDTypeError(f"{op} takes float32 inputs only (TensorFlow has no int32 AvgPool); "
                                    f"cast to float32 first")
    xp = pad_for_window(x.astype(np.float64), win, 0.0)
    ones = pad_for_window(np.ones((1,) + x.shape[1:3] + (1,)), win, 1.0 if attrs.get("pad_zeros") else 0.0)
    total = np.zeros((x.shape[0], win.out_h, win.out_w, x.shape[3]))
    count = np.zeros((1, win.out_h, win.out_w, 1))
    for (_, _, tap), (_, _, valid) in zip(window_taps(xp, win), window_taps(ones, win)):
        total += tap
        count += valid
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count                                   # a window of padding only gives NaN (0 / 0)
    return [_activation(op, mean, attrs, "f").astype(np.float32)]


@numpy_kernel("MaxPoolWithArgmax")
def max_pool_with_argmax(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """TF's CPU MaxPoolWithArgmax: a scan of each window in row-major order that takes the first tap
    and then any tap strictly greater. So the first of tied maxima wins, a NaN first tap sticks (NaN
    is never greater, nothing is greater than NaN), and padding taps are skipped. The argmax is the
    flat NHWC index ((y * W + x) * C + c), plus b * H * W * C with include_batch_in_index."""
    x, win = _prepare(op, inputs, attrs)
    n, h, w, c = x.shape
    shape = (n, win.out_h, win.out_w, c)
    best = np.zeros(shape, x.dtype)
    arg = np.full(shape, -1, np.int64)
    oy = np.arange(win.out_h)[:, None] * win.s_h - win.top
    ox = np.arange(win.out_w)[None, :] * win.s_w - win.left
    chan = np.arange(c)
    batch = np.arange(n)[:, None, None, None] * (h * w * c) if attrs.get("include_batch_in_index") else 0
    for ky in range(win.k_h):
        for kx in range(win.k_w):
            iy, ix = oy + ky, ox + kx
            valid = ((iy >= 0) & (iy < h) & (ix >= 0) & (ix < w))[None, :, :, None]
            tap = x[:, np.clip(iy, 0, h - 1), np.clip(ix, 0, w - 1)]
            take = valid & ((arg < 0) | (best < tap))
            best = np.where(take, tap, best)
            flat = ((np.clip(iy, 0, h - 1) * w + np.clip(ix, 0, w - 1))[None, :, :, None] * c + chan) + batch
            arg = np.where(take, flat, arg)
    return [best, arg.astype(np.int32)]
