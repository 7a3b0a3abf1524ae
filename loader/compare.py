"""Node-by-node comparison of one model on two backends: where do the outputs start to differ?

When a model's outputs differ from TensorFlow's, the useful answer is not the final error but the
first node whose error *grows*: a node whose output differs from the reference by more than float32
noise relative to its own magnitude, while its inputs did not.  Both models are loaded with
``optimize=False`` so every node of the file is reachable and the comparison speaks in the file's
node names; the reference is our numpy backend (float64-free, the same kernels' semantics written
in numpy), so a difference found here is a GL-kernel difference, or TensorFlow itself running the same
graph (``--tf``, loader/tf_reference.py), which finds where our kernels' semantics part from TF's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .graph import parse_input
from .model import GraphModel

SKIP_OPS = {"Const", "Placeholder", "NoOp"}


@dataclass
class NodeDiff:
    name: str                 # tensor name, 'node' or 'node:k'
    op: str
    shape: tuple[int, ...]
    dtype: str
    max_abs: float            # max |a - b|
    scale: float              # max |b|, the reference's magnitude (1 when it is 0)
    rel: float                # max_abs / scale
    input_rel: float          # the largest rel among the node's compared inputs
    attrs: dict[str, Any]
    mismatch: str = ""        # shape/dtype/NaN-placement mismatch, when there is one

    @property
    def growth(self) -> float:
        """How much this node adds to the error it was given (inf when its inputs were exact)."""
        return self.rel / self.input_rel if self.input_rel > 0 else (np.inf if self.rel > 0 else 1.0)

    def format(self) -> str:
        attrs = ", ".join(f"{k}={_short(v)}" for k, v in sorted(self.attrs.items()) if not k.startswith("_"))
        head = f"{self.name} ({self.op}) {self.dtype}{list(self.shape)}"
        if self.mismatch:
            return f"{head}: {self.mismatch}"
        return (f"{head}: max|diff| {self.max_abs:.3g}, max|ref| {self.scale:.3g}, relative {self.rel:.3g} "
                f"(inputs {self.input_rel:.3g})" + (f" [{attrs}]" if attrs else ""))


def _short(v: Any) -> str:
    s = repr(v)
    return s if len(s) <= 40 else s[:37] + "..."


def _diff(a: np.ndarray, b: np.ndarray) -> tuple[float, float, str]:
    if a.shape != b.shape:
        return np.inf, 1.0, f"shape {list(a.shape)} vs reference {list(b.shape)}"
    if a.dtype != b.dtype:
        return np.inf, 1.0, f"dtype {a.dtype} vs reference {b.dtype}"
    if a.size == 0:
        return 0.0, 1.0, ""
    if a.dtype.kind in "biu":
        bad = int(np.count_nonzero(a != b))
        scale = float(np.max(np.abs(b.astype(np.float64)))) or 1.0
        return (float(np.max(np.abs(a.astype(np.float64) - b))) if bad else 0.0), scale, ""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    nan_a, nan_b = np.isnan(a64), np.isnan(b64)
    if not np.array_equal(nan_a, nan_b):
        return np.inf, 1.0, f"NaN at {int(np.count_nonzero(nan_a != nan_b))} element(s) where the reference differs"
    both_inf = np.isinf(a64) & np.isinf(b64) & (a64 == b64)
    ok = ~nan_a & ~both_inf
    if np.any(np.isinf(a64[ok]) | np.isinf(b64[ok])):
        return np.inf, 1.0, "Inf where the reference is finite (or the other way round)"
    finite = b64[ok]
    scale = float(np.max(np.abs(finite))) if finite.size else 1.0
    err = float(np.max(np.abs(a64[ok] - b64[ok]))) if finite.size else 0.0
    return err, (scale or 1.0), ""


def compare_models(model: GraphModel, reference: Any, inputs: Any, chunk: int = 64) -> list[NodeDiff]:
    """Every computed tensor of `model` against `reference`, in execution order."""
    order = [n for n in model.graph.schedule([parse_input(o.name)[0][0] for o in model.outputs
                                              if parse_input(o.name)[0] is not None])
             if n.op not in SKIP_OPS]
    tensors: list[tuple[str, Any]] = []
    for node in order:
        plan = model.executor.plans.get(node.name)
        k_outputs = plan.num_outputs if plan is not None else 1
        for k in range(max(1, k_outputs)):
            tensors.append((node.name if k == 0 else f"{node.name}:{k}", node))
    rel_of: dict[str, float] = {}
    diffs: list[NodeDiff] = []
    for start in range(0, len(tensors), chunk):
        part = tensors[start:start + chunk]
        names = [t for t, _ in part]
        try:
            got = model.execute(inputs, names)
            want = reference.execute(inputs, names)
        except Exception:
            if len(part) == 1:
                continue        # a tensor that cannot be fetched on its own (a resource handle)
            got, want = {}, {}
            for name in names:
                try:
                    got[name] = model.execute(inputs, [name])[name]
                    want[name] = reference.execute(inputs, [name])[name]
                except Exception:
                    got.pop(name, None)
        for name, node in part:
            if name not in got or name not in want:
                continue
            a, b = np.asarray(got[name]), np.asarray(want[name])
            err, scale, mismatch = _diff(a, b)
            in_rel = max([rel_of.get(src if k == 0 else f"{src}:{k}", 0.0) for src, k in node.inputs], default=0.0)
            rel = err / scale
            rel_of[name] = rel
            diffs.append(NodeDiff(name, node.op, tuple(a.shape), str(a.dtype), err, scale, rel, in_rel,
                                  dict(node.attrs), mismatch))
    return diffs


def first_divergences(diffs: list[NodeDiff], tol: float = 1e-5, growth: float = 4.0, limit: int = 5) -> list[NodeDiff]:
    """The first nodes (execution order) whose relative error exceeds `tol` and is at least `growth`
    times what their inputs brought: where the error is made, not where it is passed along."""
    out = [d for d in diffs if d.mismatch or (d.rel > tol and d.growth >= growth)]
    return out[:limit]


def compare(model_path: Any, inputs: Any = None, backend: Any = "gl", reference: Any = "numpy",
            tol: float = 1e-5, growth: float = 4.0, limit: int = 5) -> tuple[list[NodeDiff], list[NodeDiff]]:
    """Load `model_path` on both backends (names or Backend objects; reference="tf": TensorFlow running
    the same graph, loader/tf_reference.py) and compare every node; returns (all diffs, first divergences)."""
    from .layers.model import load_model      # graph or layers model, by the file's format
    model = load_model(model_path, backend=backend, optimize=False)
    if reference == "tf":
        from .tf_reference import TFReference
        try:
            ref: Any = TFReference(model)
        except BaseException:
            model.dispose()
            raise
    else:
        ref = load_model(model_path, backend=reference, optimize=False)
    try:
        feeds = model.example_inputs() if inputs is None else inputs
        diffs = compare_models(model, ref, feeds)
    finally:
        model.dispose()
        ref.dispose()
    return diffs, first_divergences(diffs, tol, growth, limit)


def format_report(diffs: list[NodeDiff], first: list[NodeDiff], tol: float) -> str:
    worst = max(diffs, key=lambda d: d.rel, default=None)
    lines = [f"compared {len(diffs)} tensors"]
    if worst is not None:
        lines.append(f"largest relative difference: {worst.rel:.3g} at {worst.name} ({worst.op})")
    if not first:
        lines.append(f"no node adds more than float32 noise (relative tolerance {tol:g})")
    else:
        lines.append(f"first nodes whose relative difference exceeds {tol:g} and grows beyond their inputs':")
        lines += ["  " + d.format() for d in first]
    return "\n".join(lines)
