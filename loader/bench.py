"""The headless benchmark runner behind `gpu-backend bench`: load time, first inference (with its
breakdown), warm runs, and the three cold states.

Cold states (each a fresh measurement of the *first* inference):
  a  fresh process, the driver's shader disk cache disabled (Mesa: MESA_SHADER_CACHE_DISABLE=true,
     NVIDIA: __GL_SHADER_DISK_CACHE=0): every program is compiled and JIT-compiled from scratch;
  b  fresh process, the driver's disk cache warm (a private MESA_SHADER_CACHE_DIR filled by a first
     process): what users see on every start after the first, if they keep the cache;
  c  in-process warm: the same process has run the model before (programs compiled and drawn), a
     new model instance runs its first inference.
Plus "after warmup()": the first predict after model.warmup(), against the warm median.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

SCHEMA_VERSION = 2       # 2: context_ms split from load_ms, driver_settings, replay


def _inputs_for(model: Any, how: str, batch: int) -> dict[str, np.ndarray]:
    folder = Path(model.artifacts.source).parent
    if how == "example" and (folder / "inputs.npz").exists():
        with np.load(folder / "inputs.npz") as z:
            return {k: z[k] for k in z.files}
    return model.example_inputs(batch=batch, seed=0)


def first_inference(model_path: str, backend: str = "gl", inputs: str = "example", batch: int = 1) -> dict[str, Any]:
    """Load and run one profiled first inference in this process (the child of the cold states)."""
    model, context_ms, load_ms = _load(model_path, backend)
    feeds = _inputs_for(model, inputs, batch)
    prof = model.profile(feeds)
    out = {"context_ms": round(context_ms, 3), "load_ms": round(load_ms, 3), "first_inference": prof.summary()}
    model.dispose()
    model.backend.close()
    return out


def _load(model_path: str, backend: str) -> tuple[Any, float, float]:
    """(model, ms to create the backend and its GL context, ms to load the model onto it)."""
    from . import load_model as load_graph_model
    from .model import _make_backend
    t0 = time.perf_counter()
    be, _ = _make_backend(backend)
    t1 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = load_graph_model(model_path, backend=be)
    return model, (t1 - t0) * 1e3, (time.perf_counter() - t1) * 1e3


def _child(model_path: str, env: dict[str, str], backend: str, inputs: str, batch: int) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "loader.bench", "--child", model_path, "--backend", backend, "--inputs", inputs,
           "--batch", str(batch)]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"cold-state child failed ({r.returncode}): {r.stderr.strip()[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def cold_states(model_path: str, backend: str = "gl", inputs: str = "example", batch: int = 1) -> dict[str, Any]:
    base = {k: v for k, v in os.environ.items() if k not in ("MESA_SHADER_CACHE_DISABLE", "__GL_SHADER_DISK_CACHE")}
    out: dict[str, Any] = {}
    env_a = dict(base, MESA_SHADER_CACHE_DISABLE="true", __GL_SHADER_DISK_CACHE="0")
    out["a_no_disk_cache"] = _child(model_path, env_a, backend, inputs, batch)
    with tempfile.TemporaryDirectory(prefix="gpu-backend-cache-") as cache:
        env_b = dict(base, MESA_SHADER_CACHE_DIR=cache, __GL_SHADER_DISK_CACHE_PATH=cache,
                     __GL_SHADER_DISK_CACHE="1", __GL_SHADER_DISK_CACHE_SKIP_CLEANUP="1")
        _child(model_path, env_b, backend, inputs, batch)                   # fills the cache
        out["b_disk_cache_warm"] = _child(model_path, env_b, backend, inputs, batch)
    return out


# driver settings that change the figures: llvmpipe's optimisation level and thread count, the caches
DRIVER_ENV = ("GALLIVM_PERF", "LP_NUM_THREADS", "MESA_SHADER_CACHE_DISABLE", "MESA_SHADER_CACHE_DIR",
              "__GL_SHADER_DISK_CACHE")


def run_bench(model_path: str, runs: int = 20, backend: str = "gl", inputs: str = "example", batch: int = 1,
              with_cold_states: bool = False, progress: bool = True) -> tuple[dict[str, Any], Any, Any]:
    """The whole benchmark; returns (report dict, profiler of the first inference, of a warm one)."""
    from . import load_model as load_graph_model
    from tqdm import tqdm

    report: dict[str, Any] = {"schema": SCHEMA_VERSION, "model": model_path,
                              "date": datetime.datetime.now().isoformat(timespec="seconds"),
                              "machine": {"platform": platform.platform(), "python": platform.python_version(),
                                          "cpus": os.cpu_count()},
                              "driver_settings": {k: os.environ.get(k) for k in DRIVER_ENV}}
    model, context_ms, load_ms = _load(model_path, backend)
    report["context_ms"] = round(context_ms, 3)      # backend + GL context creation, once per process
    report["load_ms"] = round(load_ms, 3)            # model.json, weights, planning, weight upload
    be = model.backend
    info = getattr(be, "info", None)
    report["backend"] = {"name": be.name, **({"renderer": info.renderer, "gl_version": info.version,
                                               "software": info.software} if info else {})}
    feeds = _inputs_for(model, inputs, batch)
    report["inputs"] = {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in feeds.items()}
    mem0 = be.memory()
    first = model.profile(feeds)
    report["first_inference"] = first.summary()
    warm = []
    for _ in tqdm(range(runs), desc="warm runs", disable=not progress, leave=False):
        t = time.perf_counter()
        model.predict(feeds)
        warm.append((time.perf_counter() - t) * 1e3)
    report["warm"] = {"runs": runs, "median_ms": round(statistics.median(warm), 3) if warm else None,
                      "min_ms": round(min(warm), 3) if warm else None, "max_ms": round(max(warm), 3) if warm else None,
                      "all_ms": [round(w, 3) for w in warm]}
    replayed = model.executor.last_stats.replayed
    report["replay"] = {"warm_runs_replay": replayed,
                        "why_not": None if replayed else "; ".join(model.executor.unreplayable.values()) or
                        "the executor does not record this graph (control flow)"}
    warm_profile = model.profile(feeds)
    report["warm_profile"] = warm_profile.summary()
    # c: in-process warm -- a second instance of the model, programs already compiled and drawn here
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = load_graph_model(model_path, backend=be)
    t = time.perf_counter()
    again.predict(feeds)
    in_process_first = (time.perf_counter() - t) * 1e3
    again.dispose()
    # after warmup(): a fresh instance warmed on zeros at the real shapes, then the first predict
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fresh = load_graph_model(model_path, backend=be)
    wu = fresh.warmup(feeds if inputs == "example" else None, batch=batch)
    t = time.perf_counter()
    fresh.predict(feeds)
    after_warmup = (time.perf_counter() - t) * 1e3
    fresh.dispose()
    mem = be.memory()
    report["after_warmup"] = {"warmup_ms": round(wu["ms"], 3), "first_predict_ms": round(after_warmup, 3),
                              "ratio_to_warm_median": round(after_warmup / report["warm"]["median_ms"], 3)
                              if warm else None}
    report["programs"] = {"compiled": mem.get("program_cache_misses", 0) - mem0.get("program_cache_misses", 0),
                          "total": mem.get("programs"), "compile_link_ms": mem.get("compile_link_ms"),
                          "first_draw_ms": mem.get("first_draw_ms")}
    report["memory"] = {"peak_bytes": mem.get("peak_bytes"), "peak_live_bytes": mem.get("peak_live_bytes"),
                        "textures_created": mem.get("texture_allocations"),
                        "resident_weight_tensors": len(model.executor.resident)}
    report["cold_states"] = {"c_in_process": {"first_inference_ms": round(in_process_first, 3)}}
    if with_cold_states:
        report["cold_states"].update(cold_states(model_path, backend, inputs, batch))
    model.dispose()
    be.close()
    return report, first, warm_profile


def format_report(r: dict[str, Any]) -> str:
    f = r["first_inference"]
    c = f["categories_ms"]
    lines = [f"model    {r['model']}",
             f"backend  {r['backend'].get('name')} {r['backend'].get('renderer', '')}",
             f"load     {r['load_ms']:.1f} ms (and {r.get('context_ms', 0):.1f} ms to create the GL context)",
             f"first    {f['wall_ms']:.1f} ms: " + ", ".join(f"{k} {v:.1f}" for k, v in c.items() if v >= 0.05)
             + f" (unattributed {f['unattributed_ms']:.2f})",
             f"warm     median {r['warm']['median_ms']:.2f} ms, min {r['warm']['min_ms']:.2f}, max {r['warm']['max_ms']:.2f}"
             f" over {r['warm']['runs']} runs",
             "replay   " + ("warm runs replay the first run's recorded draws" if r.get("replay", {}).get("warm_runs_replay")
                              else f"off: {r.get('replay', {}).get('why_not')}"),
             f"warmup() {r['after_warmup']['warmup_ms']:.1f} ms; then first predict {r['after_warmup']['first_predict_ms']:.2f} ms"
             f" = {r['after_warmup']['ratio_to_warm_median']:.2f}x the warm median",
             f"programs {r['programs']['compiled']} compiled (compile+link {r['programs']['compile_link_ms']:.0f} ms, "
             f"first draws {r['programs']['first_draw_ms']:.0f} ms); textures {r['memory']['textures_created']}, "
             f"peak {r['memory']['peak_bytes'] / 2**20:.2f} MiB"]
    cs = r.get("cold_states", {})
    for key, label in (("a_no_disk_cache", "cold a (no driver disk cache)"),
                       ("b_disk_cache_warm", "cold b (driver disk cache warm)")):
        if key in cs:
            fi = cs[key]["first_inference"]
            lines.append(f"{label}: first {fi['wall_ms']:.1f} ms (driver JIT {fi['categories_ms']['driver_jit']:.1f}, "
                         f"compile+link {fi['categories_ms']['compile_link']:.1f}), load {cs[key]['load_ms']:.1f} ms")
    if "c_in_process" in cs:
        lines.append(f"cold c (in-process warm, new model instance): first {cs['c_in_process']['first_inference_ms']:.1f} ms")
    return "\n".join(lines)


def plot_report(r: dict[str, Any], path: str) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("--plot needs matplotlib: pip install 'gpu-backend[plot]'") from None
    rows = [("first (this process)", r["first_inference"]["categories_ms"]),
            ("warm", r["warm_profile"]["categories_ms"])]
    cs = r.get("cold_states", {})
    if "a_no_disk_cache" in cs:
        rows.insert(0, ("cold a: no disk cache", cs["a_no_disk_cache"]["first_inference"]["categories_ms"]))
    if "b_disk_cache_warm" in cs:
        rows.insert(1, ("cold b: disk cache warm", cs["b_disk_cache_warm"]["first_inference"]["categories_ms"]))
    cats = list(rows[0][1])
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.6 * len(rows)))
    left = np.zeros(len(rows))
    for cat in cats:
        vals = np.array([row[1].get(cat, 0.0) for row in rows])
        ax.barh([row[0] for row in rows], vals, left=left, label=cat)
        left += vals
    ax.set_xlabel("ms")
    name = Path(r["model"]).parent.name if r["model"].endswith(".json") else Path(r["model"]).name
    ax.set_title(f"{name}: inference time by category")
    ax.legend(fontsize=7, ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.35))
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    import argparse
    ap = argparse.ArgumentParser(description="cold-state child of gpu-backend bench")
    ap.add_argument("--child", required=True)
    ap.add_argument("--backend", default="gl")
    ap.add_argument("--inputs", default="example")
    ap.add_argument("--batch", type=int, default=1)
    args = ap.parse_args(argv)
    print(json.dumps(first_inference(args.child, args.backend, args.inputs, args.batch)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
