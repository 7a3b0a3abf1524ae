"""Reductions (Sum, Mean, Max, Min, Prod, All, Any) over any axes, ArgMax and ArgMin."""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedDTypeError
from ..registry import gl_kernel
from ..runner import Arg, GLTensor, ProgramRunner
from ..shapes import normalize_axes, normalize_axis, reduced_shape
from .elementwise import MATH

OPS = {"Sum": 0, "Mean": 0, "Prod": 1, "Max": 2, "Min": 3, "All": 4, "Any": 5}


@gl_kernel(*OPS)
def reduce(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x = inputs[0]
    if op in ("All", "Any") and x.dtype != "bool":
        raise UnsupportedDTypeError(f"{op} takes bool inputs, got {x.dtype}")
    if op not in ("All", "Any") and x.dtype == "bool":
        raise UnsupportedDTypeError(f"{op} does not take bool inputs")
    rank = x.rank
    axes = normalize_axes(attrs.get("axis"), rank)
    keep = bool(attrs.get("keep_dims", False))
    out_shape = reduced_shape(x.shape, axes, keep)
    if not axes:
        return [gl.share(x, x.view)]
    xr = max(rank, 1)
    xmap, rsize = [], []
    j = 0
    for i in range(xr):
        if i in axes:
            xmap.append(-1)
            rsize.append(x.shape[i])
            if keep:
                j += 1
        else:
            xmap.append(j)
            rsize.append(1)
            j += 1
    last_reduced = (rank - 1) in axes
    count = int(np.prod([x.shape[a] for a in axes]))
    uniforms = {"xmap": np.asarray(xmap, "i4"), "count": count}
    defines = [("OP", str(OPS[op])), ("MEAN", str(int(op == "Mean")))]
    if last_reduced:
        texels = (x.shape[-1] + 3) // 4 if x.view.packed else x.shape[-1]
        rsize[-1] = texels
        uniforms.update(rsize=np.asarray(rsize, "i4"), red_n=int(np.prod(rsize)), last_n=x.shape[-1])
        return [gl.run("reduce.glsl", "reduced_last", "element", {"X": x}, out_shape, x.dtype, defines=defines,
                       uniforms=uniforms, libs=[MATH], label=op)]
    uniforms.update(rsize=np.asarray(rsize, "i4"), red_n=count)
    return [gl.run("reduce.glsl", "kept_last", "texel", {"X": x}, out_shape, x.dtype, defines=defines,
                   uniforms=uniforms, libs=[MATH], packed=x.view.packed, label=op)]


@gl_kernel("ArgMax", "ArgMin")
def arg_reduce(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x = inputs[0]
    if x.dtype == "bool":
        raise UnsupportedDTypeError(f"{op} does not take bool inputs")
    axis_attr = attrs.get("axis", 0)
    if isinstance(axis_attr, (list, tuple)):
        axis_attr = axis_attr[0]
    axis = normalize_axis(int(axis_attr), x.rank)
    out_shape = x.shape[:axis] + x.shape[axis + 1:]
    uniforms = {"axis": axis, "axis_n": x.shape[axis]}
    return [gl.run("reduce.glsl", "arg", "element", {"X": Arg(x, elem=True)}, out_shape, "int32",
                   defines=[("OP", "0"), ("MEAN", "0"), ("IS_MAX", "true" if op == "ArgMax" else "false")],
                   uniforms=uniforms, libs=[MATH], label=op)]
