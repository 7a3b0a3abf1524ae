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

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from ..registry import numpy_kernel
from ..shapes import broadcast_shapes
from .matmul import activate, split_fused_inputs

Pad = str | tuple[int, int, int, int]          # "same" | "valid" | (top, bottom, left, right)
INT32_MIN = np.iinfo(np.int32).min
FLOAT32_LOWEST = float(np.finfo(np.float32).min)


@dataclass(frozen=True)
class Window:
    """Geometry of a 2-D sliding window: kernel extent, steps, output size and leading padding."""
    k_h: int
    k_w: int
    s_h: int
    s_w: int
    d_h: int
    d_w: int
    out_h: int
    out_w: int
    top: int
    left: int


def spatial_pair(op: str, attrs: dict, name: str, default: tuple[int, int] | None = None) -> tuple[int, int]:
    """An (h, w) pair from an int, a 2-list or TF's 4-list [1, h, w, 1]; every value must be >= 1."""
    value = attrs.get(name)
    if value is None:
        if default is None:
            raise AttributeValueError(f"{op}: missing attribute {name!r} (an int or [height, width])")
        return default
    if isinstance(value, (int, np.integer)):
        pair = [int(value), int(value)]
    else:
        vals = [int(v) for v in np.asarray(value).ravel()]
        if len(vals) == 4:
            if vals[0] != 1 or vals[3] != 1:
                raise AttributeValueError(
                    f"{op}: {name} {vals} moves along the batch or channel dimension; only [1, h, w, 1] is supported")
            pair = vals[1:3]
        elif len(vals) == 2:
            pair = vals
        elif len(vals) == 1:
            pair = vals * 2
        else:
            raise AttributeValueError(f"{op}: {name} must be an int, [height, width] or [1, height, width, 1], "
                                      f"got {value!r}")
    if min(pair) < 1:
        raise AttributeValueError(f"{op}: {name} must be >= 1, got {value!r}")
    return pair[0], pair[1]


def check_data_format(op: str, attrs: dict) -> None:
    fmt = attrs.get("data_format") or "NHWC"
    if str(fmt).upper() != "NHWC":
        raise AttributeValueError(f"{op}: data_format {fmt} is not supported; only NHWC "
                                  f"(transpose the tensor to NHWC first)")


def parse_pad(op: str, attrs: dict) -> Pad:
    """'same' / 'valid', or explicit (top, bottom, left, right) from the TF.js or TF spellings."""
    pad = attrs.get("pad", attrs.get("padding"))
    if pad is None:
        raise AttributeValueError(f"{op}: missing attribute 'pad' ('same', 'valid' or [[top, bottom], [left, right]])")
    if isinstance(pad, str):
        low = pad.lower()
        if low in ("same", "valid"):
            return low
        if low == "explicit" and attrs.get("explicit_paddings") is not None:
            pad = attrs["explicit_paddings"]
        else:
            raise AttributeValueError(f"{op}: pad {pad!r} is not supported; use 'same', 'valid', an int or "
                                      f"explicit [[top, bottom], [left, right]]")
    if isinstance(pad, (int, np.integer)):
        p = int(pad)
        result = (p, p, p, p)
    else:
        try:
            arr = np.asarray(pad, dtype=np.int64)
        except (TypeError, ValueError):
            raise AttributeValueError(f"{op}: pad {pad!r} is not a list of ints") from None
        if arr.size == 8:                       # TF's explicit_paddings, flat or [[0,0],[t,b],[l,r],[0,0]]
            arr = arr.reshape(4, 2)
            if arr[0].any() or arr[3].any():
                raise AttributeValueError(f"{op}: pad {pad!r} pads the batch or channel dimension; "
                                          f"only [[0, 0], [t, b], [l, r], [0, 0]] is supported")
            arr = arr[1:3]
        if arr.shape != (2, 2):
            raise AttributeValueError(f"{op}: explicit pad must be [[top, bottom], [left, right]] "
                                      f"(or the 4x2 NHWC form), got {pad!r}")
        result = (int(arr[0, 0]), int(arr[0, 1]), int(arr[1, 0]), int(arr[1, 1]))
    if min(result) < 0:
        raise AttributeValueError(f"{op}: padding must be >= 0, got {pad!r}")
    return result


