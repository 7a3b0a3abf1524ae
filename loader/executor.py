"""Planning and running a graph on a Backend.

Placement, decided once at load:
  * graph ops (Const, Placeholder, Identity, Shape, ...) are handled here, without a kernel;
  * "host" nodes: every data input is a constant or a shape-derived small tensor.  They run on the
    numpy reference at once (shape arithmetic such as Shape -> StridedSlice -> Pack -> Reshape), never
    touching the GPU, the way TF.js forwards small CPU-resident tensors;
  * "device" nodes run on the model's backend (the GL backend by default);
  * "fallback" nodes have no kernel on that backend and run on the numpy reference, inputs read back.
A node reading or making a dtype the backend cannot hold (Backend.host_only_dtypes: strings, and
complex64 except on GL; gpu_backend/dtypes.py) runs on the host whatever its placement: those values
never go to that backend.
Resource ops -- hash tables (loader/tables.py) and TF-DF decision forests (loader/tfdf.py) -- are
graph ops too: they read and fill the resources of the model's ResourceScope (`self.resources`,
shared with the model's initializer graph, loader/resources.py) and pass the resource itself between
nodes as Value.obj; their other inputs and outputs are host arrays, so they run on the host.
Weights feeding device nodes are uploaded once at load and stay resident.  Every other device tensor
is disposed as soon as its last consumer has run (reference counts over the schedule).
"""
from __future__ import annotations

import time
import warnings
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any

import numpy as np

from gpu_backend.api import Backend, TensorHandle
from gpu_backend.dtypes import DTYPES, HOST_DTYPES, normalize_dtype
from gpu_backend.numpy_backend import run_reference
from gpu_backend.profiling import Profiler
from gpu_backend.registry import HOST_KERNELS, NUMPY_KERNELS, STATEFUL_KERNELS

from .declared_types import declared_arity, declared_dtypes
from .errors import GraphError, ModelLoadError, UnsupportedOpError
from .graph import Graph, Node, TensorRef
from .op_mapping import OPS, KernelCall, MappingError, Params
from .resources import RESOURCE_CREATE_OPS, RESOURCE_OPS, ResourceError, ResourceScope, handle_input, run_resource_op

# Ops handled by the executor itself.
GRAPH_OPS = {"Const", "Placeholder", "PlaceholderWithDefault", "Identity", "IdentityN", "Snapshot", "StopGradient",
             "NoOp", "Shape", "ShapeN", "Size", "Rank", "EnsureShape", "Print", "CheckNumerics",
             "PreventGradient"} | RESOURCE_OPS
PASS_THROUGH = {"Identity", "Snapshot", "StopGradient", "EnsureShape", "Print", "CheckNumerics", "PreventGradient"}
HOST_SIZE_LIMIT = 4096   # host constants up to this many values keep downstream arithmetic on the host


def arity_problem(node: Node) -> str | None:
    """The node's data-input count against TF's definition of its op (a line for the load-time report)."""
    arity = declared_arity(node)
    if arity is None or (len(node.inputs) == arity if arity >= 0 else len(node.inputs) >= -arity):
        return None
    return (f"  {node.name} ({node.op}): has {len(node.inputs)} data input(s); TensorFlow's {node.op} takes "
            f"{arity if arity >= 0 else f'at least {-arity}'}")


def _fits(shape: tuple[int, ...], want: Any) -> bool:
    """A concrete shape against a partial one (None: anything; a None dim: any size)."""
    return want is None or (len(shape) == len(want) and all(w is None or w == d for d, w in zip(shape, want)))


def graph_op_outputs(node: Node) -> int:
    """Output count of a graph op with a fixed one (the TF-DF inference op has two, its load op none)."""
    declared = declared_dtypes(node) if node.op in RESOURCE_OPS else None
    return len(declared) if declared else 1


def placement_kind(plan: "NodePlan") -> str:
    """Where a planned node runs, as reported: resource ops are graph ops the executor runs on the host."""
    return "host" if plan.node.op in RESOURCE_OPS else plan.kind


class NodeError(ModelLoadError):
    """A node failed to run; the message names the node and its op."""


