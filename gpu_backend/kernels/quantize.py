"""FakeQuantWithMinMaxVars on GL: one element-wise program, min/max read from their tensors."""
from __future__ import annotations

from ..errors import ShapeError, UnsupportedDTypeError
from ..op_checks import fake_quant_bits
from ..registry import gl_kernel
from ..runner import Arg, GLTensor, ProgramRunner
from .elementwise import MATH


@gl_kernel("FakeQuantWithMinMaxVars")
def fake_quant_with_min_max_vars(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x, lo, hi = inputs[:3]
    if x.dtype != "float32" or lo.dtype != "float32" or hi.dtype != "float32":
        raise UnsupportedDTypeError(f"{op} takes float32 inputs, got {x.dtype}, {lo.dtype}, {hi.dtype}")
    for name, t in (("min", lo), ("max", hi)):
        if t.size != 1:
            raise ShapeError(f"{op}: {name} must be a scalar, got shape {list(t.shape)}")
    qmin, qmax = fake_quant_bits(op, attrs)
    flat = [gl.reshape(t, (1,)) for t in (lo, hi)]
    try:
        return [gl.run("fake_quant.glsl", None, "texel",
                       {"X": Arg(x, "bcast"), "Lo": Arg(flat[0], elem=True), "Hi": Arg(flat[1], elem=True)},
                       x.shape, "float32", uniforms={"qmin": qmin, "qmax": qmax}, libs=[MATH], label=op)]
    finally:
        for t in flat:
            gl.release(t)
