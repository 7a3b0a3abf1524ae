"""Layers model vs graph model of the same network, in one run: each loaded in a fresh process (driver
shader cache as it is: run twice, the second run is cold state (b)), timed for load, first inference
and the warm median, with the programs each compiles.

    python bench/compare_layers_graph.py [FOLDER ...] [--runs 20] [--json bench/results/layers_vs_graph.json]

A FOLDER holds layers/ and graph/ (bench/make_layers_bench_models.py), or is a test fixture folder (the
layers model itself, with graph/ inside).  Default: every such folder in bench/models and
tests/fixtures/layers.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, statistics, sys, time
import numpy as np
from loader import load_model
path, inputs_path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
t0 = time.perf_counter()
model = load_model(path)
load_ms = (time.perf_counter() - t0) * 1e3
with np.load(inputs_path) as z:
    named = {k: z[k] for k in z.files}
feeds = next(iter(named.values())) if len(named) == 1 else named
t1 = time.perf_counter()
model.predict(feeds)
first_ms = (time.perf_counter() - t1) * 1e3
warm = []
for _ in range(runs):
    t = time.perf_counter()
    model.predict(feeds)
    warm.append((time.perf_counter() - t) * 1e3)
mem = model.backend.memory()
gl_nodes = sum(1 for p in model.executor.plans.values() if p.kind == "device")
print(json.dumps({"load_ms": load_ms, "first_ms": first_ms, "warm_median_ms": statistics.median(warm),
                  "programs": mem["program_cache_misses"], "gl_nodes": gl_nodes}))
"""


def pairs(folders: list[str]) -> list[tuple[str, Path, Path, Path]]:
    out = []
    cands = [Path(f) for f in folders] if folders else sorted((ROOT / "bench" / "models").glob("*")) + sorted(
        (ROOT / "tests" / "fixtures" / "layers").glob("*"))
    for f in cands:
        if (f / "layers" / "model.json").exists() and (f / "graph" / "model.json").exists():
            out.append((f.name, f / "layers", f / "graph", f / "inputs.npz"))
        elif (f / "model.json").exists() and (f / "graph" / "model.json").exists():
            out.append((f.name, f, f / "graph", f / "inputs.npz"))
    return out


def measure(path: Path, inputs: Path, runs: int) -> dict:
    res = subprocess.run([sys.executable, "-c", CHILD, str(path), str(inputs), str(runs)], capture_output=True,
                         text=True, cwd=ROOT)
    if res.returncode:
        raise SystemExit(f"{path}: {res.stderr.strip().splitlines()[-1]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folders", nargs="*")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    rows = []
    for name, layers, graph, inputs in pairs(args.folders):
        for path in (layers, graph):            # fill the driver's disk cache: the timed runs are state (b)
            measure(path, inputs, 1)
        lay, gra = measure(layers, inputs, args.runs), measure(graph, inputs, args.runs)
        rows.append({"model": name, "layers": lay, "graph": gra})
    print("| model | layers: load / first / warm (ms) | graph: load / first / warm (ms) | warm layers/graph | "
          "programs layers / graph | GL nodes layers / graph |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        a, b = r["layers"], r["graph"]
        print(f"| {r['model']} | {a['load_ms']:.1f} / {a['first_ms']:.1f} / {a['warm_median_ms']:.2f} | "
              f"{b['load_ms']:.1f} / {b['first_ms']:.1f} / {b['warm_median_ms']:.2f} | "
              f"{a['warm_median_ms'] / b['warm_median_ms']:.2f} | {a['programs']} / {b['programs']} | "
              f"{a['gl_nodes']} / {b['gl_nodes']} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
