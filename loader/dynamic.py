"""Executing graphs with TF1 control flow (Switch/Merge/Enter/Exit/NextIteration/LoopCond), TensorArrays
and TensorLists, where which nodes run, and how often, depends on the data.

Every value is keyed by (node, output, context); a context is the path of loop frames and iteration
numbers from the root, e.g. (("outer", 3), ("inner", 0)).  Enter moves a value into a child frame
(iteration 0; is_constant=True: every iteration), NextIteration into the next iteration, Exit back
to the parent.  Switch sends its data to one output and a "dead" marker to the other; a node with a
dead input is dead too (its outputs are dead) except Merge, which forwards its first live input.
A loop ends when LoopCond turns false: the body's NextIterations receive dead values and are dropped.
Nodes run when their inputs are available in their context, from a work queue.

Kernels run exactly as in the static executor (GL where a kernel exists); predicates and indices
that control flow needs are read back from the GPU only when they live there, and counted.
Models without control flow never come here (GraphModel keeps the static schedule for them).
"""
from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np


from .errors import GraphError, UnsupportedOpError
from .executor import GRAPH_OPS, Executor, arity_problem, NodeError, NodePlan, NotStatic, RunStats, Value
from .graph import Graph, Node, TensorRef, function_graph
from .resources import RESOURCE_OPS

Ctx = tuple[tuple[str, int], ...]
CONTROL_FLOW_OPS = {"Switch", "Merge", "Enter", "Exit", "NextIteration", "LoopCond", "RefSwitch", "RefMerge",
                    "RefEnter", "RefExit", "RefNextIteration"}
TENSOR_ARRAY_OPS = {"TensorArrayV3", "TensorArrayWriteV3", "TensorArrayReadV3", "TensorArrayGatherV3",
                    "TensorArrayScatterV3", "TensorArraySizeV3", "TensorArrayCloseV3", "TensorArrayConcatV3",
                    "TensorArraySplitV3"}
TENSOR_LIST_OPS = {"TensorListReserve", "TensorListFromTensor", "TensorListGetItem", "TensorListSetItem",
                   "TensorListStack", "TensorListGather", "TensorListScatter", "TensorListScatterV2",
                   "TensorListLength", "TensorListPushBack", "TensorListPopBack", "TensorListConcat",
                   "TensorListConcatV2", "TensorListSplit", "TensorListResize", "EmptyTensorList",
                   "TensorListElementShape"}
FUNCTIONAL_OPS = {"If", "StatelessIf", "While", "StatelessWhile"}
DYNAMIC_GRAPH_OPS = CONTROL_FLOW_OPS | TENSOR_ARRAY_OPS | TENSOR_LIST_OPS | FUNCTIONAL_OPS
# ops whose output shape depends on the data (they run on the numpy side, as in TF.js)
DATA_DEPENDENT_OPS = {"NonMaxSuppressionV2", "NonMaxSuppressionV3", "NonMaxSuppressionV4", "NonMaxSuppressionV5",
                      "Where", "Unique", "UniqueV2", "ListDiff", "SparseToDense", "SparseFillEmptyRows",
                      "SparseReshape", "SparseSegmentSum", "SparseSegmentMean", "RaggedRange", "RaggedGather",
                      "RaggedTensorToTensor"}


class _Dead:
    def __repr__(self) -> str:
        return "DEAD"


DEAD = _Dead()


@dataclass
class TensorSeq:
    """A TensorArray or a TensorList: slots of values (device or host), None where unset."""

    items: list[Value | None]
    dtype: str
    element_shape: tuple[int, ...] | None = None
    dynamic_size: bool = True
    name: str = ""

    def copy(self) -> "TensorSeq":
        return TensorSeq(list(self.items), self.dtype, self.element_shape, self.dynamic_size, self.name)


@dataclass
class DynamicStats(RunStats):
    iterations: Counter = field(default_factory=Counter)
    dead_nodes: int = 0


def graph_is_dynamic(graph: Graph) -> bool:
    return any(n.op in DYNAMIC_GRAPH_OPS for n in graph.nodes.values())


def _frame_name(node: Node) -> str:
    name = node.attr("frame_name", "")
    return name.decode() if isinstance(name, bytes) else str(name)


