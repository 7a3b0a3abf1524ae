"""Conv2D, depthwise, transposed and morphological (Dilation2D) convolutions in numpy, NHWC, TF's padding rules.

Every kernel loops over the filter taps (fh * fw of them, always few) and does one
strided slice of the padded input plus one matmul per tap over the whole batch:
vectorised, and without an im2col copy.  Floats accumulate in float64 and are
rounded to float32 once; int32 convolutions (TF allows them for Conv2D and its
input gradient) accumulate in int64 and wrap to int32, which is what TF's int32
arithmetic does (wrapping mod 2**64 first changes nothing mod 2**32).

The window helpers here (attribute parsing, output size and padding) are shared
with the pooling kernels in ``pool.py`` so both families read ``strides``,
``dilations``, ``pad`` and ``data_format`` identically.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from ..registry import numpy_kernel
from ..shapes import broadcast_shapes
from ..window import Window, check_data_format, conv1d_as_2d, spatial_pair, window_geometry
from .matmul import activate, split_fused_inputs

INT32_MIN = np.iinfo(np.int32).min
FLOAT32_LOWEST = float(np.finfo(np.float32).min)


def pad_for_window(x: np.ndarray, win: Window, fill: object) -> np.ndarray:
    """x padded with `fill` before (TF's leading padding) and after, far enough for every tap's slice."""
    n_h = max((win.out_h - 1) * win.s_h + (win.k_h - 1) * win.d_h + 1, 0)
    n_w = max((win.out_w - 1) * win.s_w + (win.k_w - 1) * win.d_w + 1, 0)
    after_h = max(n_h - win.top - x.shape[1], 0)
    after_w = max(n_w - win.left - x.shape[2], 0)
    return np.pad(x, ((0, 0), (win.top, after_h), (win.left, after_w), (0, 0)), constant_values=fill)


def window_taps(xp: np.ndarray, win: Window) -> Iterator[tuple[int, int, np.ndarray]]:
    """For every filter tap (i, j): the [N, out_h, out_w, C] view of the padded input it multiplies."""
    def span(start: int, out: int, step: int) -> slice:
        # an empty output must give an empty slice, not one with a negative (from-the-end) stop
        return slice(start, start + (out - 1) * step + 1 if out > 0 else start, step)

    for i in range(win.k_h):
        rows = span(i * win.d_h, win.out_h, win.s_h)
        for j in range(win.k_w):
            yield i, j, xp[:, rows, span(j * win.d_w, win.out_w, win.s_w), :]


def check_broadcasts_to(op: str, what: str, shape: tuple[int, ...], target: tuple[int, ...], hint: str = "") -> None:
    """Refuse an operand that does not broadcast to `target` or would enlarge it."""
    try:
        ok = broadcast_shapes(target, shape) == tuple(target)
    except ShapeError:
        ok = False
    if not ok:
        raise ShapeError(f"{op}: {what} of shape {list(shape)} does not broadcast to shape {list(target)}{hint}")


def wrap_int32(x: np.ndarray) -> np.ndarray:
    return ((x.astype(np.int64) + 2**31) % 2**32 - 2**31).astype(np.int32)


def _check_rank(op: str, what: str, a: np.ndarray, rank: int, layout: str) -> None:
    if a.ndim != rank:
        raise ShapeError(f"{op}: {what} must have rank {rank} ({layout}), got shape {list(a.shape)}")


def _common_kind(op: str, x: np.ndarray, f: np.ndarray, ints_ok: bool) -> str:
    """'f' or 'i': the arithmetic both operands share (TF needs one dtype for input and filter)."""
    kinds = {("i" if a.dtype.kind in "iu" else a.dtype.kind) for a in (x, f)}
    if "b" in kinds or kinds - {"f", "i"}:
        raise UnsupportedDTypeError(f"{op} does not take bool inputs")
    if len(kinds) > 1:
        raise UnsupportedDTypeError(f"{op}: input is {x.dtype} but filter is {f.dtype}; cast them to one dtype")
    kind = kinds.pop()
    if kind == "i" and not ints_ok:
        raise UnsupportedDTypeError(f"{op} takes float32 inputs only (TensorFlow has no int32 kernel for it); "
                                    f"cast to float32 first")
    return kind


def _finish(acc: np.ndarray, kind: str) -> np.ndarray:
    return wrap_int32(acc) if kind == "i" else acc.astype(np.float32)


def _conv2d(op: str, x: np.ndarray, f: np.ndarray, attrs: dict, ints_ok: bool) -> tuple[np.ndarray, str]:
    check_data_format(op, attrs)
    _check_rank(op, "input", x, 4, "[batch, height, width, in_channels]")
    _check_rank(op, "filter", f, 4, "[filter_height, filter_width, in_channels, out_channels]")
    if x.shape[3] != f.shape[2]:
        raise ShapeError(f"{op}: input has {x.shape[3]} channels but the filter expects {f.shape[2]} "
                         f"(filter shape {list(f.shape)})")
    kind = _common_kind(op, x, f, ints_ok)
    work = np.int64 if kind == "i" else np.float64
    win = window_geometry(op, attrs, x.shape[1], x.shape[2], f.shape[0], f.shape[1])
    xp = pad_for_window(x.astype(work), win, 0)
    fw = f.astype(work)
    acc = np.zeros((x.shape[0], win.out_h, win.out_w, f.shape[3]), work)
    for i, j, tap in window_taps(xp, win):
        acc += tap @ fw[i, j]
    return acc, kind


def _depthwise(op: str, x: np.ndarray, f: np.ndarray, attrs: dict) -> np.ndarray:
    check_data_format(op, attrs)
    _check_rank(op, "input", x, 4, "[batch, height, width, in_channels]")
    _check_rank(op, "filter", f, 4, "[filter_height, filter_width, in_channels, channel_multiplier]")
    if x.shape[3] != f.shape[2]:
        raise ShapeError(f"{op}: input has {x.shape[3]} channels but the filter expects {f.shape[2]} "
                         f"(filter shape {list(f.shape)})")
    _common_kind(op, x, f, ints_ok=False)
    win = window_geometry(op, attrs, x.shape[1], x.shape[2], f.shape[0], f.shape[1])
    xp = pad_for_window(x.astype(np.float64), win, 0.0)
    fw = f.astype(np.float64)
    n, c, m = x.shape[0], f.shape[2], f.shape[3]
    acc = np.zeros((n, win.out_h, win.out_w, c, m))
    for i, j, tap in window_taps(xp, win):
        acc += tap[..., :, None] * fw[i, j]
    return acc.reshape(n, win.out_h, win.out_w, c * m)     # channel c * mult + m, as TF orders them


def _epilogue(op: str, out: np.ndarray, inputs: list[np.ndarray], attrs: dict) -> np.ndarray:
    """Bias add, residual add (attr `residual`: the last input, TF's fused "Add"), then activation,
    validating the extra operands' shapes."""
    residual = None
    if attrs.get("residual"):
        residual, inputs = inputs[-1], inputs[:-1]
        if residual.dtype.kind != "f":
            raise UnsupportedDTypeError(f"{op}: the residual must be float32, got {residual.dtype}")
    act, bias, prelu = split_fused_inputs(op, inputs, attrs)
    for what, extra in (("bias", bias), ("prelu weights", prelu)):
        if extra is None:
            continue
        if extra.dtype.kind != "f":
            raise UnsupportedDTypeError(f"{op}: {what} must be float32, got {extra.dtype}")
        check_broadcasts_to(op, what, extra.shape, out.shape, " (the output of the convolution)")
    if bias is not None:
        out = out + bias.astype(np.float64)
    if residual is not None:
        out = out + residual.astype(np.float64)
    alpha = float(np.float32(attrs.get("leakyrelu_alpha", 0.2)))
    return activate(out, act, alpha, None if prelu is None else prelu.astype(np.float64))


@numpy_kernel("Conv2D")
def conv2d(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    acc, kind = _conv2d(op, inputs[0], inputs[1], attrs, ints_ok=True)
    return [_finish(acc, kind)]


@numpy_kernel("FusedConv2D")
def fused_conv2d(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    acc, _ = _conv2d(op, inputs[0], inputs[1], attrs, ints_ok=False)
    return [_epilogue(op, acc, inputs, attrs).astype(np.float32)]


@numpy_kernel("DepthwiseConv2dNative")
def depthwise_conv2d(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    return [_depthwise(op, inputs[0], inputs[1], attrs).astype(np.float32)]


@numpy_kernel("FusedDepthwiseConv2D")
def fused_depthwise_conv2d(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    acc = _depthwise(op, inputs[0], inputs[1], attrs)
    return [_epilogue(op, acc, inputs, attrs).astype(np.float32)]


@numpy_kernel("Conv2DBackpropInput")
def conv2d_backprop_input(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """Transposed convolution: scatter every dy position back through the filter onto the padded input.

    The padding and the expected dy size are those of the forward Conv2D from an input
    of ``input_shape``, which is how TF defines this op (dy must match that forward output).
    """
    dy, f = inputs[0], inputs[1]
    check_data_format(op, attrs)
    _check_rank(op, "dy", dy, 4, "[batch, out_height, out_width, out_channels]")
    _check_rank(op, "filter", f, 4, "[filter_height, filter_width, in_channels, out_channels]")
    shape_attr = attrs.get("input_shape")
    if shape_attr is None:
        raise AttributeValueError(f"{op}: missing attribute 'input_shape' ([batch, height, width, in_channels] "
                                  f"of the result)")
    shape = [int(v) for v in np.asarray(shape_attr).ravel()]
    if len(shape) != 4 or min(shape) < 0:
        raise AttributeValueError(f"{op}: input_shape must be [batch, height, width, in_channels], got {shape_attr!r}")
    n, h, w, c_in = shape
    if n != dy.shape[0] or c_in != f.shape[2] or dy.shape[3] != f.shape[3]:
        raise ShapeError(f"{op}: input_shape {shape}, filter {list(f.shape)} and dy {list(dy.shape)} disagree "
                         f"(need input_shape[0] == dy[0], input_shape[3] == filter[2], dy[3] == filter[3])")
    kind = _common_kind(op, dy, f, ints_ok=True)
    work = np.int64 if kind == "i" else np.float64
    win = window_geometry(op, attrs, h, w, f.shape[0], f.shape[1])
    if (win.out_h, win.out_w) != dy.shape[1:3]:
        raise ShapeError(f"{op}: dy is {dy.shape[1]}x{dy.shape[2]} but a convolution of a {h}x{w} input with "
                         f"these strides/pad gives {win.out_h}x{win.out_w}")
    canvas = pad_for_window(np.zeros((n, h, w, c_in), work), win, 0)
    fw = f.astype(work)
    dyw = dy.astype(work)
    for i, j, tap in window_taps(canvas, win):
        tap += dyw @ fw[i, j].T            # tap is a view, so this scatters into the canvas
    out = canvas[:, win.top: win.top + h, win.left: win.left + w, :]
    return [_finish(out, kind)]


@numpy_kernel("Dilation2D")
def dilation2d(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """Grayscale dilation: max over the window of x + filter, per channel.

    As TF's CPU kernel: the running max starts at the dtype's lowest value and
    only grows on a strictly greater candidate, so NaN candidates (and padding)
    never win, and an all -inf / all-NaN window gives float32's lowest, not -inf.
    """
    x, f = inputs[0], inputs[1]
    check_data_format(op, attrs)
    _check_rank(op, "input", x, 4, "[batch, height, width, channels]")
    _check_rank(op, "filter", f, 3, "[filter_height, filter_width, channels]")
    if x.shape[3] != f.shape[2]:
        raise ShapeError(f"{op}: input has {x.shape[3]} channels but the filter has {f.shape[2]} "
                         f"(filter shape {list(f.shape)})")
    kind = _common_kind(op, x, f, ints_ok=True)
    rates = spatial_pair(op, attrs, "dilations" if attrs.get("dilations") is not None else "rates", (1, 1))
    win = window_geometry(op, attrs, x.shape[1], x.shape[2], f.shape[0], f.shape[1], dilations=rates)
    shape = (x.shape[0], win.out_h, win.out_w, x.shape[3])
    if kind == "f":
        xp = pad_for_window(x.astype(np.float64), win, np.nan)        # NaN never wins below
        acc = np.full(shape, FLOAT32_LOWEST)
        with np.errstate(invalid="ignore"):
            for i, j, tap in window_taps(xp, win):
                acc = np.fmax(acc, tap + f[i, j].astype(np.float64))
        return [acc.astype(np.float32)]
    sentinel = -(2**40)                                                # far below any int32 sum
    xp = pad_for_window(x.astype(np.int64), win, sentinel)
    acc = np.full(shape, INT32_MIN, np.int64)
    for i, j, tap in window_taps(xp, win):
        cand = tap + f[i, j].astype(np.int64)
        cand = np.where(cand < -(2**33), INT32_MIN, wrap_int32(cand).astype(np.int64))
        acc = np.maximum(acc, cand)
    return [acc.astype(np.int32)]


@numpy_kernel("Conv1D")
def conv1d(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """TF.js's Conv1D: the Conv2D of a height-1 image (see window.conv1d_as_2d)."""
    x, f = inputs[0], inputs[1]
    attrs2d, ncw = conv1d_as_2d(op, attrs, x.shape, f.shape)
    if ncw:
        x = np.transpose(x, (0, 2, 1))
    acc, kind = _conv2d(op, x[:, None], f[None], attrs2d, ints_ok=True)
    out = _finish(acc, kind)[:, 0]
    return [np.ascontiguousarray(np.transpose(out, (0, 2, 1)) if ncw else out)]
