"""GraphModel: load a converted TF.js graph model and run it with numpy in, numpy out."""
from __future__ import annotations

import os
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gpu_backend.profiling import Profiler
    from .saving import SaveResult

import numpy as np

from gpu_backend.api import Backend
from gpu_backend.dtypes import HOST_DTYPES, normalize_dtype, to_backend_array, to_host_array
from gpu_backend.errors import UnsupportedDTypeError

from .declared_types import input_dtype_problems
from .errors import GraphError, ModelDisposedError, ModelFormatError, ModelInputError, ModelLoadError
from .dynamic import DATA_DEPENDENT_OPS, DYNAMIC_GRAPH_OPS, DynamicExecutor, graph_is_dynamic
from .executor import PASS_THROUGH, Executor, placement_kind
from .folding import prepare_graph
from .graph import Graph, TensorRef, parse_input
from .model_json import ModelArtifacts, TensorInfo, parse_model_json
from .shape_inference import ShapeInferenceError, ShapeReport, infer_shapes, partial
from .sources import ModelSource, resolve_source
from .resources import RESOURCE_CREATE_OPS, ResourceScope
from .tfdf import ASSETS_FILE, FOREST_OPS
from .weights import load_weights


@dataclass(frozen=True)
class LoadTimes:
    read_ms: float
    weights_ms: float
    plan_ms: float
    upload_ms: float
    init_ms: float = 0.0        # running the model initializer (filling hash tables)

    @property
    def total_ms(self) -> float:
        return self.read_ms + self.weights_ms + self.plan_ms + self.upload_ms + self.init_ms


def _make_backend(backend: Backend | str | None) -> tuple[Backend, bool]:
    if isinstance(backend, Backend):
        return backend, False
    if backend in (None, "gl", "egl"):
        from gpu_backend import GLBackend
        return GLBackend(), True
    if backend == "glfw":
        from gpu_backend import GLBackend
        return GLBackend("glfw"), True
    if backend == "numpy":
        from gpu_backend import NumpyBackend
        return NumpyBackend(), True
    raise ValueError(f"backend must be a Backend instance, 'gl', 'glfw' or 'numpy', not {backend!r}")


