"""`gpu-backend batch`: a model over a folder of input files on Ray, one output per input.

Every input file (.npy, .npz, image) is one sample; its id is the file's stem, and its output is
OUTPUT_DIR/<id>.npz (one array per signature output, without the batch dim), or rows of Parquet parts
(OUTPUT_DIR/part-*.parquet: an `id` column and one flattened column per output, shapes in the schema
metadata).  The workers read the inputs (so INPUT_DIR must be reachable from every node: the same
machine, or a shared file system); the driver writes the outputs, each atomically (a temporary file
hard-linked into place, which fails if the output exists: an id is never written twice) so a killed run
leaves no half-written file.  A rerun skips the ids whose output exists (resumable).  A worker that dies
is restarted by Ray and its batch retried.
"""
from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

CRASH_ON_BATCH_ENV = "GPU_BACKEND_BATCH_CRASH_ON_BATCH"     # fault injection (tests): a worker os._exit()s
CRASH_MARKER_ENV = "GPU_BACKEND_BATCH_CRASH_MARKER"         # on its Nth batch, once (marker file)


@dataclass
class BatchSummary:
    inputs: int
    skipped: int
    written: int = 0
    duplicates: int = 0
    workers: int = 0
    batch_size: int = 0
    wall_s: float = 0.0
    first_result_s: float = 0.0
    per_worker: dict[str, int] = field(default_factory=dict)
    written_ids: list[str] = field(default_factory=list)

    @property
    def per_s(self) -> float:
        return self.written / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def steady_per_s(self) -> float:
        """After the first result (worker start, model load and warmup excluded)."""
        span = self.wall_s - self.first_result_s
        return self.written / span if span > 0 and self.written else 0.0

    def format(self) -> str:
        if not self.written and not self.duplicates:
            return f"nothing to do: all {self.inputs} inputs already have an output ({self.skipped} skipped)"
        lines = [f"{self.written} written, {self.skipped} skipped (already written), {self.duplicates} duplicate(s); "
                 f"{self.inputs} inputs",
                 f"{self.wall_s:.2f} s with {self.workers} worker(s), batch {self.batch_size}: "
                 f"{self.per_s:.1f} inputs/s overall, {self.steady_per_s:.1f} inputs/s after the first result "
                 f"({self.first_result_s:.2f} s: start, load, warmup)"]
        if self.per_worker:
            lines.append("per worker (pid: inputs): " + ", ".join(f"{k}: {v}" for k, v in sorted(self.per_worker.items())))
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(per_s=self.per_s, steady_per_s=self.steady_per_s)
        return d


# -- writing outputs ----------------------------------------------------------------------------
def write_npz_once(folder: Path, key: str, arrays: dict[str, np.ndarray]) -> bool:
    """OUTPUT/<key>.npz written atomically; False (nothing written) when it already exists."""
    final = folder / f"{key}.npz"
    tmp = folder / f".{key}.{uuid.uuid4().hex[:8]}.tmp"
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    try:
        os.link(tmp, final)          # atomic, and refuses to replace an existing output
        return True
    except FileExistsError:
        return False
    except OSError:                  # a file system without hard links
        if final.exists():
            return False
        os.replace(tmp, final)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def existing_ids(folder: Path, fmt: str) -> set[str]:
    if fmt == "npz":
        return {p.stem for p in folder.glob("*.npz") if not p.name.startswith(".")}
    import pyarrow.parquet as pq
    ids: set[str] = set()
    for p in folder.glob("part-*.parquet"):
        ids.update(pq.read_table(p, columns=["id"]).column("id").to_pylist())
    return ids


