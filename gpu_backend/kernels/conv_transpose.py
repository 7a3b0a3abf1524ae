"""Conv2DBackpropInput (transposed convolution) and Dilation2D on GL, NHWC, both layouts.

Both are gathers over a forward window (gpu_backend/window.py decides its geometry, exactly as the
reference does):
- Conv2DBackpropInput: the reference scatters every dy position through the filter; on GL each
  output pixel instead sums the dy positions whose forward window covers it (taps with
  (y + pad - ky * dilation) % stride == 0), so there are no write conflicts and no atomics.  One
  output texel holds 4 input channels; the loop runs over dy's channels 4 at a time.
- Dilation2D (grayscale morphological dilation) walks the same kind of window taking a max of
  x + filter; it lives here because it shares the window uniforms and the texel structure.
Validation calls the reference's helpers on zero-memory stand-ins, so both backends accept and
refuse the same calls with the same messages.
"""
from __future__ import annotations

import numpy as np

from ..errors import AttributeValueError, ShapeError
from ..reference.conv import _check_rank, _common_kind
from ..registry import GLFallback, gl_kernel
from ..runner import Arg, GLTensor, ProgramRunner
from ..window import Window, check_data_format, spatial_pair, window_geometry
from .image import proxy


def _window_uniforms(win: Window, in_h: int, in_w: int) -> dict:
    """The window as uniforms (never defines), so every geometry shares one program."""
    return {"ksize": (win.k_h, win.k_w), "strides": (win.s_h, win.s_w), "dilations": (win.d_h, win.d_w),
            "pad": (win.top, win.left), "in_hw": (in_h, in_w)}


def _same_layout(op: str, a: GLTensor, b: GLTensor) -> None:
    """The texel programs walk both operands' channel texels in step: they must share a packing."""
    if a.view.packed != b.view.packed:
        raise GLFallback(f"{op}: operands in different layouts (packed and unpacked)")


def _input_shape(op: str, attrs: dict) -> tuple[int, int, int, int]:
    """The result's shape from the input_shape attribute (the forward convolution's input)."""
    shape_attr = attrs.get("input_shape")
    if shape_attr is None:
        raise AttributeValueError(f"{op}: missing attribute 'input_shape' ([batch, height, width, in_channels] "
                                  f"of the result)")
    shape = [int(v) for v in np.asarray(shape_attr).ravel()]
    if len(shape) != 4 or min(shape) < 0:
        raise AttributeValueError(f"{op}: input_shape must be [batch, height, width, in_channels], got {shape_attr!r}")
    return shape[0], shape[1], shape[2], shape[3]


@gl_kernel("Conv2DBackpropInput")
def conv2d_backprop_input(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    """inputs [dy, filter] and the result's shape in `input_shape`, as the reference takes them."""
    dy, f = inputs[0], inputs[1]
    check_data_format(op, attrs)
    _check_rank(op, "dy", proxy(dy), 4, "[batch, out_height, out_width, out_channels]")
    _check_rank(op, "filter", proxy(f), 4, "[filter_height, filter_width, in_channels, out_channels]")
    n, h, w, c_in = _input_shape(op, attrs)
    if n != dy.shape[0] or c_in != f.shape[2] or dy.shape[3] != f.shape[3]:
        raise ShapeError(f"{op}: input_shape {[n, h, w, c_in]}, filter {list(f.shape)} and dy {list(dy.shape)} "
                         f"disagree (need input_shape[0] == dy[0], input_shape[3] == filter[2], dy[3] == filter[3])")
    kind = _common_kind(op, proxy(dy), proxy(f), ints_ok=True)
    win = window_geometry(op, attrs, h, w, f.shape[0], f.shape[1])
    if (win.out_h, win.out_w) != dy.shape[1:3]:
        raise ShapeError(f"{op}: dy is {dy.shape[1]}x{dy.shape[2]} but a convolution of a {h}x{w} input with "
                         f"these strides/pad gives {win.out_h}x{win.out_w}")
    _same_layout(op, dy, f)
    uniforms = _window_uniforms(win, dy.shape[1], dy.shape[2]) | {"cin": c_in, "cout": f.shape[3]}
    return [gl.run("conv_transpose.glsl", "backprop_input", "texel", {"DY": Arg(dy), "F": Arg(f)}, (n, h, w, c_in),
                   "int32" if kind == "i" else "float32", uniforms=uniforms, packed=dy.view.packed, label=op)]


@gl_kernel("Dilation2D")
def dilation2d(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    """The dilation rates come as `dilations` (TF.js) or `rates` (TF), as in the reference."""
    x, f = inputs[0], inputs[1]
    check_data_format(op, attrs)
    _check_rank(op, "input", proxy(x), 4, "[batch, height, width, channels]")
    _check_rank(op, "filter", proxy(f), 3, "[filter_height, filter_width, channels]")
    if x.shape[3] != f.shape[2]:
        raise ShapeError(f"{op}: input has {x.shape[3]} channels but the filter has {f.shape[2]} "
                         f"(filter shape {list(f.shape)})")
    kind = _common_kind(op, proxy(x), proxy(f), ints_ok=True)
    rates = spatial_pair(op, attrs, "dilations" if attrs.get("dilations") is not None else "rates", (1, 1))
    win = window_geometry(op, attrs, x.shape[1], x.shape[2], f.shape[0], f.shape[1], dilations=rates)
    _same_layout(op, x, f)
    out_shape = (x.shape[0], win.out_h, win.out_w, x.shape[3])
    return [gl.run("conv_transpose.glsl", "dilation2d", "texel", {"X": Arg(x), "F": Arg(f)}, out_shape,
                   "int32" if kind == "i" else "float32", uniforms=_window_uniforms(win, x.shape[1], x.shape[2]),
                   packed=x.view.packed, label=op)]
