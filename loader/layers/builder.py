"""Emitting TensorFlow ops for Keras layers: the layers model becomes a GraphDef-shaped node list, so the
executor, the load-time folding, replay and the profiler work on it exactly as on a converted graph model.

A lowering talks to a GraphBuilder: `b.op("MatMul", [x, w], {...}, shape=...)` appends a node and returns
a symbolic tensor (KTensor) that carries the Keras-level static shape (None = unknown, the batch
usually) and dtype.  The shapes are what the lowering says they are: each layer computes its output
shape from its config, as Keras' `compute_output_shape` does, and the summary shows them.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

Shape = tuple[int | None, ...]

_TF_TYPE = {"float32": "DT_FLOAT", "int32": "DT_INT32", "bool": "DT_BOOL"}


@dataclass(frozen=True)
class TFType:
    """An attribute value that is a dtype (T, dtype, DstT, Tidx, ...)."""

    name: str


@dataclass(frozen=True)
class KTensor:
    """A symbolic tensor: the graph tensor it is (`ref`, 'node' or 'node:1'), its Keras shape and dtype,
    and the Keras mask travelling with it (a bool [batch, time] tensor), if any."""

    ref: str
    shape: Shape
    dtype: str = "float32"
    mask: "KTensor | None" = field(default=None, compare=False)

    @property
    def rank(self) -> int:
        return len(self.shape)

    def with_mask(self, mask: "KTensor | None") -> "KTensor":
        return replace(self, mask=mask)

    def static(self) -> bool:
        """Every dim, batch excepted, is known."""
        return all(d is not None for d in self.shape[1:])


def encode_attr(value: Any) -> dict[str, Any]:
    """A Python value -> AttrValue JSON, as the converter writes it."""
    if isinstance(value, TFType):
        return {"type": _TF_TYPE[value.name]}
    if isinstance(value, bool):
        return {"b": value}
    if isinstance(value, int):
        return {"i": str(value)}
    if isinstance(value, float):
        return {"f": value}
    if isinstance(value, str):
        return {"s": base64.b64encode(value.encode()).decode()}
    if isinstance(value, (list, tuple)):
        items = list(value)
        if not items:
            return {"list": {}}
        if all(isinstance(v, bool) for v in items):
            return {"list": {"b": items}}
        if all(isinstance(v, int) for v in items):
            return {"list": {"i": [str(v) for v in items]}}
        if all(isinstance(v, (int, float)) for v in items):
            return {"list": {"f": [float(v) for v in items]}}
        if all(isinstance(v, str) for v in items):
            return {"list": {"s": [base64.b64encode(v.encode()).decode() for v in items]}}
        if all(isinstance(v, TFType) for v in items):
            return {"list": {"type": [_TF_TYPE[v.name] for v in items]}}
    if isinstance(value, dict):   # a shape: {"dim": [...]} or a func: {"func": {...}}
        return value
    raise TypeError(f"cannot encode attribute value {value!r}")


def shape_attr(shape: Shape) -> dict[str, Any]:
    return {"shape": {"dim": [{"size": str(-1 if d is None else d)} for d in shape]}}


class GraphBuilder:
    """Accumulates GraphDef JSON nodes and the constants they read."""

    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.weights: dict[str, np.ndarray] = {}
        self.functions: list[dict[str, Any]] = []
        self._names: set[str] = set()
        self._const_cache: dict[tuple[str, bytes, tuple[int, ...]], KTensor] = {}

    def unique(self, name: str) -> str:
        base, n = name, 1
        while name in self._names:
            name = f"{base}_{n}"
            n += 1
        self._names.add(name)
        return name

    def reserve(self, name: str) -> None:
        self._names.add(name)

    # -- nodes -----------------------------------------------------------------------------------
    def op(self, op: str, inputs: list[KTensor | str], attrs: dict[str, Any] | None = None, *, name: str,
           shape: Shape, dtype: str = "float32", control: list[str] | None = None) -> KTensor:
        """One node with one output."""
        node = self._node(op, inputs, attrs, name, control)
        return KTensor(node, tuple(shape), dtype)

    def op_n(self, op: str, inputs: list[KTensor | str], attrs: dict[str, Any] | None, *, name: str,
             shapes: list[Shape], dtypes: list[str] | None = None) -> list[KTensor]:
        """One node with several outputs (Split, Unpack, ...)."""
        node = self._node(op, inputs, attrs, name, None)
        dts = dtypes or ["float32"] * len(shapes)
        return [KTensor(node if i == 0 else f"{node}:{i}", tuple(s), d) for i, (s, d) in enumerate(zip(shapes, dts))]

    def _node(self, op: str, inputs: list[KTensor | str], attrs: dict[str, Any] | None, name: str,
              control: list[str] | None) -> str:
        node_name = self.unique(name)
        refs = [t.ref if isinstance(t, KTensor) else t for t in inputs]
        refs += [f"^{c}" for c in control or []]
        raw: dict[str, Any] = {"name": node_name, "op": op, "input": refs}
        if attrs:
            raw["attr"] = {k: encode_attr(v) for k, v in attrs.items()}
        self.nodes.append(raw)
        return node_name

    def placeholder(self, name: str, shape: Shape, dtype: str) -> KTensor:
        node = self.unique(name)
        self.nodes.append({"name": node, "op": "Placeholder",
                           "attr": {"dtype": {"type": _TF_TYPE[dtype]}} | {"shape": shape_attr(shape)}})
        return KTensor(node, tuple(shape), dtype)

    def const(self, value: Any, *, name: str, dtype: str | None = None) -> KTensor:
        """A constant node (its value is a weight of the generated graph).  Small equal constants share
        one node."""
        arr = np.asarray(value)
        if dtype is None:
            dtype = "bool" if arr.dtype.kind == "b" else ("int32" if arr.dtype.kind in "iu" else "float32")
        npd = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}[dtype]
        arr = np.ascontiguousarray(arr.astype(npd))
        key = (dtype, arr.tobytes(), arr.shape)
        if arr.size <= 16 and key in self._const_cache:
            return self._const_cache[key]
        node = self.unique(name)
        self.nodes.append({"name": node, "op": "Const", "attr": {"dtype": {"type": _TF_TYPE[dtype]}}})
        self.weights[node] = arr
        t = KTensor(node, tuple(arr.shape), dtype)
        if arr.size <= 16:
            self._const_cache[key] = t
        return t

    def ints(self, values: Any, *, name: str) -> KTensor:
        return self.const(np.asarray(values, np.int32), name=name, dtype="int32")

    def topology(self) -> dict[str, Any]:
        topo: dict[str, Any] = {"node": self.nodes, "versions": {"producer": 1}}
        if self.functions:
            topo["library"] = {"function": self.functions}
        return topo
