"""Convolution layers (Conv1D/2D/3D, transposed, separable, depthwise)."""
from __future__ import annotations

from .builder import KTensor
from .ops import F32
from .registry import LayerCall, LayerConfigError, layer


def conv_out(size: int | None, k: int, s: int, d: int, padding: str) -> int | None:
    if size is None:
        return None
    eff = (k - 1) * d + 1
    if padding == "same":
        return -(-size // s)
    return max(0, (size - eff) // s + 1)


@layer("Conv2D")
def conv2d(c: LayerCall) -> list[KTensor]:
    x = c.x
    if c.cfg("data_format", "channels_last") != "channels_last":
        raise LayerConfigError("data_format channels_first is not supported")
    padding = str(c.cfg("padding", "valid")).lower()
    if padding not in ("same", "valid"):
        raise LayerConfigError(f"padding {padding!r} is not supported by Conv2D")
    if int(c.cfg("groups", 1)) != 1:
        raise LayerConfigError("groups > 1 is not supported yet")
    k = [int(v) for v in c.cfg("kernel_size")]
    s = [int(v) for v in c.cfg("strides", [1, 1])]
    d = [int(v) for v in c.cfg("dilation_rate", [1, 1])]
    kernel = c.weight("kernel")
    filters = kernel.shape[-1]
    shape = (x.shape[0], conv_out(x.shape[1], k[0], s[0], d[0], padding),
             conv_out(x.shape[2], k[1], s[1], d[1], padding), filters)
    y = c.b.op("Conv2D", [x, kernel], {"T": F32, "strides": [1, s[0], s[1], 1], "padding": padding.upper(),
                                       "dilations": [1, d[0], d[1], 1], "data_format": "NHWC"},
               name=c.n("Conv2D"), shape=shape)
    if c.cfg("use_bias", True):
        y = c.f.bias_add(y, c.weight("bias"))
    return [c.activation(y)]
