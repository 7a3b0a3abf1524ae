"""Keras' named activations as TF ops, for the Activation layer and every layer with an `activation`.

Keras 2 and Keras 3 disagree on a few definitions (hard_sigmoid is clip(0.2x + 0.5) in Keras 2 and
relu6(x + 3) / 6 in Keras 3); the model's keras_version picks one, as each Keras would compute it.
"""
from __future__ import annotations

import math
from typing import Any

from .builder import KTensor
from .ops import Ops
from .registry import LayerConfigError


def activation_name(spec: Any) -> str:
    """'relu', or Keras 3's serialized function {'class_name': 'function', 'config': 'relu', ...}."""
    if spec is None:
        return "linear"
    if isinstance(spec, str):
        return spec.rsplit(".", 1)[-1]
    if isinstance(spec, dict):
        cfg = spec.get("config")
        if isinstance(cfg, str):
            return cfg
        if isinstance(cfg, dict) and isinstance(cfg.get("name"), str):
            return cfg["name"]
        name = spec.get("class_name")
        if isinstance(name, str) and name != "function":
            return name
    raise LayerConfigError(f"activation {spec!r} is not a named Keras activation")


def _hard_sigmoid(f: Ops, x: KTensor, keras3: bool) -> KTensor:
    if keras3:
        return f.div(f.unary("Relu6", f.add(x, 3.0)), 6.0)
    return f.clip(f.add(f.mul(x, 0.2), 0.5), 0.0, 1.0)


def apply_activation(f: Ops, x: KTensor, spec: Any, keras3: bool) -> KTensor:
    """x through the named activation; 'linear' returns x itself (no node)."""
    name = activation_name(spec).lower()
    if name in ("linear", "none"):
        return x
    simple = {"relu": "Relu", "relu6": "Relu6", "elu": "Elu", "selu": "Selu", "sigmoid": "Sigmoid",
              "tanh": "Tanh", "softplus": "Softplus", "exponential": "Exp"}
    if name in simple:
        return f.unary(simple[name], x)
    if name == "softmax":
        return f.softmax(x, -1)
    if name == "log_softmax":
        return f.softmax(x, -1, log=True)
    if name in ("swish", "silu"):
        return f.mul(x, f.unary("Sigmoid", x))
    if name == "gelu":
        return gelu(f, x, approximate=False)
    if name == "softsign":
        return f.div(x, f.add(f.unary("Abs", x), 1.0))
    if name == "hard_sigmoid":
        return _hard_sigmoid(f, x, keras3)
    if name in ("hard_silu", "hard_swish"):
        return f.mul(x, _hard_sigmoid(f, x, True))
    if name == "mish":
        return f.mul(x, f.unary("Tanh", f.unary("Softplus", x)))
    if name == "leaky_relu":
        return f.unary("LeakyRelu", x, {"alpha": 0.2})
    if name == "relu6":
        return f.unary("Relu6", x)
    if name == "celu":
        # max(0, x) + min(0, alpha * (exp(x / alpha) - 1)), alpha = 1
        return f.add(f.unary("Relu", x), f.minimum(f.unary("Expm1", x), 0.0))
    if name == "log_sigmoid":
        return f.unary("Neg", f.unary("Softplus", f.unary("Neg", x)))
    if name == "hard_tanh":
        return f.clip(x, -1.0, 1.0)
    if name == "tanh_shrink":
        return f.sub(x, f.unary("Tanh", x))
    if name == "squareplus":
        # (x + sqrt(x^2 + b)) / 2, b = 4
        return f.mul(f.add(x, f.unary("Sqrt", f.add(f.unary("Square", x), 4.0))), 0.5)
    if name == "sparse_plus":
        # 0 for x <= -1, (x + 1)^2 / 4 for |x| < 1, x for x >= 1
        mid = f.mul(f.unary("Square", f.add(x, 1.0)), 0.25)
        low = f.compare("LessEqual", x, -1.0)
        high = f.compare("GreaterEqual", x, 1.0)
        return f.select(high, x, f.select(low, f.mul(x, 0.0), mid))
    if name == "soft_shrink":
        # x - 0.5 for x > 0.5, x + 0.5 for x < -0.5, else 0
        return f.select(f.compare("Greater", x, 0.5), f.sub(x, 0.5),
                        f.select(f.compare("Less", x, -0.5), f.add(x, 0.5), f.mul(x, 0.0)))
    if name == "hard_shrink":
        return f.select(f.compare("Greater", f.unary("Abs", x), 0.5), x, f.mul(x, 0.0))
    if name == "sparse_sigmoid":
        return f.clip(f.add(f.mul(x, 0.5), 0.5), 0.0, 1.0)
    if name == "glu":
        if x.shape[-1] is None or x.shape[-1] % 2:
            raise LayerConfigError("glu needs an even, known last dimension")
        a, b = f.split(x, -1, 2)
        return f.mul(a, f.unary("Sigmoid", b))
    if name == "sparsemax":
        return sparsemax(f, x)
    raise LayerConfigError(f"activation {name!r} is not supported")


def sparsemax(f: Ops, x: KTensor) -> KTensor:
    """Sparsemax over the last axis: z sorted descending, k = the largest k with 1 + k z_k > sum of the
    first k, tau = (sum of the first k - 1) / k, output max(x - tau, 0)."""
    import numpy as np
    n = x.shape[-1]
    if n is None:
        raise LayerConfigError("sparsemax needs a known last dimension")
    z = f.b.op_n("TopKV2", [x, f.const(np.asarray(n, np.int32), "k", "int32")], {"T": f._t("float32"), "sorted": True},
                 name=f._n("TopK"), shapes=[x.shape, x.shape], dtypes=["float32", "int32"])[0]
    csum = f.b.op("Cumsum", [z, f.const(np.asarray(x.rank - 1, np.int32), "axis", "int32")],
                  {"T": f._t("float32"), "Tidx": f._t("int32"), "exclusive": False, "reverse": False},
                  name=f._n("Cumsum"), shape=x.shape)
    ks = f.const(np.arange(1, n + 1, dtype=np.float32), "k_range")
    support = f.cast(f.compare("Greater", f.add(f.mul(z, ks), 1.0), csum), "float32")
    k = f.sum(support, [-1], keepdims=True)
    ssum = f.sum(f.mul(z, support), [-1], keepdims=True)
    tau = f.div(f.sub(ssum, 1.0), k)
    return f.maximum(f.sub(x, tau), 0.0)


def gelu(f: Ops, x: KTensor, approximate: bool) -> KTensor:
    if approximate:
        # 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
        inner = f.mul(f.add(x, f.mul(f.mul(f.unary("Square", x), x), 0.044715)), math.sqrt(2.0 / math.pi))
        return f.mul(f.mul(x, 0.5), f.add(f.unary("Tanh", inner), 1.0))
    return f.mul(f.mul(x, 0.5), f.add(f.unary("Erf", f.mul(x, 1.0 / math.sqrt(2.0))), 1.0))
