"""The output dtypes a graph *declares* for each node, read the way TensorFlow reads them.

Every node of a converted GraphDef carries the attributes that fix its outputs' dtypes (`T`, `DstT`,
`dtype`, `out_type`, `output_type`, `Tidx`, a list attribute for ops with several typed outputs, or a
type fixed by the op itself).  Which attribute governs which output is TensorFlow's OpDef; the relevant
part of it is recorded in data/op_defs.json (tests/fixtures/make_op_defs.py writes it from TF's own op
registry), so the check needs no TensorFlow.  Anything our kernels return is checked against this: a
disagreement is a bug of ours (issue 11: an int32 MatMul that came back float32 surfaced three nodes
later as an AddV2 dtype clash).
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from gpu_backend.dtypes import TF_DTYPES

from .graph import Node


@lru_cache(maxsize=1)
def _op_defs() -> dict[str, Any]:
    return json.loads(resources.files("loader").joinpath("data/op_defs.json").read_text())


def converter_ops() -> list[str]:
    """Every op tensorflowjs_converter 4.22 accepts (its op_list/*.json), as recorded."""
    return list(_op_defs()["converter_ops"])


def _tf_name(dtype: str) -> str:
    return TF_DTYPES.get(dtype, dtype.lower().removeprefix("dt_"))


def declared_dtypes(node: Node) -> list[str | None] | None:
    """One dtype per output (None where the graph leaves it open), or None for ops without a recorded
    OpDef (TF.js-only aliases, unknown ops)."""
    spec = _op_defs()["op_defs"].get(node.op)
    if spec is None:
        return None
    out: list[str | None] = []
    defaults = spec.get("type_defaults", {})
    for arg in spec["outputs"]:
        if arg["type_list_attr"]:
            types = node.attr(arg["type_list_attr"])
            out += list(types) if isinstance(types, list) else [None]
            continue
        if arg["type"]:
            dtype: str | None = _tf_name(arg["type"])
        else:
            value = node.attr(arg["type_attr"])
            if value is None and arg["type_attr"] in defaults:
                value = _tf_name(defaults[arg["type_attr"]])
            dtype = value if isinstance(value, str) else None
        count = 1
        if arg["number_attr"]:
            n = node.attr(arg["number_attr"])
            count = int(n) if isinstance(n, int) else 1
        out += [dtype] * count
    return out


def declared_arity(node: Node) -> int | None:
    """How many data inputs TF's OpDef gives this node (None: unknown op, or a count attribute missing;
    -n: at least n)."""
    spec = _op_defs()["op_defs"].get(node.op)
    if spec is None or "inputs" not in spec:
        return None
    total = 0
    if node.op.startswith(("_", "Fused")):
        # fused ops: the converter rewrites their variadic arguments (a PReLU alpha, a BN's four inputs)
        # without keeping num_args consistent, so only the fixed leading inputs are required
        return -sum(1 for a in spec["inputs"] if not a["number_attr"] and not a["type_list_attr"])
    for arg in spec["inputs"]:
        if arg["number_attr"]:
            n = node.attr(arg["number_attr"])
            if not isinstance(n, int):
                return None
            total += n
        elif arg["type_list_attr"]:
            types = node.attr(arg["type_list_attr"])
            if not isinstance(types, list):
                return None
            total += len(types)
        else:
            total += 1
    return total


def declared_input_dtypes(node: Node) -> list[str | None] | None:
    """The dtype TF's OpDef requires of each data input, from the node's own attributes (None where the
    op leaves it open), or None when the op has no recorded OpDef or the inputs cannot be expanded."""
    spec = _op_defs()["op_defs"].get(node.op)
    if spec is None or not spec.get("inputs") or "type_attr" not in spec["inputs"][0]:
        return None
    defaults = spec.get("type_defaults", {})
    out: list[str | None] = []
    for arg in spec["inputs"]:
        if arg["type_list_attr"]:
            types = node.attr(arg["type_list_attr"])
            if not isinstance(types, list):
                return None
            out += [t if isinstance(t, str) else None for t in types]
            continue
        if arg["type"]:
            dtype: str | None = _tf_name(arg["type"])
        elif arg["type_attr"]:
            value = node.attr(arg["type_attr"])
            if value is None and arg["type_attr"] in defaults:
                value = _tf_name(defaults[arg["type_attr"]])
            dtype = value if isinstance(value, str) else None
        else:
            dtype = None
        count = 1
        if arg["number_attr"]:
            n = node.attr(arg["number_attr"])
            if not isinstance(n, int) or not 0 <= n <= len(node.inputs):
                return None           # a count the node's inputs cannot have: the arity check reports it
            count = n
        out += [dtype] * count
    return out


def input_dtype_problems(nodes: dict[str, Node]) -> list[str]:
    """Every data edge whose producer declares another dtype than its consumer's OpDef requires there:
    a graph that contradicts itself, found at load (before anything runs) and reported at the consumer.
    Only what both ends declare is compared; dtypes are this runtime's (int64 counts as int32)."""
    problems = []
    for node in nodes.values():
        wants = declared_input_dtypes(node)
        if wants is None or len(wants) != len(node.inputs):
            continue
        for i, ((src, k), want) in enumerate(zip(node.inputs, wants)):
            producer = nodes.get(src)
            if want is None or want == "resource" or producer is None:
                continue
            have = declared_dtypes(producer)
            if not have or k >= len(have) or have[k] is None or have[k] == want:
                continue
            problems.append(f"  {node.name} ({node.op}): input {i} ({src}:{k}, {producer.op}) is declared {have[k]} "
                            f"but {node.op} takes {want} there")
    return problems