@dataclass
class Value:
    """A tensor during a run: a device handle, a host array, or both (cached copies)."""

    host: np.ndarray | None = None
    dev: TensorHandle | None = None
    resident: bool = False      # model weights: never disposed by a run
    refs: int = 0
    obj: Any = None             # a TensorArray / TensorList (dynamic graphs), a resource (loader/resources.py)
    feed: bool = False          # a model input (its values differ from run to run)

    @property
    def shape(self) -> tuple[int, ...] | None:
        if self.host is not None:
            return tuple(self.host.shape)
        return tuple(self.dev.shape) if self.dev is not None else None

    @property
    def dtype(self) -> str:
        if self.host is not None:
            return normalize_dtype(self.host.dtype)
        return self.dev.dtype if self.dev is not None else "resource"


@dataclass
class NodePlan:
    node: Node
    kind: str                       # graph | host | device | fallback
    params: tuple[int, ...] = ()
    num_outputs: int = 1
    call: KernelCall | None = None  # resolved at load when every param input is constant
    kernel: str = ""


@dataclass
class RunStats:
    wall_ms: float = 0.0
    nodes: int = 0
    device_kernels: int = 0
    host_kernels: int = 0
    fallback_kernels: int = 0
    uploads: int = 0
    readbacks: int = 0
    fallback_ops: Counter = field(default_factory=Counter)
    replayed: bool = False


MAX_RECORDINGS = 4


class NotStatic(Exception):
    """A kernel parameter that is only known when the graph runs."""


