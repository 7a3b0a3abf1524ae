"""Keras layer class -> lowering, defined once per class.

A lowering is `fn(call: LayerCall) -> list[KTensor]`: it reads the layer's config and weights through
`call`, emits TF ops through `call.b` and returns the layer's outputs with their Keras shapes.  Config
values it cannot honour are reported with `call.unsupported(...)` (collected for every layer of the model,
so the load error lists them all at once) instead of being ignored.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .builder import GraphBuilder, KTensor
from .ops import Ops


class LayerConfigError(Exception):
    """A config value a lowering does not support; the loader collects these per layer."""


class NeedsKnownShape(LayerConfigError):
    """The lowering needs a dim that is unknown (None) until run time (a recurrent layer's sequence
    length, a 3-D transposed convolution's size): the model is then lowered again for each input shape
    it is run at (LayersModel specializes), instead of being refused."""


@dataclass
class LayerCall:
    """What a lowering sees of one call of one layer."""

    class_name: str
    name: str                      # the layer's name
    config: dict[str, Any]
    inputs: list[KTensor]          # positional tensor inputs, flattened in order
    kwargs: dict[str, Any]         # call keyword arguments; tensors already resolved to KTensor
    b: GraphBuilder
    weights: "WeightLookup"
    scope: str                     # node-name prefix for the ops this call emits
    args: list[Any] = field(default_factory=list)   # raw positional args (nested lists kept)
    keras3: bool = False           # the model was written by Keras 3 (a few definitions differ)
    inner: Any = None              # lowers a layer nested in this one's config (wrappers, RNN cells)

    @property
    def f(self) -> Ops:
        """Op helpers scoped to this call."""
        return Ops(self.b, self.scope)

    def activation(self, x: KTensor, spec: Any = None) -> KTensor:
        """x through the layer's `activation` (or `spec`)."""
        from .activations import apply_activation
        return apply_activation(self.f, x, self.config.get("activation") if spec is None else spec, self.keras3)

    def lower_inner(self, layer_cfg: dict[str, Any], inputs: list[KTensor], weight_prefix: str, scope: str,
                    kwargs: dict[str, Any] | None = None) -> list[KTensor]:
        """Lower `layer_cfg` ({'class_name', 'config'}) on `inputs`, its weights being this layer's
        weights under `weight_prefix` ('forward_lstm/'; '' for all of them)."""
        return self.inner(self, layer_cfg, inputs, weight_prefix, scope, kwargs)

    def cfg(self, key: str, default: Any = None) -> Any:
        return self.config.get(key, default)

    def unsupported(self, what: str) -> LayerConfigError:
        return LayerConfigError(what)

    def weight(self, short: str, shape: tuple[int | None, ...] | None = None) -> KTensor:
        """The layer's weight `short` ('kernel', 'bias', 'moving_mean', ...) as a constant node;
        `shape` (None = any size there) is what the layer's config implies, checked."""
        value = self.weight_value(short, shape)
        return self.b.const(value, name=f"{self.scope}/{short}")

    def weight_value(self, short: str, shape: tuple[int | None, ...] | None = None) -> np.ndarray:
        value = self.weights.get(short)
        if shape is not None and (len(shape) != value.ndim
                                  or any(w is not None and w != d for w, d in zip(shape, value.shape))):
            want = "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"
            raise LayerConfigError(f"weight {short!r} has shape {tuple(value.shape)} in the manifest; the layer's "
                                   f"config and input need {want}")
        return value

    def has_weight(self, short: str) -> bool:
        return self.weights.has(short)

    def n(self, suffix: str) -> str:
        """A node name under this call's scope."""
        return f"{self.scope}/{suffix}"

    @property
    def x(self) -> KTensor:
        if not self.inputs:
            raise LayerConfigError("the layer is called without a tensor input")
        return self.inputs[0]


class WeightLookup:
    """The manifest weights that belong to one layer, by their short name (the part after the layer's
    name: 'kernel', 'forward_lstm/lstm_cell/kernel', ...)."""

    def __init__(self, layer: str, weights: dict[str, np.ndarray]) -> None:
        self.layer = layer
        self.by_short = weights
        self.used: set[str] = set()

    def has(self, short: str) -> bool:
        return self._find(short) is not None

    def _find(self, short: str) -> str | None:
        if short in self.by_short:
            return short
        # nested cells name their weights with extra scopes ('lstm_cell/kernel'); match on the suffix
        hits = [k for k in self.by_short if k.endswith("/" + short)]
        return hits[0] if len(hits) == 1 else None

    def get(self, short: str) -> np.ndarray:
        key = self._find(short)
        if key is None:
            have = ", ".join(sorted(self.by_short)) or "none"
            raise LayerConfigError(f"weight {short!r} of layer {self.layer!r} is not in the weights manifest "
                                   f"(the manifest has for this layer: {have})")
        self.used.add(key)
        return self.by_short[key]

    def matching(self, prefix: str) -> dict[str, np.ndarray]:
        """Weights whose short name starts with `prefix` (a wrapped layer's, e.g. 'forward_lstm/')."""
        return {k[len(prefix):]: v for k, v in self.by_short.items() if k.startswith(prefix)}


Lowering = Callable[[LayerCall], list[KTensor]]


@dataclass(frozen=True)
class LayerSpec:
    lower: Lowering
    # weight short names that Keras counts as non-trainable (batch-norm statistics, ...)
    non_trainable: tuple[str, ...] = ()
    # the input's Keras mask passes to outputs that keep its batch and time dims
    propagates_mask: bool = True


LAYERS: dict[str, LayerSpec] = {}


def layer(*class_names: str, non_trainable: tuple[str, ...] = (),
          propagates_mask: bool = True) -> Callable[[Lowering], Lowering]:
    def deco(fn: Lowering) -> Lowering:
        for c in class_names:
            LAYERS[c] = LayerSpec(fn, non_trainable, propagates_mask)
        return fn
    return deco
