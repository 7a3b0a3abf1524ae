"""Convolution layers: Conv1D/2D/3D, Conv1D/2D/3DTranspose, SeparableConv1D/2D, DepthwiseConv1D/2D.

Each emits the TF ops TensorFlow itself runs for the layer (Conv2D / DepthwiseConv2dNative / Conv3D /
Conv2DBackpropInput, then BiasAdd and the activation), so the load-time folding fuses bias and
activation into the convolution exactly as for a converted graph model.  Layout changes of the
weights (1-D kernels as 1xK 2-D ones, grouped kernels as block-diagonal ones, flipped transposed
kernels) are done once on the host at load, never as graph ops.

1-D layers run as 2-D ones on [batch, 1, width, channels] (as TF does): the bias and activation are
applied before the Squeeze so they still fuse into the convolution.  channels_first layers are
transposed to channels_last around the op (the executor's convolutions are NHWC / NDHWC only).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .builder import KTensor
from .ops import F32, Ops
from .registry import NeedsKnownShape, LayerCall, LayerConfigError, layer


# -- config helpers (shared with lower_pool / lower_spatial) --------------------------------------
def ints(value: Any, n: int, what: str) -> tuple[int, ...]:
    """An int or an n-sequence of ints (Keras accepts both in the constructor; configs hold tuples)."""
    if isinstance(value, bool):
        raise LayerConfigError(f"{what} must be an int or {n} ints, got {value!r}")
    if isinstance(value, int):
        return (value,) * n
    if isinstance(value, (list, tuple)) and len(value) == n and all(isinstance(v, int) for v in value):
        return tuple(int(v) for v in value)
    if isinstance(value, (list, tuple)) and len(value) == 1 and n > 1 and isinstance(value[0], int):
        return (int(value[0]),) * n
    raise LayerConfigError(f"{what} must be an int or {n} ints, got {value!r}")


def channels_first(c: LayerCall) -> bool:
    fmt = c.cfg("data_format") or "channels_last"
    if fmt not in ("channels_last", "channels_first"):
        raise LayerConfigError(f"data_format {fmt!r} is not channels_last or channels_first")
    return fmt == "channels_first"


def to_last(f: Ops, x: KTensor) -> KTensor:
    """[N, C, d1, ...] -> [N, d1, ..., C]."""
    return f.transpose(x, [0] + list(range(2, x.rank)) + [1])


def to_first(f: Ops, x: KTensor) -> KTensor:
    """[N, d1, ..., C] -> [N, C, d1, ...]."""
    return f.transpose(x, [0, x.rank - 1] + list(range(1, x.rank - 1)))


def padding_mode(c: LayerCall, allowed: tuple[str, ...]) -> str:
    p = str(c.cfg("padding", "valid")).lower()
    if p not in allowed:
        raise LayerConfigError(f"padding {p!r} is not one of {', '.join(allowed)}")
    return p


def conv_out(size: int | None, k: int, s: int, d: int, padding: str) -> int | None:
    """Output length of a forward convolution / pooling window, as TF computes it."""
    if size is None:
        return None
    eff = (k - 1) * d + 1
    if padding in ("same", "causal"):
        return -(-size // s)
    return max(0, (size - eff) // s + 1)


def deconv_out(size: int | None, k: int, s: int, d: int, padding: str, output_padding: int | None) -> int | None:
    """Output length of a transposed convolution (Keras' rule; Keras 2 and 3 agree)."""
    if size is None:
        return None
    eff = (k - 1) * d + 1
    if padding == "valid":
        return (size - 1) * s + (max(eff, s) if output_padding is None else eff + output_padding)
    return size * s if output_padding is None else (size - 1) * s + eff % 2 + output_padding


def _check_common(c: LayerCall) -> None:
    if c.cfg("lora_rank"):
        raise LayerConfigError("convolutions with LoRA weights (lora_rank) are not supported")


def _bias_act(c: LayerCall, y: KTensor) -> KTensor:
    if c.cfg("use_bias", True):
        y = c.f.bias_add(y, c.weight("bias"))
    return c.activation(y)


def _const(c: LayerCall, value: np.ndarray, name: str) -> KTensor:
    return c.b.const(np.ascontiguousarray(value, np.float32), name=c.n(name))


def _conv_attrs(s: tuple[int, ...], d: tuple[int, ...], padding: str) -> dict[str, Any]:
    fmt = "NHWC" if len(s) == 2 else "NDHWC"
    return {"T": F32, "strides": [1, *s, 1], "padding": padding.upper(), "dilations": [1, *d, 1],
            "data_format": fmt}


def block_diagonal(kernel: np.ndarray, groups: int) -> np.ndarray:
    """A grouped kernel [..., cin / groups, filters] as the equivalent dense one [..., cin, filters]
    (zeros between groups): one ordinary convolution, which the folding can fuse."""
    cg, filters = kernel.shape[-2], kernel.shape[-1]
    fg = filters // groups
    out = np.zeros(kernel.shape[:-2] + (cg * groups, filters), np.float32)
    for g in range(groups):
        out[..., g * cg:(g + 1) * cg, g * fg:(g + 1) * fg] = kernel[..., :, g * fg:(g + 1) * fg]
    return out


def _conv2d(c: LayerCall, x: KTensor, kernel: np.ndarray, groups: int, s: tuple[int, int], d: tuple[int, int],
            padding: str) -> KTensor:
    """Conv2D of NHWC x with a [kh, kw, cin / groups, filters] kernel.  groups == cin is a depthwise
    convolution (DepthwiseConv2dNative, channel c * m + j, the grouped order too); other groups use a
    block-diagonal Conv2D filter."""
    cin = kernel.shape[2] * groups
    filters = kernel.shape[3]
    if x.shape[-1] is not None and x.shape[-1] != cin:
        raise LayerConfigError(f"the input has {x.shape[-1]} channels, the kernel expects {cin}")
    shape = (x.shape[0], conv_out(x.shape[1], kernel.shape[0], s[0], d[0], padding),
             conv_out(x.shape[2], kernel.shape[1], s[1], d[1], padding), filters)
    attrs = _conv_attrs(s, d, padding)
    if groups > 1 and groups == cin and kernel.shape[2] == 1:
        w = _const(c, kernel[:, :, 0, :].reshape(kernel.shape[0], kernel.shape[1], cin, filters // cin), "kernel")
        return c.b.op("DepthwiseConv2dNative", [x, w], attrs, name=c.n("depthwise"), shape=shape)
    if groups > 1:
        kernel = block_diagonal(kernel, groups)
    return c.b.op("Conv2D", [x, _const(c, kernel, "kernel")], attrs, name=c.n("Conv2D"), shape=shape)


def _groups(c: LayerCall, filters: int) -> int:
    g = int(c.cfg("groups", 1) or 1)
    if g < 1 or filters % g:
        raise LayerConfigError(f"groups={g} does not divide filters={filters}")
    return g


def _causal_pad(f: Ops, x4: KTensor, k: int, d: int) -> KTensor:
    """Causal 1-D padding on [N, 1, W, C]: (k - 1) * d zeros before the sequence (the folding
    turns the Pad into the convolution's explicit padding)."""
    left = (k - 1) * d
    return f.pad(x4, [(0, 0), (0, 0), (left, 0), (0, 0)]) if left else x4


@layer("Conv1D", "Conv2D", "Conv3D", propagates_mask=False)
def conv(c: LayerCall) -> list[KTensor]:
    _check_common(c)
    n = {"Conv1D": 1, "Conv2D": 2, "Conv3D": 3}[c.class_name]
    x = c.x
    if x.rank != n + 2:
        raise LayerConfigError(f"{c.class_name} needs a rank-{n + 2} input, got shape {x.shape}")
    padding = padding_mode(c, ("valid", "same", "causal") if n == 1 else ("valid", "same"))
    k = ints(c.cfg("kernel_size"), n, "kernel_size")
    s = ints(c.cfg("strides", 1), n, "strides")
    d = ints(c.cfg("dilation_rate", 1), n, "dilation_rate")
    kernel = c.weight_value("kernel")
    groups = _groups(c, kernel.shape[-1])
    f = c.f
    cf = channels_first(c)
    if cf:
        x = to_last(f, x)
    if n == 1:
        x4 = f.expand_dims(x, 1)
        if padding == "causal":
            x4 = _causal_pad(f, x4, k[0], d[0])
            padding = "valid"
        y = _conv2d(c, x4, kernel[None], groups, (1, s[0]), (1, d[0]), padding)
        y = f.squeeze(_bias_act(c, y), [1])
    elif n == 2:
        y = _bias_act(c, _conv2d(c, x, kernel, groups, (s[0], s[1]), (d[0], d[1]), padding))
    else:
        cin = kernel.shape[3] * groups
        if x.shape[-1] is not None and x.shape[-1] != cin:
            raise LayerConfigError(f"the input has {x.shape[-1]} channels, the kernel expects {cin}")
        w = _const(c, block_diagonal(kernel, groups) if groups > 1 else kernel, "kernel")
        shape = (x.shape[0],) + tuple(conv_out(x.shape[i + 1], k[i], s[i], d[i], padding) for i in range(3)) \
            + (kernel.shape[-1],)
        y = c.b.op("Conv3D", [x, w], _conv_attrs(s, d, padding), name=c.n("Conv3D"), shape=shape)
        y = _bias_act(c, y)
    return [to_first(f, y) if cf else y]


# -- transposed convolutions ----------------------------------------------------------------------
def _output_padding(c: LayerCall, n: int, s: tuple[int, ...], d: tuple[int, ...]) -> tuple[int | None, ...]:
    op = c.cfg("output_padding")
    if op is None:
        return (None,) * n
    vals = ints(op, n, "output_padding")
    for v, st, dl in zip(vals, s, d):
        if v < 0 or (v >= st and v >= dl):
            raise LayerConfigError(f"output_padding {vals} must be smaller than the strides {s} or dilations {d}")
    return vals


def scaled_dims(f: Ops, x: KTensor, axes: list[int], mul: list[int], add: list[int]) -> KTensor:
    """int32 [len(axes)]: x.shape[a] * mul + add per axis, static when the dims are known, else from
    x's Shape (a host-side computation; the executor never runs it on the GPU)."""
    dims = [x.shape[a] for a in axes]
    if all(d is not None for d in dims):
        return f.const(np.asarray([d * m + b for d, m, b in zip(dims, mul, add)], np.int32), "sizes", "int32")
    part = f.strided_slice(f.shape_of(x), [axes[0]], [axes[-1] + 1], [1])
    if any(m != 1 for m in mul):
        part = f.mul(part, f.const(np.asarray(mul, np.int32), "mul", "int32"))
    if any(add):
        part = f.add(part, f.const(np.asarray(add, np.int32), "add", "int32"))
    return part


def _deconv_offset(k: int, s: int, d: int, padding: str, output_padding: int | None) -> int:
    """b in deconv_out(size) = size * s + b (the rule is affine in size)."""
    return deconv_out(1, k, s, d, padding, output_padding) - s  # type: ignore[operator]


@layer("Conv1DTranspose", "Conv2DTranspose", propagates_mask=False)
def conv_transpose(c: LayerCall) -> list[KTensor]:
    """Conv2DBackpropInput with the forward convolution's input size from Keras' output-length rule
    (output_padding included); 1-D runs as 2-D on [N, 1, W, C]."""
    _check_common(c)
    n = 1 if c.class_name == "Conv1DTranspose" else 2
    x = c.x
    if x.rank != n + 2:
        raise LayerConfigError(f"{c.class_name} needs a rank-{n + 2} input, got shape {x.shape}")
    padding = padding_mode(c, ("valid", "same"))
    k = ints(c.cfg("kernel_size"), n, "kernel_size")
    s = ints(c.cfg("strides", 1), n, "strides")
    d = ints(c.cfg("dilation_rate", 1), n, "dilation_rate")
    opad = _output_padding(c, n, s, d)
    if int(c.cfg("groups", 1) or 1) != 1:
        raise LayerConfigError("groups > 1 is not supported for transposed convolutions")
    kernel = c.weight_value("kernel")          # [k..., filters, in_channels]
    filters = kernel.shape[-2]
    f = c.f
    cf = channels_first(c)
    if cf:
        x = to_last(f, x)
    if n == 1:
        x = f.expand_dims(x, 1)
        kernel, k, s, d, opad = kernel[None], (1,) + k, (1,) + s, (1,) + d, (None,) + opad
    spatial = [1 if (n == 1 and i == 0) else deconv_out(x.shape[i + 1], k[i], s[i], d[i], padding, opad[i])
               for i in range(2)]
    out = (x.shape[0], spatial[0], spatial[1], filters)
    # input_sizes [N, H, W, filters]: the batch (and unknown spatial dims) from x's Shape, on the host
    if all(v is not None for v in out):
        sizes = c.b.ints(list(out), name=c.n("input_sizes"))
    else:
        hw = scaled_dims(f, x, [1, 2], [1 if (n == 1 and i == 0) else s[i] for i in range(2)],
                         [0 if (n == 1 and i == 0) else _deconv_offset(k[i], s[i], d[i], padding, opad[i])
                          for i in range(2)])
        sizes = f.concat([f.dim(x, 0), hw, f.const(np.asarray([filters], np.int32), "filters", "int32")], 0)
    attrs = _conv_attrs((s[0], s[1]), (d[0], d[1]), padding)
    y = c.b.op("Conv2DBackpropInput", [sizes, _const(c, kernel, "kernel"), x], attrs, name=c.n("conv_transpose"),
               shape=out)
    y = _bias_act(c, y)
    if n == 1:
        y = f.squeeze(y, [1])
    return [to_first(f, y) if cf else y]


def _zero_insert(f: Ops, x: KTensor, axis: int, s: int) -> KTensor:
    """s - 1 zeros between the elements of `axis` (the 'input dilation' of a transposed
    convolution): [A, n, 1, B] padded to [A, n, s, B], flattened to n * s and the trailing zeros
    sliced off.  Every dim but the batch must be known."""
    if s == 1:
        return x
    dims = list(x.shape)
    n = dims[axis]
    inner = int(np.prod(dims[axis + 1:]))
    y = f.reshape(x, (None, n, 1, inner))
    y = f.pad(y, [(0, 0), (0, 0), (0, s - 1), (0, 0)])
    y = f.reshape(y, (None, n * s, inner))
    y = f.slice_axis(y, 1, 0, (n - 1) * s + 1)
    dims[axis] = (n - 1) * s + 1
    return f.reshape(y, tuple(dims))


@layer("Conv3DTranspose", propagates_mask=False)
def conv3d_transpose(c: LayerCall) -> list[KTensor]:
    """The executor has no Conv3DBackpropInputV2, so the transposed convolution is written as what it
    is: the input with s - 1 zeros inserted between elements, padded by (k_eff - 1 - P) before and
    whatever reaches the output size after (P = the forward convolution's leading padding), then a
    stride-1 VALID Conv3D with the spatially flipped kernel, in/out channels swapped."""
    _check_common(c)
    x = c.x
    if x.rank != 5:
        raise LayerConfigError(f"Conv3DTranspose needs a rank-5 input, got shape {x.shape}")
    padding = padding_mode(c, ("valid", "same"))
    k = ints(c.cfg("kernel_size"), 3, "kernel_size")
    s = ints(c.cfg("strides", 1), 3, "strides")
    d = ints(c.cfg("dilation_rate", 1), 3, "dilation_rate")
    opad = _output_padding(c, 3, s, d)
    kernel = c.weight_value("kernel")          # [kd, kh, kw, filters, in_channels]
    f = c.f
    cf = channels_first(c)
    if cf:
        x = to_last(f, x)
    if any(v is None for v in x.shape[1:]):
        raise NeedsKnownShape("Conv3DTranspose needs known spatial and channel input dims")
    pads: list[tuple[int, int]] = [(0, 0)]
    out_sizes = []
    y = x
    for i in range(3):
        size = x.shape[i + 1]
        length = deconv_out(size, k[i], s[i], d[i], padding, opad[i])
        eff = (k[i] - 1) * d[i] + 1
        lead = max((size - 1) * s[i] + eff - length, 0) // 2 if padding == "same" else 0
        pads.append((eff - 1 - lead, length + lead - (size - 1) * s[i] - 1))
        out_sizes.append(length)
        y = _zero_insert(f, y, i + 1, s[i])
    pads.append((0, 0))
    if any(hi < 0 for _, hi in pads):      # the output ends before the last inserted element reaches
        for i, (lo, hi) in enumerate(pads):
            if hi < 0:
                y = f.slice_axis(y, i, 0, y.shape[i] + hi)
                pads[i] = (lo, 0)
    if any(lo or hi for lo, hi in pads):
        y = f.pad(y, pads)
    w = np.ascontiguousarray(kernel[::-1, ::-1, ::-1].transpose(0, 1, 2, 4, 3))
    shape = (x.shape[0], *out_sizes, kernel.shape[3])
    y = c.b.op("Conv3D", [y, _const(c, w, "kernel")], _conv_attrs((1, 1, 1), d, "valid"), name=c.n("Conv3D"),
               shape=shape)
    y = _bias_act(c, y)
    return [to_first(f, y) if cf else y]


# -- depthwise and separable ----------------------------------------------------------------------
def _depthwise(c: LayerCall, x4: KTensor, kernel: np.ndarray, s: tuple[int, int], d: tuple[int, int],
               padding: str) -> KTensor:
    cin, m = kernel.shape[2], kernel.shape[3]
    if x4.shape[-1] is not None and x4.shape[-1] != cin:
        raise LayerConfigError(f"the input has {x4.shape[-1]} channels, the depthwise kernel expects {cin}")
    shape = (x4.shape[0], conv_out(x4.shape[1], kernel.shape[0], s[0], d[0], padding),
             conv_out(x4.shape[2], kernel.shape[1], s[1], d[1], padding), cin * m)
    return c.b.op("DepthwiseConv2dNative", [x4, _const(c, kernel, "depthwise_kernel")], _conv_attrs(s, d, padding),
                  name=c.n("depthwise"), shape=shape)


def _spatial_setup(c: LayerCall, n: int) -> tuple[KTensor, bool, str, tuple[int, ...], tuple[int, ...]]:
    x = c.x
    if x.rank != n + 2:
        raise LayerConfigError(f"{c.class_name} needs a rank-{n + 2} input, got shape {x.shape}")
    padding = padding_mode(c, ("valid", "same", "causal") if n == 1 else ("valid", "same"))
    s = ints(c.cfg("strides", 1), n, "strides")
    d = ints(c.cfg("dilation_rate", 1), n, "dilation_rate")
    cf = channels_first(c)
    if cf:
        x = to_last(c.f, x)
    return x, cf, padding, s, d


@layer("DepthwiseConv1D", "DepthwiseConv2D", propagates_mask=False)
def depthwise(c: LayerCall) -> list[KTensor]:
    """DepthwiseConv2dNative (depth_multiplier = the kernel's last dim; output channel c * m + j)."""
    _check_common(c)
    n = 1 if c.class_name == "DepthwiseConv1D" else 2
    x, cf, padding, s, d = _spatial_setup(c, n)
    # Keras 2 names it depthwise_kernel, Keras 3 kernel
    kernel = c.weight_value("depthwise_kernel" if c.has_weight("depthwise_kernel") else "kernel")
    f = c.f
    if n == 1:
        x4 = f.expand_dims(x, 1)
        if padding == "causal":
            x4 = _causal_pad(f, x4, kernel.shape[0], d[0])
            padding = "valid"
        y = f.squeeze(_bias_act(c, _depthwise(c, x4, kernel[None], (1, s[0]), (1, d[0]), padding)), [1])
    else:
        y = _bias_act(c, _depthwise(c, x, kernel, (s[0], s[1]), (d[0], d[1]), padding))
    return [to_first(f, y) if cf else y]


@layer("SeparableConv1D", "SeparableConv2D", propagates_mask=False)
def separable(c: LayerCall) -> list[KTensor]:
    """Depthwise (strides, dilation, padding) then a 1x1 VALID Conv2D, then bias and activation: what
    tf.nn.separable_conv2d runs."""
    _check_common(c)
    n = 1 if c.class_name == "SeparableConv1D" else 2
    x, cf, padding, s, d = _spatial_setup(c, n)
    dk = c.weight_value("depthwise_kernel")
    pk = c.weight_value("pointwise_kernel")
    f = c.f
    if n == 1:
        x4 = f.expand_dims(x, 1)
        if padding == "causal":
            x4 = _causal_pad(f, x4, dk.shape[0], d[0])
            padding = "valid"
        dk, pk, s2, d2 = dk[None], pk[None], (1, s[0]), (1, d[0])
    else:
        x4, s2, d2 = x, (s[0], s[1]), (d[0], d[1])
    y = _depthwise(c, x4, dk, s2, d2, padding)
    w = _const(c, pk, "pointwise_kernel")
    y = c.b.op("Conv2D", [y, w], _conv_attrs((1, 1), (1, 1), "valid"), name=c.n("pointwise"),
               shape=y.shape[:3] + (pk.shape[-1],))
    y = _bias_act(c, y)
    if n == 1:
        y = f.squeeze(y, [1])
    return [to_first(f, y) if cf else y]


__all__ = ["ints", "channels_first", "to_last", "to_first", "padding_mode", "conv_out", "deconv_out", "scaled_dims",
           "block_diagonal"]