class Executor:
    def __init__(self, graph: Graph, consts: dict[str, np.ndarray], backend: Backend | None, strict: bool = False,
                 backend_kernels: set[str] | None = None, host_only_dtypes: tuple[str, ...] | None = None) -> None:
        self.graph = graph
        self.consts = consts
        self.backend = backend            # None: planning only (inspect)
        self.strict = strict
        self.backend_kernels = set(backend.kernels()) if backend is not None else set(backend_kernels or ())
        # dtypes the backend cannot hold (strings everywhere; complex64 except on GL); planning without a
        # backend (inspect) says which backend it plans for
        self.host_only: tuple[str, ...] = host_only_dtypes if host_only_dtypes is not None else getattr(
            backend, "host_only_dtypes", HOST_DTYPES)
        self.plans: dict[str, NodePlan] = {}
        self.resident: dict[str, Value] = {}
        self._schedules: dict[tuple[str, ...], tuple[list[NodePlan], dict[TensorRef, int]]] = {}
        self.last_stats = RunStats()
        # recorded runs, by (fetch, input names/shapes/dtypes); the most recent MAX_RECORDINGS are kept
        self.replay = True
        self._recordings: OrderedDict[tuple, Any] = OrderedDict()
        self.unreplayable: dict[tuple, str] = {}
        self._tape: Any = None
        self.fallback_types: Counter[str] = Counter()
        self.profiler: Profiler | None = None     # set by GraphModel.profile()
        self._declared: dict[str, Any] = {}        # node -> declared output dtypes (None: not declared)
        self.resources = ResourceScope()           # the model's tables and forests (GraphModel shares it)
        self.bound: dict[str, Any] = {}            # resource placeholders -> the resource they stand for
        # node -> output shapes inferred at load (loader/shape_inference.py; None entries: unknown)
        self.expected_shapes: dict[str, list[Any]] = {}
        self._shape_check = False                  # this run's feeds agree with the inferred input shapes

    # -- planning --------------------------------------------------------------------------
    def plan(self, targets: list[str]) -> None:
        """Map, validate and place every node needed for `targets`; raise listing all unsupported ops."""
        order = self.graph.schedule(targets)
        unsupported, bad_attrs = self.classify(order)
        self.raise_unsupported(order, unsupported, bad_attrs)
        self.check_fallbacks()
        self._check_outputs_exist(order)

    def classify(self, order: list[Node]) -> tuple[dict[str, list[str]], list[str]]:
        """Place every node of `order`; return (unsupported op -> nodes, attribute errors) without raising."""
        unsupported: dict[str, list[str]] = {}
        bad_attrs: list[str] = []
        host_static: set[str] = {name for name, p in self.plans.items() if p.kind == "host"} | {
            name for name, p in self.plans.items() if p.kind == "graph" and self._is_host_static(p.node, set())}
        for node in order:
            if node.name in self.plans:
                if self.plans[node.name].kind in ("graph", "host") and self._is_host_static(node, host_static):
                    host_static.add(node.name)
                continue
            problem = arity_problem(node)
            if problem:
                bad_attrs.append(problem)
                continue
            if node.op in GRAPH_OPS:
                self.plans[node.name] = NodePlan(node, "graph", num_outputs=max(1, len(node.inputs))
                                                 if node.op == "IdentityN" else (len(node.inputs) if node.op == "ShapeN"
                                                                                 else graph_op_outputs(node)))
                if self._is_host_static(node, host_static):
                    host_static.add(node.name)
                continue
            mapped = self._map_node(node, lambda i: self._static_value(node, i), unsupported, bad_attrs)
            if mapped is None:
                continue
            spec, params, call, kernel = mapped
            data_inputs = call.inputs if call is not None else [i for i in range(len(node.inputs)) if i not in params]
            host = all(self._input_host_static(node, i, host_static) for i in data_inputs)
            if host:
                kind = "host"
                host_static.add(node.name)
            elif self._host_by_nature(node, kernel, data_inputs):
                kind = "host"
            elif kernel in self.backend_kernels:
                kind = "device"
            else:
                kind = "fallback"
            self.plans[node.name] = NodePlan(node, kind, params, spec.num_outputs(node), call, kernel)
        return unsupported, bad_attrs

    def raise_unsupported(self, order: list[Node], unsupported: dict[str, list[str]], bad_attrs: list[str]) -> None:
        if unsupported or bad_attrs:
            lines = []
            if unsupported:
                lines.append(f"{sum(len(v) for v in unsupported.values())} node(s) use {len(unsupported)} op type(s) "
                             "that no backend implements:")
                for op, names in sorted(unsupported.items()):
                    shown = ", ".join(names[:5]) + (f", ... ({len(names)} nodes)" if len(names) > 5 else "")
                    lines.append(f"  {op}: {shown}")
            if bad_attrs:
                lines.append("nodes with attribute values no kernel supports:")
                lines.extend(bad_attrs)
            raise UnsupportedOpError("\n".join(lines))

    def check_fallbacks(self) -> None:
        fallback = Counter(p.node.op for p in self.plans.values() if p.kind == "fallback")
        if fallback and self.strict:
            raise UnsupportedOpError(
                "strict=True: these ops have no kernel on the " + getattr(self.backend, "name", "?") +
                " backend and would run on the numpy fallback: " +
                ", ".join(f"{op} ({n} node{'s' if n > 1 else ''})" for op, n in sorted(fallback.items())))
        for op, n in sorted(fallback.items()):
            if op not in self.fallback_types:
                warnings.warn(f"{op} has no {getattr(self.backend, 'name', '?')} kernel yet; {n} node(s) run on the "
                              "numpy fallback (strict=True makes this an error)", stacklevel=4)
        self.fallback_types.update({op: 0 for op in fallback})

    def _check_outputs_exist(self, order: list[Node]) -> None:
        for node in order:
            for src, k in node.inputs:
                plan = self.plans.get(src)
                if plan is not None and k >= plan.num_outputs:
                    raise GraphError(f"node {node.name!r} reads output {k} of {src!r} ({plan.node.op}), which has "
                                     f"only {plan.num_outputs} output(s) here")

    def _map_node(self, node: Node, value_of: Callable[[int], np.ndarray], unsupported: dict[str, list[str]],
                  bad_attrs: list[str]) -> tuple[Any, list[int], Any, str] | None:
        """(op spec, parameter inputs, kernel call or None when its parameters are only known at run
        time, kernel name); None when the node cannot run, after recording it in `unsupported` or
        `bad_attrs` so that every problem of the graph is reported at once."""
        spec = OPS.get(node.op)
        if spec is None:
            unsupported.setdefault(node.op, []).append(node.name)
            return None
        params = spec.param_inputs(node)
        call = None
        try:
            call = spec.mapper(node, Params(node, value_of))
        except NotStatic:
            pass
        except MappingError as exc:
            bad_attrs.append(f"  {node.name} ({node.op}): {exc}")
            return None
        except (IndexError, KeyError, TypeError, ValueError, AttributeError) as exc:
            # an attribute of the wrong kind or a missing input: the file is malformed at this node
            bad_attrs.append(f"  {node.name} ({node.op}): malformed node ({type(exc).__name__}: {exc})")
            return None
        if call is not None and any(not 0 <= i < len(node.inputs) for i in call.inputs):
            bad_attrs.append(f"  {node.name} ({node.op}): has {len(node.inputs)} data input(s), fewer than the op needs")
            return None
        kernel = call.kernel if call is not None else self._kernel_name(node, spec)
        if kernel not in self.backend_kernels and kernel not in NUMPY_KERNELS:
            unsupported.setdefault(node.op, []).append(node.name)
            return None
        return spec, params, call, kernel

    def _kernel_name(self, node: Node, spec: Any) -> str:
        # the mapping needs param values we only know at run time: map with placeholder values for the name
        for dummy in (np.ones((), np.int32), np.ones(4, np.int32), np.ones((4, 2), np.int32)):
            try:
                return spec.mapper(node, Params(node, lambda i: dummy)).kernel
            except Exception:
                continue
        return node.op

    def _static_value(self, node: Node, i: int) -> np.ndarray:
        src, k = node.inputs[i]
        src_node = self.graph.nodes[src]
        if src_node.op == "Const" and k == 0:
            return self.consts[src]
        raise NotStatic()

    def _host_by_nature(self, node: Node, kernel: str, data_inputs: list[int]) -> bool:
        """A host kernel, or a node reading or making a dtype the backend cannot hold (strings; complex
        numbers where the backend has no complex64): on the host (both executors place nodes by this rule)."""
        if kernel in HOST_KERNELS or any(self._declared_host_dtype(node, i) for i in data_inputs):
            return True
        return any(d in self.host_only for d in (declared_dtypes(node) or ()))

    def _declared_host_dtype(self, node: Node, i: int) -> bool:
        """Whether input i is declared a dtype the backend cannot hold: such a node runs on the host."""
        src, k = node.inputs[i]
        src_node = self.graph.nodes.get(src)
        if src_node is None:
            return False
        if src_node.op == "Const" and src in self.consts:
            return normalize_dtype(self.consts[src].dtype) in self.host_only
        declared = declared_dtypes(src_node)
        return bool(declared) and k < len(declared) and declared[k] in self.host_only

    def _input_host_static(self, node: Node, i: int, host_static: set[str]) -> bool:
        src, _ = node.inputs[i]
        if src not in host_static:
            return False
        if self.graph.nodes[src].op == "Const":
            return self.consts[src].size <= HOST_SIZE_LIMIT
        return True

    def _is_host_static(self, node: Node, host_static: set[str]) -> bool:
        if node.op == "Const":
            return True
        if node.op in ("Shape", "ShapeN", "Size", "Rank"):
            return True
        if node.op in PASS_THROUGH or node.op == "IdentityN":
            return all(self._input_host_static(node, i, host_static) for i in range(len(node.inputs)))
        return False

    def upload_weights(self) -> None:
        """Upload, once, every constant that a device node reads as data."""
        for plan in self.plans.values():
            if plan.kind != "device":
                continue
            data_inputs = plan.call.inputs if plan.call is not None else [
                i for i in range(len(plan.node.inputs)) if i not in plan.params]
            for i in data_inputs:
                src, _ = plan.node.inputs[i]
                src = self._through_identity(src)
                if src in self.resident or self.graph.nodes[src].op != "Const":
                    continue
                if normalize_dtype(self.consts[src].dtype) in self.host_only:
                    continue                 # strings (complex too, where the backend has none) stay on the host
                value = Value(host=self.consts[src], resident=True)
                value.dev = self.backend.upload(self.consts[src], name=src, constant=True)
                self.resident[src] = value

    def _through_identity(self, name: str) -> str:
        node = self.graph.nodes[name]
        while node.op in PASS_THROUGH and node.inputs:
            node = self.graph.nodes[node.inputs[0][0]]
        return node.name

    # -- scheduling ------------------------------------------------------------------------
    def schedule(self, targets: tuple[str, ...], fetch: tuple[TensorRef, ...]) -> tuple[list[NodePlan], dict[TensorRef, int]]:
        key = targets + tuple(f"{n}:{k}" for n, k in fetch)
        cached = self._schedules.get(key)
        if cached is not None:
            return cached
        order = self.graph.schedule(list(targets))
        missing = [n.name for n in order if n.name not in self.plans]
        if missing:
            self.plan(list(targets))
        plans = [self.plans[n.name] for n in order]
        uses: Counter[TensorRef] = Counter()
        for p in plans:
            for ref in p.node.inputs:
                uses[ref] += 1
        for ref in fetch:
            uses[ref] += 1
        self._schedules[key] = (plans, dict(uses))
        return self._schedules[key]

    # -- running ---------------------------------------------------------------------------
    def run(self, feeds: dict[str, np.ndarray], fetch: list[TensorRef]) -> list[np.ndarray]:
        """Run the graph for `fetch`.  The first run at given input shapes is recorded when the backend
        can replay (gpu_backend/recording.py); later runs at those shapes replay it."""
        key = self._replay_key(feeds, fetch)
        recording = self._recordings.get(key) if key is not None else None
        if recording is not None:
            self._recordings.move_to_end(key)
            t0 = time.perf_counter()
            out = recording.replay(feeds, self.profiler)
            self.last_stats = RunStats(wall_ms=(time.perf_counter() - t0) * 1e3, nodes=len(self._schedules_for(fetch)),
                                       device_kernels=recording.draws, replayed=True)
            return out
        tape = None
        if key is not None and key not in self.unreplayable and self.profiler is None:
            tape = self.backend.begin_recording()  # type: ignore[union-attr]
        try:
            out = self._run(feeds, fetch, tape)
        except BaseException:
            if tape is not None:
                self.backend.end_recording(tape, feeds, -1)  # type: ignore[union-attr]
            raise
        if tape is not None:
            recording, why = self.backend.end_recording(tape, feeds, len(fetch))  # type: ignore[union-attr]
            if recording is None:
                self.unreplayable[key] = why  # type: ignore[index]
            else:
                self._recordings[key] = recording  # type: ignore[index]
                while len(self._recordings) > MAX_RECORDINGS:
                    self._recordings.popitem(last=False)[1].release()
        return out

    def _replay_key(self, feeds: dict[str, np.ndarray], fetch: list[TensorRef]) -> tuple | None:
        if not self.replay or self.backend is None:
            return None
        return (tuple(fetch), tuple(sorted((name, getattr(a, "shape", None), str(getattr(a, "dtype", type(a))))
                                           for name, a in feeds.items())))

    def _schedules_for(self, fetch: list[TensorRef]) -> list[NodePlan]:
        targets = tuple(dict.fromkeys(n for n, _ in fetch))
        return self.schedule(targets, tuple(fetch))[0]

    def release_recordings(self) -> None:
        """Give the textures held by recorded runs back to the pool (they are re-recorded on demand)."""
        while self._recordings:
            self._recordings.popitem()[1].release()
        self.unreplayable.clear()

    def _run(self, feeds: dict[str, np.ndarray], fetch: list[TensorRef], tape: Any = None) -> list[np.ndarray]:
        self._tape = tape
        try:
            return self._run_nodes(feeds, fetch, tape)
        finally:
            self._tape = None

    def run_for_effects(self, targets: list[str]) -> None:
        """Run the nodes `targets` need, fetching nothing (the model initializer: its table imports)."""
        self.plan(targets)
        self._run_nodes({}, [], None, tuple(targets))

    def _run_nodes(self, feeds: dict[str, np.ndarray], fetch: list[TensorRef], tape: Any,
                   targets: tuple[str, ...] | None = None) -> list[np.ndarray]:
        t0 = time.perf_counter()
        stats = RunStats()
        targets = targets or tuple(dict.fromkeys(n for n, _ in fetch))
        plans, uses = self.schedule(targets, tuple(fetch))
        values: dict[TensorRef, Value] = {}
        prof = self.profiler
        self._shape_check = bool(self.expected_shapes) and all(
            _fits(np.shape(a), self.expected_shapes.get(name, [None])[0]) for name, a in feeds.items())
        try:
            for plan in plans:
                if tape is not None:
                    tape.node = (plan.node.name, plan.node.op, plan.kernel, plan.kind)
                ev = prof.begin_node(plan.node.name, plan.node.op, plan.kernel, plan.kind) if prof else None
                self._run_node(plan, feeds, values, uses, stats)
                for ref in plan.node.inputs:
                    self._release(values, ref)
                if ev is not None:
                    prof.end_node(ev)  # type: ignore[union-attr]
            out = []
            if tape is not None:
                tape.outputs()
            for ref in fetch:
                v = values[ref]
                out.append(self._host(v, stats).copy())
            return out
        finally:
            for v in {id(v): v for v in values.values()}.values():
                if not v.resident and v.dev is not None:
                    self.backend.dispose(v.dev)
                    v.dev = None
            stats.wall_ms = (time.perf_counter() - t0) * 1e3
            stats.nodes = len(plans)
            self.last_stats = stats

    def _release(self, values: dict[TensorRef, Value], ref: TensorRef) -> None:
        v = values.get(ref)
        if v is None:
            return
        v.refs -= 1
        if v.refs <= 0:
            if not v.resident and v.dev is not None:
                self.backend.dispose(v.dev)
                v.dev = None
            values.pop(ref, None)

    def _store(self, values: dict[TensorRef, Value], uses: dict[TensorRef, int], node: Node, k: int, v: Value) -> None:
        ref = (node.name, k)
        n = uses.get(ref, 0)
        if n == 0:
            if not v.resident and v.dev is not None and v.refs <= 0:
                self.backend.dispose(v.dev)
                v.dev = None
            return
        v.refs += n
        values[ref] = v

    def _host(self, v: Value, stats: RunStats) -> np.ndarray:
        if v.feed and self._tape is not None:
            self._tape.invalid = "an input's values are used on the CPU (an op runs on them there)"
        if v.host is None:
            if v.dev is None and v.obj is not None:
                raise NodeError(f"a {type(v.obj).__name__} is a resource, not a tensor: it has no value to fetch "
                                "or compute with")
            assert v.dev is not None
            v.host = self.backend.read(v.dev)
            stats.readbacks += 1
        return v.host

    def _device(self, v: Value, stats: RunStats) -> TensorHandle:
        if v.dev is None:
            assert v.host is not None
            v.dev = self.backend.upload(v.host)
            stats.uploads += 1
        return v.dev

    def _input(self, values: dict[TensorRef, Value], node: Node, i: int) -> Value:
        ref = node.inputs[i]
        try:
            return values[ref]
        except KeyError:
            raise NodeError(f"node {node.name!r} ({node.op}): input {ref[0]}:{ref[1]} has no value "
                            "(it was not computed or was released too early)") from None

    def _run_node(self, plan: NodePlan, feeds: dict[str, np.ndarray], values: dict[TensorRef, Value],
                  uses: dict[TensorRef, int], stats: RunStats) -> None:
        node = plan.node
        if node.op in RESOURCE_OPS:
            args = [self._input(values, node, i) for i in range(len(node.inputs))]
            for k, v in enumerate(self.resource_op(node, args, stats)):
                self._store(values, uses, node, k, v)
            return
        if plan.kind == "graph":
            self._run_graph_op(node, feeds, values, uses)
            return
        inputs = [values.get(ref) for ref in node.inputs]
        for i, v in enumerate(inputs):
            if v is None:
                ref = node.inputs[i]
                raise NodeError(f"node {node.name!r} ({node.op}): input {ref[0]}:{ref[1]} has no value "
                                "(it was not computed or was released too early)")
        results = self.compute(plan, inputs, stats)  # type: ignore[arg-type]
        self._check_dtypes(node, results)
        if self._shape_check:
            self._check_shapes(node, results)
        for k, v in enumerate(results):
            self._store(values, uses, node, k, v)

    def _check_dtypes(self, node: Node, results: list[Value]) -> None:
        """Each output's dtype against the graph's declaration (TF's OpDef rule): a kernel returning
        another dtype is a bug of ours, reported at the node that made it rather than where it clashes."""
        declared = self._declared.get(node.name, False)
        if declared is False:
            declared = self._declared[node.name] = declared_dtypes(node)
        if not declared:
            return
        for k, (v, want) in enumerate(zip(results, declared)):
            if (want in DTYPES or want in HOST_DTYPES) and v.obj is None and v.dtype != want:
                msg = (f"node {node.name!r} ({node.op}) output {k} is {v.dtype} but the graph declares {want}; "
                       "either the model file contradicts itself or this runtime has a bug (please report it)")
                if self.strict:
                    raise NodeError(msg)
                warnings.warn(msg, RuntimeWarning, stacklevel=2)

    def _check_shapes(self, node: Node, results: list[Value]) -> None:
        """Each output's shape against the one inferred at load: they differ only if a kernel or a shape
        rule is wrong, so the report names the node rather than letting the mismatch surface downstream."""
        for k, (v, want) in enumerate(zip(results, self.expected_shapes.get(node.name, ()))):
            got = v.shape
            if got is not None and not _fits(got, want):
                msg = (f"node {node.name!r} ({node.op}) output {k} has shape {list(got)} but load-time shape "
                       f"inference gave {[('?' if d is None else d) for d in want]}; this runtime has a bug "
                       "(please report it)")
                if self.strict:
                    raise NodeError(msg)
                warnings.warn(msg, RuntimeWarning, stacklevel=2)

    def resource_op(self, node: Node, inputs: list[Value], stats: RunStats) -> list[Value]:
        """Run one resource op (both executors come here): a create op (HashTable(V2),
        SimpleMLCreateModelResource) yields its resource of the model's scope as Value.obj; the others
        take the resource from their handle input and host arrays for the rest."""
        try:
            if node.op in RESOURCE_CREATE_OPS:
                return [Value(obj=self.resources.create(node))]
            h = handle_input(node)
            if h >= len(inputs):
                raise NodeError(f"node {node.name!r} ({node.op}): has no resource handle input {h}")
            resource = inputs[h].obj
            if resource is None:
                raise NodeError(f"node {node.name!r} ({node.op}): input {h} is not a resource handle "
                                f"(it comes from {node.inputs[h][0]!r})")
            if self._tape is not None:
                # the resource is state outside the recorded GL commands: a replay would reuse this run's results
                self._tape.invalid = f"node {node.name!r} ({node.op}) reads a {type(resource).__name__} on the host"
            arrays = [self._host(v, stats) for i, v in enumerate(inputs) if i != h]
            results = [Value(host=a) for a in run_resource_op(node, resource, arrays, self.resources)]
        except ResourceError as exc:
            raise NodeError(f"node {node.name!r} ({node.op}): {exc}") from None
        stats.host_kernels += 1
        self._check_dtypes(node, results)
        return results

    def compute(self, plan: NodePlan, inputs: list[Value], stats: RunStats, small_host: bool = False) -> list[Value]:
        """Run one kernel node on its input values; returns its output values.

        small_host: run on the numpy reference when every data input is a small host value (the
        dynamic executor's run-time version of the static "host" placement)."""
        node = plan.node
        try:
            call = plan.call
            if call is None:
                call = OPS[node.op].mapper(node, Params(node, lambda i: self._host(inputs[i], stats)))
            args = [inputs[i] for i in call.inputs]
            if self._tape is not None and call.kernel in STATEFUL_KERNELS:
                # a replay would upload this run's numbers again instead of drawing new ones
                self._tape.invalid = f"node {node.name!r} ({node.op}) draws new random numbers on every run"
            kind = plan.kind
            if small_host and kind == "device" and all(v.host is not None and v.host.size <= HOST_SIZE_LIMIT
                                                       for v in args) and args:
                kind = "host"
            if kind == "device" and any(v.host is not None and v.dtype in self.host_only for v in args):
                # strings (and complex numbers, where the backend cannot hold them) never go to a backend
                kind = "host"
            if kind == "device":
                handles = [self._device(v, stats) for v in args]
                handles += [self.backend.upload(e) for e in call.extra]
                outs = self.backend.run(call.kernel, handles, call.attrs)
                for h in handles[len(args):]:
                    self.backend.dispose(h)
                stats.device_kernels += 1
                return [Value(dev=h) for h in outs]
            arrays = [self._host(v, stats) for v in args] + list(call.extra)
            t0 = time.perf_counter()
            results = [Value(host=a) for a in run_reference(call.kernel, arrays, call.attrs)]
            if self.profiler is not None:
                self.profiler.host((time.perf_counter() - t0) * 1e3)
            if kind == "fallback":
                if self._tape is not None:
                    self._tape.invalid = f"node {node.name!r} ({node.op}) runs on the numpy fallback"
                stats.fallback_kernels += 1
                stats.fallback_ops[node.op] += 1
                self.fallback_types[node.op] += 1
            else:
                stats.host_kernels += 1
            return results
        except (NodeError, GraphError):
            raise
        except MappingError as exc:
            raise NodeError(f"node {node.name!r} ({node.op}): {exc}") from exc
        except Exception as exc:
            shapes = ", ".join(f"{list(v.shape)} {v.dtype}" for v in inputs if v is not None and v.shape is not None)
            raise NodeError(f"node {node.name!r} ({node.op}) failed on inputs [{shapes}]: "
                            f"{type(exc).__name__}: {exc}") from exc

    def _run_graph_op(self, node: Node, feeds: dict[str, np.ndarray], values: dict[TensorRef, Value],
                      uses: dict[TensorRef, int]) -> None:
        op = node.op
        if op == "Const":
            # weights uploaded at load are resident; other constants live on the host, and a device copy
            # made during this run is disposed with the run's values
            v = self.resident.get(node.name) or Value(host=self.consts[node.name])
            self._store(values, uses, node, 0, v)
        elif op in ("Placeholder", "PlaceholderWithDefault"):
            if node.name in self.bound:          # a resource handle the model initializer made
                v = Value(obj=self.bound[node.name])
            elif node.name in feeds:
                v = Value(host=feeds[node.name], feed=True)
            elif op == "PlaceholderWithDefault":
                v = self._input(values, node, 0)
            else:
                raise NodeError(f"no value fed for input {node.name!r}")
            self._store(values, uses, node, 0, v)
        elif op in PASS_THROUGH:
            self._store(values, uses, node, 0, self._input(values, node, 0))
        elif op == "IdentityN":
            for k in range(len(node.inputs)):
                self._store(values, uses, node, k, self._input(values, node, k))
        elif op == "NoOp":
            return
        elif op in ("Shape", "ShapeN"):
            for k in range(len(node.inputs)):
                self._store(values, uses, node, k, Value(host=np.asarray(self._input(values, node, k).shape, np.int32)))
        elif op == "Size":
            self._store(values, uses, node, 0, Value(host=np.asarray(int(np.prod(self._input(values, node, 0).shape)),
                                                                      np.int32)))
        elif op == "Rank":
            self._store(values, uses, node, 0, Value(host=np.asarray(len(self._input(values, node, 0).shape), np.int32)))
        else:  # pragma: no cover - GRAPH_OPS and this dispatch are kept in sync
            raise NodeError(f"graph op {op} is not handled")

    def close(self) -> None:
        self.release_recordings()
        for v in self.resident.values():
            if v.dev is not None and not v.dev.disposed:
                self.backend.dispose(v.dev)
            v.dev = None
        self.resident.clear()
