"""Softmax and LogSoftmax over the last axis: a per-row statistics draw, then an apply draw."""
from __future__ import annotations

from dataclasses import replace

from ..errors import AttributeValueError, UnsupportedDTypeError
from ..layout import texel_shape
from ..registry import gl_kernel
from ..runner import Arg, GLTensor, ProgramRunner
from .elementwise import MATH


@gl_kernel("Softmax", "LogSoftmax")
def softmax(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x = inputs[0]
    if x.dtype != "float32":
        raise UnsupportedDTypeError(f"{op} takes float32 inputs, got {x.dtype}")
    if x.rank == 0:
        raise AttributeValueError(f"{op} needs an input of rank >= 1")
    dim = int(attrs.get("dim", attrs.get("axis", -1)))
    if dim not in (-1, x.rank - 1):
        raise AttributeValueError(f"{op} runs over the last axis only (dim=-1), got dim={dim} for rank {x.rank}")
    c = x.shape[-1]
    stats = gl.run("softmax.glsl", "stats", "texel", {"X": x}, x.shape[:-1] + (2,), "float32",
                   uniforms={"C": c}, libs=[MATH], packed=True, label=f"{op}(stats)")
    try:
        # read the row's stats texel for every column: last-dim stride 0, no splat
        sv = stats.view
        view = replace(sv, shape=x.shape, tshape=texel_shape(x.shape, True),
                       strides=sv.strides[:-1] + ((0, 0),))
        return [gl.run("softmax.glsl", "apply", "texel", {"X": Arg(x, "bcast"), "S": Arg(stats, view=view)},
                       x.shape, "float32", defines=[("LOG", str(int(op == "LogSoftmax")))], uniforms={"C": c},
                       libs=[MATH], label=op)]
    finally:
        gl.release(stats)
