"""Sliding-window geometry of convolutions and pooling: attribute parsing and TF's output-size rules.

Pure integer arithmetic shared by the numpy reference and the GL kernels, so both read ``strides``,
``dilations``, ``pad`` and ``data_format`` identically and agree on every output size.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import AttributeValueError, ShapeError

Pad = str | tuple[int, int, int, int]          # "same" | "valid" | (top, bottom, left, right)


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


def spatial_dims(op: str, attrs: dict, name: str, n: int, default: tuple[int, ...] | None = None) -> tuple[int, ...]:
    """n spatial values ((h, w) or (d, h, w)) from an int, an n-list or TF's (n + 2)-list [1, ..., 1];
    every value must be >= 1."""
    names = ("height", "width") if n == 2 else ("depth", "height", "width")
    letters = ", ".join(x[0] for x in names)
    value = attrs.get(name)
    if value is None:
        if default is None:
            raise AttributeValueError(f"{op}: missing attribute {name!r} (an int or [{', '.join(names)}])")
        return default
    if isinstance(value, (int, np.integer)):
        vals = [int(value)] * n
    else:
        try:
            vals = [int(v) for v in np.asarray(value).ravel()]
        except (TypeError, ValueError):
            raise AttributeValueError(f"{op}: {name} {value!r} is not a list of ints") from None
        if len(vals) == n + 2:
            if vals[0] != 1 or vals[-1] != 1:
                raise AttributeValueError(f"{op}: {name} {vals} moves along the batch or channel dimension; "
                                          f"only [1, {letters}, 1] is supported")
            vals = vals[1:-1]
        elif len(vals) == 1:
            vals = vals * n
        elif len(vals) != n:
            raise AttributeValueError(f"{op}: {name} must be an int, [{', '.join(names)}] or "
                                      f"[1, {', '.join(names)}, 1], got {value!r}")
    if min(vals) < 1:
        raise AttributeValueError(f"{op}: {name} must be >= 1, got {value!r}")
    return tuple(vals)


def spatial_pair(op: str, attrs: dict, name: str, default: tuple[int, int] | None = None) -> tuple[int, int]:
    """An (h, w) pair (spatial_dims with n = 2)."""
    return spatial_dims(op, attrs, name, 2, default)  # type: ignore[return-value]


def check_data_format(op: str, attrs: dict, layout: str = "NHWC") -> None:
    fmt = attrs.get("data_format") or layout
    if str(fmt).upper() != layout:
        raise AttributeValueError(f"{op}: data_format {fmt} is not supported; only {layout} "
                                  f"(transpose the tensor to {layout} first)")


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
        # TF computes (span + stride) / stride in C, truncating toward zero: a window a little larger
        # than the input gives an empty output, a much larger one is an error
        if span + 2 * s <= 0:
            raise ShapeError(f"{op}: the {what} window spans {eff} (filter {k}, dilation {d}), which is larger "
                             f"than the padded input ({size} + {before + after} padding); use pad 'same' or a "
                             f"smaller filter")
        return 0, before
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


# ---------------------------------------------------------------- 3-D windows (Conv3D, MaxPool3D, AvgPool3D)
AXES_3D = ("depth", "height", "width")


@dataclass(frozen=True)
class Window3D:
    """Geometry of a 3-D sliding window; every field is a (depth, height, width) triple."""
    k: tuple[int, int, int]
    s: tuple[int, int, int]
    d: tuple[int, int, int]
    out: tuple[int, int, int]
    front: tuple[int, int, int]          # padding before each axis (TF puts the odd one after)


def spatial_triple(op: str, attrs: dict, name: str,
                   default: tuple[int, int, int] | None = None) -> tuple[int, int, int]:
    """A (d, h, w) triple (spatial_dims with n = 3)."""
    return spatial_dims(op, attrs, name, 3, default)  # type: ignore[return-value]


def check_data_format_3d(op: str, attrs: dict) -> None:
    check_data_format(op, attrs, "NDHWC")


def parse_pad_3d(op: str, attrs: dict) -> str:
    """'same' or 'valid': TF's 3-D convolution and pooling have no explicit padding."""
    pad = attrs.get("pad", attrs.get("padding"))
    if pad is None:
        raise AttributeValueError(f"{op}: missing attribute 'pad' ('same' or 'valid')")
    if isinstance(pad, bytes):
        pad = pad.decode()
    if not isinstance(pad, str) or pad.lower() not in ("same", "valid"):
        raise AttributeValueError(f"{op}: pad {pad!r} is not supported; use 'same' or 'valid' "
                                  f"(TF's 3-D ops have no explicit padding)")
    return pad.lower()