class DynamicExecutor(Executor):
    """Runs any graph the converter emits, TF1 control flow included."""

    def __init__(self, graph: Graph, consts: dict[str, np.ndarray], backend: Any, strict: bool = False,
                 max_iterations: int = 100_000, backend_kernels: set[str] | None = None,
                 host_only_dtypes: tuple[str, ...] | None = None) -> None:
        super().__init__(graph, consts, backend, strict, backend_kernels, host_only_dtypes)
        self.replay = False          # runs depend on tensor values (control flow): never recorded
        self.max_iterations = max_iterations
        self._context_free = self._find_context_free()
        self._loop_merges = {n.name for n in graph.nodes.values() if n.op == "Merge"
                             and any(graph.nodes[s].op == "NextIteration" for s, _ in n.inputs)}
        self.crossings = 0
        self._functions: dict[str, tuple["DynamicExecutor", list[str], list[TensorRef]]] = {}

    def _find_context_free(self) -> set[str]:
        """Nodes whose value is the same in every context: constants and what only they feed."""
        free: set[str] = set()
        changed = True
        while changed:
            changed = False
            for n in self.graph.nodes.values():
                if n.name in free or n.op in DYNAMIC_GRAPH_OPS or n.op in ("Placeholder", "PlaceholderWithDefault"):
                    continue
                if n.op == "Const" or (n.inputs and not n.control and all(s in free for s, _ in n.inputs)
                                       and n.op in ("Identity", "Shape", "Size", "Rank")):
                    free.add(n.name)
                    changed = True
        return free

    # -- planning --------------------------------------------------------------------------
    def plan(self, targets: list[str]) -> None:
        needed = self._needed(targets)
        order = [self.graph.nodes[name] for name in self.graph.nodes if name in needed]
        unsupported: dict[str, list[str]] = {}
        bad: list[str] = []
        for node in order:
            if node.name in self.plans:
                continue
            problem = arity_problem(node)
            if problem:
                bad.append(problem)
                continue
            if node.op in GRAPH_OPS or node.op in DYNAMIC_GRAPH_OPS:
                self.plans[node.name] = NodePlan(node, "graph", num_outputs=self._num_outputs(node))
                continue
            mapped = self._map_node(node, lambda i: self._const_param(node, i), unsupported, bad)
            if mapped is None:
                continue
            spec, params, call, kernel = mapped
            data = call.inputs if call is not None else [i for i in range(len(node.inputs)) if i not in params]
            if self._host_by_nature(node, kernel, data):
                kind = "host"
            else:
                kind = "device" if kernel in self.backend_kernels else "fallback"
            self.plans[node.name] = NodePlan(node, kind, params, spec.num_outputs(node), call, kernel)
        self.raise_unsupported(order, unsupported, bad)
        self.check_fallbacks()
        for node in order:                       # plan (and so validate) every function a node calls
            for key in ("then_branch", "else_branch", "cond", "body"):
                ref = node.attr(key)
                if ref is not None and hasattr(ref, "name"):
                    self.function(ref.name)

    def function(self, name: str) -> tuple["DynamicExecutor", list[str], list[TensorRef]]:
        """The executor of a library function (built and planned once)."""
        hit = self._functions.get(name)
        if hit is not None:
            return hit
        fdef = self.graph.functions.get(name)
        if fdef is None:
            raise GraphError(f"the graph calls function {name!r}, which is not in its library")
        graph, args, outputs = function_graph(fdef)
        graph.functions = self.graph.functions
        sub = DynamicExecutor(graph, self.consts, self.backend, self.strict, self.max_iterations,
                              backend_kernels=self.backend_kernels)
        sub.resident = self.resident
        sub.resources = self.resources       # one model, one set of tables and forests
        sub.profiler = self.profiler
        sub._functions = self._functions
        try:
            sub.plan(list(dict.fromkeys(n for n, _ in outputs)))
        except UnsupportedOpError as exc:
            raise UnsupportedOpError(f"in function {name!r}: {exc}") from None
        self._functions[name] = (sub, args, outputs)
        return self._functions[name]

    def classify(self, order: list[Node]) -> tuple[dict[str, list[str]], list[str]]:
        """Placement without raising (for inspect): control-flow ops are graph ops here."""
        unsupported: dict[str, list[str]] = {}
        bad: list[str] = []
        for node in order:
            if node.op in DYNAMIC_GRAPH_OPS:
                self.plans[node.name] = NodePlan(node, "graph", num_outputs=self._num_outputs(node))
        rest = [n for n in order if n.op not in DYNAMIC_GRAPH_OPS]
        u, b = Executor.classify(self, rest)
        unsupported.update(u)
        bad.extend(b)
        return unsupported, bad

    def _num_outputs(self, node: Node) -> int:
        return {"Switch": 2, "Merge": 2, "TensorArrayV3": 2, "TensorArrayConcatV3": 2, "TensorListPopBack": 2,
                "TensorListConcat": 2, "TensorListConcatV2": 2, "IdentityN": max(len(node.inputs), 1),
                "ShapeN": max(len(node.inputs), 1)}.get(node.op, 1)

    def _const_param(self, node: Node, i: int) -> np.ndarray:
        src, k = node.inputs[i]
        if self.graph.nodes[src].op == "Const" and k == 0:
            return self.consts[src]
        raise NotStatic()

    def _needed(self, targets: list[str]) -> set[str]:
        needed: set[str] = set()
        stack = list(targets)
        while stack:
            name = stack.pop()
            if name in needed:
                continue
            if name not in self.graph.nodes:
                raise GraphError(f"no node named {name!r} in the graph")
            needed.add(name)
            node = self.graph.nodes[name]
            stack.extend(s for s, _ in node.inputs)
            stack.extend(node.control)
        return needed

    # -- running ---------------------------------------------------------------------------
    def run(self, feeds: dict[str, np.ndarray], fetch: list[TensorRef]) -> list[np.ndarray]:
        t_start = time.perf_counter()
        stats = DynamicStats()
        values = self.run_values(feeds, fetch, stats)
        try:
            return [self._host(v, stats).copy() for v in values]
        finally:
            for v in values:
                if not v.resident and v.dev is not None and not v.dev.disposed:
                    self.backend.dispose(v.dev)
                    v.dev = None
            stats.wall_ms = (time.perf_counter() - t_start) * 1e3
            self.last_stats = stats

    def run_for_effects(self, targets: list[str]) -> None:
        """Run what `targets` need, fetching nothing (a model initializer with control flow)."""
        if any(t not in self.plans for t in targets):
            self.plan(targets)
        run = _Run(self, {}, self._needed(targets), DynamicStats())
        try:
            run.execute()
        finally:
            run.sweep()

    def run_values(self, feeds: dict[str, Any], fetch: list[TensorRef], stats: "DynamicStats") -> list[Value]:
        """Run and return the fetched values themselves (device handles stay on the device and now
        belong to the caller); feeds may be arrays or Values (borrowed, never disposed here)."""
        targets = list(dict.fromkeys(n for n, _ in fetch))
        if any(t not in self.plans for t in targets):
            self.plan(targets)
        needed = self._needed(targets)
        run = _Run(self, feeds, needed, stats)
        kept: list[Value] = []
        try:
            run.execute()
            for ref in fetch:
                v = run.values.get((ref[0], ref[1], ()))
                if v is None or v is DEAD:
                    raise NodeError(run.explain_missing(ref, v is DEAD))
                kept.append(v)  # type: ignore[arg-type]
            return kept
        finally:
            run.sweep(keep={id(v) for v in kept})