def _round_out(op: str, value: float, mode: object) -> int:
    """TF.js's dimRoundingMode for explicit/int padding (None means truncate, as TF.js does)."""
    if mode is None or mode in ("floor", "trunc"):
        return math.floor(value)
    if mode == "ceil":
        return math.ceil(value)
    if mode == "round":
        return math.floor(value + 0.5)
    raise AttributeValueError(f"{op}: dim_rounding_mode {mode!r} is not supported; use 'floor', 'round' or 'ceil'")


def _axis_geometry(op: str, what: str, size: int, k: int, s: int, d: int, pad: Pad, before: int, after: int,
                   rounding: object) -> tuple[int, int]:
    """(output size, padding before) along one spatial axis."""
    eff = (k - 1) * d + 1
    if pad == "same":
        out = -(-size // s)
        total = max((out - 1) * s + eff - size, 0)
        return out, total // 2
    if pad == "valid":
        before = after = 0
    span = size + before + after - eff
    if span < 0:
        raise ShapeError(f"{op}: the {what} window ({eff} with dilation) is larger than the padded input "
                         f"({size} + {before + after} padding); use pad 'same' or a smaller filter")
    if pad == "valid":
        return span // s + 1, 0
    return _round_out(op, span / s + 1, rounding), before


def window_geometry(op: str, attrs: dict, in_h: int, in_w: int, k_h: int, k_w: int,
                    dilations: tuple[int, int] | None = None) -> Window:
    """Parse strides/dilations/pad and compute where the window goes, exactly as TF does."""
    s_h, s_w = spatial_pair(op, attrs, "strides", (1, 1))
    d_h, d_w = dilations if dilations is not None else spatial_pair(op, attrs, "dilations", (1, 1))
    pad = parse_pad(op, attrs)
    t, b, l, r = pad if isinstance(pad, tuple) else (0, 0, 0, 0)
    mode = attrs.get("dim_rounding_mode")
    out_h, top = _axis_geometry(op, "height", in_h, k_h, s_h, d_h, pad, t, b, mode)
    out_w, left = _axis_geometry(op, "width", in_w, k_w, s_w, d_w, pad, l, r, mode)
    return Window(k_h, k_w, s_h, s_w, d_h, d_w, out_h, out_w, top, left)


def pad_for_window(x: np.ndarray, win: Window, fill: object) -> np.ndarray:
    """x padded with `fill` before (TF's leading padding) and after, far enough for every tap's slice."""
    n_h = max((win.out_h - 1) * win.s_h + (win.k_h - 1) * win.d_h + 1, 0)
    n_w = max((win.out_w - 1) * win.s_w + (win.k_w - 1) * win.d_w + 1, 0)
    after_h = max(n_h - win.top - x.shape[1], 0)
    after_w = max(n_w - win.left - x.shape[2], 0)
    return np.pad(x, ((0, 0), (win.top, after_h), (win.left, after_w), (0, 0)), constant_values=fill)


def window_taps(xp: np.ndarray, win: Window) -> Iterator[tuple[int, int, np.ndarray]]:
    """For every filter tap (i, j): the [N, out_h, out_w, C] view of the padded input it multiplies."""
    for i in range(win.k_h):
        r0 = i * win.d_h
        for j in range(win.k_w):
            c0 = j * win.d_w
            yield i, j, xp[:, r0: r0 + (win.out_h - 1) * win.s_h + 1: win.s_h,
                           c0: c0 + (win.out_w - 1) * win.s_w + 1: win.s_w, :]


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
    """Bias add then activation (TF.js's fused conv semantics), validating the extra operands' shapes."""
    act, bias, prelu = split_fused_inputs(op, inputs, attrs)
    for what, extra in (("bias", bias), ("prelu weights", prelu)):
        if extra is None:
            continue
        if extra.dtype.kind != "f":
            raise UnsupportedDTypeError(f"{op}: {what} must be float32, got {extra.dtype}")
        check_broadcasts_to(op, what, extra.shape, out.shape, " (the output of the convolution)")
    if bias is not None:
        out = out + bias.astype(np.float64)
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
    rates = spatial_pair(op, attrs, "dilations", None) if attrs.get("dilations") is not None else \
        spatial_pair(op, attrs, "rates", (1, 1))
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
