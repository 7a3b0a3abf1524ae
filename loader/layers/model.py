"""LayersModel: a Keras layers model (what `tensorflowjs_converter --input_format=keras` writes by
default, and TF.js' `model.save()`), lowered at load into the same graph IR a graph model has.

Everything after the lowering is the graph model's machinery (executor, folding, replay, warmup,
profiler), so a layers model and the graph model converted from the same Keras model run the same
fused GL programs.  What differs is the outside: inputs and outputs are keyed by the Keras input and
output layer names, and summary() is the Layers API's table.
"""
from __future__ import annotations

import math
import os
import time
from collections import Counter
from typing import Any

import numpy as np

from gpu_backend.api import Backend

from ..model import GraphModel, _fmt_shape, _make_backend
from ..model_json import ModelArtifacts, TensorInfo, parse_any_model_json
from ..errors import UnsupportedModelError
from ..sources import ModelSource, resolve_source
from ..weights import load_weights
from . import lower_all  # noqa: F401  (registers every layer lowering)
from .registry import LAYERS
from .topology import MODEL_CLASSES, LayerRecord, TopologyLowering

# weights Keras counts as non-trainable, by the last part of their name
NON_TRAINABLE_NAMES = {"moving_mean", "moving_variance", "mean", "variance", "count", "seed_generator_state",
                       "state"}


def _non_trainable(class_name: str, weight: str) -> bool:
    return weight.rsplit("/", 1)[-1] in NON_TRAINABLE_NAMES


def _shape_text(shape: tuple[int | None, ...]) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def lower_layers_model(layers_artifacts: ModelArtifacts, weights: dict[str, np.ndarray]
                       ) -> tuple[TopologyLowering, ModelArtifacts, dict[str, np.ndarray]]:
    """The layers model as a graph model: (the lowering, graph-model artifacts, their constants).
    Outputs get one Identity each, named after the Keras output; the signature keys are the Keras
    input and output names."""
    lowering = TopologyLowering(layers_artifacts.topology, weights, layers_artifacts.source)
    lowering.build()
    lowering.finish_records(_non_trainable)
    b = lowering.b
    outputs = []
    for key, t in lowering.outputs:
        node = b.unique(f"output/{key}")
        b.nodes.append({"name": node, "op": "Identity", "input": [t.ref],
                        "attr": {"T": {"type": {"float32": "DT_FLOAT", "int32": "DT_INT32",
                                                "bool": "DT_BOOL"}[t.dtype]}}})
        outputs.append(TensorInfo(key, f"{node}:0", t.dtype, tuple(-1 if d is None else d for d in t.shape)))
    inputs = [TensorInfo(key, f"{t.ref}:0", t.dtype, tuple(-1 if d is None else d for d in t.shape))
              for key, t in lowering.inputs]
    graph_artifacts = ModelArtifacts(format="graph-model", topology=b.topology(), weight_groups=[],
                                     inputs=inputs, outputs=outputs, generated_by=layers_artifacts.generated_by,
                                     converted_by=layers_artifacts.converted_by, source=layers_artifacts.source)
    return lowering, graph_artifacts, b.weights


