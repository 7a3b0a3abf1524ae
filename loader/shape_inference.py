"""Load-time shape inference over a planned static graph.

Every node's output shapes are worked out when the model loads, from the signature's input shapes,
the constants, and each kernel's shape rule (gpu_backend/shape_rules.py: the geometry the kernels
themselves use).  What this buys a user:

  * a graph whose shapes cannot fit together (a weight of the wrong size, an impossible reshape) is
    reported at load naming the node, instead of at the first predict();
  * `gpu-backend inspect` shows each node's output shape without running anything;
  * each run checks what every kernel returned against what the graph implies (Executor._check_shapes):
    a disagreement is a bug of ours, reported at the node that made it.

How unknown sizes are handled: the graph is walked once per probe, with every unknown input dimension
(a -1 batch, or a size only the data decides, such as Where's row count) set to the probe size
(1, 2, 7919, 104729).  Small integer tensors (shape arithmetic:
Shape -> StridedSlice -> Pack -> Reshape) are computed for real on the host with the numpy reference,
so a Reshape to [batch, -1] built from the input's own shape resolves like any other.  A dimension
that comes out the same for every probe is known; one that differs is unknown ('?').  A node that
fails for one probe, or whose rank depends on it, is unknown.  A shape error counts only where it
happens for every probe with the same inputs, i.e. where it does not depend on an unknown size.

Not inferred: control-flow graphs (the dynamic executor), data-dependent outputs of large tensors
(Where, Unique, NonMaxSuppression on activations) and ops without a rule; their consumers know what
their rule can say without them (nothing, mostly).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gpu_backend.errors import AttributeValueError, ShapeError
from gpu_backend.numpy_backend import run_reference
from gpu_backend.registry import NUMPY_KERNELS, STATEFUL_KERNELS
from gpu_backend.shape_rules import output_shapes

from .executor import HOST_SIZE_LIMIT, PASS_THROUGH, Executor, NotStatic
from .graph import Node
from .op_mapping import OPS, MappingError, Params
from .tables import FIND_OPS, SIZE_OPS
from .tfdf import FOREST_INFERENCE_OPS

PartialShape = tuple[int | None, ...] | None    # None: nothing known; a None dim: that size unknown
PROBES = (1, 2, 7919, 104729)
# kernels without a shape rule whose output may be far larger than their small inputs: never run at load
UNBOUNDED = {"Diag", "Einsum", "SparseToDense", "Bincount", "DenseBincount", "RaggedTensorToTensor", "RaggedRange",
             "StringNGrams", "Multinomial"}
_REFUSALS = (ShapeError, AttributeValueError, MappingError)


class ShapeInferenceError(ShapeError):
    """The graph's shapes do not fit together at a node (the message names it)."""


@dataclass
class ShapeReport:
    """Inferred output shapes by node name, and how many nodes got fully / partly known shapes."""

    shapes: dict[str, list[PartialShape]]
    known: int = 0          # every output shape fully known
    partial: int = 0        # ranks known, some dims unknown
    unknown: int = 0        # at least one output of unknown shape
    probes: int = 1         # graph walks made (1 when every input shape is fully known)
    doubts: list[str] = field(default_factory=list)   # nodes refused at every probe size (likely to fail)

    @property
    def total(self) -> int:
        return self.known + self.partial + self.unknown


@dataclass
class _Out:
    """One output during one walk: its concrete shape (None: unknown) and its value when small."""

    shape: tuple[int, ...] | None
    value: np.ndarray | None = None


@dataclass
class _Walk:
    outs: dict[str, list[_Out]] = field(default_factory=dict)
    refusals: dict[str, tuple[str, tuple]] = field(default_factory=dict)   # node -> (reason, input shapes)
    data_dependent: bool = False        # a rule gave a size only the data decides (probing needed)


def partial(shape: Any) -> PartialShape:
    """A signature shape (-1: any size) as a partial shape."""
    if shape is None:
        return None
    return tuple(None if int(d) < 0 else int(d) for d in shape)


