"""Conv2D / FusedConv2D / DepthwiseConv2dNative / FusedDepthwiseConv2D on GL, NHWC.

Strategy (README, "Convolutions"): direct convolution, one packed output texel (4 output channels)
per fragment, looping over the taps and, per tap, over the input channels 4 at a time (one input
texel, four filter rows): for a 1x1 stride-1 convolution that loop *is* a matmul's inner loop, run
in the activation's own NHWC layout (no reshape views, no extra program variant to compile).  No
im2col buffer (which would cost fh*fw times the input's memory).  Depthwise with multiplier 1
fetches one input and one filter texel per tap for 4 channels; other multipliers and the unpacked
layout run the generic one-value-per-call programs.
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError, UnsupportedDTypeError
from ..registry import GLFallback, gl_kernel
from ..runner import Arg, GLTensor, ProgramRunner
from ..shapes import broadcast_shapes
from ..window import check_data_format, conv1d_as_2d, window_geometry
from .transpose import transpose
from .elementwise import MATH
from .matmul import activation_code, constant_vector_buffer, parse_fused

ACTIVATION_LIB = ("lib/activation.glsl", None)


def _check(op: str, x: GLTensor, w: GLTensor, attrs: dict, depthwise: bool) -> None:
    check_data_format(op, attrs)
    if x.rank != 4:
        raise ShapeError(f"{op}: input must have rank 4 ([batch, height, width, channels]), got {list(x.shape)}")
    if w.rank != 4:
        layout = "[fh, fw, in, multiplier]" if depthwise else "[fh, fw, in, out]"
        raise ShapeError(f"{op}: filter must have rank 4 ({layout}), got {list(w.shape)}")
    if x.shape[3] != w.shape[2]:
        raise ShapeError(f"{op}: input has {x.shape[3]} channels but the filter expects {w.shape[2]} "
                         f"(filter shape {list(w.shape)})")
    if x.dtype != "float32" or w.dtype != "float32":
        if op == "Conv2D" and x.dtype == w.dtype == "int32":
            raise GLFallback("int32 convolution")
        raise UnsupportedDTypeError(f"{op} takes float32 input and filter, got {x.dtype} and {w.dtype}")


def _epilogue(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict, out_shape: tuple[int, ...],
              elem: bool) -> tuple[dict[str, Arg], list[tuple[str, str]], dict]:
    act, has_bias, has_prelu = ("linear", False, False)
    residual = None
    if op.startswith("Fused") and attrs.get("residual"):
        residual, inputs = inputs[-1], inputs[:-1]
    if op.startswith("Fused"):
        act, has_bias, has_prelu = parse_fused(op, len(inputs), attrs)
    args: dict[str, Arg] = {}
    bias_tb = None
    if has_bias:
        args["Bias"] = Arg(inputs[2], "bcast", elem=elem)
        bias_tb = constant_vector_buffer(gl, inputs[2], out_shape[-1]) if not elem else None
        if bias_tb is not None:
            args["Bias"] = Arg(inputs[2], buffer=bias_tb)
    if has_prelu:
        args["Prelu"] = Arg(inputs[-1], "bcast", elem=elem)
    if residual is not None:
        if broadcast_shapes(residual.shape, out_shape) != tuple(out_shape):
            raise GLFallback("a residual that enlarges the output by broadcasting")
        args["Residual"] = Arg(residual, "bcast", elem=elem)
    for name, a in args.items():
        if broadcast_shapes(a.tensor.shape, out_shape) != tuple(out_shape):
            raise ShapeError(f"{op}: {name.lower()} of shape {list(a.tensor.shape)} does not broadcast to the "
                             f"output shape {list(out_shape)}")
    code, act_uniforms = activation_code(act, attrs)
    defines = [("HAS_BIAS", str(int(has_bias))), ("ACT", str(code)), ("GENERIC", str(int(elem))),
               ("BIAS_TB", str(int(bias_tb is not None))), ("HAS_RESIDUAL", str(int(residual is not None)))]
    return args, defines, act_uniforms


def _zero_bias(gl: ProgramRunner, args: dict[str, Arg], defines: list[tuple[str, str]], w: GLTensor,
               channels: int) -> list[tuple[str, str]]:
    """A convolution without bias reads a shared zero buffer instead, so it shares the program of
    the ones with a bias (one driver compile less)."""
    if "Bias" in args:
        return defines
    zeros = gl.zero_buffer((channels + 3) // 4)
    if zeros is None:
        return defines
    args["Bias"] = Arg(w, buffer=zeros)
    return [(k, "1" if k in ("HAS_BIAS", "BIAS_TB") else v) for k, v in defines]


@gl_kernel("Conv2D", "FusedConv2D")
def conv2d(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x, w = inputs[0], inputs[1]
    _check(op, x, w, attrs, depthwise=False)
    fh, fw, cin, cout = w.shape
    win = window_geometry(op, attrs, x.shape[1], x.shape[2], fh, fw)
    n = x.shape[0]
    out_shape = (n, win.out_h, win.out_w, cout)
    packed = x.view.packed and w.view.packed
    args, defines, uniforms = _epilogue(gl, op, inputs, attrs, out_shape, elem=not packed)
    uniforms.update(in_hw=(x.shape[1], x.shape[2]), ksize=(fh, fw), strides=(win.s_h, win.s_w),
                    dilations=(win.d_h, win.d_w), pad=(win.top, win.left), CIN=cin, MULT=1)
    if packed and w.constant:
        cout4 = (cout + 3) // 4
        bt = gl.buffer_texture(w, "conv2d", lambda a: _pad_last(a.reshape(fh * fw * cin, cout)).reshape(-1, 4))
        if bt is not None:
            uniforms["COUT4"] = cout4
            defines = _zero_bias(gl, args, defines, w, cout)
            return [gl.run("conv.glsl", "conv2d_tb", "texel", {"X": Arg(x), "W": Arg(w, buffer=bt), **args},
                           out_shape, "float32", defines=defines, uniforms=uniforms, libs=[MATH, ACTIVATION_LIB],
                           label=op)]
    if packed:
        wv = gl.reshape(w, (fh * fw * cin, cout))
        try:
            return [gl.run("conv.glsl", "conv2d", "texel", {"X": Arg(x), "W": Arg(wv), **args}, out_shape,
                           "float32", defines=defines, uniforms=uniforms, libs=[MATH, ACTIVATION_LIB],
                           label=op)]
        finally:
            gl.release(wv)
    return [gl.run("conv.glsl", "conv2d_generic", "element", {"X": Arg(x, elem=True), "W": Arg(w, elem=True),
                                                              **args},
                   out_shape, "float32", defines=defines, uniforms=uniforms, libs=[MATH, ACTIVATION_LIB], label=op)]


@gl_kernel("DepthwiseConv2dNative", "FusedDepthwiseConv2D")
def depthwise_conv2d(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x, w = inputs[0], inputs[1]
    _check(op, x, w, attrs, depthwise=True)
    fh, fw, c, mult = w.shape
    win = window_geometry(op, attrs, x.shape[1], x.shape[2], fh, fw)
    out_shape = (x.shape[0], win.out_h, win.out_w, c * mult)
    fast = x.view.packed and w.view.packed and mult == 1
    args, defines, uniforms = _epilogue(gl, op, inputs, attrs, out_shape, elem=not fast)
    uniforms.update(in_hw=(x.shape[1], x.shape[2]), ksize=(fh, fw), strides=(win.s_h, win.s_w),
                    dilations=(win.d_h, win.d_w), pad=(win.top, win.left), CIN=c, MULT=mult)
    if fast and w.constant:
        bt = gl.buffer_texture(w, "depthwise", lambda a: _pad_last(a.reshape(fh * fw, c)).reshape(-1, 4))
        if bt is not None:
            uniforms["C4"] = (c + 3) // 4
            defines = _zero_bias(gl, args, defines, w, c)
            return [gl.run("conv.glsl", "depthwise_tb", "texel", {"X": Arg(x), "W": Arg(w, buffer=bt), **args},
                           out_shape, "float32", defines=defines, uniforms=uniforms, libs=[MATH, ACTIVATION_LIB],
                           label=op)]
    if fast:
        # the filter as [fh * fw, C] (4 channels per texel), prepared once per filter texture; on the
        # host: a one-off copy program would cost more to JIT-compile than the read-back
        wv = gl.derived(w, "depthwise[fh*fw,C]", lambda: gl.upload(gl.read(w).reshape(fh * fw, c)))
        return [gl.run("conv.glsl", "depthwise", "texel", {"X": Arg(x), "W": Arg(wv), **args}, out_shape,
                       "float32", defines=defines, uniforms=uniforms, libs=[MATH, ACTIVATION_LIB], label=op)]
    return [gl.run("conv.glsl", "depthwise_generic", "element",
                   {"X": Arg(x, elem=True), "W": Arg(w, elem=True), **args}, out_shape, "float32",
                   defines=defines, uniforms=uniforms, libs=[MATH, ACTIVATION_LIB], label=op)]


def _pad_last(a: np.ndarray) -> np.ndarray:
    """Zero-pad the last dimension to a multiple of 4 (whole RGBA texels)."""
    pad = (-a.shape[-1]) % 4
    return np.pad(a, [(0, 0)] * (a.ndim - 1) + [(0, pad)]) if pad else a


@gl_kernel("Conv1D")
def conv1d(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    """TF.js's Conv1D: the Conv2D program over a height-1 view of the input (reshapes are views)."""
    x, w = inputs[0], inputs[1]
    attrs2d, ncw = conv1d_as_2d(op, attrs, x.shape, w.shape)
    temps: list[GLTensor] = []
    try:
        if ncw:
            x = transpose(gl, "Transpose", [x], {"perm": [0, 2, 1]})[0]
            temps.append(x)
        x4 = gl.reshape(x, (x.shape[0], 1) + x.shape[1:])
        w4 = gl.reshape(w, (1,) + w.shape)
        temps += [x4, w4]
        out4 = conv2d(gl, op, [x4, w4], attrs2d)[0]
        temps.append(out4)
        out = gl.reshape(out4, (out4.shape[0],) + out4.shape[2:])
        if not ncw:
            return [out]
        temps.append(out)
        return [transpose(gl, "Transpose", [out], {"perm": [0, 2, 1]})[0]]
    finally:
        for t in temps:
            gl.release(t)
