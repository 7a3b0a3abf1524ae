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

from ..errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from ..registry import GLFallback, gl_kernel
from ..runner import Arg, GLTensor, ProgramRunner
from .elementwise import MATH

# Each output position loops over up to n inputs: about (outputs / lanes per fetch) * n / 2 steps
# per call.  Past this the draw would run for seconds on a software driver (and trip a real GPU's
# watchdog), so such calls run on the reference, whose scan is O(n).
MAX_SCAN_STEPS = 1 << 28


def scan_axis(op: str, attrs: dict, rank: int) -> int:
    """The normalised scan axis, validated with the reference's rules and messages."""
    axis = attrs.get("axis", 0)
    if isinstance(axis, (list, tuple)):
        if len(axis) != 1:
            raise AttributeValueError(f"{op}: axis must be a single integer, got {axis!r}")
        axis = axis[0]
    try:
        axis = int(axis)
    except (TypeError, ValueError):
        raise AttributeValueError(f"{op}: axis must be an integer, got {axis!r}") from None
    if rank == 0:
        raise ShapeError(f"{op} needs an input of rank >= 1 (TF has no scan axis for a scalar)")
    if not -rank <= axis < rank:
        raise AttributeValueError(f"{op}: axis {axis} is out of range [{-rank}, {rank}) for an input of rank {rank}")
    return axis % rank


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
