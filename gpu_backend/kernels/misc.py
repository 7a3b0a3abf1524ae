"""MatrixBandPart and Diag (one draw each) and Einsum (composed from the other GL kernels)."""
from __future__ import annotations

import math

import numpy as np

from ..einsum_plan import EinsumPlan, is_identity, plan_einsum
from ..errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from ..op_checks import band_bounds
from ..registry import GLFallback, gl_kernel
from ..runner import Arg, GLTensor, ProgramRunner
from .elementwise import MATH, binary
from .matmul import batch_matmul
from .reduce import reduce
from .transpose import transpose

# Einsum contractions on int32 (there is no integer matmul) materialise the broadcast product over
# every label before summing; past this many values they run on the reference instead.
MAX_EINSUM_PRODUCT = 1 << 24


def _band_bound(op: str, value: object, name: str) -> int:
    arr = np.asarray(value)
    if arr.size != 1 or arr.dtype.kind not in "iuf" or float(arr.reshape(-1)[0]) != int(arr.reshape(-1)[0]):
        raise AttributeValueError(f"{op}: {name} must be one integer, got {value!r}")
    return int(arr.reshape(-1)[0])


@gl_kernel("MatrixBandPart")
def matrix_band_part(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    """Element-wise select by (row, column); the bounds are uniforms, so one program serves them all."""
    x = inputs[0]
    if len(inputs) == 3:
        # TF's graph form passes the bounds as tensors: two scalars read back (a tiny sync)
        lower = _band_bound(op, gl.read(inputs[1]), "num_lower")
        upper = _band_bound(op, gl.read(inputs[2]), "num_upper")
    else:
        if "num_lower" not in attrs or "num_upper" not in attrs:
            raise AttributeValueError("MatrixBandPart needs the attributes 'num_lower' and 'num_upper' "
                                      "(a negative value keeps the whole triangle)")
        lower = _band_bound(op, attrs["num_lower"], "num_lower")
        upper = _band_bound(op, attrs["num_upper"], "num_upper")
    band_bounds(lower, upper, x.shape)
    return [gl.run("misc.glsl", "band", "texel", {"X": Arg(x, "bcast")}, x.shape, x.dtype,
                   uniforms={"num_lower": lower, "num_upper": upper}, libs=[MATH], packed=x.view.packed,
                   label=op)]


@gl_kernel("Diag")
def diag(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x = inputs[0]
    if x.rank < 1:
        raise ShapeError("Diag needs an input of rank >= 1, got a scalar")
    return [gl.run("misc.glsl", "diag", "element", {"X": Arg(x, elem=True)}, x.shape + x.shape, x.dtype,
                   libs=[MATH], label=op)]


# ----------------------------------------------------------------------------- Einsum

class _Operand:
    """A tensor being transformed step by step; intermediate results are released as soon as
    the next step has consumed them (the caller's input never is)."""

    def __init__(self, gl: ProgramRunner, t: GLTensor) -> None:
        self.gl = gl
        self.t = t
        self.owned = False

    def step(self, new: GLTensor) -> None:
        if self.owned:
            self.gl.release(self.t)
        self.t, self.owned = new, True

    def reshape(self, shape: tuple[int, ...]) -> None:
        if tuple(shape) != self.t.shape:
            self.step(self.gl.reshape(self.t, shape))

    def transpose(self, perm: tuple[int, ...]) -> None:
        if not is_identity(perm):
            self.step(transpose(self.gl, "Transpose", [self.t], {"perm": list(perm)})[0])

    def sum(self, axes: tuple[int, ...]) -> None:
        if axes:
            self.step(reduce(self.gl, "Sum", [self.t], {"axis": list(axes), "keep_dims": False})[0])

    def take(self) -> GLTensor:
        """The current tensor as a new reference the caller owns."""
        if self.owned:
            self.owned = False
            return self.t
        return self.gl.share(self.t, self.t.view)

    def close(self) -> None:
        if self.owned:
            self.gl.release(self.t)
            self.owned = False


def _run_plan(gl: ProgramRunner, plan: EinsumPlan, inputs: list[GLTensor]) -> GLTensor:
    ops = [_Operand(gl, t) for t in inputs]
    try:
        for o, prep in zip(ops, plan.preps):
            if prep.squeeze is not None:
                o.reshape(prep.squeeze)
            o.sum(prep.sum_axes)
        if plan.kind == "single":
            ops[0].transpose(plan.final_perm)
            return ops[0].take()
        for o, perm, shape in zip(ops, plan.perms, plan.shapes):
            o.transpose(perm)
            o.reshape(shape)
        a, b = ops
        r = _Operand(gl, a.t)
        if plan.kind == "product":
            r.step(binary(gl, "Multiply", [a.t, b.t], {})[0])
            a.close()
            b.close()
            r.sum(plan.product_sum_axes)
        else:
            r.step(batch_matmul(gl, "BatchMatMul", [a.t, b.t],
                                {"transpose_a": plan.transpose_a, "transpose_b": plan.transpose_b})[0])
            a.close()
            b.close()
            r.reshape(plan.result_shape)
            r.transpose(plan.final_perm)
        return r.take()
    finally:
        for o in ops:
            o.close()


@gl_kernel("Einsum")
def einsum(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    """tf.einsum for one or two operands, run as Transpose / Reshape / Sum / Multiply / BatchMatMul.

    Labels repeated within one operand (diagonals, traces) run on the reference.  Float
    contractions are BatchMatMuls (float32 accumulation; the reference rounds a float64 result
    once); int32 ones are a broadcast Multiply and a Sum, both wrapping like TF.
    """
    if not 1 <= len(inputs) <= 2:
        raise AttributeValueError(f"Einsum supports 1 or 2 operands, got {len(inputs)}")
    if "equation" not in attrs:
        raise AttributeValueError("Einsum needs the attribute 'equation' (e.g. 'ij,jk->ik')")
    dtypes = {t.dtype for t in inputs}
    if not dtypes <= {"float32", "int32"} or len(dtypes) != 1:
        raise UnsupportedDTypeError(f"Einsum takes float32 or int32 operands of one dtype, got "
                                    f"{[t.dtype for t in inputs]}")
    is_int = dtypes == {"int32"}
    plan = plan_einsum(attrs["equation"], [t.shape for t in inputs], use_matmul=not is_int)
    if plan.kind == "diagonal":
        raise GLFallback("Einsum: a label repeated within one operand (diagonal / trace) has no GL plan")
    if plan.product_sum_axes and math.prod(max(a, b) for a, b in zip(*plan.shapes)) > MAX_EINSUM_PRODUCT:
        raise GLFallback(f"Einsum: the broadcast product would hold more than {MAX_EINSUM_PRODUCT} values")
    return [_run_plan(gl, plan, inputs)]
