"""Cumsum / Cumprod with TF's flags (exclusive, reverse) and its accumulation order.

Floats are accumulated in float32, one element after the other along the axis,
starting from the identity (0 or 1).  That is the order TF's CPU scan uses, so
the results are bit-identical to TensorFlow's rather than merely close: a
float64 accumulation would be *more* accurate but can differ from TF by far
more than 1e-5 relative wherever a running sum cancels to near zero, and the
reference exists to be TF's oracle.  Starting from the identity also matters
for signed zeros: TF's cumsum of -0.0 is +0.0 (0 + -0 = +0).

int32 sums and products wrap modulo 2**32 like TF's (numpy int32 arithmetic
wraps the same way).
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedDTypeError
from ..op_checks import scan_axis
from ..registry import numpy_kernel


@numpy_kernel("Cumsum", "Cumprod")
def cumulative(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """out[i] = x[0] (+|*) ... (+|*) x[i] along `axis`; `exclusive` drops x[i] itself (the first
    output is the identity); `reverse` runs from the end of the axis towards its start."""
    x = inputs[0]
    if x.dtype.kind not in "fi":
        raise UnsupportedDTypeError(f"{op} takes float32 or int32 input, got {x.dtype}")
    axis = scan_axis(op, attrs, x.ndim)
    exclusive = bool(attrs.get("exclusive", False))
    reverse = bool(attrs.get("reverse", False))
    dtype = np.float32 if x.dtype.kind == "f" else np.int32
    identity = 0 if op == "Cumsum" else 1
    ufunc = np.add if op == "Cumsum" else np.multiply

    src = np.flip(x, axis) if reverse else x
    src = src.astype(dtype)
    if exclusive:
        # prepend the identity and drop the last element: out[i] = acc(x[0..i-1])
        pad_shape = list(src.shape)
        pad_shape[axis] = 1
        head = np.full(pad_shape, identity, dtype)
        src = np.concatenate([head, np.delete(src, src.shape[axis] - 1, axis=axis)], axis=axis) \
            if src.shape[axis] else src
    with np.errstate(all="ignore"):
        out = ufunc.accumulate(src, axis=axis, dtype=dtype)
        if op == "Cumsum" and dtype == np.float32:
            out = out + np.float32(0.0)  # TF's accumulator starts at +0: turns a leading -0.0 into +0.0
    if reverse:
        out = np.flip(out, axis)
    return [np.ascontiguousarray(out, dtype=dtype).copy()]
