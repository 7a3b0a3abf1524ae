"""Pooling layers: Max/AveragePooling1D/2D/3D and the global poolings.

Windowed pooling emits TF's MaxPool / AvgPool (1-D as 2-D on [N, 1, W, C], as TF does) and
MaxPool3D / AvgPool3D; AvgPool with SAME padding averages the real taps only, as TF.  Global pooling is
a Mean / Max reduction over the spatial axes.  GlobalAveragePooling1D honours the Keras mask (the
average of the unmasked steps); GlobalMaxPooling1D, like Keras, ignores it.  channels_first inputs
are transposed to channels_last around the windowed ops (the executor's pools are NHWC / NDHWC).
"""
from __future__ import annotations

from .builder import KTensor
from .lower_conv import channels_first, conv_out, ints, padding_mode, to_first, to_last
from .ops import F32
from .registry import LayerCall, LayerConfigError, layer

def _by_rank(*prefixes: str) -> dict[str, int]:
    """Class name -> spatial rank, for every Keras spelling (MaxPooling2D, MaxPool2D, ...)."""
    return {f"{p}{n}D": n for n in (1, 2, 3) for p in prefixes}


_POOL_RANK = _by_rank("MaxPooling", "AveragePooling", "MaxPool", "AvgPool")


@layer(*_POOL_RANK, propagates_mask=False)
def pool(c: LayerCall) -> list[KTensor]:
    n = _POOL_RANK[c.class_name]
    is_max = c.class_name.startswith("Max")
    x = c.x
    if x.rank != n + 2:
        raise LayerConfigError(f"{c.class_name} needs a rank-{n + 2} input, got shape {x.shape}")
    k = ints(c.cfg("pool_size", 2), n, "pool_size")
    strides = c.cfg("strides")
    s = k if strides is None else ints(strides, n, "strides")
    padding = padding_mode(c, ("valid", "same"))
    f = c.f
    cf = channels_first(c)
    if cf:
        x = to_last(f, x)
    if n == 1:
        x = f.expand_dims(x, 1)
        k, s = (1,) + k, (1,) + s
    spatial = tuple(conv_out(x.shape[i + 1], k[i], s[i], 1, padding) for i in range(len(k)))
    shape = (x.shape[0],) + spatial + (x.shape[-1],)
    op = ("MaxPool" if is_max else "AvgPool") + ("3D" if n == 3 else "")
    y = c.b.op(op, [x], {"T": F32, "ksize": [1, *k, 1], "strides": [1, *s, 1], "padding": padding.upper(),
                         "data_format": "NDHWC" if n == 3 else "NHWC"}, name=c.n(op), shape=shape)
    if n == 1:
        y = f.squeeze(y, [1])
    return [to_first(f, y) if cf else y]


_GLOBAL_RANK = _by_rank("GlobalMaxPooling", "GlobalAveragePooling", "GlobalMaxPool", "GlobalAvgPool")


@layer(*_GLOBAL_RANK, propagates_mask=False)
def global_pool(c: LayerCall) -> list[KTensor]:
    n = _GLOBAL_RANK[c.class_name]
    is_max = c.class_name.startswith("GlobalMax")
    x = c.x
    if x.rank != n + 2:
        raise LayerConfigError(f"{c.class_name} needs a rank-{n + 2} input, got shape {x.shape}")
    cf = channels_first(c)
    keep = bool(c.cfg("keepdims", False))
    axes = list(range(2, n + 2)) if cf else list(range(1, n + 1))
    f = c.f
    if is_max:
        return [f.reduce("Max", x, axes, keep)]
    mask = c.kwargs.get("mask")              # Keras 3 records the mask as a call argument
    if not isinstance(mask, KTensor):
        mask = x.mask
    if n == 1 and mask is not None:
        return [_masked_mean(c, x, mask, axes[0], cf, keep)]
    return [f.mean(x, axes, keep)]


def _masked_mean(c: LayerCall, x: KTensor, mask: KTensor, axis: int, cf: bool, keep: bool) -> KTensor:
    """sum(x over unmasked steps) / (number of unmasked steps): Keras 2 multiplies by the float mask,
    Keras 3 selects (so an inf / NaN in a masked step does not leak); both are emitted as each does."""
    f = c.f
    m = f.expand_dims(mask if mask.dtype == "bool" else f.compare("NotEqual", f.cast(mask, "float32"), 0.0),
                      1 if cf else 2)
    fm = f.cast(m, "float32")
    if c.keras3:
        masked = f.select(m, x, f.scalar(0.0))
    else:
        masked = f.mul(x, fm)
    return f.div(f.sum(masked, [axis], keep), f.sum(fm, [axis], keep))
