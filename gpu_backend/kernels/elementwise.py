"""Element-wise unary and binary kernels: one texel program per op, broadcasting by strides."""
from __future__ import annotations

from ..errors import AttributeValueError, UnsupportedDTypeError
from ..registry import gl_kernel
from ..runner import GLTensor, ProgramRunner
from ..shapes import broadcast_shapes
from .. import op_tables as T

MATH = ("lib/math.glsl", None)


def _check_dtypes(op: str, tensors: list[GLTensor], allowed: str) -> None:
    for t in tensors:
        if t.dtype[0] not in allowed:
            names = {"f": "float32", "i": "int32", "b": "bool"}
            raise UnsupportedDTypeError(
                f"{op} does not take {t.dtype} inputs (takes {', '.join(names[a] for a in allowed)})")


@gl_kernel(*T.UNARY)
def unary(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x = inputs[0]
    allowed, out_rule = T.UNARY[op]
    _check_dtypes(op, [x], allowed)
    out_dtype = T.unary_out_dtype(op, x.dtype, attrs)
    if op == "Cast" and out_dtype == x.dtype:
        return [gl.share(x, x.view)]
    alpha = float(attrs.get("alpha", T.DEFAULT_ALPHA.get(op, 0.0)))
    defines = [("OUT_BOOL", str(int(out_dtype == "bool")))]
    return [gl.elementwise("unary.glsl", op, {"X": x}, x.shape, out_dtype, defines=defines,
                           libs=[MATH], uniforms={"alpha": alpha}, label=op)]


@gl_kernel(*T.BINARY)
def binary(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    if len(inputs) != 2:
        raise AttributeValueError(f"{op} takes 2 inputs, got {len(inputs)}")
    a, b = inputs
    allowed, _ = T.BINARY[op]
    _check_dtypes(op, [a, b], allowed)
    if a.dtype != b.dtype:
        raise UnsupportedDTypeError(f"{op} needs inputs of one dtype, got {a.dtype} and {b.dtype}")
    out_shape = broadcast_shapes(a.shape, b.shape)
    section = T.BINARY_SECTION.get(op, op)
    return [gl.elementwise("binary.glsl", section, {"A": a, "B": b}, out_shape, T.binary_out_dtype(op, a.dtype),
                           libs=[MATH], label=op)]
