"""The graph IR: GraphDef JSON nodes with decoded attributes, and scheduling.

Attribute values are decoded once at load (ints from their string form, base64 strings, dtype enums,
shapes, lists, function references), so op mappings work with plain Python values.
"""
from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass, field
from typing import Any

from gpu_backend.dtypes import TF_DTYPES

from .errors import GraphError, ModelFormatError
from .model_json import parse_shape_proto

TensorRef = tuple[str, int]  # (node name, output index)


@dataclass(frozen=True)
class FuncRef:
    name: str
    attrs: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass
class Node:
    name: str
    op: str
    inputs: list[TensorRef]
    control: list[str]
    attrs: dict[str, Any]
    device: str = ""

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    def attr_str(self, key: str, default: Any = None) -> str:
        """A string attribute as str: the decoder gives bytes where the value is not UTF-8 text."""
        value = self.attrs.get(key, default)
        return value.decode() if isinstance(value, bytes) else str(value)

    def __repr__(self) -> str:
        return f"Node({self.name!r}, op={self.op})"


def _float(v: Any) -> float:
    if isinstance(v, str):  # protobuf JSON writes special floats as strings
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(v, float(v) if v else 0.0)
    return float(v)


def _string(v: str) -> str | bytes:
    raw = base64.b64decode(v)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def _dtype(v: str) -> str:
    return TF_DTYPES.get(v, v.lower().removeprefix("dt_"))


def decode_attr(value: Any, where: str) -> Any:
    """One AttrValue JSON object -> a Python value; a value of the wrong kind is a ModelFormatError."""
    try:
        return _decode_attr(value, where)
    except ModelFormatError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, binascii.Error) as exc:
        raise ModelFormatError(f"model.json: attribute {where} has a value of the wrong kind "
                               f"({_clip(repr(value))}: {exc})") from None


