"""MaxPool and AvgPool: one texel program, vectorised over 4 channels.

Two attributes beyond TF.js's, set by the loader when it folds neighbours into a pool:
`pad_zeros` (padding taps count as zeros, as a zero Pad in front of a VALID pool makes them) and a
piecewise-linear `activation` (linear, relu, relu6, leakyrelu with `leakyrelu_alpha`) applied to
float results; both are uniforms, so they cost no extra program."""
from __future__ import annotations

from ..errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from ..registry import gl_kernel
from ..runner import Arg, GLTensor, ProgramRunner
from ..window import check_data_format, spatial_pair, window_geometry
from .elementwise import MATH
from .matmul import PIECEWISE_LINEAR, activation_code


@gl_kernel("MaxPool", "AvgPool")
def pool(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x = inputs[0]
    check_data_format(op, attrs)
    if x.rank != 4:
        raise ShapeError(f"{op}: input must have rank 4 ([batch, height, width, channels]), got {list(x.shape)}")
    if x.dtype == "bool" or (op == "AvgPool" and x.dtype != "float32"):
        raise UnsupportedDTypeError(f"{op} does not take {x.dtype} inputs")
    act = str(attrs.get("activation", "linear")).lower()
    if act not in PIECEWISE_LINEAR:
        raise AttributeValueError(f"{op}: activation {act!r} is not supported (linear, relu, relu6, leakyrelu)")
    if act != "linear" and x.dtype != "float32":
        raise UnsupportedDTypeError(f"{op}: an activation needs float32 input, got {x.dtype}")
    kh, kw = spatial_pair(op, attrs, "filter_size")
    win = window_geometry(op, attrs, x.shape[1], x.shape[2], kh, kw, dilations=(1, 1))
    out_shape = (x.shape[0], win.out_h, win.out_w, x.shape[3])
    code, act_uniforms = activation_code(act, attrs)
    uniforms = {"in_hw": (x.shape[1], x.shape[2]), "ksize": (kh, kw), "strides": (win.s_h, win.s_w),
                "pad": (win.top, win.left), "pad_zeros": int(bool(attrs.get("pad_zeros", False))), **act_uniforms}
    return [gl.run("pool.glsl", None, "texel", {"X": Arg(x)}, out_shape, x.dtype,
                   defines=[("IS_MAX", str(int(op == "MaxPool"))), ("ACT", str(code))], uniforms=uniforms,
                   libs=[MATH, ("lib/activation.glsl", None)], label=op)]


@gl_kernel("MaxPoolWithArgmax")
def max_pool_with_argmax(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    """Two element programs over one window scan: the max values, and their flat NHWC indices (int32)."""
    x = inputs[0]
    check_data_format(op, attrs)
    if x.rank != 4:
        raise ShapeError(f"{op}: input must have rank 4 ([batch, height, width, channels]), got {list(x.shape)}")
    if x.dtype == "bool":
        raise UnsupportedDTypeError(f"{op} does not take bool inputs")
    kh, kw = spatial_pair(op, attrs, "filter_size")
    win = window_geometry(op, attrs, x.shape[1], x.shape[2], kh, kw, dilations=(1, 1))
    n, h, w, c = x.shape
    out_shape = (n, win.out_h, win.out_w, c)
    uniforms = {"in_hw": (h, w), "ksize": (kh, kw), "strides": (win.s_h, win.s_w), "pad": (win.top, win.left),
                "channels": c, "batch_stride": h * w * c if attrs.get("include_batch_in_index") else 0}
    outs = []
    for want_index, dtype in ((0, x.dtype), (1, "int32")):
        outs.append(gl.run("pool_argmax.glsl", None, "element", {"X": Arg(x, elem=True)}, out_shape, dtype,
                           defines=[("WANT_INDEX", str(want_index))], uniforms=uniforms, label=op))
    return outs
