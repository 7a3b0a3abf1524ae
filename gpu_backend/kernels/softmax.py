"""Softmax and LogSoftmax over the last axis: one draw for short rows (each texel computes its row's
statistics), else a per-row statistics draw, then an apply draw."""
from __future__ import annotations

from dataclasses import replace

from ..errors import AttributeValueError, UnsupportedDTypeError
from ..layout import texel_shape
from ..registry import gl_kernel
from ..runner import Arg, GLTensor, ProgramRunner
from .elementwise import MATH


# one draw when every texel re-reading its row stays cheap: rows x (texels per row)^2 fetch pairs
ROWWISE_MAX_C = 4096
ROWWISE_MAX_WORK = 1 << 16


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
    log = [("LOG", str(int(op == "LogSoftmax")))]
    texels_per_row = -(-c // 4) if x.view.packed else c
    rows = x.size // c if c else 0
    if c <= ROWWISE_MAX_C and rows * texels_per_row * texels_per_row <= ROWWISE_MAX_WORK:
        return [gl.run("softmax.glsl", "rowwise", "texel", {"X": Arg(x)}, x.shape, "float32",
                       defines=log + [("ROW_STATS", "1")], uniforms={"C": c}, libs=[MATH], label=op)]
    stats = gl.run("softmax.glsl", "stats", "texel", {"X": x}, x.shape[:-1] + (2,), "float32",
                   uniforms={"C": c}, defines=[("ROW_STATS", "1")], libs=[MATH], packed=True, label=f"{op}(stats)")
    try:
        # read the row's stats texel for every column: last-dim stride 0, no splat
        sv = stats.view
        view = replace(sv, shape=x.shape, tshape=texel_shape(x.shape, True),
                       strides=sv.strides[:-1] + ((0, 0),))
        return [gl.run("softmax.glsl", "apply", "texel", {"X": Arg(x, "bcast"), "S": Arg(stats, view=view)},
                       x.shape, "float32", defines=log + [("ROW_STATS", "0")], uniforms={"C": c},
                       libs=[MATH], label=op)]
    finally:
        gl.release(stats)
