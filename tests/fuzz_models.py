"""Seeded mutations of converted models, loaded and run once each: only project errors or success.

Each case copies one of our own fixtures, applies one or two mutations (JSON structure, attribute
values of the wrong kind, edges turned into control inputs, ops swapped for ones of another arity,
weights-manifest entries, shard bytes, quantization, inputs) and runs load + predict on the numpy
backend (the loader and executor are what is fuzzed; GL kernels are covered by their own tests) under
a time bound.  An exception that is not a GPUBackendError is a leak; a case over the bound is a hang.
"""
from __future__ import annotations

import copy
import json
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gpu_backend.errors import GPUBackendError

ROOT = Path(__file__).resolve().parent.parent
SEEDS = [ROOT / "loader" / "examples" / "digits_cnn", ROOT / "tests" / "fixtures" / "static" / "attention_block",
         ROOT / "tests" / "fixtures" / "static" / "mixed_layers", ROOT / "tests" / "fixtures" / "dynamic" / "cond_in_loop",
         ROOT / "tests" / "fixtures" / "dynamic" / "tensor_array"]
OPS = ["AddV2", "MatMul", "ConcatV2", "Reshape", "Split", "Pack", "Relu", "Conv2D", "StridedSlice", "Transpose",
       "Switch", "Merge", "Enter", "Exit", "TensorArrayV3", "NonMaxSuppressionV3", "Where", "Unique", "Fill",
       "Range", "GatherV2", "OneHot", "Bogus"]
WRONG = [{"shape": {"dim": [{"size": "3"}]}}, {"list": {}}, {"f": "nan"}, {"type": 7}, {"s": "%%%"}, {"i": "x"},
         {"list": {"i": ["1", "y"]}}, {"b": "no"}, {"f": [1, 2]}, {"i": "99999999999"}, {"i": "-5"}, {}, None, 3,
         {"list": {"s": ["@@"]}}, {"tensor": {"dtype": "DT_STRING"}}]


@dataclass
class Outcome:
    kind: str          # ok | error | leak | hang
    what: str
    detail: str = ""


def pick(rng: np.random.Generator, seq: Any) -> Any:
    seq = list(seq)
    return seq[int(rng.integers(0, len(seq)))]


def _nodes(doc: dict) -> list[dict]:
    return doc.get("modelTopology", {}).get("node", [])


