"""Range, Fill and LinSpace: programs with no input texture, every value from uniforms.

Sizes are computed here exactly as the reference does (float32 arithmetic where TF uses it), and
values are computed in the shader with the same float32 operations (see creation.glsl on keeping
the compiler from fusing them); int32 values are uniforms and int arithmetic, exact at any size.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import AttributeValueError
from ..op_checks import dtype_attr, number_attr as _number, range_spec
from ..registry import GLFallback, gl_kernel
from ..runner import GLTensor, ProgramRunner
from ..slicing import int_list
from .slicing import scalar_uniforms


@gl_kernel("Range")
def range_(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    """ceil((stop - start) / step) values (none when negative); float32 size and values as TF."""
    dtype, start, step, size = range_spec(op, attrs)
    uniforms: dict[str, float | int] = {"fstart": 0.0, "fstep": 0.0, "istart": 0, "istep": 0, "nofuse": 0}
    if dtype == "int32":
        a, d = int(start), int(step)
        if not (-(2**31) <= a < 2**31 and -(2**31) <= d < 2**31
                and (size == 0 or -(2**31) <= a + d * (size - 1) < 2**31)):
            raise GLFallback(f"start={a}, step={d} leave the int32 range of the shader's arithmetic")
        uniforms.update(istart=a, istep=d)
    else:
        uniforms.update(fstart=float(start), fstep=float(step))
    if size == 0:
        return [gl.alloc((0,), dtype)]
    return [gl.run("creation.glsl", "range", "element", {}, (size,), dtype, uniforms=uniforms, label=op)]


@gl_kernel("Fill")
def fill(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    """dtype defaults to bool for a bool value and float32 otherwise (TF.js's inference)."""
    shape = tuple(int_list(attrs.get("shape"), op, "shape"))
    if any(d < 0 for d in shape):
        raise AttributeValueError(f"{op}: shape {list(shape)} has a negative dim")
    value = _number(op, attrs, "value")
    dtype = dtype_attr(attrs, "bool" if isinstance(value, bool) else "float32")
    if math.prod(shape) == 0:
        return [gl.alloc(shape, dtype)]
    v = scalar_uniforms(value, dtype, op, "value")
    return [gl.run("creation.glsl", "fill", "texel", {}, shape, dtype, uniforms={"fval": v["f"], "ival": v["i"]},
                   label=op)]


@gl_kernel("LinSpace")
def lin_space(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    """num values, float32 step (stop - start) / (num - 1), the last exactly stop (TF's kernel)."""
    start, stop = np.float32(_number(op, attrs, "start")), np.float32(_number(op, attrs, "stop"))
    num = int(_number(op, attrs, "num"))
    if num <= 0:
        raise AttributeValueError(f"{op}: num must be > 0, got {num}")
    with np.errstate(all="ignore"):
        step = (stop - start) / np.float32(max(num - 1, 1))
    uniforms = {"fstart": float(start), "fstop": float(stop), "fstep": float(step), "num": num, "nofuse": 0}
    return [gl.run("creation.glsl", "linspace", "element", {}, (num,), "float32", uniforms=uniforms, label=op)]
