"""Images/s of batch inference: single-process predict vs loader.distributed.predict_dataset with 1..N
Ray workers, in one run on one machine (the same inputs, batch size and driver shader cache).

    .venv/bin/python bench/batch_scaling.py                                   # bundled digits CNN
    .venv/bin/python bench/batch_scaling.py --model ../shared/models/mobilenet_v2 --images 256

Single process: one GLBackend, load + warmup() at the batch size, then predict over every batch (timed
from the first batch).  Ray: a local cluster (--num-cpus, 127.0.0.1), the inputs in the object store as
Arrow blocks of one batch each, a fresh actor pool per worker count; "end to end" is from the start of
the run to the last output at the driver (actor start, model load and warmup included), "steady" from
the first output on.  Writes bench/results/batch_scaling_<model>.json and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_inputs(model, n: int, seed: int = 0) -> np.ndarray:
    (t,) = model.inputs
    shape = [n] + [d for d in t.shape[1:]]
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def single_process(model_dir: str, x: np.ndarray, batch: int) -> dict:
    from loader import load_model
    t0 = time.perf_counter()
    model = load_model(model_dir)
    model.warmup(batch=batch)
    ready = time.perf_counter()
    fixed = model.inputs[0].shape[0] if model.inputs[0].shape[0] != -1 else None
    step = fixed or batch                   # a model with a fixed batch dim runs `fixed` rows at a time
    for lo in range(0, len(x), step):
        model.predict(x[lo:lo + step])
    end = time.perf_counter()
    model.dispose()
    return {"config": "single process", "workers": 0, "end_to_end_s": end - t0, "steady_s": end - ready,
            "startup_s": ready - t0, "per_s_end_to_end": len(x) / (end - t0), "per_s_steady": len(x) / (end - ready)}


def on_ray(model_dir: str, x: np.ndarray, batch: int, workers: int) -> dict:
    from loader.distributed import dataset_from_arrays, predict_dataset
    ds = dataset_from_arrays(x, rows_per_block=batch).materialize()
    t0 = time.perf_counter()
    out = predict_dataset(model_dir, ds, batch_size=batch, num_workers=workers, worker_column="worker")
    first = None
    n = 0
    per_worker: dict[str, int] = {}
    for b in out.iter_batches(batch_format="numpy", batch_size=None):
        if first is None:
            first = time.perf_counter()
        n += len(b["id"])
        for w in b["worker"]:
            per_worker[str(w)] = per_worker.get(str(w), 0) + 1
    end = time.perf_counter()
    assert n == len(x), (n, len(x))
    # steady: the rows after the first block, over the time after it
    steady_rows = n - batch
    return {"config": f"Ray, {workers} worker(s)", "workers": workers, "end_to_end_s": end - t0,
            "steady_s": end - first, "startup_s": first - t0, "per_s_end_to_end": n / (end - t0),
            "per_s_steady": steady_rows / (end - first) if end > first else 0.0, "per_worker": per_worker}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(ROOT / "loader" / "examples" / "digits_cnn"))
    ap.add_argument("--images", type=int, default=2048)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--workers", default="1,2", help="worker counts to run, comma-separated")
    ap.add_argument("--num-cpus", type=int, default=os.cpu_count())
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    name = Path(args.model).name
    from loader import load_model
    probe = load_model(args.model, backend="numpy")
    x = make_inputs(probe, args.images)
    rows = [single_process(args.model, x, args.batch_size)]
    import ray
    ray.init(num_cpus=args.num_cpus, object_store_memory=200 << 20, include_dashboard=False,
             _node_ip_address="127.0.0.1", logging_level=logging.WARNING, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    try:
        for w in [int(v) for v in args.workers.split(",")]:
            rows.append(on_ray(args.model, x, args.batch_size, w))
    finally:
        ray.shutdown()
    base = rows[0]["per_s_steady"]
    print(f"\n{name}: {args.images} inputs {list(x.shape[1:])}, batch {args.batch_size}, {os.cpu_count()} cores, "
          f"{platform.processor() or platform.machine()}\n")
    print("| config | end to end: s / images/s | startup s | steady images/s | vs single process (steady) |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['config']} | {r['end_to_end_s']:.2f} / {r['per_s_end_to_end']:.0f} | {r['startup_s']:.2f} | "
              f"{r['per_s_steady']:.0f} | {r['per_s_steady'] / base:.2f}x |")
    out = Path(args.json or ROOT / "bench" / "results" / f"batch_scaling_{name}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"model": name, "images": args.images, "batch_size": args.batch_size,
                               "cores": os.cpu_count(), "rows": rows}, indent=1))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