def _clip(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[:n - 3] + "..."


def _decode_attr(value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        raise ModelFormatError(f"model.json: attribute {where} must be an object, got {value!r}")
    if "list" in value:
        lst = value["list"] or {}
        for key, conv in (("i", int), ("f", _float), ("b", bool), ("s", _string), ("type", _dtype)):
            if key in lst:
                return [conv(x) for x in lst[key]]
        if "shape" in lst:
            return [parse_shape_proto(s, where) for s in lst["shape"]]
        if "func" in lst:
            return [FuncRef(f.get("name", ""), f.get("attr", {})) for f in lst["func"]]
        return []
    if "i" in value:
        return int(value["i"])
    if "f" in value:
        return _float(value["f"])
    if "b" in value:
        return bool(value["b"])
    if "s" in value:
        return _string(value["s"])
    if "type" in value:
        return _dtype(value["type"])
    if "shape" in value:
        return parse_shape_proto(value["shape"], where)
    if "func" in value:
        f = value["func"]
        return FuncRef(f.get("name", ""), {k: _decode_attr(v, f"{where}.{k}") for k, v in (f.get("attr") or {}).items()})
    if "tensor" in value:
        return value["tensor"]          # Const values live in the weights; kept raw for inline constants
    if "placeholder" in value:
        return value["placeholder"]
    return None                          # an empty AttrValue (e.g. an unset list)


def parse_input(ref: str) -> tuple[TensorRef | None, str | None]:
    """'x' -> (('x', 0), None); 'x:1' -> (('x', 1), None); '^x' -> (None, 'x')."""
    if ref.startswith("^"):
        return None, ref[1:]
    name, sep, idx = ref.rpartition(":")
    if sep and idx.isdigit():
        return (name, int(idx)), None
    return (ref, 0), None


class Graph:
    def __init__(self, nodes: list[Node], functions: dict[str, Any] | None = None) -> None:
        self.nodes: dict[str, Node] = {}
        for n in nodes:
            if n.name in self.nodes:
                raise GraphError(f"two nodes are named {n.name!r}")
            self.nodes[n.name] = n
        self.functions = functions or {}
        self.consumers: dict[str, list[str]] = {name: [] for name in self.nodes}
        for n in nodes:
            for src, _ in n.inputs:
                if src not in self.nodes:
                    raise GraphError(f"node {n.name!r} ({n.op}) reads {src!r}, which is not a node of the graph")
                self.consumers[src].append(n.name)
            for src in n.control:
                if src not in self.nodes:
                    raise GraphError(f"node {n.name!r} has a control input from missing node {src!r}")

    @classmethod
    def from_topology(cls, topology: dict[str, Any]) -> "Graph":
        nodes = []
        for i, raw in enumerate(topology.get("node", [])):
            inputs: list[TensorRef] = []
            control: list[str] = []
            for ref in raw.get("input", []):
                t, c = parse_input(ref)
                if t is not None:
                    inputs.append(t)
                else:
                    assert c is not None
                    control.append(c)
            attrs = {k: decode_attr(v, f"modelTopology.node[{i}] ({raw['name']}).attr.{k}")
                     for k, v in (raw.get("attr") or {}).items()}
            nodes.append(Node(raw["name"], raw["op"], inputs, control, attrs, raw.get("device", "")))
        functions = {}
        library = topology.get("library") or {}
        for f in library.get("function", []) or []:
            sig = f.get("signature", {})
            functions[sig.get("name", "")] = f
        return cls(nodes, functions)

    def schedule(self, targets: list[str]) -> list[Node]:
        """Nodes needed for `targets` (node names), each after its inputs; unused nodes are pruned."""
        order: list[Node] = []
        state: dict[str, int] = {}   # 1 = on the stack, 2 = done
        for target in targets:
            if target not in self.nodes:
                raise GraphError(f"no node named {target!r} in the graph")
            stack: list[tuple[str, int]] = [(target, 0)]
            while stack:
                name, i = stack.pop()
                node = self.nodes[name]
                deps = [s for s, _ in node.inputs] + node.control
                if i == 0:
                    if state.get(name) == 2:
                        continue
                    if state.get(name) == 1:
                        raise GraphError(f"the graph has a cycle through {name!r} ({node.op}); control flow "
                                         "(loops) needs the dynamic executor")
                    state[name] = 1
                if i < len(deps):
                    stack.append((name, i + 1))
                    dep = deps[i]
                    if state.get(dep) != 2:
                        if state.get(dep) == 1:
                            raise GraphError(f"the graph has a cycle through {dep!r} ({self.nodes[dep].op}); "
                                             "control flow (loops) needs the dynamic executor")
                        stack.append((dep, 0))
                else:
                    state[name] = 2
                    order.append(node)
        return order

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for n in self.nodes.values():
            counts[n.op] = counts.get(n.op, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


# Output argument names of ops with several output args, in order (FunctionDef bodies refer to
# outputs as "node:arg:index"); an op not listed has one output list, so the index is the position.
OUTPUT_ARGS: dict[str, tuple[str, ...]] = {
    "Switch": ("output_false", "output_true"), "Merge": ("output", "value_index"),
    "TopKV2": ("values", "indices"), "Unique": ("y", "idx"), "UniqueV2": ("y", "idx"), "ListDiff": ("out", "idx"),
    "NonMaxSuppressionV4": ("selected_indices", "valid_outputs"),
    "NonMaxSuppressionV5": ("selected_indices", "selected_scores", "valid_outputs"),
    "FusedBatchNorm": ("y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2"),
    "FusedBatchNormV3": ("y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2",
                         "reserve_space_3"),
    "TensorArrayV3": ("handle", "flow"), "TensorArrayConcatV3": ("value", "lengths"),
    "TensorListPopBack": ("output_handle", "tensor"), "TensorListConcatV2": ("tensor", "lengths"),
}


def function_graph(fdef: dict[str, Any]) -> tuple[Graph, list[str], list[TensorRef]]:
    """A FunctionDef as a Graph: one Placeholder per input argument, the body's nodes, and the
    tensors its outputs return.  Returns (graph, input arg names, output refs)."""
    sig = fdef.get("signature", {})
    fname = sig.get("name", "?")
    args = [a["name"] for a in sig.get("inputArg", [])]
    arg_types = {a["name"]: a.get("type", "DT_FLOAT") for a in sig.get("inputArg", [])}
    raw_nodes = fdef.get("nodeDef", []) or []
    ops = {n["name"]: n["op"] for n in raw_nodes}

    def ref(text: str) -> TensorRef:
        parts = text.split(":")
        if len(parts) == 1:
            return (parts[0], 0)
        if len(parts) == 2:
            return (parts[0], int(parts[1]))
        node, out_arg, idx = parts[0], parts[1], int(parts[2])
        names = OUTPUT_ARGS.get(ops.get(node, ""), ())
        return (node, (names.index(out_arg) if out_arg in names else 0) + idx)

    nodes = [Node(a, "Placeholder", [], [], {"dtype": _dtype(arg_types[a])}) for a in args]
    for i, raw in enumerate(raw_nodes):
        inputs: list[TensorRef] = []
        control: list[str] = []
        for text in raw.get("input", []):
            if text.startswith("^"):
                control.append(text[1:])
            else:
                inputs.append(ref(text))
        attrs = {k: decode_attr(v, f"function {fname} node[{i}] ({raw['name']}).attr.{k}")
                 for k, v in (raw.get("attr") or {}).items()}
        nodes.append(Node(raw["name"], raw["op"], inputs, control, attrs))
    outputs = [ref(fdef.get("ret", {})[a["name"]]) for a in sig.get("outputArg", [])]
    return Graph(nodes), args, outputs
