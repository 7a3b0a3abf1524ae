"""Normalization layers: BatchNormalization, LayerNormalization, UnitNormalization, GroupNormalization,
Normalization.

Inference-time batch normalization and Normalization are affine maps with constants known at load,
so their per-channel scale and offset are computed once on the host (y = x * s + t, s = gamma /
sqrt(var + eps), t = beta - mean * s) and emitted as one Mul and one AddV2.  With the channel axis
last the constants are [C] vectors, which the load-time folding merges into a preceding convolution or
MatMul exactly as it does for a converted graph model's batch norm.

The normalizations whose statistics depend on the input (layer / group / unit) are emitted as the
reductions TensorFlow runs for them (Mean, Square, Rsqrt, ...), following each Keras version's formula.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .builder import KTensor
from .ops import Ops, norm_axis
from .registry import LayerCall, LayerConfigError, layer


# -- helpers shared by this family -----------------------------------------------------------------
def axes_of(value: Any, rank: int, what: str = "axis") -> list[int]:
    """`axis` as sorted, non-negative axes of a rank-`rank` input (an int or a list of ints)."""
    items = value if isinstance(value, (list, tuple)) else [value]
    if not items or not all(isinstance(a, int) and not isinstance(a, bool) for a in items):
        raise LayerConfigError(f"{what} must be an int or a list of ints, got {value!r}")
    out = sorted({norm_axis(int(a), rank) for a in items})
    if any(a < 0 or a >= rank for a in out):
        raise LayerConfigError(f"{what} {value!r} is out of range for a rank-{rank} input")
    return out


def param_shape(x: KTensor, axes: list[int]) -> tuple[int, ...]:
    """The shape a per-axis parameter broadcasts with against x: the axes' dims, 1 elsewhere, leading
    1s dropped (so a last-axis parameter is a [C] vector, the form the folding merges)."""
    shape = []
    for i in range(axes[0], x.rank):
        d = x.shape[i] if i in axes else 1
        if d is None:
            raise LayerConfigError(f"axis {i} of the input has an unknown size; the layer's parameters need it")
        shape.append(int(d))
    return tuple(shape)


def as_float(f: Ops, x: KTensor) -> KTensor:
    return x if x.dtype == "float32" else f.cast(x, "float32")


def affine(c: LayerCall, x: KTensor, scale: np.ndarray | None, offset: np.ndarray | None) -> KTensor:
    """x * scale + offset with host constants (either may be None = skipped)."""
    f = c.f
    y = x
    if scale is not None:
        y = f.mul(y, c.b.const(np.asarray(scale, np.float32), name=c.n("scale")))
    if offset is not None:
        y = f.add(y, c.b.const(np.asarray(offset, np.float32), name=c.n("offset")))
    return y


def moments(f: Ops, x: KTensor, axes: list[int]) -> tuple[KTensor, KTensor, KTensor]:
    """(mean, x - mean, variance) over `axes`, kept dims, as tf.nn.moments computes them (the
    variance is the mean of squared differences, not E[x^2] - E[x]^2)."""
    mean = f.mean(x, axes, keepdims=True)
    centered = f.sub(x, mean)
    var = f.mean(f.unary("Square", centered), axes, keepdims=True)
    return mean, centered, var


# -- BatchNormalization ----------------------------------------------------------------------------
@layer("BatchNormalization", "SyncBatchNormalization", non_trainable=("moving_mean", "moving_variance"))
def batch_normalization(c: LayerCall) -> list[KTensor]:
    """Inference batch norm (moving statistics).  Keras 3's `synchronized` only changes training;
    Keras 2's virtual (ghost) batches normalise with the same moving statistics at inference, their
    weights merely carry an extra dim at index 1, dropped here."""
    x = as_float(c.f, c.x)
    if c.cfg("renorm"):
        raise LayerConfigError("renorm=True (batch renormalization) is not supported")
    vbs = c.cfg("virtual_batch_size")
    eps = float(c.cfg("epsilon", 1e-3))
    names = ["moving_mean", "moving_variance"] + (["gamma"] if c.cfg("scale", True) else []) + \
        (["beta"] if c.cfg("center", True) else [])
    values = {n: np.asarray(c.weight_value(n), np.float64) for n in names}
    if vbs is not None:
        # param shape [1, 1(virtual), d1, ...] over the input's rank plus one: drop the virtual dim
        values = {n: v.reshape(v.shape[:1] + v.shape[2:]) if v.ndim == x.rank + 1 else v for n, v in values.items()}
        shapes = {v.shape for v in values.values()}
        if len(shapes) != 1 or len(next(iter(shapes))) != x.rank:
            raise LayerConfigError(f"virtual_batch_size: unexpected parameter shapes {sorted(shapes)}")
        full = next(iter(shapes))
        axes = [i for i, d in enumerate(full) if d != 1] or [x.rank - 1]
        shape = param_shape(x, axes)
        if any(x.shape[i] is not None and full[i] not in (1, x.shape[i]) for i in range(x.rank)):
            raise LayerConfigError(f"parameter shape {full} does not match the input {x.shape}")
    else:
        axes = axes_of(c.cfg("axis", -1), x.rank)
        shape = param_shape(x, axes)
    want = int(np.prod(shape))
    for n, v in values.items():
        if v.size != want:
            raise LayerConfigError(f"weight {n!r} has {v.size} values; axis {c.cfg('axis')!r} of an input shaped "
                                   f"{x.shape} needs {want}")
    vals = {n: v.reshape(shape) for n, v in values.items()}
    s = 1.0 / np.sqrt(vals["moving_variance"] + eps)
    if "gamma" in vals:
        s = s * vals["gamma"]
    t = -vals["moving_mean"] * s
    if "beta" in vals:
        t = t + vals["beta"]
    return [affine(c, x, s.astype(np.float32), t.astype(np.float32))]


# -- LayerNormalization ----------------------------------------------------------------------------
@layer("LayerNormalization")
def layer_normalization(c: LayerCall) -> list[KTensor]:
    """(x - mean) * rsqrt(var + eps) * gamma + beta over `axis`.  Keras 3's deprecated rms_scaling
    scales by the (mean-subtracted) variance without centring: x * rsqrt(var + eps) * gamma, as
    Keras 3 computes it (it is not RMS normalization)."""
    f = c.f
    x = as_float(f, c.x)
    axes = axes_of(c.cfg("axis", -1), x.rank)
    eps = float(c.cfg("epsilon", 1e-3))
    rms = bool(c.cfg("rms_scaling", False))
    shape = param_shape(x, axes)
    use_gamma = bool(c.cfg("scale", True)) or rms
    use_beta = bool(c.cfg("center", True)) and not rms
    gamma = c.weight_value("gamma").reshape(shape) if use_gamma else None
    beta = c.weight_value("beta").reshape(shape) if use_beta else None
    _, centered, var = moments(f, x, axes)
    inv = f.unary("Rsqrt", f.add(var, eps))
    y = f.mul(x if rms else centered, inv)
    return [affine(c, y, gamma, beta)]


# -- UnitNormalization -----------------------------------------------------------------------------
def l2_normalize(f: Ops, x: KTensor, axes: list[int], keras3: bool, epsilon: float) -> KTensor:
    """x / ||x|| over `axes`.  Keras 2 (tf.math.l2_normalize): x * rsqrt(max(sum x^2, epsilon));
    Keras 3 (ops.normalize): x * min(rsqrt(sum x^2), 1 / epsilon) -- the epsilon is a bound on the
    norm there, on its square in Keras 2."""
    ss = f.sum(f.unary("Square", x), axes, keepdims=True)
    if keras3:
        inv = f.minimum(f.unary("Rsqrt", ss), 1.0 / epsilon)
    else:
        inv = f.unary("Rsqrt", f.maximum(ss, epsilon))
    return f.mul(x, inv)


@layer("UnitNormalization")
def unit_normalization(c: LayerCall) -> list[KTensor]:
    x = as_float(c.f, c.x)
    axes = axes_of(c.cfg("axis", -1), x.rank)
    return [l2_normalize(c.f, x, axes, c.keras3, 1e-12)]


# -- GroupNormalization ----------------------------------------------------------------------------
@layer("GroupNormalization")
def group_normalization(c: LayerCall) -> list[KTensor]:
    """Channels split into `groups`; each group normalised over all its non-batch positions:
    x reshaped to [..., groups, C / groups, ...], moments over every axis but batch and the group one,
    reshaped back, then the per-channel gamma / beta (host constants)."""
    f = c.f
    x = as_float(f, c.x)
    axis = c.cfg("axis", -1)
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise LayerConfigError(f"axis must be an int, got {axis!r}")
    a = norm_axis(axis, x.rank)
    if a <= 0 or a >= x.rank:
        raise LayerConfigError(f"axis {axis} is not a channel axis of a rank-{x.rank} input")
    ch = x.shape[a]
    groups = int(c.cfg("groups", 32))
    if ch is None:
        raise LayerConfigError("the channel axis has an unknown size")
    if groups == -1:
        groups = ch
    if groups <= 0 or ch % groups:
        raise LayerConfigError(f"groups={groups} does not divide the {ch} channels")
    eps = float(c.cfg("epsilon", 1e-3))
    grouped = x.shape[:a] + (groups, ch // groups) + x.shape[a + 1:]
    if any(d is None for d in x.shape[a + 1:]) and sum(d is None for d in x.shape) > 1:
        raise LayerConfigError("unknown dims after the channel axis (and an unknown batch) are not supported")
    g = f.reshape(x, grouped, like=x)     # the unknown dims (before the channel axis) are x's own
    red = [i for i in range(1, len(grouped)) if i != a]
    _, centered, var = moments(f, g, red)
    y = f.mul(centered, f.unary("Rsqrt", f.add(var, eps)))
    y = f.reshape(y, x.shape, like=x)
    shape = param_shape(x, [a])
    gamma = c.weight_value("gamma", (ch,)).reshape(shape) if c.cfg("scale", True) else None
    beta = c.weight_value("beta", (ch,)).reshape(shape) if c.cfg("center", True) else None
    return [affine(c, y, gamma, beta)]


# -- Normalization ---------------------------------------------------------------------------------
@layer("Normalization", non_trainable=("mean", "variance", "count"))
def normalization(c: LayerCall) -> list[KTensor]:
    """(x - mean) / max(sqrt(variance), 1e-7), or the inverse (mean + x * max(sqrt(variance), 1e-7))
    with invert=True, the statistics from the config (`mean` / `variance`) or the adapted weights.
    `axis` lists the axes that keep their own statistics (None: one scalar mean and variance)."""
    f = c.f
    x = as_float(f, c.x)
    axis = c.cfg("axis", -1)
    # Keras 3 writes axis=None as []
    keep: list[int] = [] if axis is None or axis == [] or axis == () else axes_of(axis, x.rank)
    if keep and keep[0] == 0:
        raise LayerConfigError("axis may not include the batch axis")
    keep_shape = tuple(x.shape[i] for i in keep)
    if any(d is None for d in keep_shape):
        raise LayerConfigError(f"the kept axes {keep} of the input {x.shape} must have known sizes")
    bshape = param_shape(x, keep) if keep else ()
    if c.cfg("mean") is not None or c.cfg("variance") is not None:
        if c.cfg("mean") is None or c.cfg("variance") is None:
            raise LayerConfigError("mean and variance must be given together")
        mean = np.asarray(c.cfg("mean"), np.float64)
        var = np.asarray(c.cfg("variance"), np.float64)
    else:
        if not c.has_weight("mean"):
            raise LayerConfigError("the layer has neither config mean/variance nor adapted weights under its name "
                                   "(never adapted, or a Keras 2 model whose manifest names them bare 'mean' / "
                                   "'variance' / 'count')")
        mean = np.asarray(c.weight_value("mean"), np.float64)
        var = np.asarray(c.weight_value("variance"), np.float64)
        if c.has_weight("count"):
            c.weight_value("count")
    n = int(np.prod(keep_shape))
    try:
        mean, var = (np.broadcast_to(v.reshape(keep_shape) if v.size == n else v, keep_shape).reshape(bshape)
                     for v in (mean, var))
    except ValueError:
        raise LayerConfigError(f"mean {mean.shape} / variance {var.shape} do not broadcast to the kept axes' shape "
                               f"{keep_shape}") from None
    std = np.maximum(np.sqrt(var), 1e-7)
    mean_t = c.b.const(mean.astype(np.float32), name=c.n("mean"))
    if c.cfg("invert", False):
        return [f.add(f.mul(x, c.b.const(std.astype(np.float32), name=c.n("std"))), mean_t)]
    return [f.mul(f.sub(x, mean_t), c.b.const((1.0 / std).astype(np.float32), name=c.n("inv_std")))]
