"""Run a graph model and check every tensor's dtype against what the graph declares, and its shape
against load-time shape inference (shared by the tests and usable by hand:
python tests/dtype_audit.py MODEL_DIR...)."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from loader import load_graph_model
from loader.declared_types import declared_dtypes

CHECKED = {"float32", "int32", "bool"}


def model_inputs(folder: Path, model: Any) -> Any:
    if (folder / "inputs.json").exists():         # models with string inputs: {tensor name: list}
        return json.loads((folder / "inputs.json").read_text())
    if (folder / "inputs.npz").exists():
        with np.load(folder / "inputs.npz") as z:
            return {k: z[k] for k in z.files}
    if (folder / "input.npy").exists():
        return np.load(folder / "input.npy")
    return model.example_inputs()


def audit(folder: Path, backend: Any = "numpy") -> tuple[int, list[str]]:
    """(tensors checked, mismatches as 'node (op) output k: got X, declared Y' or 'got shape S, inferred
    T'): every node's outputs are fetched, so the shapes of graph-op outputs (which the executor's own
    per-kernel check does not see) are compared too."""
    model = load_graph_model(folder, backend=backend, optimize=False)
    inferred = model.shape_report.shapes if model.shape_report is not None else {}
    try:
        feeds = model_inputs(folder, model)
        wanted: list[tuple[str, str, str | None, Any]] = []
        for node in model.graph.nodes.values():
            if node.op in ("Const", "Placeholder", "NoOp") or node.name not in model.executor.plans:
                continue
            declared = declared_dtypes(node) or []
            for k in range(max(len(declared), len(inferred.get(node.name, ())))):
                dtype = declared[k] if k < len(declared) else None
                shape = inferred[node.name][k] if k < len(inferred.get(node.name, ())) else None
                if dtype in CHECKED or shape is not None:
                    wanted.append((node.name if k == 0 else f"{node.name}:{k}", node.op, dtype, shape))
        checked, bad = 0, []
        for start in range(0, len(wanted), 64):
            part = wanted[start:start + 64]
            try:
                got = model.execute(feeds, [w[0] for w in part])
            except Exception:
                got = {}
                for name, *_ in part:
                    try:
                        got.update(model.execute(feeds, [name]))
                    except Exception:
                        pass            # not fetchable on its own (inside a loop body, a dead branch)
            for name, op, dtype, shape in part:
                if name in got:
                    checked += 1
                    value = np.asarray(got[name])
                    if dtype in CHECKED and str(value.dtype) != dtype:
                        bad.append(f"{name} ({op}): got {value.dtype}, declared {dtype}")
                    if shape is not None and (value.ndim != len(shape) or any(
                            w is not None and w != d for d, w in zip(value.shape, shape))):
                        bad.append(f"{name} ({op}): got shape {list(value.shape)}, inferred {list(shape)}")
        return checked, bad
    finally:
        model.dispose()


def graph_model_dirs(*roots: Path) -> list[Path]:
    out = []
    for root in roots:
        for mj in sorted(root.rglob("model.json")):
            try:
                fmt = json.loads(mj.read_text()).get("format")
            except Exception:
                continue
            if fmt == "graph-model":
                out.append(mj.parent)
    return out


if __name__ == "__main__":
    for d in graph_model_dirs(*[Path(a) for a in sys.argv[1:]]):
        try:
            n, bad = audit(d)
        except Exception as exc:
            print(f"{d}: ERROR {type(exc).__name__}: {exc}"[:200])
            continue
        print(f"{d}: {n} checked, {len(bad)} mismatches")
        for b in bad[:5]:
            print("   ", b)
