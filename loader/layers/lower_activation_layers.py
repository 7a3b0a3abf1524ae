"""Advanced activation layers: ReLU, LeakyReLU, PReLU, ELU, ThresholdedReLU, Softmax.

Each follows the formula its Keras version computes (Keras 2's backend.relu and Keras 3's
activations.relu agree: the thresholded, clipped and leaky parts are applied in that order), with the
simple cases as the single TF op the graph converter emits (Relu, Relu6, LeakyRelu, Elu, Prelu), so
the folding can fuse them into a preceding convolution or MatMul.
"""
from __future__ import annotations

import numpy as np

from .builder import KTensor
from .lower_norm import axes_of
from .ops import Ops
from .registry import LayerCall, LayerConfigError, layer


def _float(c: LayerCall, key: str, default: float | None) -> float | None:
    v = c.cfg(key, default)
    if v is None:
        return None
    if isinstance(v, (list, tuple)) or isinstance(v, bool):
        raise LayerConfigError(f"{key} must be a number, got {v!r}")
    return float(v)


def relu_general(f: Ops, x: KTensor, negative_slope: float, max_value: float | None, threshold: float) -> KTensor:
    """Keras' relu(x, negative_slope, max_value, threshold):
        pos = x * (x > threshold)       (relu(x) when threshold == 0, relu6 when max_value == 6)
        pos = clip(pos, 0, max_value)   (when max_value is set)
        out = pos - negative_slope * relu(threshold - x)."""
    if negative_slope != 0.0 and max_value is None and threshold == 0.0:
        return f.unary("LeakyRelu", x, {"alpha": negative_slope})
    if threshold != 0.0:
        pos = f.mul(x, f.cast(f.compare("Greater", x, threshold), "float32"))
        if max_value is not None:
            pos = f.clip(pos, 0.0, max_value)
    elif max_value == 6.0:
        pos = f.unary("Relu6", x)
    else:
        pos = f.unary("Relu", x)
        if max_value is not None:
            pos = f.clip(pos, 0.0, max_value)
    if negative_slope != 0.0:
        neg = f.unary("Relu", f.sub(threshold, x) if threshold != 0.0 else f.unary("Neg", x))
        pos = f.sub(pos, f.mul(neg, negative_slope))
    return pos


@layer("ReLU")
def relu(c: LayerCall) -> list[KTensor]:
    slope = _float(c, "negative_slope", 0.0) or 0.0
    max_value = _float(c, "max_value", None)
    threshold = _float(c, "threshold", 0.0) or 0.0
    if max_value is not None and max_value < 0:
        raise LayerConfigError(f"max_value must be >= 0, got {max_value}")
    return [relu_general(c.f, c.x, slope, max_value, threshold)]


@layer("LeakyReLU")
def leaky_relu(c: LayerCall) -> list[KTensor]:
    """alpha (Keras 2) / negative_slope (Keras 3), 0.3 by default in both."""
    key = "negative_slope" if "negative_slope" in c.config else "alpha"
    alpha = _float(c, key, 0.3)
    return [c.f.unary("LeakyRelu", c.x, {"alpha": 0.3 if alpha is None else alpha})]


@layer("PReLU")
def prelu(c: LayerCall) -> list[KTensor]:
    """max(x, 0) + alpha * min(x, 0), alpha a weight shaped like the input without its batch dim, 1 on
    the shared axes.  Emitted as TF's Prelu with alpha reshaped on the host to the smallest shape that
    broadcasts ([C] when only the channel axis is unshared: the form that fuses into a convolution)."""
    x = c.x
    alpha = np.asarray(c.weight_value("alpha"), np.float32)
    if alpha.ndim != x.rank - 1:
        raise LayerConfigError(f"alpha has shape {alpha.shape}; an input shaped {x.shape} needs rank {x.rank - 1}")
    for d, a in zip(x.shape[1:], alpha.shape):
        if a != 1 and d is not None and a != d:
            raise LayerConfigError(f"alpha {alpha.shape} does not broadcast with the input {x.shape}")
    # drop leading 1s: [1, 1, C] -> [C]
    shape = list(alpha.shape)
    while len(shape) > 1 and shape[0] == 1:
        shape.pop(0)
    a = c.b.const(alpha.reshape(shape), name=c.n("alpha"))
    return [c.f.binary("Prelu", x, a)]


@layer("ELU")
def elu(c: LayerCall) -> list[KTensor]:
    """elu(x) for alpha == 1; otherwise where(x > 0, elu(x), alpha * elu(x)), as both Kerases do."""
    f = c.f
    alpha = _float(c, "alpha", 1.0)
    y = f.unary("Elu", c.x)
    if alpha == 1.0:
        return [y]
    return [f.select(f.compare("Greater", c.x, 0.0), y, f.mul(y, alpha))]


@layer("ThresholdedReLU")
def thresholded_relu(c: LayerCall) -> list[KTensor]:
    """x * (x > theta) (Keras 2 only; Keras 3 dropped the layer)."""
    f = c.f
    theta = _float(c, "theta", 1.0)
    return [f.mul(c.x, f.cast(f.compare("Greater", c.x, theta), "float32"))]


# -- Softmax ---------------------------------------------------------------------------------------
def softmax_axes(f: Ops, x: KTensor, axes: list[int]) -> KTensor:
    """Softmax over one axis (TF's Softmax, other axes moved last) or several: Keras computes
    exp(x - logsumexp(x, axes)); emitted as exp(x - max) / sum(exp(x - max)), the same function."""
    if len(axes) == 1:
        return f.softmax(x, axes[0])
    m = f.reduce("Max", x, axes, keepdims=True)
    e = f.unary("Exp", f.sub(x, m))
    return f.div(e, f.sum(e, axes, keepdims=True))


def masked_softmax(f: Ops, x: KTensor, axes: list[int], mask: KTensor | None, keras3: bool) -> KTensor:
    """Keras' Softmax layer with a mask: masked positions get (1 - mask) * -1e9 added before the
    softmax; Keras 3 then multiplies the result by the mask (fully masked rows come out 0)."""
    if mask is None:
        return softmax_axes(f, x, axes)
    m = f.cast(mask, "float32")
    y = f.add(x, f.mul(f.sub(1.0, m), -1e9))
    y = softmax_axes(f, y, axes)
    if keras3:
        y = f.mul(y, m)
    return y


@layer("Softmax")
def softmax(c: LayerCall) -> list[KTensor]:
    x = c.x
    axes = axes_of(c.cfg("axis", -1), x.rank)
    mask = c.kwargs.get("mask")
    if mask is not None and not isinstance(mask, KTensor):
        raise LayerConfigError(f"mask must be a tensor, got {mask!r}")
    if mask is None:
        mask = x.mask
    if mask is not None:
        ms = tuple(mask.shape)
        n = max(len(ms), x.rank)
        a = (1,) * (n - len(ms)) + ms
        b = (1,) * (n - x.rank) + tuple(x.shape)
        if n != x.rank or any(p not in (1, None) and q not in (1, None) and p != q for p, q in zip(a, b)):
            raise LayerConfigError(f"the mask {mask.shape} does not broadcast with the input {x.shape}")
    return [masked_softmax(c.f, x, axes, mask, c.keras3)]

