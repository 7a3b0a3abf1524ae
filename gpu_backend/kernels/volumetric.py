"""Conv3D, MaxPool3D and AvgPool3D on GL, NDHWC (shaders/kernels/volumetric.glsl).

Conv3D is the 2-D convolution's direct scheme with one more loop: one packed output texel (4 output
channels) per fragment, per tap the input channels 4 at a time (one input texel, four filter rows of
the [kd, kh, kw, Cin, Cout] filter, read in place).  The unpacked layout runs a one-value-per-call
program.  Pooling is one texel program for both layouts.  Geometry is uniforms only: one program per
structure serves every shape, stride, dilation and padding.
"""
from __future__ import annotations

from ..errors import ShapeError, UnsupportedDTypeError
from ..registry import gl_kernel
from ..runner import Arg, GLTensor, ProgramRunner
from ..window import Window3D, check_data_format_3d, check_volume_rank, spatial_triple, window_geometry_3d


def _geometry(x: GLTensor, win: Window3D) -> dict:
    return {"in_dhw": tuple(x.shape[1:4]), "ksize": win.k, "strides": win.s, "dilations": win.d,
            "pad": win.front}


@gl_kernel("Conv3D")
def conv3d(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x, w = inputs[0], inputs[1]
    check_data_format_3d(op, attrs)
    check_volume_rank(op, "input", x.shape, "[batch, depth, height, width, in_channels]")
    check_volume_rank(op, "filter", w.shape, "[filter_depth, filter_height, filter_width, in_channels, "
                                             "out_channels]")
    if x.shape[4] != w.shape[3]:
        raise ShapeError(f"{op}: input has {x.shape[4]} channels but the filter expects {w.shape[3]} "
                         f"(filter shape {list(w.shape)})")
    if x.dtype != "float32" or w.dtype != "float32":
        raise UnsupportedDTypeError(f"{op} takes float32 input and filter (TensorFlow has no int32 Conv3D), "
                                    f"got {x.dtype} and {w.dtype}")
    win = window_geometry_3d(op, attrs, x.shape[1:4], w.shape[:3])
    out_shape = (x.shape[0],) + win.out + (w.shape[4],)
    uniforms = _geometry(x, win) | {"CIN": x.shape[4]}
    if x.view.packed and w.view.packed:
        return [gl.run("volumetric.glsl", "conv3d", "texel", {"X": Arg(x), "W": Arg(w)}, out_shape, "float32",
                       uniforms=uniforms, label=op)]
    return [gl.run("volumetric.glsl", "conv3d_generic", "element", {"X": Arg(x, elem=True), "W": Arg(w, elem=True)},
                   out_shape, "float32", uniforms=uniforms, label=op)]


@gl_kernel("MaxPool3D", "AvgPool3D")
def pool3d(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x = inputs[0]
    check_data_format_3d(op, attrs)
    check_volume_rank(op, "input", x.shape, "[batch, depth, height, width, channels]")
    if x.dtype == "bool" or (op == "AvgPool3D" and x.dtype != "float32"):
        raise UnsupportedDTypeError(f"{op} does not take {x.dtype} inputs"
                                    + (" (cast to float32 first)" if op == "AvgPool3D" else ""))
    k = spatial_triple(op, attrs, "filter_size")
    # TF's 3-D pools have no dilation
    win = window_geometry_3d(op, attrs, x.shape[1:4], k, dilations=(1, 1, 1))
    out_shape = (x.shape[0],) + win.out + (x.shape[4],)
    return [gl.run("volumetric.glsl", "pool3d", "texel", {"X": Arg(x)}, out_shape, x.dtype,
                   defines=[("IS_MAX", str(int(op == "MaxPool3D")))], uniforms=_geometry(x, win), label=op)]