class LayersModel(GraphModel):
    """A loaded layers model.  Use load_layers_model() (or load_model()) to make one."""

    def __init__(self, layers_artifacts: ModelArtifacts, weights: dict[str, np.ndarray], backend: Backend,
                 owns_backend: bool, strict: bool, times: dict[str, float], optimize: bool = True,
                 max_iterations: int = 100_000) -> None:
        t0 = time.perf_counter()
        lowering, graph_artifacts, graph_weights = lower_layers_model(layers_artifacts, weights)
        self.lowering = lowering
        self.lower_ms = (time.perf_counter() - t0) * 1e3
        super().__init__(graph_artifacts, graph_weights, backend, owns_backend, strict,
                         {"read": times["read"], "weights": times["weights"] + self.lower_ms},
                         max_iterations=max_iterations, optimize=optimize)
        self.layers_artifacts = layers_artifacts
        self.weight_specs = layers_artifacts.weight_specs()
        # what save() writes back: the model.json and weights as loaded
        self.source_artifacts = layers_artifacts
        self.source_weights = weights

    # -- running -----------------------------------------------------------------------------------
    def predict(self, inputs: Any) -> dict[str, np.ndarray]:
        """{output name: array}, keyed by the Keras output layer names (model.outputs lists them)."""
        out = super().predict(inputs)
        return {o.key: out[o.name] for o in self.outputs}

    @property
    def keras_version(self) -> str:
        return self.lowering.keras_version

    # -- introspection -----------------------------------------------------------------------------
    @property
    def layers(self) -> list[LayerRecord]:
        return self.lowering.records

    def count_params(self) -> int:
        return sum(int(math.prod(w.shape)) for w in self.source_weights.values())

    def non_trainable_params(self) -> int:
        return sum(int(math.prod(w.shape)) for k, w in self.source_weights.items() if _non_trainable("", k))

    def layer_placement(self, rec: LayerRecord) -> Counter:
        """Where the nodes a layer lowered to run (gl / graph / host / fallback)."""
        where = {"device": "GL" if getattr(self.backend, "name", "") != "numpy" else "numpy", "fallback": "fallback",
                 "host": "host", "graph": "graph"}
        c: Counter = Counter()
        prefixes = tuple(s + "/" for s in rec.scopes)
        for name, plan in self.executor.plans.items():
            if name.startswith(prefixes) and plan.node.op != "Const":
                c[where[plan.kind]] += 1
        merged = sum(1 for n in self.merged_nodes if n.startswith(prefixes))
        if merged:
            c["merged"] += merged
        return c

    def summary(self, line_length: int = 110) -> str:
        """The Layers API's table (layer (type), output shape, params, connected to), then the totals,
        then where each layer runs and the graph-level summary."""
        sequential = self.lowering.root.get("class_name") == "Sequential"
        name = (self.lowering.root.get("config") or {}).get("name", "model") if isinstance(
            self.lowering.root.get("config"), dict) else "model"
        cols = ["Layer (type)", "Output Shape", "Param #", "Runs on"] + ([] if sequential else ["Connected to"])
        widths = [36, 22, 11, 24, 30][:len(cols)]
        fmt = lambda vals: "".join(str(v)[:w - 1].ljust(w) for v, w in zip(vals, widths)).rstrip()  # noqa: E731
        rule = "=" * sum(widths)
        lines = [f'Model: "{name}" (Keras {self.keras_version or "?"}, {self.artifacts.source})', rule,
                 fmt(cols), rule]
        for key, t in self.lowering.inputs:
            if not any(r.name == key for r in self.lowering.records):
                lines.append(fmt([f"{key} (InputLayer)", _shape_text(t.shape), 0, "graph", ""]))
        for rec in self.lowering.records:
            shapes = rec.output_shapes
            shape = _shape_text(shapes[0])
            place = self.layer_placement(rec)
            runs = ", ".join(f"{k} {v}" for k, v in sorted(place.items())) or "-"
            row = [f"{rec.name} ({rec.class_name})", shape, f"{rec.params:,}", runs]
            if not sequential:
                row.append(", ".join(rec.connected_to[:2]))
            lines.append(fmt(row))
            more_links = rec.connected_to[2:] if not sequential else []
            for i in range(max(len(shapes) - 1, len(more_links))):   # one line per further output / input
                lines.append(fmt(["", _shape_text(shapes[i + 1]) if i + 1 < len(shapes) else "", "", "",
                                  more_links[i] if i < len(more_links) else ""]))
        total = self.count_params()
        nt = self.non_trainable_params()
        lines += [rule, f"Total params: {total:,}", f"Trainable params: {total - nt:,}",
                  f"Non-trainable params: {nt:,}", rule, "Graph:"]
        graph = super().summary().split("\n")
        lines += ["  " + line for line in graph[1:]]
        return "\n".join(lines)


def supported_layers() -> list[str]:
    """Every Keras layer class this loader lowers (nested Sequential / Functional models too)."""
    return sorted(set(LAYERS) | MODEL_CLASSES | {"InputLayer"})


def load_layers_model(source: str | os.PathLike[str] | ModelSource, backend: Backend | str | None = None, *,
                      strict: bool = False, optimize: bool = True, max_iterations: int = 100_000,
                      **http_options: Any) -> LayersModel:
    """Load a layers model (model.json with "format": "layers-model" + weight shards) from a path,
    file:// or http(s):// URL, or a ModelSource.  Arguments as load_graph_model."""
    src = resolve_source(source, **http_options)
    t0 = time.perf_counter()
    artifacts = parse_any_model_json(src.read_model_json(), src.description)
    if artifacts.format != "layers-model":
        raise UnsupportedModelError(f"{src.description} is a {artifacts.format}, not a layers model; load it with "
                                    "load_graph_model() (or load_model(), which takes either kind)")
    t1 = time.perf_counter()
    weights = load_weights(artifacts, src)
    t2 = time.perf_counter()
    be, owns = _make_backend(backend)
    try:
        return LayersModel(artifacts, weights, be, owns, strict, {"read": (t1 - t0) * 1e3, "weights": (t2 - t1) * 1e3},
                           optimize=optimize, max_iterations=max_iterations)
    except BaseException:
        if owns:
            be.close()
        raise


def load_model(source: str | os.PathLike[str] | ModelSource, backend: Backend | str | None = None,
               **kwargs: Any) -> GraphModel:
    """Either kind of model.json: a graph model (GraphModel) or a layers model (LayersModel), by its
    'format'."""
    from ..model import load_graph_model
    src = resolve_source(source, **{k: v for k, v in kwargs.items() if k in ("timeout_s", "max_bytes", "headers")})
    fmt = parse_any_model_json(src.read_model_json(), src.description).format
    if fmt == "layers-model":
        return load_layers_model(src, backend, **kwargs)
    return load_graph_model(src, backend, **kwargs)


__all__ = ["LayersModel", "load_layers_model", "load_model", "supported_layers", "_fmt_shape"]