def check_volume_rank(op: str, what: str, shape: tuple[int, ...], layout: str) -> None:
    if len(shape) != 5:
        raise ShapeError(f"{op}: {what} must have rank 5 ({layout}), got shape {list(shape)}")


def window_geometry_3d(op: str, attrs: dict, in_dhw: tuple[int, ...], k_dhw: tuple[int, ...],
                       dilations: tuple[int, int, int] | None = None) -> Window3D:
    """Parse data_format/strides/dilations/pad and place the window along depth, height and width
    with TF's rules (the same per-axis rule as the 2-D ops)."""
    check_data_format_3d(op, attrs)
    strides = spatial_triple(op, attrs, "strides", (1, 1, 1))
    dil = dilations if dilations is not None else spatial_triple(op, attrs, "dilations", (1, 1, 1))
    pad = parse_pad_3d(op, attrs)
    out, front = [], []
    for axis, size, k, s, d in zip(AXES_3D, in_dhw, k_dhw, strides, dil):
        o, f = _axis_geometry(op, axis, int(size), int(k), s, d, pad, 0, 0, None)
        out.append(o)
        front.append(f)
    return Window3D((int(k_dhw[0]), int(k_dhw[1]), int(k_dhw[2])), strides, dil,
                    (out[0], out[1], out[2]), (front[0], front[1], front[2]))


# ---------------------------------------------------------------- 1-D windows (TF.js's Conv1D)
def conv1d_as_2d(op: str, attrs: dict, x_shape: tuple[int, ...], w_shape: tuple[int, ...]) -> tuple[dict, bool]:
    """TF.js's Conv1D attributes (stride, pad, dilation: single ints; data_format NWC or NCW) as the
    Conv2D attributes of the same convolution over a height-1 image, and whether the input is NCW.

    Both backends run Conv1D as that Conv2D, so the output sizes and padding are Conv2D's by
    construction (TF.js does the same: conv1d reshapes to conv2d)."""
    fmt = str(attrs.get("data_format", "NWC")).upper()
    if fmt not in ("NWC", "NCW"):
        raise AttributeValueError(f"{op}: data_format {fmt!r} is not NWC or NCW")
    if len(x_shape) != 3:
        raise ShapeError(f"{op}: the input must be of rank 3 ([batch, width, channels] for {fmt}), got "
                         f"shape {list(x_shape)}")
    if len(w_shape) != 3:
        raise ShapeError(f"{op}: the filter must be of rank 3 ([width, in_channels, out_channels]), got "
                         f"shape {list(w_shape)}")
    ints = {}
    for name, alt in (("stride", "strides"), ("dilation", "dilations")):
        v = attrs.get(name, attrs.get(alt, 1))
        vals = [int(x) for x in (v if isinstance(v, (list, tuple)) else [v])]
        if len(vals) == 3:          # TF's [1, w, 1] spelling
            vals = vals[1:2]
        if len(vals) != 1 or vals[0] < 1:
            raise AttributeValueError(f"{op}: {name} must be one int >= 1, got {v!r}")
        ints[name] = vals[0]
    pad = attrs.get("pad", attrs.get("padding", "valid"))
    if isinstance(pad, (list, tuple)) and len(pad) == 2 and all(isinstance(p, (int, np.integer)) for p in pad):
        pad2: object = [[0, 0], [int(pad[0]), int(pad[1])]]          # (left, right) of the width
    elif isinstance(pad, (int, np.integer)):
        pad2 = [[0, 0], [int(pad), int(pad)]]
    else:
        pad2 = pad
    return ({"strides": [1, ints["stride"]], "dilations": [1, ints["dilation"]], "pad": pad2,
             "data_format": "NHWC"}, fmt == "NCW")
