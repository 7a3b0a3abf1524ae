"""Select, AddN and ClipByValue: element-wise ops over several inputs."""
from __future__ import annotations

from ..errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from ..registry import gl_kernel
from ..runner import GLTensor, ProgramRunner
from ..shapes import broadcast_shapes
from .elementwise import MATH, binary


@gl_kernel("Select", "SelectV2")
def select(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    cond, t, e = inputs
    if cond.dtype != "bool":
        raise UnsupportedDTypeError(f"{op}: the condition must be bool, not {cond.dtype}")
    if t.dtype != e.dtype:
        raise UnsupportedDTypeError(f"{op}: both branches need one dtype, got {t.dtype} and {e.dtype}")
    if op == "Select" and cond.rank == 1 and t.rank > 1:
        # TF's v1 Select: a vector condition picks whole rows along the first dimension
        if cond.shape[0] != t.shape[0]:
            raise ShapeError(f"Select: condition of shape {list(cond.shape)} does not match the first "
                             f"dimension of {list(t.shape)}")
        cond = gl.reshape(cond, cond.shape + (1,) * (t.rank - 1))
        try:
            return _select(gl, cond, t, e, op)
        finally:
            gl.release(cond)
    return _select(gl, cond, t, e, op)


def _select(gl: ProgramRunner, cond: GLTensor, t: GLTensor, e: GLTensor, op: str) -> list[GLTensor]:
    shape = broadcast_shapes(cond.shape, t.shape, e.shape)
    return [gl.elementwise("select.glsl", None, {"C": cond, "T": t, "E": e}, shape, t.dtype, libs=[MATH], label=op)]


@gl_kernel("AddN")
def add_n(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    if not inputs:
        raise AttributeValueError("AddN needs at least one input")
    shape, dtype = inputs[0].shape, inputs[0].dtype
    for t in inputs:
        if t.shape != shape or t.dtype != dtype:
            raise ShapeError(f"AddN inputs must share shape and dtype; got {[(list(x.shape), x.dtype) for x in inputs]}")
    if dtype == "bool":
        raise UnsupportedDTypeError("AddN does not take bool inputs")
    if len(inputs) == 2:
        # the Add program: one program less to compile for the common two-input case (residual sums)
        return binary(gl, "Add", inputs, {})
    acc: GLTensor | None = None
    pending = list(inputs)
    while pending:
        take = 8 if acc is None else 7
        chunk, pending = pending[:take], pending[take:]
        group = ([acc] if acc is not None else []) + chunk
        out = gl.elementwise("addn.glsl", None, {f"X{i}": t for i, t in enumerate(group)}, shape, dtype,
                             defines=[("N", str(len(group)))], label="AddN")
        if acc is not None:
            gl.release(acc)
        acc = out
    assert acc is not None
    return [acc]


@gl_kernel("ClipByValue")
def clip_by_value(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x = inputs[0]
    if x.dtype == "bool":
        raise UnsupportedDTypeError("ClipByValue does not take bool inputs")
    if len(inputs) == 3:
        lo, hi = inputs[1], inputs[2]
        shape = broadcast_shapes(x.shape, lo.shape, hi.shape)
        if shape != x.shape:
            raise ShapeError(f"ClipByValue: bounds of shapes {list(lo.shape)}, {list(hi.shape)} do not broadcast to "
                             f"the input's shape {list(x.shape)}")
        return [gl.elementwise("clip.glsl", "tensor", {"X": x, "Lo": lo, "Hi": hi}, shape, x.dtype, libs=[MATH],
                               label=op)]
    try:
        lo_v, hi_v = attrs["clip_value_min"], attrs["clip_value_max"]
    except KeyError as missing:
        raise AttributeValueError(f"ClipByValue needs the attribute {missing} (or the bounds as inputs 2 and 3)") from None
    uniforms = {"lo": float(lo_v), "hi": float(hi_v), "ilo": int(lo_v), "ihi": int(hi_v)}
    return [gl.elementwise("clip.glsl", "scalar", {"X": x}, x.shape, x.dtype, uniforms=uniforms, libs=[MATH],
                           label=op)]
