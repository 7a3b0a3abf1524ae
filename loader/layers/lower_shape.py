"""Shape layers (Reshape, Permute, RepeatVector) and the Dot merge layer.

Reshape resolves its -1 on the host when the input's non-batch dims are known (the summary then shows
the real size, as Keras' compute_output_shape does); otherwise the batch dim is read from the input's
Shape at run time and the -1 stays for TensorFlow's rule.  Dot is Keras' batch_dot: the two operands
are brought to [batch, rows, k] and [batch, k, cols] by Transpose / Reshape (no-ops in the common
cases) so the product is one BatchMatMulV2, as TF's graph has it.
"""
from __future__ import annotations

import math

import numpy as np

from .builder import KTensor
from .lower_norm import l2_normalize
from .ops import Ops
from .registry import LayerCall, LayerConfigError, layer


def _int_list(value: object, what: str) -> list[int]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise LayerConfigError(f"{what} must be a list of ints, got {value!r}")
    return [int(v) for v in value]


@layer("Reshape", propagates_mask=False)
def reshape(c: LayerCall) -> list[KTensor]:
    x = c.x
    target = _int_list(c.cfg("target_shape"), "target_shape")
    if sum(1 for d in target if d == -1) > 1 or any(d < -1 for d in target):
        raise LayerConfigError(f"target_shape {target} may hold at most one -1 and no other negative size")
    f = c.f
    rest = x.shape[1:]
    if all(d is not None for d in rest):
        total = math.prod(rest)      # type: ignore[arg-type]
        known = math.prod(d for d in target if d != -1)
        if -1 in target:
            if known == 0 or total % known:
                raise LayerConfigError(f"cannot reshape {x.shape} to {target}")
            target = [total // known if d == -1 else d for d in target]
        elif known != total:
            raise LayerConfigError(f"cannot reshape {x.shape} ({total} values per sample) to {target}")
        return [f.reshape(x, (x.shape[0],) + tuple(target))]
    out_shape = (x.shape[0],) + tuple(None if d == -1 else d for d in target)
    if x.shape[0] is not None:
        return [f.reshape(x, out_shape)]
    if -1 not in target:
        return [f.reshape(x, out_shape)]       # the batch is the one unknown: -1
    shape = f.concat([f.dim(x, 0), f.const(np.asarray(target, np.int32), "target", "int32")], 0)
    return [c.b.op("Reshape", [x, shape], {"T": f._t(x.dtype), "Tshape": f._t("int32")}, name=c.n("Reshape"),
                   shape=out_shape, dtype=x.dtype)]


@layer("Permute", propagates_mask=False)
def permute(c: LayerCall) -> list[KTensor]:
    x = c.x
    dims = _int_list(c.cfg("dims"), "dims")
    if sorted(dims) != list(range(1, x.rank)):
        raise LayerConfigError(f"dims {dims} is not a permutation of 1..{x.rank - 1}")
    return [c.f.transpose(x, [0] + dims)]


@layer("RepeatVector", propagates_mask=False)
def repeat_vector(c: LayerCall) -> list[KTensor]:
    """[batch, features] -> [batch, n, features] (ExpandDims then Tile, as Keras emits it)."""
    x = c.x
    if x.rank != 2:
        raise LayerConfigError(f"RepeatVector needs a 2-D input, got shape {x.shape}")
    n = c.cfg("n")
    if not isinstance(n, int) or n < 0:
        raise LayerConfigError(f"n must be a non-negative int, got {n!r}")
    f = c.f
    return [f.tile(f.expand_dims(x, 1), [1, n, 1])]


# -- Dot --------------------------------------------------------------------------------------------
def _dot_axes(c: LayerCall, r1: int, r2: int) -> tuple[int, int]:
    axes = c.cfg("axes")
    if isinstance(axes, int) and not isinstance(axes, bool):
        pair = [axes, axes]
    elif isinstance(axes, (list, tuple)) and len(axes) == 2 and all(isinstance(a, int) for a in axes):
        pair = list(axes)
    else:
        raise LayerConfigError(f"axes must be an int or a pair of ints, got {axes!r}")
    # Keras takes negative axes modulo each operand's rank
    a1, a2 = pair[0] % r1 if pair[0] < 0 else pair[0], pair[1] % r2 if pair[1] < 0 else pair[1]
    if not (1 <= a1 < r1 and 1 <= a2 < r2):
        raise LayerConfigError(f"axes {axes!r} must name non-batch axes of inputs of rank {r1} and {r2}")
    return a1, a2


def batch_dot(f: Ops, x: KTensor, y: KTensor, a1: int, a2: int) -> KTensor:
    """Keras' batch_dot: contract x's axis a1 with y's axis a2, batch dims paired; the result holds
    x's remaining dims, then y's; a rank-1 result becomes [batch, 1]."""
    if x.shape[a1] is not None and y.shape[a2] is not None and x.shape[a1] != y.shape[a2]:
        raise LayerConfigError(f"Dot: axis {a1} of {x.shape} and axis {a2} of {y.shape} differ in size")
    rest1 = [i for i in range(1, x.rank) if i != a1]
    rest2 = [i for i in range(1, y.rank) if i != a2]
    out_shape = (x.shape[0],) + tuple(x.shape[i] for i in rest1) + tuple(y.shape[i] for i in rest2)
    if x.rank == 2 and y.rank == 2:
        return f.sum(f.mul(x, y), [1], keepdims=True)
    # x -> [B, rest1..., K]; y -> [B, K, rest2...]
    xt = x if rest1 == list(range(1, x.rank - 1)) else f.transpose(x, [0] + rest1 + [a1])
    yt = y if a2 == 1 else f.transpose(y, [0, a2] + rest2)
    k = x.shape[a1] if x.shape[a1] is not None else y.shape[a2]
    # one row / column dim each: [B, R, K] @ [B, K, C]
    r_dims = [x.shape[i] for i in rest1]
    c_dims = [y.shape[i] for i in rest2]
    if (len(r_dims) != 1 or len(c_dims) != 1) and k is None:
        raise LayerConfigError("Dot over an axis of unknown size needs one non-contracted dim per operand")
    if len(r_dims) != 1:
        if any(d is None for d in r_dims):
            raise LayerConfigError("Dot with several unknown non-contracted dims is not supported")
        xt = f.reshape(xt, (x.shape[0], math.prod(r_dims), k))  # type: ignore[arg-type]
    if len(c_dims) != 1:
        if any(d is None for d in c_dims):
            raise LayerConfigError("Dot with several unknown non-contracted dims is not supported")
        yt = f.reshape(yt, (y.shape[0], k, math.prod(c_dims)))   # type: ignore[arg-type]
    z = f.matmul(xt, yt)
    if len(r_dims) != 1 or len(c_dims) != 1:
        if not r_dims and not c_dims:
            out_shape = (x.shape[0], 1)
        z = f.reshape(z, out_shape)
    return z


@layer("Dot", propagates_mask=False)
def dot(c: LayerCall) -> list[KTensor]:
    if len(c.inputs) != 2:
        raise LayerConfigError(f"Dot needs exactly 2 inputs, got {len(c.inputs)}")
    x, y = c.inputs
    if x.rank < 2 or y.rank < 2:
        raise LayerConfigError("Dot inputs need a batch axis and at least one more")
    a1, a2 = _dot_axes(c, x.rank, y.rank)
    f = c.f
    if c.cfg("normalize", False):
        # Keras 2: tf.linalg.l2_normalize (epsilon 1e-12 on the squared norm); Keras 3: ops.normalize
        # with the backend epsilon 1e-7 bounding the norm
        eps = 1e-7 if c.keras3 else 1e-12
        x = l2_normalize(f, x, [a1], c.keras3, eps)
        y = l2_normalize(f, y, [a2], c.keras3, eps)
    return [batch_dot(f, x, y, a1, a2)]