class GraphModel:
    """A loaded graph model.  Use load_graph_model() to make one."""

    def __init__(self, artifacts: ModelArtifacts, weights: dict[str, np.ndarray], backend: Backend,
                 owns_backend: bool, strict: bool, times: dict[str, float], max_iterations: int = 100_000,
                 optimize: bool = True, source: ModelSource | None = None) -> None:
        self.artifacts = artifacts
        self.backend = backend
        self._owns_backend = owns_backend
        self.graph = Graph.from_topology(artifacts.topology)
        self._check_declared_inputs(strict)
        consts = graph_constants(self.graph, weights)
        # nodes folded into others (their names can no longer be fetched with execute())
        self.merged_nodes = prepare_graph(self.graph, consts, output_nodes(artifacts), optimize)
        self.inputs, self.outputs = self._signature()
        self.dynamic = graph_is_dynamic(self.graph)
        if self.dynamic:
            self.executor: Executor = DynamicExecutor(self.graph, consts, backend, strict=strict,
                                                      max_iterations=max_iterations)
        else:
            self.executor = Executor(self.graph, consts, backend, strict=strict)
        t0 = time.perf_counter()
        targets = [parse_input(o.name)[0][0] for o in self.outputs]
        self.executor.plan(targets)  # type: ignore[arg-type]
        self.shape_report = None if self.dynamic else self._infer_shapes(targets, strict)  # type: ignore[arg-type]
        t1 = time.perf_counter()
        self.executor.upload_weights()
        t2 = time.perf_counter()
        self._attach_assets(source)
        self._run_initializer(weights)
        t3 = time.perf_counter()
        self.load_times = LoadTimes(times["read"], times["weights"], (t1 - t0) * 1e3, (t2 - t1) * 1e3,
                                    (t3 - t2) * 1e3)
        self.weight_specs = artifacts.weight_specs()
        # what save() writes back: the model.json and decoded weights as loaded
        self.source_artifacts = artifacts
        self.source_weights = dict(weights)

    def save(self, target: Any, *, weight_shard_size_bytes: int | None = 4 * 1024 * 1024,
             quantize: str | None = None, quantize_weights: str | list[str] | None = None,
             **http_options: Any) -> "SaveResult":
        """Save the model as it was loaded (same model.json, new weightsManifest) to `target`: a folder
        or file:// URL (model.json + group1-shard{i}of{n}.bin of at most weight_shard_size_bytes; None:
        one weights.bin), an http(s):// URL (a multipart/form-data POST as TF.js's browserHTTPRequest;
        http_options: method, headers, fields, timeout_s) or an object with save(artifacts).
        quantize: 'uint8' | 'uint16' | 'float16' re-quantizes float32 weights as tensorflowjs_converter
        does (only those matching the quantize_weights globs, if given); without it every weight keeps
        its encoding, quantized ones included.  What is saved loads back bit-identical.  See
        loader.saving."""
        from .saving import save_model
        return save_model(self, target, weight_shard_size_bytes=weight_shard_size_bytes, quantize=quantize,
                          quantize_weights=quantize_weights, **http_options)

    # -- construction helpers --------------------------------------------------------------
    def _check_declared_inputs(self, strict: bool) -> None:
        """Each edge's declared dtype against what its consumer's OpDef takes, before anything runs:
        strict=True refuses a file that contradicts itself, otherwise one warning lists every edge."""
        problems = input_dtype_problems(self.graph.nodes)
        if not problems:
            return
        msg = (f"{len(problems)} edge(s) of the graph carry a dtype their consumer does not take (the model file "
               "contradicts itself):\n" + "\n".join(problems))
        if strict:
            raise GraphError(msg)
        warnings.warn(msg + "\n(strict=False: running it anyway; every node's outputs are still checked)",
                      RuntimeWarning, stacklevel=4)

    def _infer_shapes(self, targets: list[str], strict: bool) -> "ShapeReport | None":
        """Every node's output shapes from the signature (loader/shape_inference.py).  A graph whose
        shapes cannot fit is refused under strict=True and warned about otherwise (it would fail when
        run); the shapes also let every run check its kernels' outputs."""
        signature = {parse_input(t.name)[0][0]: partial(t.shape) for t in self.inputs}  # type: ignore[index]
        try:
            report = infer_shapes(self.executor, self.graph.schedule(targets), signature)
        except ShapeInferenceError as exc:
            if strict:
                raise GraphError(str(exc)) from None
            warnings.warn(f"{exc}\n(strict=False: loading it anyway; running it will fail there)", RuntimeWarning,
                          stacklevel=4)
            return None
        if report.doubts:
            warnings.warn("load-time shape inference: the model may fail when run (the input sizes the signature "
                          "leaves open decide):\n  " + "\n  ".join(report.doubts[:5]), RuntimeWarning, stacklevel=4)
        self.executor.expected_shapes = report.shapes
        return report


    def _attach_assets(self, source: ModelSource | None) -> None:
        """A model using TF-DF ops carries its decision forest in assets.zip beside model.json
        (loader/tfdf.py): read it now, through the model's source, so that a missing or unreadable
        zip fails the load naming the file rather than the first inference."""
        init = self.artifacts.initializer or {}
        ops = {n.op for n in self.graph.nodes.values()} | {n.get("op") for n in init.get("node", []) or []}
        used = sorted(ops & FOREST_OPS)
        if not used:
            return
        where = getattr(source, "description", "the model source")
        if source is None:
            raise ModelLoadError(f"the model uses TensorFlow Decision Forests ops ({', '.join(used)}), whose model "
                                 f"is read from {ASSETS_FILE} beside model.json, but it was not loaded from a source "
                                 "that can provide that file")
        try:
            data = source.read_weight_file(ASSETS_FILE)
        except ModelLoadError as exc:
            raise ModelLoadError(f"the model uses TensorFlow Decision Forests ops ({', '.join(used)}): their YDF "
                                 f"model comes from {ASSETS_FILE} beside model.json ({where}), which could not be "
                                 f"read: {exc}") from None
        self.executor.resources.read_assets = lambda: data
        self.executor.resources.assets()          # open it now: a bad zip or unsafe member fails the load

    def _run_initializer(self, weights: dict[str, np.ndarray]) -> None:
        """Run model.json's `modelInitializer` graph once, as TF.js's executeInitializerGraph does: its
        HashTable nodes create tables in this model's scope and its imports fill them; its
        SimpleMLCreateModelResource / SimpleMLLoadModelFromPathWithHandle nodes load the decision
        forest.  Main-graph create nodes of the same name then resolve to those resources;
        DT_RESOURCE inputs of the signature (the converter's TF2 form) are bound to the initializer
        output of the same resourceId, so callers never feed them."""
        init = self.artifacts.initializer or {}
        resource_inputs = self.resource_inputs
        if not init.get("node"):
            if resource_inputs:
                raise ModelLoadError(f"signature input(s) {', '.join(t.name for t in resource_inputs)} are resources "
                                     "(hash tables, decision forests) but model.json has no modelInitializer graph "
                                     "that makes them")
            return
        graph = Graph.from_topology(init)
        consts = graph_constants(graph, weights)
        strict = self.executor.strict
        ex = (DynamicExecutor(graph, consts, self.backend, strict=strict) if graph_is_dynamic(graph)
              else Executor(graph, consts, self.backend, strict=strict))
        ex.resources = self.executor.resources
        controlled = {c for n in graph.nodes.values() for c in n.control}
        sinks = [n for n in graph.nodes if not graph.consumers[n] and n not in controlled]
        try:
            ex.run_for_effects(sinks)
        except ModelLoadError as exc:
            raise type(exc)(f"the model initializer (modelInitializer) failed: {exc}") from exc
        finally:
            ex.close()
        by_id: dict[int, Any] = {}
        for out in self.artifacts.initializer_outputs:
            if out.resource_id is not None:
                by_id[out.resource_id] = _resource_behind(graph, out, ex.resources)
        for t in resource_inputs:
            resource = by_id.get(t.resource_id) if t.resource_id is not None else None
            if resource is None:
                raise ModelLoadError(f"signature input {t.name} is a resource (resourceId {t.resource_id}) that no "
                                     "output of initializerSignature provides")
            self.executor.bound[parse_input(t.name)[0][0]] = resource  # type: ignore[index]

    def _signature(self) -> tuple[list[TensorInfo], list[TensorInfo]]:
        a = self.artifacts
        inputs = list(a.inputs)
        if not inputs:
            for n in self.graph.nodes.values():
                if n.op == "Placeholder":
                    shape = n.attr("shape")
                    inputs.append(TensorInfo(n.name, f"{n.name}:0", n.attr("dtype", "float32"),
                                             tuple(shape) if shape is not None else None))
        outputs = list(a.outputs)
        if not outputs:
            for n in self.graph.nodes.values():
                if not self.graph.consumers[n.name] and n.op not in ("Const", "NoOp", "Placeholder"):
                    outputs.append(TensorInfo(n.name, f"{n.name}:0", "float32", None))
        keys = a.user_metadata.get("structuredOutputKeys") if isinstance(a.user_metadata, dict) else None
        if keys and len(keys) == len(outputs):
            # the converter lists outputs in sorted-key order: Identity:0, Identity_1:0, ...
            ordered = sorted(outputs, key=lambda t: _identity_index(t.name))
            named = {t.name: k for t, k in zip(ordered, keys)}
            outputs = [TensorInfo(named[t.name], t.name, t.dtype, t.shape) for t in outputs]
        for t in inputs + outputs:
            ref, _ = parse_input(t.name)
            if ref is None or ref[0] not in self.graph.nodes:
                raise GraphError(f"the signature names tensor {t.name!r} ({t.key}), which is not in the graph")
        # resource handles the initializer provides (loader/resources.py) are not the caller's to feed
        self.resource_inputs = [t for t in inputs
                                if t.dtype in ("DT_RESOURCE", "resource") or t.resource_id is not None]
        return [t for t in inputs if t not in self.resource_inputs], outputs

    # -- running ---------------------------------------------------------------------------
    def predict(self, inputs: Any) -> dict[str, np.ndarray]:
        """Run the signature's outputs.  `inputs`: one array (single-input models) or a dict keyed by
        signature key, tensor name ('x:0') or node name.  Returns {output tensor name: array}."""
        refs = [parse_input(o.name)[0] for o in self.outputs]
        arrays = self.executor.run(self._feeds(inputs), refs)  # type: ignore[arg-type]
        return {o.name: a for o, a in zip(self.outputs, arrays)}

    def profile(self, inputs: Any) -> "Profiler":
        """Run predict once with every draw, transfer and node timed (draws become synchronous).
        Returns the Profiler: .summary() (categories adding up to the wall time), .nodes,
        .chrome_trace().  On a fresh model this is the first inference's breakdown."""
        from gpu_backend.profiling import Profiler
        prof = Profiler()
        has_hook = hasattr(self.backend, "profiler")
        self.executor.profiler = prof
        if has_hook:
            self.backend.profiler = prof  # type: ignore[attr-defined]
        misses = getattr(self.backend, "memory", lambda: {})().get("program_cache_misses", 0)
        try:
            self.predict(inputs)
            prof.wall_ms = prof.now_ms()
        finally:
            self.executor.profiler = None
            if has_hook:
                self.backend.profiler = None  # type: ignore[attr-defined]
        mem = self.backend.memory()
        prof.meta.update(programs_new=mem.get("program_cache_misses", 0) - misses,
                         live_bytes=mem.get("live_bytes"), peak_bytes=mem.get("peak_bytes"))
        return prof

    def warmup(self, inputs: Any = None, batch: int = 1) -> dict[str, float]:
        """Compile every program the model needs and pay every driver first-draw cost, at the real
        shapes, by running the model once on zeros (or on `inputs`, e.g. a representative batch).
        Nothing of the user's is touched and the outputs are discarded, so no garbage escapes."""
        feeds = inputs if inputs is not None else self.example_inputs(batch, zeros=True)
        misses = self.backend.memory().get("program_cache_misses", 0)
        t0 = time.perf_counter()
        self.predict(feeds)
        return {"ms": (time.perf_counter() - t0) * 1e3,
                "programs_compiled": self.backend.memory().get("program_cache_misses", 0) - misses}

    def example_inputs(self, batch: int = 1, zeros: bool = False, seed: int = 0) -> dict[str, np.ndarray]:
        """Inputs of the signature's shapes (-1 dims = `batch`): zeros, or seeded random values."""
        rng = np.random.default_rng(seed)
        feeds = {}
        for t in self.inputs:
            shape = [batch if d == -1 else d for d in (t.shape or (batch,))]
            if t.dtype == "float32":
                feeds[t.key] = np.zeros(shape, np.float32) if zeros else rng.standard_normal(shape).astype(np.float32)
            elif t.dtype == "int32":
                feeds[t.key] = np.zeros(shape, np.int32) if zeros else rng.integers(0, 10, shape).astype(np.int32)
            elif t.dtype == "string":                # e.g. the keys of a hash-table lookup
                feeds[t.key] = np.full(shape, b"", object) if zeros else np.array(
                    [str(v).encode() for v in rng.integers(0, 10, shape).reshape(-1)], object).reshape(shape)
            else:
                feeds[t.key] = np.zeros(shape, np.bool_) if zeros else rng.random(shape) > 0.5
        return feeds

    def execute(self, inputs: Any, outputs: list[str] | str | None = None) -> dict[str, np.ndarray]:
        """Run any tensors by name ('conv1/Relu', 'conv1/Relu:0', 'split:1'); default: the signature outputs."""
        if outputs is None:
            return self.predict(inputs)
        names = [outputs] if isinstance(outputs, str) else list(outputs)
        refs: list[TensorRef] = []
        for name in names:
            key = next((o.name for o in self.outputs if o.key == name), name)
            ref, _ = parse_input(key)
            if ref is not None and ref[0] in self.merged_nodes:
                raise ModelInputError(
                    f"node {ref[0]!r} was merged into a neighbour when the model was loaded (a batch norm, "
                    "residual add or activation fused into its convolution, or a pad into a pool); "
                    "load_graph_model(..., optimize=False) keeps every node reachable")
            if ref is None or ref[0] not in self.graph.nodes:
                raise ModelInputError(f"no tensor named {name!r} in the graph")
            refs.append(ref)
        arrays = self.executor.run(self._feeds(inputs), refs)
        return dict(zip(names, arrays))

    def _feeds(self, inputs: Any) -> dict[str, np.ndarray]:
        if getattr(self, "_disposed", False):
            raise ModelDisposedError("this model was disposed (model.dispose() or the end of its `with` block); "
                                     "load it again to run it")
        expected = "; ".join(f"{t.key} ({t.name}, {t.dtype}, shape {_fmt_shape(t.shape)})" for t in self.inputs)
        if not isinstance(inputs, dict):
            if len(self.inputs) != 1:
                raise ModelInputError(f"this model has {len(self.inputs)} inputs; pass a dict. Expected: {expected}")
            inputs = {self.inputs[0].key: inputs}
        by_name: dict[str, TensorInfo] = {}
        for t in self.inputs:
            ref = parse_input(t.name)[0]
            for alias in (t.key, t.name, ref[0] if ref else t.name):
                by_name[alias] = t
        feeds: dict[str, np.ndarray] = {}
        for name, value in inputs.items():
            info = by_name.get(name)
            if info is None:
                raise ModelInputError(f"unknown input {name!r}. Expected: {expected}")
            node = parse_input(info.name)[0][0]  # type: ignore[index]
            if node in feeds:
                raise ModelInputError(f"input {info.key} ({info.name}) was given twice")
            feeds[node] = self._check_input(info, value)
        missing = [t for t in self.inputs if parse_input(t.name)[0][0] not in feeds  # type: ignore[index]
                   and self.graph.nodes[parse_input(t.name)[0][0]].op != "PlaceholderWithDefault"]  # type: ignore[index]
        if missing:
            raise ModelInputError(f"missing input(s) {', '.join(t.key for t in missing)}. Expected: {expected}")
        return feeds

    @staticmethod
    def _check_input(info: TensorInfo, value: Any) -> np.ndarray:
        want = info.dtype
        if want in HOST_DTYPES:
            try:
                arr = to_host_array(value, want, f"input {info.key} ({info.name})")
            except UnsupportedDTypeError as exc:
                raise ModelInputError(str(exc)) from None
            if info.shape is not None and (arr.ndim != len(info.shape) or any(
                    d != -1 and d != s for d, s in zip(info.shape, arr.shape))):
                raise ModelInputError(f"input {info.key} ({info.name}) must have shape {_fmt_shape(info.shape)} "
                                      f"(-1: any size), got {list(arr.shape)}")
            return arr
        arr = np.asarray(value)
        got_kind = arr.dtype.kind
        ok_kind = {"float32": "f", "int32": "iu", "bool": "b"}.get(want, "")
        if got_kind not in ok_kind:
            raise ModelInputError(f"input {info.key} ({info.name}) must be {want}, got {arr.dtype}")
        arr = to_backend_array(arr, f"input {info.key}")
        if normalize_dtype(arr.dtype) != want:
            raise ModelInputError(f"input {info.key} ({info.name}) must be {want}, got {arr.dtype}")
        if info.shape is not None:
            if arr.ndim != len(info.shape) or any(d != -1 and d != s for d, s in zip(info.shape, arr.shape)):
                raise ModelInputError(f"input {info.key} ({info.name}) must have shape {_fmt_shape(info.shape)} "
                                      f"(-1: any size), got {list(arr.shape)}")
        return arr

    # -- introspection ---------------------------------------------------------------------
    def placement(self) -> dict[str, Counter]:
        """{op type: Counter of where its nodes run: gl / numpy fallback / host (shape arithmetic on small
        tensors, host kernels, strings and complex numbers, hash tables, decision forests) / graph}."""
        where = {"device": getattr(self.backend, "name", "device"), "fallback": "numpy fallback",
                 "host": "host", "graph": "graph"}
        out: dict[str, Counter] = {}
        for plan in self.executor.plans.values():
            out.setdefault(plan.node.op, Counter())[where[placement_kind(plan)]] += 1
        return dict(sorted(out.items()))

    def summary(self) -> str:
        lines = [f"GraphModel {self.artifacts.source}",
                 f"  converted by {self.artifacts.converted_by or '?'} from TensorFlow {self.artifacts.generated_by or '?'}",
                 f"  backend: {getattr(self.backend, 'name', '?')}"]
        info = getattr(self.backend, "info", None)
        if info is not None:
            lines[-1] += f" ({info.renderer}, {info.version})"
        if self.dynamic:
            lines.append("  dynamic graph (control flow / TensorArrays; run by the dynamic executor): "
                         + ", ".join(f"{op} x{n}" for op, n in self.control_flow_ops().items()))
        if self.data_dependent_ops():
            lines.append("  data-dependent output shapes (run on the numpy side): "
                         + ", ".join(f"{op} x{n}" for op, n in self.data_dependent_ops().items()))
        lines.append("  inputs:")
        lines += [f"    {t.key}: {t.name} {t.dtype} {_fmt_shape(t.shape)}" for t in self.inputs]
        lines.append("  outputs:")
        lines += [f"    {t.key}: {t.name} {t.dtype} {_fmt_shape(t.shape)}" for t in self.outputs]
        placement = self.placement()
        totals: Counter = Counter()
        for c in placement.values():
            totals.update(c)
        lines.append(f"  nodes: {len(self.executor.plans)} scheduled of {len(self.graph.nodes)} "
                     f"({', '.join(f'{k}: {v}' for k, v in sorted(totals.items()))})")
        lines.append("  ops:")
        for op, c in placement.items():
            lines.append(f"    {op:28s} {sum(c.values()):4d}  " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
        fb = {k: v for k, v in self.executor.fallback_types.items()}
        lines.append(f"  numpy fallback: {sum(1 for p in self.executor.plans.values() if p.kind == 'fallback')} "
                     f"node(s)" + (f" of type {', '.join(sorted(fb))}; runs so far: {sum(fb.values())}" if fb else ""))
        lines.append("  weights: " + weights_summary(self.weight_specs))
        lines.append(f"  load: {self.load_times.total_ms:.1f} ms (read {self.load_times.read_ms:.1f}, "
                     f"decode {self.load_times.weights_ms:.1f}, plan {self.load_times.plan_ms:.1f}, "
                     f"upload {self.load_times.upload_ms:.1f})")
        return "\n".join(lines)

    @property
    def is_dynamic(self) -> bool:
        """True when the graph has control flow, TensorArrays or TensorLists (run by the dynamic executor)."""
        return self.dynamic

    def control_flow_ops(self) -> dict[str, int]:
        counts = self.graph.op_counts()
        return {op: n for op, n in counts.items() if op in DYNAMIC_GRAPH_OPS}

    def data_dependent_ops(self) -> dict[str, int]:
        counts = self.graph.op_counts()
        return {op: n for op, n in counts.items() if op in DATA_DEPENDENT_OPS}

    def dispose(self) -> None:
        """Release the resident weights (and the backend, if the model created it)."""
        self._disposed = True
        self.executor.close()
        if self._owns_backend:
            self.backend.close()

    def __enter__(self) -> "GraphModel":
        return self

    def __exit__(self, *exc: object) -> None:
        self.dispose()


def output_nodes(artifacts: ModelArtifacts) -> set[str]:
    """Names of the nodes the signature's outputs read (kept by the load-time rewrites)."""
    return {ref[0] for ref in (parse_input(t.name)[0] for t in artifacts.outputs) if ref is not None}


def weights_summary(specs: list[Any]) -> str:
    by_dtype: Counter = Counter()
    nbytes: Counter = Counter()
    quant: Counter = Counter()
    for w in specs:
        by_dtype[w.dtype] += 1
        nbytes[w.dtype] += w.nbytes() or 0
        if w.quantization is not None:
            quant[w.quantization.dtype] += 1
    parts = [f"{n} {d} ({nbytes[d] / 1024:.1f} KiB)" for d, n in sorted(by_dtype.items())]
    total = sum(nbytes.values())
    q = f"; quantized: {', '.join(f'{n} as {d}' for d, n in sorted(quant.items()))}" if quant else ""
    return f"{len(specs)} tensors, {total / 1024:.1f} KiB in shards: " + ", ".join(parts) + q


def _identity_index(name: str) -> int:
    node = name.split(":")[0]
    if node == "Identity":
        return 0
    if node.startswith("Identity_") and node[9:].isdigit():
        return int(node[9:])
    return 1 << 30


def graph_constants(graph: Graph, weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The value of every Const of `graph` (the main graph or the initializer): from the weights, or
    inline in model.json."""
    consts: dict[str, np.ndarray] = {}
    for node in graph.nodes.values():
        if node.op != "Const":
            continue
        if node.name in weights:
            value = weights[node.name]
        else:
            value = _inline_tensor(node.attr("value"), node.name)
        consts[node.name] = _const_array(value, f"constant {node.name!r}")
    # constants inside library functions (the bodies of If / While): the converter moves their
    # values to the weights under the same node names
    from .graph import decode_attr
    for fdef in graph.functions.values():
        for raw in fdef.get("nodeDef", []) or []:
            if raw.get("op") != "Const" or raw["name"] in consts:
                continue
            value = weights.get(raw["name"])
            if value is None:
                value = _inline_tensor(decode_attr((raw.get("attr") or {}).get("value", {}), raw["name"]), raw["name"])
            consts[raw["name"]] = _const_array(value, f"constant {raw['name']!r}")
    return consts


def _resource_behind(graph: Graph, info: TensorInfo, scope: ResourceScope) -> Any:
    """The resource an initializer output hands out: follow Identity nodes back to the node that
    creates it (HashTable(V2), SimpleMLCreateModelResource)."""
    ref = parse_input(info.name)[0]
    node = graph.nodes.get(ref[0]) if ref is not None else None
    k = ref[1] if ref is not None else 0
    while node is not None and (node.op in PASS_THROUGH or node.op == "IdentityN") and k < len(node.inputs):
        src, k = node.inputs[k if node.op == "IdentityN" else 0]
        node = graph.nodes[src]
    if node is None or node.op not in RESOURCE_CREATE_OPS:
        raise ModelLoadError(f"initializerSignature output {info.name} (resourceId {info.resource_id}) is not "
                             "a resource (hash table, decision forest) made by the initializer graph")
    return scope.create(node)


def _fmt_shape(shape: tuple[int, ...] | None) -> str:
    return "unknown rank" if shape is None else "[" + ", ".join(str(d) for d in shape) + "]"


def _const_array(value: np.ndarray, what: str) -> np.ndarray:
    """A constant as the executor holds it: a backend array, or a host-only one (strings, complex)."""
    dtype = normalize_dtype(value.dtype)
    return to_host_array(value, dtype, what) if dtype in HOST_DTYPES else to_backend_array(value, what)


def _inline_tensor(proto: Any, name: str) -> np.ndarray:
    """A Const whose value is inline in model.json (rare for converted models)."""
    if not isinstance(proto, dict):
        raise ModelFormatError(f"Const node {name!r} has no weight in weightsManifest and no inline value")
    from .model_json import parse_shape_proto
    import base64
    from gpu_backend.dtypes import TF_DTYPES
    dtype = TF_DTYPES.get(proto.get("dtype", "DT_FLOAT"), "float32")
    shape = parse_shape_proto(proto.get("tensorShape"), f"{name}.value.tensorShape") or ()
    size = int(np.prod(shape)) if shape else 1
    if dtype == "string":
        try:
            strings = [base64.b64decode(v) for v in proto.get("stringVal", [])]
        except (TypeError, ValueError):
            raise ModelFormatError(f"Const node {name!r}: stringVal entries must be base64 strings") from None
        if len(strings) == 1 and size != 1:
            strings = strings * size
        if len(strings) != size:
            raise ModelFormatError(f"Const node {name!r} has {len(strings)} inline strings for shape {list(shape)}")
        out = np.empty(size, object)
        out[:] = strings
        return out.reshape(shape)
    if dtype == "complex64":
        pairs = np.asarray([float(v) for v in proto.get("scomplexVal", proto.get("dcomplexVal", []))], np.float32)
        values = (pairs[0::2] + 1j * pairs[1::2]).astype(np.complex64) if pairs.size % 2 == 0 else None
        if values is None or (values.size != size and values.size != 1):
            raise ModelFormatError(f"Const node {name!r} has {pairs.size} inline complex parts for shape {list(shape)}")
        return (np.full(size, values[0], np.complex64) if values.size == 1 and size != 1 else values).reshape(shape)
    npd = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}[dtype]
    if "tensorContent" in proto:
        raw = base64.b64decode(proto["tensorContent"])
        src = {"DT_FLOAT": "<f4", "DT_INT32": "<i4", "DT_BOOL": "u1", "DT_INT64": "<i8", "DT_DOUBLE": "<f8",
               "DT_HALF": "<f2"}.get(proto.get("dtype", "DT_FLOAT"), "<f4")
        values = np.frombuffer(raw, src).astype(npd)
    else:
        for key in ("floatVal", "intVal", "int64Val", "boolVal", "doubleVal", "halfVal"):
            if key in proto:
                values = np.asarray([float(v) if key != "boolVal" else bool(v) for v in proto[key]]).astype(npd)
                break
        else:
            values = np.zeros(0, npd)
    if values.size == 1 and size != 1:
        values = np.full(size, values[0], npd)
    if values.size != size:
        raise ModelFormatError(f"Const node {name!r} has {values.size} inline values for shape {list(shape)}")
    return values.reshape(shape)


def load_graph_model(source: str | os.PathLike[str] | ModelSource, backend: Backend | str | None = None, *,
                     strict: bool = False, max_iterations: int = 100_000, optimize: bool = True,
                     **http_options: Any) -> GraphModel:
    """Load model.json + weights from a path, file:// or http(s):// URL, or a ModelSource.

    backend: None/'gl' (a new headless GLBackend), 'glfw', 'numpy', or a Backend instance (shared).
    strict: fail at load time if any op would run on the numpy fallback instead of the backend.
    max_iterations: a loop running more iterations than this fails with an error naming it.
    optimize: merge neighbouring nodes at load (pads, per-channel affine ops, residual adds and
        activations into convolutions and pools); False keeps every node, e.g. to execute() them.
    http_options: timeout_s, max_bytes, headers for http(s) sources.
    """
    src = resolve_source(source, **http_options)
    t0 = time.perf_counter()
    artifacts = parse_model_json(src.read_model_json(), src.description)
    t1 = time.perf_counter()
    weights = load_weights(artifacts, src)
    t2 = time.perf_counter()
    be, owns = _make_backend(backend)
    try:
        return GraphModel(artifacts, weights, be, owns, strict, {"read": (t1 - t0) * 1e3, "weights": (t2 - t1) * 1e3},
                          max_iterations=max_iterations, optimize=optimize, source=src)
    except BaseException:
        if owns:
            be.close()
        raise


__all__ = ["GraphModel", "load_graph_model", "ModelLoadError"]