def infer_shapes(executor: Executor, order: list[Node], signature: dict[str, PartialShape]) -> ShapeReport:
    """Shapes of every node of `order` (a schedule of the executor's planned nodes).  Raises
    ShapeInferenceError at a node whose inputs its kernel refuses whatever the unknown sizes are."""
    inputs = {n.name: _placeholder_shape(n, signature) for n in order if n.op in ("Placeholder", "PlaceholderWithDefault")}
    needs_probe = any(s is not None and None in s for s in inputs.values())
    walks = [_walk(executor, order, inputs, PROBES[0])]
    if needs_probe or walks[0].data_dependent:
        walks += [_walk(executor, order, inputs, p) for p in PROBES[1:]]
    report = ShapeReport({}, probes=len(walks))
    for node in order:
        refused = [w.refusals.get(node.name) for w in walks]
        if not all(r is not None for r in refused):
            continue
        shapes = [_merge([[_Out(r[1][k])] for r in refused])[0] for k in range(len(refused[0][1]))]  # type: ignore[index]
        shown = ", ".join(format_shape(s) for s in shapes)
        if len({r[0] for r in refused}) == 1:  # type: ignore[index]
            # the same reason whatever the unknown sizes are: the graph cannot run
            raise ShapeInferenceError(f"node {node.name!r} ({node.op}): its inputs [{shown}] do not fit: "
                                      f"{refused[0][0]}")  # type: ignore[index]
        report.doubts.append(f"node {node.name!r} ({node.op}) refuses its inputs [{shown}] at every size tried for "
                             f"the unknown dims ({', '.join(map(str, PROBES))}), e.g. {refused[-1][0]}")  # type: ignore[index]
    for node in order:
        merged = _merge([w.outs[node.name] for w in walks])
        report.shapes[node.name] = merged
        if any(s is None for s in merged):
            report.unknown += 1
        elif any(d is None for s in merged for d in s):  # type: ignore[union-attr]
            report.partial += 1
        else:
            report.known += 1
    return report


def _merge(per_walk: list[list[_Out]]) -> list[PartialShape]:
    merged: list[PartialShape] = []
    for k in range(len(per_walk[0])):
        shapes = [outs[k].shape for outs in per_walk]
        if any(s is None for s in shapes) or len({len(s) for s in shapes}) != 1:  # type: ignore[arg-type]
            merged.append(None)
        else:
            merged.append(tuple(d[0] if len(set(d)) == 1 else None for d in zip(*shapes)))  # type: ignore[misc]
    return merged


def _placeholder_shape(node: Node, signature: dict[str, PartialShape]) -> PartialShape:
    if node.name in signature:
        return signature[node.name]
    shape = node.attr("shape")
    if not isinstance(shape, (list, tuple)) or node.attr("unknown_rank"):
        return None
    return partial(shape)


def _small(a: np.ndarray) -> np.ndarray | None:
    return a if a.size <= HOST_SIZE_LIMIT else None


def _walk(executor: Executor, order: list[Node], inputs: dict[str, PartialShape], probe: int) -> _Walk:
    walk = _Walk()
    outs = walk.outs

    def get(ref: tuple[str, int]) -> _Out:
        o = outs.get(ref[0])
        return o[ref[1]] if o is not None and ref[1] < len(o) else _Out(None)

    for node in order:
        plan = executor.plans.get(node.name)
        n_out = plan.num_outputs if plan is not None else 1
        try:
            outs[node.name] = _node(executor, node, plan, n_out, get, inputs, probe, walk)
        except _REFUSALS as exc:
            walk.refusals[node.name] = (str(exc), tuple(get(r).shape for r in node.inputs))
            outs[node.name] = [_Out(None)] * n_out
        except Exception:           # anything else: the probe size broke an assumption; say nothing
            outs[node.name] = [_Out(None)] * n_out
    return walk