class _Run:
    """The state of one run of a dynamic graph."""

    def __init__(self, ex: DynamicExecutor, feeds: dict[str, np.ndarray], needed: set[str], stats: DynamicStats) -> None:
        self.ex = ex
        self.graph = ex.graph
        self.feeds = feeds
        self.needed = needed
        self.stats = stats
        self.values: dict[tuple[str, int, Ctx], Value | _Dead] = {}
        self.done: dict[tuple[str, Ctx], bool] = {}       # -> True when the node ran dead
        self.queued: set[tuple[str, Ctx]] = set()
        self.queue: deque[tuple[Node, Ctx]] = deque()
        self.dead_merges: list[str] = []
        self.frame_dead: set[Ctx] = set()
        self.all_values: dict[int, Value] = {}
        self.contexts: set[Ctx] = {()}
        self.borrowed = {id(v) for v in feeds.values() if isinstance(v, Value)}
        self.consumers = {name: [c for c in ex.graph.consumers.get(name, []) if c in needed] for name in needed}
        self.control_consumers: dict[str, list[str]] = {name: [] for name in needed}
        for name in needed:
            for c in ex.graph.nodes[name].control:
                if c in self.control_consumers:
                    self.control_consumers[c].append(name)

    # -- scheduling ------------------------------------------------------------------------
    def execute(self) -> None:
        for name in self.needed:
            node = self.graph.nodes[name]
            if not node.inputs and not node.control:
                self._schedule(node, ())
        while self.queue:
            node, ctx = self.queue.popleft()
            self._run(node, ctx)

    def lookup(self, src: str, k: int, ctx: Ctx) -> Value | _Dead | None:
        v = self.values.get((src, k, ctx))
        if v is not None:
            return v
        if src in self.ex._context_free:
            return self.values.get((src, k, ()))
        for depth in range(len(ctx), 0, -1):     # loop invariants (is_constant Enter) of enclosing frames
            frame_ctx = ctx[:depth - 1] + ((ctx[depth - 1][0], -1),)
            v = self.values.get((src, k, frame_ctx))
            if v is not None:
                return v
        return None

    def _control_state(self, node: Node, ctx: Ctx) -> bool | None:
        """None: a control input has not run yet; True: one ran dead; False: all ran live."""
        dead = False
        for c in node.control:
            # where c ran: this context, or an enclosing one (an Enter runs in its parent frame's
            # context, a constant with no control inputs at the root); a constant with control inputs
            # inside a loop body runs in each iteration
            state = None
            for depth in range(len(ctx), -1, -1):
                state = self.done.get((c, ctx[:depth]))
                if state is not None:
                    break
            if state is None:
                return None
            dead = dead or state
        return dead

    def _schedule(self, node: Node, ctx: Ctx) -> None:
        key = (node.name, ctx)
        if key in self.queued:
            return
        if node.op == "Merge":
            if not self._merge_ready(node, ctx):
                return
        else:
            if any(self.lookup(s, k, ctx) is None for s, k in node.inputs):
                return
            if node.control and self._control_state(node, ctx) is None:
                return
        self.queued.add(key)
        self.queue.append((node, ctx))

    def _merge_inputs(self, node: Node, ctx: Ctx) -> list[int]:
        if node.name in self.ex._loop_merges and ctx:
            it = ctx[-1][1]
            return [i for i, (s, _) in enumerate(node.inputs)
                    if (self.graph.nodes[s].op == "NextIteration") == (it > 0)]
        return list(range(len(node.inputs)))

    def _merge_ready(self, node: Node, ctx: Ctx) -> bool:
        vals = [self.lookup(*node.inputs[i], ctx) for i in self._merge_inputs(node, ctx)]
        return any(v is not None and v is not DEAD for v in vals) or (bool(vals) and all(v is DEAD for v in vals))

    def _store(self, node: Node, k: int, ctx: Ctx, v: Value | _Dead) -> None:
        # a live context-free value (a constant, even one run inside a loop because of a control
        # input) is kept once at the root and its consumers are woken in the context it ran in; a dead
        # one (a constant in a branch not taken) stays in its own context
        free = node.name in self.ex._context_free and v is not DEAD
        key = (node.name, k, () if free else ctx)
        if key in self.values and key[2] == ctx:
            return
        self.values.setdefault(key, v)
        if isinstance(v, Value):
            self.all_values[id(v)] = v
        self.contexts.add(ctx)
        targets = [ctx]
        if ctx and ctx[-1][1] == -1:
            # a loop invariant: every iteration of this frame instance (and frames nested in them) may
            # have been waiting for it
            parent, frame = ctx[:-1], ctx[-1][0]
            targets = [c for c in self.contexts if len(c) > len(parent) and c[:len(parent)] == parent
                       and c[len(parent)][0] == frame and c[len(parent)][1] >= 0]
        for c in self.consumers.get(node.name, []):
            for t in targets:
                self._schedule(self.graph.nodes[c], t)

    def _finish(self, node: Node, ctx: Ctx, dead: bool) -> None:
        self.done[(node.name, ctx)] = dead
        for c in self.control_consumers.get(node.name, []):
            self._schedule(self.graph.nodes[c], ctx)

    # -- running one node --------------------------------------------------------------------
    def _run(self, node: Node, ctx: Ctx) -> None:
        op = node.op
        if op == "Merge":
            self._merge(node, ctx)
            return
        inputs = [self.lookup(s, k, ctx) for s, k in node.inputs]
        dead = any(v is DEAD for v in inputs) or bool(self._control_state(node, ctx))
        if op == "Enter":
            frame = _frame_name(node)
            out_ctx = ctx + ((frame, -1 if node.attr("is_constant", False) else 0),)
            if dead:
                self.frame_dead.add(ctx + ((frame, 0),))
            self._store(node, 0, out_ctx, DEAD if dead else inputs[0])
            self._finish(node, ctx, dead)
            return
        if op == "Exit":
            if not ctx:
                raise NodeError(f"Exit node {node.name!r} runs outside any loop frame (malformed control flow)")
            if dead and (ctx[:-1] + ((ctx[-1][0], 0),)) not in self.frame_dead:
                self._finish(node, ctx, True)     # the loop goes on: a dead Exit does not leave the frame
                return
            self._store(node, 0, ctx[:-1], DEAD if dead else inputs[0])
            self._finish(node, ctx, dead)
            self._finish(node, ctx[:-1], dead)    # control edges from an Exit lead out of the loop
            return
        if op == "NextIteration":
            if not ctx:
                raise NodeError(f"NextIteration node {node.name!r} runs outside any loop frame")
            if not dead:
                frame, it = ctx[-1]
                if it + 1 > self.ex.max_iterations:
                    raise NodeError(f"loop frame {frame!r} did not end within max_iterations="
                                    f"{self.ex.max_iterations} (at NextIteration {node.name!r}); raise the limit "
                                    "with load_graph_model(..., max_iterations=N) if the loop is meant to run longer")
                self.stats.iterations[frame] = max(self.stats.iterations[frame], it + 1)
                self._store(node, 0, ctx[:-1] + ((frame, it + 1),), inputs[0])  # type: ignore[arg-type]
            self._finish(node, ctx, dead)
            return
        if dead:
            self.stats.dead_nodes += 1
            for k in range(self.ex.plans[node.name].num_outputs if node.name in self.ex.plans else 1):
                self._store(node, k, ctx, DEAD)
            self._finish(node, ctx, True)
            return
        vals: list[Value] = inputs  # type: ignore[assignment]
        prof = self.ex.profiler
        plan = self.ex.plans.get(node.name)
        ev = prof.begin_node(node.name, op, plan.kernel if plan else "", plan.kind if plan else "graph") if prof else None
        try:
            outs = self._compute(node, ctx, vals)
        except NodeError:
            raise
        except Exception as exc:
            raise NodeError(f"node {node.name!r} ({op}) failed: {type(exc).__name__}: {exc}") from exc
        finally:
            if ev is not None:
                prof.end_node(ev)  # type: ignore[union-attr]
        for k, v in enumerate(outs):
            self._store(node, k, ctx, v)
        self._finish(node, ctx, False)

    def _merge(self, node: Node, ctx: Ctx) -> None:
        for i in self._merge_inputs(node, ctx):
            v = self.lookup(*node.inputs[i], ctx)
            if v is not None and v is not DEAD:
                self._store(node, 0, ctx, v)
                self._store(node, 1, ctx, Value(host=np.asarray(i, np.int32)))
                self._finish(node, ctx, False)
                return
        self.dead_merges.append(node.name)
        self._store(node, 0, ctx, DEAD)
        self._store(node, 1, ctx, DEAD)
        self._finish(node, ctx, True)

    def _host(self, v: Value) -> np.ndarray:
        if v.host is None:
            self.ex.crossings += 1
        return self.ex._host(v, self.stats)

    def _compute(self, node: Node, ctx: Ctx, vals: list[Value]) -> list[Value]:
        op = node.op
        if op == "Switch":
            pred = self._host(vals[1])
            if pred.size != 1:
                raise NodeError(f"Switch {node.name!r}: the predicate must be a scalar, got shape {list(pred.shape)}")
            return [DEAD, vals[0]] if bool(pred.reshape(-1)[0]) else [vals[0], DEAD]  # type: ignore[list-item]
        if op == "LoopCond":
            return [Value(host=self._host(vals[0]))]
        if op in RESOURCE_OPS:
            return self.ex.resource_op(node, vals, self.stats)
        if op in GRAPH_OPS:
            return self._graph_op(node, vals)
        if op in TENSOR_ARRAY_OPS:
            return self._tensor_array(node, vals)
        if op in TENSOR_LIST_OPS:
            return self._tensor_list(node, vals)
        if op in FUNCTIONAL_OPS:
            return self._functional(node, vals)
        plan = self.ex.plans[node.name]
        return self.ex.compute(plan, vals, self.stats, small_host=True)

    def _graph_op(self, node: Node, vals: list[Value]) -> list[Value]:
        op = node.op
        if op == "Const":
            v = self.ex.resident.get(node.name)
            return [v if v is not None else Value(host=self.ex.consts[node.name])]
        if op in ("Placeholder", "PlaceholderWithDefault"):
            if node.name in self.ex.bound:       # a resource handle the model initializer made
                return [Value(obj=self.ex.bound[node.name])]
            if node.name in self.feeds:
                fed = self.feeds[node.name]
                return [fed if isinstance(fed, Value) else Value(host=fed)]
            if op == "PlaceholderWithDefault":
                return [vals[0]]
            raise NodeError(f"no value fed for input {node.name!r}")
        if op in ("Identity", "Snapshot", "StopGradient", "EnsureShape", "Print", "CheckNumerics", "PreventGradient"):
            return [vals[0]]
        if op == "IdentityN":
            return list(vals)
        if op == "NoOp":
            return []
        if op in ("Shape", "ShapeN"):
            return [Value(host=np.asarray(self._shape(v), np.int32)) for v in vals]
        if op == "Size":
            return [Value(host=np.asarray(int(np.prod(self._shape(vals[0]))), np.int32))]
        if op == "Rank":
            return [Value(host=np.asarray(len(self._shape(vals[0])), np.int32))]
        raise NodeError(f"graph op {op} is not handled")

    @staticmethod
    def _shape(v: Value) -> tuple[int, ...]:
        return tuple(v.host.shape) if v.host is not None else tuple(v.dev.shape)  # type: ignore[union-attr]

    # -- TensorArray (TF1) -------------------------------------------------------------------
    def _seq(self, node: Node, v: Value) -> TensorSeq:
        seq = getattr(v, "obj", None)
        if not isinstance(seq, TensorSeq):
            raise NodeError(f"node {node.name!r} ({node.op}): its first input is not a TensorArray/TensorList")
        return seq

    def _index(self, node: Node, v: Value, size: int, allow_end: bool = False) -> int:
        i = int(self._host(v).reshape(-1)[0])
        if i < 0 or i > size or (i == size and not allow_end):
            raise NodeError(f"node {node.name!r} ({node.op}): index {i} is out of range for a sequence of size {size}")
        return i

    def _item(self, node: Node, seq: TensorSeq, i: int) -> Value:
        item = seq.items[i]
        if item is None:
            if seq.element_shape is None or any(d < 0 for d in seq.element_shape):
                raise NodeError(f"node {node.name!r} ({node.op}): element {i} was never written and the element "
                                "shape is unknown")
            return Value(host=np.zeros(seq.element_shape, _np_dtype(seq.dtype)))
        return item

    def _stack(self, node: Node, items: list[Value], element_shape: tuple[int, ...] | None, dtype: str) -> Value:
        if not items:
            shape = (0,) + tuple(d if d >= 0 else 0 for d in (element_shape or ()))
            return Value(host=np.zeros(shape, _np_dtype(dtype)))
        if all(v.dev is None for v in items) or getattr(self.ex.backend, "name", "") == "numpy":
            return Value(host=np.stack([self._host(v) for v in items]))
        handles = [self.ex._device(v, self.stats) for v in items]
        (out,) = self.ex.backend.run("Pack", handles, {"axis": 0})
        return Value(dev=out)

    def _split_rows(self, node: Node, v: Value) -> list[Value]:
        if v.dev is not None and getattr(self.ex.backend, "name", "") != "numpy":
            outs = self.ex.backend.run("Unpack", [v.dev], {"axis": 0})
            return [Value(dev=h) for h in outs]
        arr = self._host(v)
        return [Value(host=np.ascontiguousarray(arr[i])) for i in range(arr.shape[0])]

    def _tensor_array(self, node: Node, vals: list[Value]) -> list[Value]:
        op = node.op
        flow = Value(host=np.asarray(0.0, np.float32))
        if op == "TensorArrayV3":
            size = int(self._host(vals[0]).reshape(-1)[0])
            shape = node.attr("element_shape")
            seq = TensorSeq([None] * size, node.attr("dtype", "float32"),
                            tuple(shape) if shape is not None else None, bool(node.attr("dynamic_size", False)),
                            node.name)
            return [_obj(seq), flow]
        seq = self._seq(node, vals[0])
        if op == "TensorArrayWriteV3":
            i = self._index(node, vals[1], len(seq.items), allow_end=seq.dynamic_size)
            if i == len(seq.items):
                seq.items.append(None)
            seq.items[i] = _pin(vals[2])
            return [flow]
        if op == "TensorArrayReadV3":
            return [self._item(node, seq, self._index(node, vals[1], len(seq.items)))]
        if op == "TensorArrayGatherV3":
            idx = [int(i) for i in self._host(vals[1]).reshape(-1)]
            for i in idx:
                if not 0 <= i < len(seq.items):
                    raise NodeError(f"node {node.name!r} ({op}): index {i} is out of range for a TensorArray of "
                                    f"size {len(seq.items)}")
            return [self._stack(node, [self._item(node, seq, i) for i in idx], seq.element_shape, seq.dtype)]
        if op == "TensorArrayScatterV3":
            idx = [int(i) for i in self._host(vals[1]).reshape(-1)]
            rows = self._split_rows(node, vals[2])
            for i, row in zip(idx, rows):
                if i >= len(seq.items) and seq.dynamic_size:
                    seq.items.extend([None] * (i + 1 - len(seq.items)))
                if not 0 <= i < len(seq.items):
                    raise NodeError(f"node {node.name!r} ({op}): index {i} is out of range for a TensorArray of "
                                    f"size {len(seq.items)}")
                seq.items[i] = _pin(row)
            return [flow]
        if op == "TensorArraySizeV3":
            return [Value(host=np.asarray(len(seq.items), np.int32))]
        if op == "TensorArrayCloseV3":
            return []
        if op == "TensorArrayConcatV3":
            items = [self._item(node, seq, i) for i in range(len(seq.items))]
            arrays = [self._host(v) for v in items]
            lengths = np.asarray([a.shape[0] for a in arrays], np.int32)
            return [Value(host=np.concatenate(arrays) if arrays else np.zeros((0,), _np_dtype(seq.dtype))),
                    Value(host=lengths)]
        if op == "TensorArraySplitV3":
            arr = self._host(vals[1])
            lengths = [int(n) for n in self._host(vals[2]).reshape(-1)]
            if sum(lengths) != arr.shape[0]:
                raise NodeError(f"node {node.name!r} ({op}): lengths {lengths} do not add up to {arr.shape[0]}")
            seq.items = [_pin(Value(host=part)) for part in np.split(arr, np.cumsum(lengths)[:-1])]
            return [flow]
        raise NodeError(f"{op} is not handled")

    # -- TensorList (TF2) ------------------------------------------------------------------
    def _tensor_list(self, node: Node, vals: list[Value]) -> list[Value]:
        op = node.op
        dtype = node.attr("element_dtype", "float32")
        if op in ("TensorListReserve", "EmptyTensorList"):
            shape = self._host(vals[0]).reshape(-1)
            n = int(self._host(vals[1]).reshape(-1)[0]) if op == "TensorListReserve" else 0
            elem = None if shape.size == 1 and int(shape[0]) == -1 else tuple(int(d) for d in shape)
            return [_obj(TensorSeq([None] * max(n, 0), dtype, elem, True, node.name))]
        if op == "TensorListFromTensor":
            rows = self._split_rows(node, vals[0])
            return [_obj(TensorSeq([_pin(r) for r in rows], dtype, tuple(self._shape(vals[0])[1:]), True, node.name))]
        seq = self._seq(node, vals[0])
        if op == "TensorListGetItem":
            return [self._item(node, seq, self._index(node, vals[1], len(seq.items)))]
        if op == "TensorListSetItem":
            new = seq.copy()
            grow = bool(node.attr("resize_if_index_out_of_bounds", False))
            i = int(self._host(vals[1]).reshape(-1)[0])
            if grow and i >= len(new.items):
                new.items.extend([None] * (i + 1 - len(new.items)))
            new.items[self._index(node, vals[1], len(new.items))] = _pin(vals[2])
            return [_obj(new)]
        if op == "TensorListLength":
            return [Value(host=np.asarray(len(seq.items), np.int32))]
        if op in ("TensorListStack", "TensorListGather"):
            idx = list(range(len(seq.items))) if op == "TensorListStack" else [
                int(i) for i in self._host(vals[1]).reshape(-1)]
            for i in idx:
                if not 0 <= i < len(seq.items):
                    raise NodeError(f"node {node.name!r} ({op}): index {i} is out of range for a list of size "
                                    f"{len(seq.items)}")
            return [self._stack(node, [self._item(node, seq, i) for i in idx], seq.element_shape, seq.dtype)]
        if op in ("TensorListScatter", "TensorListScatterV2"):
            raise NodeError(f"{op} on an existing list is not supported")
        if op == "TensorListPushBack":
            new = seq.copy()
            new.items.append(_pin(vals[1]))
            return [_obj(new)]
        if op == "TensorListPopBack":
            if not seq.items:
                raise NodeError(f"node {node.name!r} (TensorListPopBack): the list is empty")
            new = seq.copy()
            item = new.items.pop()
            return [_obj(new), item if item is not None else self._item(node, seq, len(seq.items) - 1)]
        if op == "TensorListResize":
            n = int(self._host(vals[1]).reshape(-1)[0])
            new = seq.copy()
            new.items = (new.items + [None] * n)[:n]
            return [_obj(new)]
        if op == "TensorListElementShape":
            return [Value(host=np.asarray(seq.element_shape or (-1,), np.int32))]
        if op in ("TensorListConcat", "TensorListConcatV2"):
            arrays = [self._host(self._item(node, seq, i)) for i in range(len(seq.items))]
            return [Value(host=np.concatenate(arrays)), Value(host=np.asarray([a.shape[0] for a in arrays], np.int32))]
        if op == "TensorListSplit":
            arr = self._host(vals[0])
            lengths = [int(n) for n in self._host(vals[2]).reshape(-1)]
            parts = np.split(arr, np.cumsum(lengths)[:-1])
            return [_obj(TensorSeq([_pin(Value(host=p)) for p in parts], dtype, None, True, node.name))]
        raise NodeError(f"{op} is not handled")

    # -- functional control flow (If / While over library functions) -----------------------
    def _call(self, node: Node, fname: str, args: list[Value]) -> list[Value]:
        sub, arg_names, outputs = self.ex.function(fname)
        if len(args) != len(arg_names):
            raise NodeError(f"node {node.name!r} ({node.op}) passes {len(args)} values to function {fname!r}, "
                            f"which takes {len(arg_names)}")
        return sub.run_values(dict(zip(arg_names, args)), outputs, self.stats)

    def _functional(self, node: Node, vals: list[Value]) -> list[Value]:
        if node.op in ("If", "StatelessIf"):
            pred = self._host(vals[0])
            taken = bool(pred.reshape(-1)[0]) if pred.size == 1 else pred.size > 0
            branch = node.attr("then_branch" if taken else "else_branch")
            return self._call(node, branch.name, vals[1:])
        cond, body = node.attr("cond").name, node.attr("body").name
        state = list(vals)
        owned: set[int] = set()
        for it in range(self.ex.max_iterations + 1):
            (c,) = self._call(node, cond, state)
            go = bool(self._host(c).reshape(-1)[0])
            self._drop(c, owned | {id(v) for v in state})
            if not go:
                return state
            if it == self.ex.max_iterations:
                break
            new = self._call(node, body, state)
            self.stats.iterations[node.name] = it + 1
            keep = {id(v) for v in new}
            for v in state:                  # values of the last iteration no longer carried
                if id(v) in owned and id(v) not in keep:
                    self._drop(v, set())
            owned = {id(v) for v in new} - {id(v) for v in vals}
            state = new
        raise NodeError(f"loop {node.name!r} ({node.op}) did not end within max_iterations={self.ex.max_iterations}; "
                        "raise the limit with load_graph_model(..., max_iterations=N) if it is meant to run longer")

    def _drop(self, v: Value, protected: set[int]) -> None:
        if id(v) in protected or v.resident or v.dev is None or v.dev.disposed:
            return
        self.ex.backend.dispose(v.dev)
        v.dev = None

    # -- errors and cleanup ----------------------------------------------------------------
    def explain_missing(self, ref: TensorRef, dead: bool) -> str:
        name = f"{ref[0]}:{ref[1]}"
        if dead:
            why = (f"; Merge node(s) {', '.join(dict.fromkeys(self.dead_merges))} received no live input"
                   if self.dead_merges else "")
            return f"output {name} is dead: the branch computing it was not taken{why}"
        stuck = []
        # innermost frames first: a loop that stalls leaves everything after it waiting too
        for ctx in sorted(self.contexts, key=lambda c: (-len(c), c)):
            for node_name in self.needed:
                node = self.graph.nodes[node_name]
                if (node_name, ctx) in self.done or node.op == "Const":
                    continue
                # inside a frame, only nodes that received something in this very context belong to it
                if ctx and not any((s, k, ctx) in self.values for s, k in node.inputs):
                    continue
                missing = [f"{s}:{k}" for s, k in node.inputs if self.lookup(s, k, ctx) is None]
                if not missing and node.control and self._control_state(node, ctx) is None:
                    missing = [f"control input ^{c}" for c in node.control
                               if all(self.done.get((c, ctx[:d])) is None for d in range(len(ctx), -1, -1))]
                if node.op == "Merge" or missing:
                    where = "".join(f" in frame {f!r} iteration {i}" for f, i in ctx[-1:])
                    stuck.append(f"{node_name} ({node.op}){where} waiting for {', '.join(missing) or 'a live input'}")
            if len(stuck) >= 8:
                break
        detail = ("; nodes that never became ready: " + "; ".join(stuck[:8])) if stuck else ""
        return f"output {name} was never computed (malformed control flow?){detail}"

    def sweep(self, keep: set[int] = frozenset()) -> None:  # type: ignore[assignment]
        for v in self.all_values.values():
            if id(v) in keep or id(v) in self.borrowed:
                continue
            if not v.resident and v.dev is not None and not v.dev.disposed:
                self.ex.backend.dispose(v.dev)
                v.dev = None


def _np_dtype(dtype: str) -> Any:
    return {"float32": np.float32, "int32": np.int32, "bool": np.bool_}.get(dtype, np.float32)


def _obj(seq: TensorSeq) -> Value:
    return Value(obj=seq)


def _pin(v: Value) -> Value:
    return v
