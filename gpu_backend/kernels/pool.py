"""MaxPool and AvgPool: one texel program, vectorised over 4 channels."""
from __future__ import annotations

from ..errors import ShapeError, UnsupportedDTypeError
from ..registry import gl_kernel
from ..runner import Arg, GLTensor, ProgramRunner
from ..window import check_data_format, spatial_pair, window_geometry


@gl_kernel("MaxPool", "AvgPool")
def pool(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x = inputs[0]
    check_data_format(op, attrs)
    if x.rank != 4:
        raise ShapeError(f"{op}: input must have rank 4 ([batch, height, width, channels]), got {list(x.shape)}")
    if x.dtype == "bool" or (op == "AvgPool" and x.dtype != "float32"):
        raise UnsupportedDTypeError(f"{op} does not take {x.dtype} inputs")
    kh, kw = spatial_pair(op, attrs, "filter_size")
    win = window_geometry(op, attrs, x.shape[1], x.shape[2], kh, kw, dilations=(1, 1))
    out_shape = (x.shape[0], win.out_h, win.out_w, x.shape[3])
    uniforms = {"in_hw": (x.shape[1], x.shape[2]), "ksize": (kh, kw), "strides": (win.s_h, win.s_w),
                "pad": (win.top, win.left)}
    return [gl.run("pool.glsl", None, "texel", {"X": Arg(x)}, out_shape, x.dtype,
                   defines=[("IS_MAX", str(int(op == "MaxPool")))], uniforms=uniforms, label=op)]
