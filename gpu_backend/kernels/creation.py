"""Range, Fill and LinSpace: programs with no input texture, every value from uniforms.

Sizes are computed here exactly as the reference does (float32 arithmetic where TF uses it), and
values are computed in the shader with the same float32 operations (see creation.glsl on keeping
the compiler from fusing them); int32 values are uniforms and int arithmetic, exact at any size.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import AttributeValueError
from ..op_checks import dtype_attr, number_attr as _number
from ..registry import GLFallback, gl_kernel
from ..runner import GLTensor, ProgramRunner
from ..slicing import int_list
from .slicing import scalar_uniforms


@gl_kernel("Range")
def range_(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    """ceil((stop - start) / step) values (none when negative); float32 size and values as TF."""
    dtype = dtype_attr(attrs, "float32")
    start, stop, step = (_number(op, attrs, n) for n in ("start", "stop", "step"))
    if step == 0:
        raise AttributeValueError(f"{op}: step must be non-zero (start={start}, stop={stop})")
    uniforms: dict[str, float | int] = {"fstart": 0.0, "fstep": 0.0, "istart": 0, "istep": 0, "nofuse": 0}
    if dtype == "int32":
        vals = [start, stop, step]
        if any(float(v) != int(v) for v in vals):
            raise AttributeValueError(f"{op}: dtype int32 needs integer start/stop/step, got {vals}")
        a, b, d = (int(v) for v in vals)
        size = max(0, -((a - b) // d)) if (b - a) * d > 0 else 0
        if not (-(2**31) <= a < 2**31 and -(2**31) <= d < 2**31
                and (size == 0 or -(2**31) <= a + d * (size - 1) < 2**31)):
            raise GLFallback(f"start={a}, step={d} leave the int32 range of the shader's arithmetic")
        uniforms.update(istart=a, istep=d)
    elif dtype == "float32":
        fa, fb, fd = (np.float32(v) for v in (start, stop, step))
        with np.errstate(all="ignore"):
            q = (fb - fa) / fd
        if not np.isfinite(q):
            raise AttributeValueError(f"{op}: start={start}, stop={stop}, step={step} do not give a finite length")
        size = max(0, math.ceil(float(q)))
        uniforms.update(fstart=float(fa), fstep=float(fd))
    else:
        raise AttributeValueError(f"{op}: dtype must be float32 or int32, got {attrs.get('dtype')!r}")
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
