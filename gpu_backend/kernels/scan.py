"""Cumsum and Cumprod (any axis, exclusive, reverse; float32 and wrapping int32).

Each output position accumulates its own prefix sequentially, in TF's order (see
gpu_backend/reference/scan.py): that costs O(n) per output instead of a parallel
scan's O(log n) passes, but it is the only order that reproduces TF's float32
rounding, and graphs scan short axes.  When the scanned axis is not the last
one, a texel program advances four scans per fetch; along the last axis an
element program walks the row.  Shapes, the axis and both flags are uniforms, so
one program serves every shape and flag combination of a (rank, layout, dtype, op).
"""
from __future__ import annotations

from ..errors import UnsupportedDTypeError
from ..op_checks import scan_axis
from ..registry import GLFallback, gl_kernel
from ..runner import Arg, GLTensor, ProgramRunner
from .elementwise import MATH

# Each output position loops over up to n inputs: about (outputs / lanes per fetch) * n / 2 steps
# per call.  Past this the draw would run for seconds on a software driver (and trip a real GPU's
# watchdog), so such calls run on the reference, whose scan is O(n).
MAX_SCAN_STEPS = 1 << 28


@gl_kernel("Cumsum", "Cumprod")
def cumulative(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x = inputs[0]
    if x.dtype not in ("float32", "int32"):
        raise UnsupportedDTypeError(f"{op} takes float32 or int32 input, got {x.dtype}")
    axis = scan_axis(op, attrs, x.rank)
    n = x.shape[axis]
    last = axis == x.rank - 1
    per_fetch = 4 if (x.view.packed and not last) else 1
    if x.size // per_fetch * n // 2 > MAX_SCAN_STEPS:
        raise GLFallback(f"{op}: a sequential scan of {x.size} values along an axis of {n} is too long "
                         f"for one draw (more than {MAX_SCAN_STEPS} steps)")
    uniforms = {"axis": axis, "axis_n": n, "exclusive": int(bool(attrs.get("exclusive", False))),
                "reverse": int(bool(attrs.get("reverse", False)))}
    defines = [("PROD", str(int(op == "Cumprod")))]
    if last:
        return [gl.run("scan.glsl", "element", "element", {"X": Arg(x)}, x.shape, x.dtype, uniforms=uniforms,
                       defines=defines, libs=[MATH], label=op)]
    # texel coordinates of X and of the output must agree: keep X's packing
    return [gl.run("scan.glsl", "texel", "texel", {"X": Arg(x)}, x.shape, x.dtype, uniforms=uniforms,
                   defines=defines, libs=[MATH], packed=x.view.packed, label=op)]