def _node(executor: Executor, node: Node, plan: Any, n_out: int, get: Callable[[tuple[str, int]], _Out],
          inputs: dict[str, PartialShape], probe: int, walk: _Walk) -> list[_Out]:
    op = node.op
    if op == "Const":
        value = np.asarray(executor.consts[node.name])
        return [_Out(tuple(value.shape), _small(value))]
    if op in ("Placeholder", "PlaceholderWithDefault"):
        shape = inputs.get(node.name)
        if node.name in executor.bound or (shape is None and not node.inputs):
            return [_Out(None)]
        if shape is None:
            return [_Out(get(node.inputs[0]).shape)]
        return [_Out(tuple(probe if d is None else d for d in shape))]
    if op == "NoOp":
        return []
    if op in PASS_THROUGH:
        return [get(node.inputs[0])]
    if op == "IdentityN":
        return [get(r) for r in node.inputs]
    if op in ("Shape", "ShapeN", "Size", "Rank"):
        results = []
        for r in node.inputs[: 1 if op in ("Size", "Rank") else None]:
            s = get(r).shape
            if s is None:
                results.append(_Out((None,) if op in ("Shape", "ShapeN") else ()))  # type: ignore[arg-type]
                continue
            v = {"Size": np.asarray(int(np.prod(s)), np.int32), "Rank": np.asarray(len(s), np.int32)}.get(
                op, np.asarray(s, np.int32))
            results.append(_Out(tuple(v.shape), v))
        return [_Out(None) if o.shape is not None and None in o.shape else o for o in results]
    if op in FIND_OPS and len(node.inputs) > 1:
        return [_Out(get(node.inputs[1]).shape)]        # one value per key
    if op in SIZE_OPS:
        return [_Out(())]
    if op in FOREST_INFERENCE_OPS and node.inputs:
        # [batch, dense_output_dim] predictions and [dense_output_dim] column names (TF-DF's shape function)
        dim, batch = node.attr("dense_output_dim"), get(node.inputs[0]).shape
        if isinstance(dim, int) and batch is not None and len(batch) == 2:
            return [_Out((batch[0], dim)), _Out((dim,))]
        return [_Out(None)] * n_out
    if plan is None or plan.kind == "graph":
        return [_Out(None)] * n_out
    call = plan.call
    if call is None:
        def value_of(i: int) -> np.ndarray:
            v = get(node.inputs[i]).value
            if v is None:
                raise NotStatic(node.name)
            return v
        try:
            call = OPS[op].mapper(node, Params(node, value_of))
        except NotStatic:
            return [_Out(None)] * n_out
    ins = [get(node.inputs[i]) for i in call.inputs] + [_Out(tuple(e.shape), _small(e)) for e in call.extra]
    if any(o.shape is None for o in ins):
        return [_Out(None)] * n_out
    shapes = output_shapes(call.kernel, [o.shape for o in ins], call.attrs, n_out)  # type: ignore[misc]
    small_out = (shapes is not None and all(abs(int(np.prod(s))) <= HOST_SIZE_LIMIT for s in shapes)) or (
        shapes is None and call.kernel not in UNBOUNDED)
    if (small_out and all(o.value is not None for o in ins) and call.kernel in NUMPY_KERNELS
            and call.kernel not in STATEFUL_KERNELS):
        # shape arithmetic (and any other small host computation): its values feed later mappings
        values = run_reference(call.kernel, [o.value for o in ins], call.attrs)  # type: ignore[misc]
        return [_Out(tuple(v.shape), _small(v)) for v in values[:n_out]] + [_Out(None)] * (n_out - len(values))
    if shapes is None:
        return [_Out(None)] * n_out
    # a data-dependent size (-1) takes the probe size, so that it comes out unknown after the merge
    walk.data_dependent = walk.data_dependent or any(d < 0 for s in shapes for d in s)
    return [_Out(tuple(probe if d < 0 else d for d in s)) for s in shapes]


def format_shape(shape: PartialShape) -> str:
    """[?, 224, 224, 3] style: '?' for what is unknown."""
    if shape is None:
        return "?"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"