def write_parquet_part(folder: Path, ids: list[str], outputs: dict[str, np.ndarray]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    cols: dict[str, Any] = {"id": pa.array(ids, pa.string())}
    meta = {}
    for key, a in outputs.items():
        flat = np.ascontiguousarray(a).reshape(len(ids), -1)
        cols[key] = pa.FixedSizeListArray.from_arrays(pa.array(flat.reshape(-1)), flat.shape[1])
        meta[key] = {"shape": list(a.shape[1:]), "dtype": str(a.dtype)}
    table = pa.table(cols).replace_schema_metadata({"gpu_backend_outputs": json.dumps(meta)})
    name = f"part-{time.time_ns():x}-{uuid.uuid4().hex[:6]}.parquet"
    tmp = folder / f".{name}.tmp"
    pq.write_table(table, tmp)
    os.replace(tmp, folder / name)


def read_parquet_outputs(folder: str | os.PathLike[str]) -> dict[str, dict[str, np.ndarray]]:
    """{id: {output: array}} from the Parquet parts `gpu-backend batch --format parquet` wrote."""
    import pyarrow.parquet as pq
    out: dict[str, dict[str, np.ndarray]] = {}
    for p in sorted(Path(folder).glob("part-*.parquet")):
        table = pq.read_table(p)
        meta = json.loads(table.schema.metadata[b"gpu_backend_outputs"])
        ids = table.column("id").to_pylist()
        for key, m in meta.items():
            values = np.asarray(table.column(key).combine_chunks().flatten()).astype(m["dtype"])
            values = values.reshape([len(ids)] + m["shape"])
            for i, k in enumerate(ids):
                out.setdefault(k, {})[key] = values[i]
    return out


# -- the run ------------------------------------------------------------------------------------
def make_example_inputs(model_dir: Path, input_dir: Path) -> int:
    """Split the model folder's inputs.npz into one .npy per sample in input_dir (sample_000.npy, ...)."""
    input_dir.mkdir(parents=True, exist_ok=True)
    with np.load(model_dir / "inputs.npz") as z:
        if len(z.files) != 1:
            raise SystemExit(f"{model_dir / 'inputs.npz'} holds {len(z.files)} arrays; --make-example-inputs "
                             "splits a single-input model's")
        x = z[z.files[0]]
    for i, sample in enumerate(x):
        np.save(input_dir / f"sample_{i:03d}.npy", sample)
    return len(x)


def _init_ray(address: str | None, num_cpus: int | None, object_store_mb: int | None) -> bool:
    """Connect to `address` or start a local cluster, unless Ray is already initialised (returns whether
    this call started it, so that it is shut down after)."""
    import logging
    import ray
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
    if address:
        ray.init(address=address, logging_level=logging.WARNING)
        return True
    if num_cpus:
        kwargs["num_cpus"] = num_cpus
    if object_store_mb:
        kwargs["object_store_memory"] = int(object_store_mb) << 20
    ray.init(**kwargs)
    return True


def run_batch(model: str, input_dir: str | os.PathLike[str], output_dir: str | os.PathLike[str], *,
              workers: int | None = None, batch_size: int = 16, address: str | None = None, fmt: str = "npz",
              backend: str = "gl", fast_compile: bool = False, shader_cache_dir: str | None = None,
              gpus_per_worker: float | None = None, num_cpus: int | None = None,
              object_store_mb: int | None = None, progress: bool = True) -> BatchSummary:
    import logging
    from .distributed import _require_ray, dataset_from_files, list_input_files, predict_dataset
    ray = _require_ray()
    if fmt not in ("npz", "parquet"):
        raise ValueError(f"format must be 'npz' or 'parquet', not {fmt!r}")
    out_dir = Path(output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob(".*.tmp"):
        stale.unlink(missing_ok=True)        # left by a killed run: never a finished output
    files = list_input_files(input_dir)
    done = existing_ids(out_dir, fmt)
    todo = {k: p for k, p in files.items() if k not in done}
    summary = BatchSummary(inputs=len(files), skipped=len(files) - len(todo), batch_size=batch_size)
    if not todo:
        return summary
    started = _init_ray(address, num_cpus, object_store_mb)
    try:
        from ray.data import DataContext
        DataContext.get_current().enable_progress_bars = False     # ours below counts inputs written
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        if workers is None:
            gpus = ray.cluster_resources().get("GPU", 0)
            workers = max(1, int(gpus)) if gpus and gpus_per_worker != 0 else 1
        workers = max(1, min(workers, -(-len(todo) // batch_size)))     # no idle actor for a short rerun
        summary.workers = workers
        crash_on = os.environ.get(CRASH_ON_BATCH_ENV)
        ds = dataset_from_files(list(todo.values()), rows_per_block=batch_size)
        results = predict_dataset(str(model), ds, batch_size=batch_size, num_workers=workers,
                                  gpus_per_worker=gpus_per_worker, backend=backend, fast_compile=fast_compile,
                                  shader_cache_dir=shader_cache_dir, worker_column="_worker",
                                  _crash_on_batch=int(crash_on) if crash_on else None,
                                  _crash_marker=os.environ.get(CRASH_MARKER_ENV))
        from tqdm import tqdm
        bar = tqdm(total=len(todo), unit="input", disable=not progress, desc="batch")
        per_worker: Counter = Counter()
        seen: set[str] = set()
        t0 = time.perf_counter()
        for block in results.iter_batches(batch_format="numpy", batch_size=None):
            if not summary.first_result_s:
                summary.first_result_s = time.perf_counter() - t0
            ids = [str(i) for i in block["id"]]
            outputs = {k: v for k, v in block.items() if k not in ("id", "_worker")}
            per_worker.update(str(w) for w in block["_worker"])
            if fmt == "npz":
                for i, key in enumerate(ids):
                    if key in seen or not write_npz_once(out_dir, key, {k: v[i] for k, v in outputs.items()}):
                        summary.duplicates += 1
                        continue
                    seen.add(key)
                    summary.written_ids.append(key)
            else:
                fresh = [i for i, key in enumerate(ids) if key not in seen and key not in done]
                summary.duplicates += len(ids) - len(fresh)
                if fresh:
                    write_parquet_part(out_dir, [ids[i] for i in fresh], {k: v[fresh] for k, v in outputs.items()})
                    seen.update(ids[i] for i in fresh)
                    summary.written_ids.extend(ids[i] for i in fresh)
            bar.update(len(ids))
        bar.close()
        summary.wall_s = time.perf_counter() - t0
        summary.written = len(summary.written_ids)
        summary.per_worker = dict(per_worker)
        missing = sorted(set(todo) - seen)
        if missing:
            raise RuntimeError(f"{len(missing)} input(s) got no output: {missing[:10]}")
        return summary
    finally:
        if started:
            ray.shutdown()


__all__ = ["run_batch", "BatchSummary", "write_npz_once", "read_parquet_outputs", "make_example_inputs"]
