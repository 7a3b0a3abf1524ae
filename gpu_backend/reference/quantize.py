"""FakeQuantWithMinMaxVars: quantize-dequantize through a num_bits grid fitted to [min, max].

The grid is TF's "nudged" one: the zero point is rounded to an integer of [quant_min, quant_max],
and the range shifted so that 0.0 is exactly representable. All the arithmetic is float32, in the
order that reproduces TF 2.19's CPU kernel bit for bit on the recorded goldens (the output is
(level - zero_point) * scale, not level * scale + nudged_min); the GL kernel repeats it in GLSL.
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedDTypeError
from ..op_checks import fake_quant_bits
from ..registry import numpy_kernel

f32 = np.float32


def nudge(lo: float, hi: float, qmin: float, qmax: float) -> tuple[np.float32, np.float32, np.float32, np.float32]:
    """TF's nudged (min, max, scale, zero point): float32 throughout."""
    lo32, hi32, qmin32, qmax32 = f32(lo), f32(hi), f32(qmin), f32(qmax)
    with np.errstate(all="ignore"):
        scale = f32((hi32 - lo32) / (qmax32 - qmin32))
        zp_from_min = f32(qmin32 - lo32 / scale)
        if zp_from_min < qmin32:
            zp = qmin32
        elif zp_from_min > qmax32:
            zp = qmax32
        else:
            zp = f32(np.floor(zp_from_min + f32(0.5)))   # std::round of a value >= 0
        return f32((qmin32 - zp) * scale), f32((qmax32 - zp) * scale), scale, f32(zp)


@numpy_kernel("FakeQuantWithMinMaxVars")
def fake_quant_with_min_max_vars(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x, lo, hi = (np.asarray(a) for a in inputs[:3])
    if x.dtype != np.float32:
        raise UnsupportedDTypeError(f"{op} takes float32 inputs, not {x.dtype}")
    qmin, qmax = fake_quant_bits(op, attrs)
    lo_v, hi_v = (_flush_denormal(float(v.reshape(-1)[0])) for v in (lo, hi))
    if lo_v == 0.0 and hi_v == 0.0:
        return [np.zeros_like(x)]          # TF's special case: an empty range quantizes everything to 0
    nmin, nmax, scale, zp = nudge(lo_v, hi_v, qmin, qmax)
    with np.errstate(all="ignore"):
        clamped = np.maximum(np.minimum(x, nmax), nmin).astype(f32)   # min first, then max: TF's order
        clamped = np.where(np.isnan(x), x, clamped)
        # the integer level, then (level - zero point) * scale: real 0 comes back as exactly 0
        q = np.floor((clamped - nmin) / scale + f32(0.5)).astype(f32) + f32(qmin)
        return [((q - zp) * scale).astype(f32)]


def _flush_denormal(v: float) -> float:
    """TF's CPU kernels run with denormals flushed to zero, so a denormal bound counts as 0."""
    return 0.0 if abs(v) < float(np.finfo(np.float32).tiny) else v
