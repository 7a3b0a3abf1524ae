"""What a model needs and where each op would run, without creating a GL context."""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from gpu_backend.registry import GL_KERNELS

GL_HOST_ONLY = ("string",)      # what inspect plans for: the GL backend (GLBackend.host_only_dtypes)

from .dynamic import DATA_DEPENDENT_OPS, DYNAMIC_GRAPH_OPS, DynamicExecutor, graph_is_dynamic
from .executor import Executor, placement_kind
from .folding import prepare_graph
from .graph import Graph, parse_input
from .model import GraphModel, graph_constants, output_nodes, weights_summary
from .model_json import ModelArtifacts, TensorInfo, parse_any_model_json
from .shape_inference import ShapeInferenceError, ShapeReport, format_shape, infer_shapes, partial
from .sources import ModelSource, resolve_source
from .weights import load_weights


@dataclass
class InspectReport:
    source: str
    artifacts: ModelArtifacts
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    placement: dict[str, Counter] = field(default_factory=dict)    # op -> {gl, numpy fallback, host, graph, unsupported}
    unsupported: dict[str, list[str]] = field(default_factory=dict)
    attribute_errors: list[str] = field(default_factory=list)
    weight_bytes: int = 0
    nodes: int = 0
    control_flow: dict[str, int] = field(default_factory=dict)
    merged: Counter = field(default_factory=Counter)      # op -> nodes merged into neighbours at load
    shapes: ShapeReport | None = None                      # load-time shape inference (static graphs)
    shape_problem: str | None = None                       # where the graph's shapes do not fit
    order: list[str] = field(default_factory=list)         # scheduled nodes, in run order
    ops: dict[str, str] = field(default_factory=dict)      # node -> op

    def split(self) -> Counter:
        total: Counter = Counter()
        for c in self.placement.values():
            total.update(c)
        return total

    def format(self, shapes: bool = False) -> str:
        """The report; shapes: also one line per scheduled node with its inferred output shapes."""
        a = self.artifacts
        lines = [f"model: {self.source}", f"  format {a.format}, converted by {a.converted_by or '?'}, "
                 f"TensorFlow {a.generated_by or '?'}", "  inputs:"]
        lines += [f"    {t.key}: {t.name} {t.dtype} {_shape(t.shape)}" for t in self.inputs]
        lines.append("  outputs:")
        lines += [f"    {t.key}: {t.name} {t.dtype} {_shape(t.shape)}" for t in self.outputs]
        if self.control_flow:
            lines.append("  dynamic graph (control flow / TensorArrays / data-dependent shapes): "
                         + ", ".join(f"{op} x{n}" for op, n in sorted(self.control_flow.items())))
        split = self.split()
        lines.append(f"  nodes: {self.nodes} in the graph; scheduled for the outputs: "
                     + ", ".join(f"{k} {v}" for k, v in sorted(split.items())))
        if self.merged:
            lines.append(f"  merged into neighbours at load: {sum(self.merged.values())} nodes ("
                         + ", ".join(f"{op} x{n}" for op, n in sorted(self.merged.items())) + ")")
        lines.append(f"  {'op':30s} {'count':>5s}  where it runs")
        for op, c in sorted(self.placement.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])):
            lines.append(f"  {op:30s} {sum(c.values()):5d}  " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
        if self.attribute_errors:
            lines.append("  attribute values no kernel supports:")
            lines += ["  " + e for e in self.attribute_errors]
        if self.shape_problem:
            lines.append(f"  SHAPES DO NOT FIT: {self.shape_problem}")
        elif self.shapes is not None:
            r = self.shapes
            lines.append(f"  output shapes inferred at load: {r.known} nodes fully, {r.partial} with unknown sizes "
                         f"('?'), {r.unknown} unknown")
            if shapes:
                for name in self.order:
                    outs = r.shapes.get(name)
                    if outs is not None:
                        lines.append(f"    {name} ({self.ops[name]}): " + ", ".join(format_shape(s) for s in outs))
        lines.append("  weights: " + weights_summary(a.weight_specs()))
        return "\n".join(lines)


def _shape(shape: Any) -> str:
    return "unknown rank" if shape is None else "[" + ", ".join(str(d) for d in shape) + "]"


def inspect_model(source: str | os.PathLike[str] | ModelSource) -> InspectReport:
    src = resolve_source(source)
    artifacts = parse_any_model_json(src.read_model_json(), src.description)
    weights = load_weights(artifacts, src)
    layers_artifacts = None
    if artifacts.format == "layers-model":      # lowered to the graph it runs as (no GL needed)
        from .layers.model import lower_layers_model
        layers_artifacts = artifacts
        _, artifacts, weights = lower_layers_model(artifacts, weights)
    probe = GraphModel.__new__(GraphModel)        # reuse the signature logic without a backend
    probe.artifacts = artifacts
    probe.graph = Graph.from_topology(artifacts.topology)
    consts = graph_constants(probe.graph, weights)
    ops_before = {name: n.op for name, n in probe.graph.nodes.items()}
    merged = Counter(ops_before[name] for name in prepare_graph(probe.graph, consts, output_nodes(artifacts)))
    inputs, outputs = probe._signature()
    targets = [parse_input(o.name)[0][0] for o in outputs]  # type: ignore[index]
    if graph_is_dynamic(probe.graph):
        ex: Executor = DynamicExecutor(probe.graph, consts, None, backend_kernels=set(GL_KERNELS.names()),
                                        host_only_dtypes=GL_HOST_ONLY)
        needed = ex._needed(targets)  # type: ignore[attr-defined]
        order = [n for name, n in probe.graph.nodes.items() if name in needed]
    else:
        ex = Executor(probe.graph, consts, None, backend_kernels=set(GL_KERNELS.names()), host_only_dtypes=GL_HOST_ONLY)
        order = probe.graph.schedule(targets)
    unsupported, bad = ex.classify(order)
    where = {"device": "gl", "fallback": "numpy fallback", "host": "host", "graph": "graph"}
    placement: dict[str, Counter] = {}
    for plan in ex.plans.values():
        placement.setdefault(plan.node.op, Counter())[where[placement_kind(plan)]] += 1
    for op, names in unsupported.items():
        placement.setdefault(op, Counter())["UNSUPPORTED"] += len(names)
    control = {op: n for op, n in probe.graph.op_counts().items() if op in DYNAMIC_GRAPH_OPS | DATA_DEPENDENT_OPS}
    shown = layers_artifacts or artifacts
    report = InspectReport(src.description, shown, inputs, outputs, placement, unsupported, bad,
                           sum(w.nbytes() or 0 for w in shown.weight_specs()), len(probe.graph.nodes), control,
                           merged)
    if not graph_is_dynamic(probe.graph) and not unsupported and not bad:
        report.order = [n.name for n in order]
        report.ops = {n.name: n.op for n in order}
        signature = {parse_input(t.name)[0][0]: partial(t.shape) for t in inputs}  # type: ignore[index]
        try:
            report.shapes = infer_shapes(ex, order, signature)
        except ShapeInferenceError as exc:
            report.shape_problem = str(exc)
    return report
