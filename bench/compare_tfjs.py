"""Side by side with TensorFlow.js: the same model.json files through our GL backend and through
the real TF.js 4.22 (../shared/peer), in one run, on this machine.

    cp -r ../shared/peer /tmp/peer && WITH_TFJS_NODE=0 bash /tmp/peer/setup.sh      # once
    python bench/compare_tfjs.py --peer /tmp/peer --out bench/results/tfjs_compare.json

For each model it measures
  ours:  load, first inference in cold state (a) (fresh process, no driver shader cache) and (b)
         (fresh process, cache warm), warm median, first predict after warmup(); once with the
         driver's defaults and once with --fast-compile (llvmpipe without LLVM optimisation);
  TF.js WebGL on SwiftShader (headless Chromium's default), TF.js WebGL on Mesa llvmpipe (our driver,
  ANGLE over EGL; fresh browser and an empty Mesa cache for its first inference) and the TF.js CPU backend:
         load, first inference, warm median;
and prints a Markdown table of ours / TF.js ratios (below 1: we are faster).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_MODELS = ["mobilenet_v1", "mobilenet_v2", "resnet_small", "example"]


def model_path(name: str) -> Path:
    if name == "example":
        from loader.cli import example_model_dir
        return example_model_dir() / "model.json"
    p = Path(name)
    if p.exists():
        return p if p.name == "model.json" else p / "model.json"
    return ROOT.parent / "shared" / "models" / name / "model.json"


def input_args(model_json: Path, tmp: Path) -> list[str]:
    """The peer's --input-file arguments, from the model's inputs.npz (one file per input, in order)."""
    folder = model_json.parent
    args: list[str] = []
    if (folder / "inputs.npz").exists():
        with np.load(folder / "inputs.npz") as z:
            for k in z.files:
                f = tmp / (k.replace(":", "_").replace("/", "_") + ".npy")
                np.save(f, z[k])
                name = k.split(':')[0]
                args += ["--input-shape", f"{name}={','.join(map(str, z[k].shape))}", "--input-file", f"{name}={f}"]
    elif (folder / "input.npy").exists():
        shape = np.load(folder / "input.npy", mmap_mode="r").shape
        args += ["--input-shape", ",".join(map(str, shape)), "--input-file", str(folder / "input.npy")]
    return args


def run_peer(peer: Path, model_json: Path, backend: str, runs: int, tmp: Path, llvmpipe: bool = False) -> dict:
    out = tmp / f"peer-{backend}-{'llvmpipe' if llvmpipe else 'default'}.json"
    cmd = ["node", str(peer / "run.mjs"), "--backend", backend, "--model", str(model_json), "--runs", str(runs),
           "--out", str(out)] + input_args(model_json, tmp)
    env = dict(os.environ)
    if llvmpipe:
        cmd.append("--chromium-arg=--use-angle=gl-egl")
        env["MESA_SHADER_CACHE_DISABLE"] = "true"          # cold, like our state (a)
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    if r.returncode != 0:
        return {"error": (r.stderr or r.stdout).strip()[-800:]}
    d = json.loads(out.read_text())
    t = d.get("timings", {})
    return {"load_ms": t.get("loadMs"), "first_ms": t.get("firstInferenceMs"),
            "warm_median_ms": t.get("warm", {}).get("medianMs"),
            "renderer": (d.get("backend", {}).get("webgl") or {}).get("unmaskedRenderer")}


def ours(model_json: Path, runs: int, tmp: Path, fast_compile: bool = False) -> dict:
    """`gpu-backend bench --cold-states` in its own process (the driver settings are per process)."""
    out = tmp / f"ours-{model_json.parent.name}-{int(fast_compile)}.json"
    cmd = [sys.executable, "-m", "loader.cli", "bench", str(model_json), "--runs", str(runs), "--cold-states",
           "--no-progress", "--json", str(out)] + (["--fast-compile"] if fast_compile else [])
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=1800,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if r.returncode != 0:
        raise RuntimeError(f"gpu-backend bench failed: {r.stderr[-2000:]}")
    report = json.loads(out.read_text())
    cs = report["cold_states"]
    return {"load_ms": report["load_ms"],
            "first_cold_a_ms": cs["a_no_disk_cache"]["first_inference"]["wall_ms"],
            "first_cold_b_ms": cs["b_disk_cache_warm"]["first_inference"]["wall_ms"],
            "first_in_process_ms": cs["c_in_process"]["first_inference_ms"],
            "warm_median_ms": report["warm"]["median_ms"],
            "after_warmup_first_ms": report["after_warmup"]["first_predict_ms"],
            "after_warmup_ratio": report["after_warmup"]["ratio_to_warm_median"],
            "programs": report["programs"]["compiled"],
            "renderer": report["backend"].get("renderer")}


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a and b else "-"


def _f(x: object) -> str:
    return f"{x:.1f}" if isinstance(x, (int, float)) else "-"


def table(results: dict) -> str:
    """Two tables: the times, then the ratios ours / TF.js (below 1: ours is faster)."""
    times = ["| model | ours: load / first cold a / cold b / warm / after warmup() | ours, --fast-compile: first cold a / warm "
             "| TF.js WebGL SwiftShader: load / first / warm | TF.js WebGL llvmpipe: first cold / warm | TF.js CPU: warm |",
             "|---|---|---|---|---|---|"]
    ratios = ["| model | warm / WebGL SwiftShader | first cold a / WebGL SwiftShader | warm / WebGL llvmpipe "
              "| first cold a / WebGL llvmpipe | fast-compile: warm / SwiftShader | fast-compile: first cold a / SwiftShader "
              "| after warmup() / warm |",
              "|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        o, q = r["ours"], r["ours_fast_compile"]
        s, l, c = r["tfjs_webgl_swiftshader"], r["tfjs_webgl_llvmpipe"], r["tfjs_cpu"]
        times.append(
            f"| {name} | {_f(o['load_ms'])} / {_f(o['first_cold_a_ms'])} / {_f(o['first_cold_b_ms'])} / "
            f"{_f(o['warm_median_ms'])} / {_f(o['after_warmup_first_ms'])} | {_f(q['first_cold_a_ms'])} / "
            f"{_f(q['warm_median_ms'])} | {_f(s.get('load_ms'))} / {_f(s.get('first_ms'))} / "
            f"{_f(s.get('warm_median_ms'))} | {_f(l.get('first_ms'))} / {_f(l.get('warm_median_ms'))} | "
            f"{_f(c.get('warm_median_ms'))} |")
        ratios.append(
            f"| {name} | {ratio(o['warm_median_ms'], s.get('warm_median_ms'))} | "
            f"{ratio(o['first_cold_a_ms'], s.get('first_ms'))} | {ratio(o['warm_median_ms'], l.get('warm_median_ms'))} | "
            f"{ratio(o['first_cold_a_ms'], l.get('first_ms'))} | {ratio(q['warm_median_ms'], s.get('warm_median_ms'))} | "
            f"{ratio(q['first_cold_a_ms'], s.get('first_ms'))} | {o['after_warmup_ratio']:.2f} |")
    return "\n".join(times) + "\n\n" + "\n".join(ratios)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="*", default=DEFAULT_MODELS)
    ap.add_argument("--peer", type=Path, default=Path("/tmp/peer"), help="a set-up copy of ../shared/peer")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "tfjs_compare.json")
    args = ap.parse_args()
    if not (args.peer / "node_modules").exists():
        raise SystemExit(f"{args.peer} is not set up: cp -r ../shared/peer {args.peer} && "
                         f"WITH_TFJS_NODE=0 bash {args.peer}/setup.sh")
    results = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for name in args.models:
            mj = model_path(name)
            print(f"== {name}", flush=True)
            results[name] = {
                "ours": ours(mj, args.runs, tmp),
                "ours_fast_compile": ours(mj, args.runs, tmp, fast_compile=True),
                "tfjs_webgl_swiftshader": run_peer(args.peer, mj, "webgl", args.runs, tmp),
                "tfjs_webgl_llvmpipe": run_peer(args.peer, mj, "webgl", args.runs, tmp, llvmpipe=True),
                "tfjs_cpu": run_peer(args.peer, mj, "cpu", args.runs, tmp),
            }
            print(json.dumps(results[name]), flush=True)
    doc = {"date": datetime.date.today().isoformat(), "machine": platform.platform(), "cpus": os.cpu_count(),
           "runs": args.runs, "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1))
    print(f"\nMeasured {doc['date']} on {doc['machine']} ({doc['cpus']} cores); ms; ratios below 1 mean ours is faster.\n")
    print(table(results))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