def mutate(doc: dict, files: dict[str, bytes], rng: np.random.Generator) -> str:
    """One mutation in place; returns its description."""
    nodes = _nodes(doc)
    kind = int(rng.integers(0, 14))
    manifest = doc.get("weightsManifest") or [{}]
    weights = manifest[0].get("weights", []) if isinstance(manifest[0], dict) else []
    n = nodes[int(rng.integers(0, len(nodes)))] if nodes else {}
    if kind == 0 and n:
        old, n["op"] = n.get("op"), OPS[int(rng.integers(0, len(OPS)))]
        return f"op {old} -> {n['op']}"
    if kind == 1 and n.get("input"):
        n["input"] = ["^" + i.lstrip("^") for i in n["input"]]
        return "inputs -> control"
    if kind == 2 and n:
        key = pick(rng, sorted(n.get("attr", {}) or {"T": 0}))
        n.setdefault("attr", {})[str(key)] = copy.deepcopy(WRONG[int(rng.integers(0, len(WRONG)))])
        return f"attr {key} wrong kind"
    if kind == 3 and n.get("input"):
        i = int(rng.integers(0, len(n["input"])))
        n["input"][i] = pick(rng, ["nowhere", f"{nodes[0]['name']}:7", "", ":", "x:-1", n["name"]])
        return "edge rewired"
    if kind == 4 and weights:
        w = weights[int(rng.integers(0, len(weights)))]
        w["shape"] = pick(rng, [[-1], [0], [1 << 30, 1 << 30], "3", [2.5], None]) if rng.random() < 0.7 else [7]
        return "manifest shape"
    if kind == 5 and weights:
        w = weights[int(rng.integers(0, len(weights)))]
        w["dtype"] = pick(rng, ["string", "float64", "complex64", 5, None, "int8"])
        return "manifest dtype"
    if kind == 6 and weights:
        w = weights[int(rng.integers(0, len(weights)))]
        w["quantization"] = pick(rng, [{"dtype": "uint8"}, {"dtype": "uint8", "scale": "a", "min": 0},
                                        {"dtype": "float16"}, {"dtype": "int4", "scale": 1, "min": 0},
                                        {"dtype": "uint16", "scale": 1e30, "min": -1e30}])
        return "quantization"
    if kind == 7 and files:
        path = sorted(files)[0]
        data = files[path]
        choice = int(rng.integers(0, 3))
        files[path] = (data[: len(data) // 2] if choice == 0 else
                       rng.integers(0, 256, len(data), dtype=np.uint8).tobytes() if choice == 1 else data + b"\0" * 5)
        return ["shard truncated", "shard random bytes", "shard too long"][choice]
    if kind == 8:
        manifest[0]["paths"] = [pick(rng, [".", "../escape.bin", "/etc/passwd", "a" * 300, "", "x/../../y", 5])]
        return "shard path"
    if kind == 9:
        key = pick(rng, ["modelTopology", "weightsManifest", "format", "signature"])
        doc[str(key)] = pick(rng, [None, [], "x", 1, {"node": "no"}])
        return f"top-level {key}"
    if kind == 10 and nodes:
        del nodes[int(rng.integers(0, len(nodes)))]
        return "node deleted"
    if kind == 11 and nodes:
        nodes.append(copy.deepcopy(n))
        return "node duplicated"
    if kind == 12 and doc.get("signature"):
        for entry in (doc["signature"].get("inputs") or {}).values():
            entry["dtype"] = pick(rng, ["DT_STRING", ["DT_FLOAT"], 3, "DT_INT32"])
            entry["tensorShape"] = pick(rng, [{"dim": [{"size": "-7"}]}, "x", {"dim": [{"size": "2"}] * 3}])
        return "signature inputs"
    if kind == 13 and n:
        n["attr"] = pick(rng, [None, [], "x", {"T": {"type": "DT_FLOAT"}, "value": {"tensor": "x"}}])
        return "attr map replaced"
    return "no-op"


def load_seed(folder: Path) -> tuple[dict, dict[str, bytes], Any]:
    doc = json.loads((folder / "model.json").read_text())
    files = {p.name: p.read_bytes() for p in folder.glob("*.bin")}
    if (folder / "inputs.npz").exists():
        with np.load(folder / "inputs.npz") as z:
            inputs: Any = {k: z[k] for k in z.files}
    else:
        inputs = None
    return doc, files, inputs


class _Hang(BaseException):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Hang()


def run_case(seed: int, workdir: Path, time_limit_s: float = 20.0) -> Outcome:
    from loader import load_graph_model
    rng = np.random.default_rng(seed)
    src = SEEDS[seed % len(SEEDS)]
    doc, files, inputs = load_seed(src)
    steps = []
    for _ in range(1 + int(rng.random() < 0.3)):
        try:
            steps.append(mutate(doc, files, rng))
        except (TypeError, KeyError, IndexError, AttributeError, ValueError):
            steps.append("mutation not applicable")       # an earlier mutation removed what it edits
    what = "; ".join(steps)
    folder = workdir / f"case{seed}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "model.json").write_text(json.dumps(doc))
    for name, data in files.items():
        (folder / name).write_bytes(data)
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, time_limit_s)
    t0 = time.perf_counter()
    try:
        model = load_graph_model(folder, backend="numpy", max_iterations=10_000)
        try:
            feeds = inputs if inputs is not None and rng.random() < 0.8 else model.example_inputs()
            model.predict(feeds)
        finally:
            model.dispose()
        return Outcome("ok", what)
    except _Hang:
        return Outcome("hang", what, f"> {time_limit_s} s")
    except GPUBackendError as exc:
        return Outcome("error", what, f"{type(exc).__name__}: {exc}"[:300])
    except Exception as exc:  # noqa: BLE001 - the point: anything else is a leak
        import traceback
        return Outcome("leak", what, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-3)}"[:1500])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        shutil.rmtree(folder, ignore_errors=True)
        _ = time.perf_counter() - t0


if __name__ == "__main__":
    import sys
    import tempfile
    from collections import Counter
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    counts: Counter[str] = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        for s in range(n):
            o = run_case(s, Path(tmp))
            counts[o.kind] += 1
            if o.kind in ("leak", "hang"):
                print(f"case {s} [{o.what}] {o.kind}: {o.detail}")
    print(dict(counts))
