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
from collections import Counter, OrderedDict
from typing import Any

import numpy as np

from gpu_backend.api import Backend

from ..model import GraphModel, _fmt_shape, _make_backend
from ..model_json import ModelArtifacts, TensorInfo, parse_any_model_json
from ..errors import UnsupportedModelError, UnsupportedOpError
from ..graph import parse_input
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


def lower_layers_model(layers_artifacts: ModelArtifacts, weights: dict[str, np.ndarray],
                       input_shapes: dict[str, tuple[int | None, ...]] | None = None
                       ) -> tuple[TopologyLowering, ModelArtifacts, dict[str, np.ndarray]]:
    """The layers model as a graph model: (the lowering, graph-model artifacts, their constants).
    Outputs get one Identity each, named after the Keras output; the signature keys are the Keras
    input and output names.  `input_shapes` lowers at concrete input shapes (specialization)."""
    lowering = TopologyLowering(layers_artifacts.topology, weights, layers_artifacts.source, input_shapes)
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
        self._declared: list[TensorInfo] | None = None      # set when the model lowers per input shape
        try:
            lowering, graph_artifacts, graph_weights = lower_layers_model(layers_artifacts, weights)
        except UnsupportedOpError:
            probe = TopologyLowering(layers_artifacts.topology, weights, layers_artifacts.source)
            try:
                probe.build()
            except UnsupportedOpError:
                pass
            if not probe.needs_known_shape:
                raise
            # some layer needs dims known only at run time (an RNN over a sequence of any length): lower
            # at a probe size now (which checks every layer), and again for each input shape run
            self._declared = [TensorInfo(k, f"{t.ref}:0", t.dtype, tuple(-1 if d is None else d for d in t.shape))
                              for k, t in probe.inputs]
            lowering, graph_artifacts, graph_weights = lower_layers_model(
                layers_artifacts, weights, {k: (t.shape[0],) + tuple(2 if d is None else d for d in t.shape[1:])
                                            for k, t in probe.inputs})
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
        self._options = {"strict": strict, "optimize": optimize, "max_iterations": max_iterations}
        self._variants: OrderedDict[tuple, GraphModel] = OrderedDict()
        if self._declared is not None:
            self.inputs = self._declared

    # -- running -----------------------------------------------------------------------------------
    @property
    def specializes(self) -> bool:
        """True when the model is lowered again for each input shape (dims only known at run time)."""
        return self._declared is not None

    def predict(self, inputs: Any) -> dict[str, np.ndarray]:
        """{output name: array}, keyed by the Keras output layer names (model.outputs lists them)."""
        if self._declared is None:
            out = super().predict(inputs)
            return {o.key: out[o.name] for o in self.outputs}
        feeds = self._feeds(inputs)
        model = self._variant(feeds)
        refs = [parse_input(o.name)[0] for o in model.outputs]
        arrays = model.executor.run(feeds, refs)  # type: ignore[arg-type]
        return {o.key: a for o, a in zip(model.outputs, arrays)}

    MAX_VARIANTS = 8

    def lowering_needs(self) -> list[str]:
        probe = TopologyLowering(self.layers_artifacts.topology, self.source_weights, self.layers_artifacts.source)
        try:
            probe.build()
        except UnsupportedOpError:
            pass
        return probe.needs_known_shape

    def _variant(self, feeds: dict[str, np.ndarray]) -> GraphModel:
        """The graph lowered at these input shapes (the batch stays free): built once per shape, up
        to MAX_VARIANTS kept (least recently used dropped).  Shapes are uniforms in the GL programs, so
        a new variant compiles no program the model did not already need."""
        assert self._declared is not None
        shapes = {t.key: (None,) + tuple(feeds[parse_input(t.name)[0][0]].shape[1:])  # type: ignore[index]
                  for t in self._declared if parse_input(t.name)[0][0] in feeds}  # type: ignore[index]
        key = tuple(sorted(shapes.items()))
        if key in self._variants:
            self._variants.move_to_end(key)
            return self._variants[key]
        _, artifacts, consts = lower_layers_model(self.layers_artifacts, self.source_weights, shapes)
        model = GraphModel(artifacts, consts, self.backend, False, self._options["strict"], {"read": 0.0, "weights": 0.0},
                           max_iterations=self._options["max_iterations"], optimize=self._options["optimize"])
        self._variants[key] = model
        while len(self._variants) > self.MAX_VARIANTS:
            _, old = self._variants.popitem(last=False)
            old.dispose()
        return model

    def dispose(self) -> None:
        for m in self._variants.values():
            m.dispose()
        self._variants.clear()
        super().dispose()

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
        lines = [f'Model: "{name}" (Keras {self.keras_version or "?"}, {self.artifacts.source})']
        if self.specializes:
            lines.append("  lowered again per input shape (layers " + ", ".join(self.lowering_needs()) +
                         " need dims known at run time); unknown dims are shown at the probe size 2")
        lines += [rule, fmt(cols), rule]
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
