"""Core layers: Dense, Activation, identities at inference, Flatten, element-wise merges, Concatenate."""
from __future__ import annotations

import math

from .builder import KTensor
from .ops import broadcast_shape, norm_axis
from .registry import LayerCall, LayerConfigError, layer


@layer("Dense")
def dense(c: LayerCall) -> list[KTensor]:
    x = c.x
    if x.shape[-1] is None:
        raise LayerConfigError("Dense needs a known last input dimension")
    if c.cfg("lora_rank"):
        raise LayerConfigError("Dense with LoRA weights (lora_rank) is not supported")
    units = int(c.cfg("units"))
    kernel = c.weight("kernel", (x.shape[-1], units))
    bias = c.weight("bias", (units,)) if c.cfg("use_bias", True) else None
    f = c.f
    y = f.dense(x if x.dtype == "float32" else f.cast(x, "float32"), kernel, bias)
    return [c.activation(y)]


@layer("Activation")
def activation(c: LayerCall) -> list[KTensor]:
    return [c.activation(c.x)]


IDENTITY_AT_INFERENCE = ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "AlphaDropout",
                         "GaussianNoise", "GaussianDropout", "ActivityRegularization")


@layer(*IDENTITY_AT_INFERENCE)
def identity_at_inference(c: LayerCall) -> list[KTensor]:
    """Noise and regularisation layers do nothing at inference (training=False)."""
    return [c.x]


@layer("Flatten", propagates_mask=False)
def flatten(c: LayerCall) -> list[KTensor]:
    x = c.x
    if c.cfg("data_format", "channels_last") == "channels_first" and x.rank > 2:
        x = c.f.transpose(x, [0] + list(range(2, x.rank)) + [1])
    rest = x.shape[1:]
    size = None if any(d is None for d in rest) else math.prod(rest)  # type: ignore[arg-type]
    if size is None and x.shape[0] is None:
        raise LayerConfigError("Flatten of a tensor with unknown non-batch dims and an unknown batch")
    return [c.f.reshape(x, (x.shape[0], size))]


def _merge_shapes(c: LayerCall) -> tuple[int | None, ...]:
    if len(c.inputs) < 2 and c.class_name != "Concatenate":
        raise LayerConfigError(f"{c.class_name} needs at least 2 inputs, got {len(c.inputs)}")
    shape = c.inputs[0].shape
    for t in c.inputs[1:]:
        shape = broadcast_shape(shape, t.shape)
    return shape


def _merge_mask(c: LayerCall) -> KTensor | None:
    """Keras merges masks with a logical and (the time steps every input has)."""
    masks = [t.mask for t in c.inputs if t.mask is not None]
    if not masks:
        return None
    m = masks[0]
    for other in masks[1:]:
        m = c.f.binary("LogicalAnd", m, other, dtype="bool")
    return m


@layer("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")
def merge(c: LayerCall) -> list[KTensor]:
    _merge_shapes(c)
    f = c.f
    xs = c.inputs
    if c.class_name == "Subtract":
        if len(xs) != 2:
            raise LayerConfigError(f"Subtract needs exactly 2 inputs, got {len(xs)}")
        return [f.sub(xs[0], xs[1]).with_mask(_merge_mask(c))]
    op = {"Add": "AddV2", "Average": "AddV2", "Multiply": "Mul", "Maximum": "Maximum", "Minimum": "Minimum"}[c.class_name]
    y = xs[0]
    for t in xs[1:]:
        y = f.binary(op, y, t)
    if c.class_name == "Average":
        y = f.mul(y, 1.0 / len(xs))
    return [y.with_mask(_merge_mask(c))]


@layer("Concatenate")
def concatenate(c: LayerCall) -> list[KTensor]:
    xs = c.inputs
    if not xs:
        raise LayerConfigError("Concatenate needs inputs")
    axis = norm_axis(int(c.cfg("axis", -1)), xs[0].rank)
    y = c.f.concat(xs, axis)
    mask = None
    if any(t.mask is not None for t in xs) and axis != 1:
        mask = _merge_mask(c)
    return [y.with_mask(mask)]
