"""Batch inference over a Ray Data dataset: one GL context per worker actor.

    import ray
    from loader.distributed import predict_dataset, dataset_from_arrays
    ray.init()
    ds = dataset_from_arrays(x)                      # rows {"id": "0".., "x": sample}
    out = predict_dataset("model/", ds, batch_size=64, num_workers=2)
    for batch in out.iter_batches(batch_format="numpy"): ...   # {"id": ..., "probs": ...}

Needs the `[ray]` extra (`pip install 'gpu-backend[ray]'`).  Every worker is a Ray actor (`_BatchPredictor`)
that, in one thread of its own, creates its backend and GL context (on the EGL device of the GPU Ray gave it,
see gpu_backend/egl_devices.py), loads the model once from a path or URL every node can reach and runs
`warmup()` at the batch size, so no batch pays the compile.  The driver's shader disk cache is pointed at
`shader_cache_dir` (Mesa and NVIDIA variables) before the context exists, so a restarted worker starts warm.
Outputs are keyed by the id column, so the order of the result rows does not matter; Ray Data restarts an actor
that dies (max_restarts=-1) and retries its task there (max_task_retries=-1), so no row is lost, and a task's
output is delivered once, so none is duplicated.
"""
from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
INPUT_SUFFIXES = (".npy", ".npz") + IMAGE_SUFFIXES


def _require_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError("loader.distributed needs Ray Data: pip install 'gpu-backend[ray]' "
                          f"(or pip install 'ray[data]'): {exc}") from exc
    return ray


def shader_cache_env(folder: str | os.PathLike[str] | None) -> dict[str, str]:
    """Environment that puts the driver's shader disk cache in `folder` (Mesa: MESA_SHADER_CACHE_DIR, and
    MESA_GLSL_CACHE_DIR for Mesa < 21; NVIDIA: __GL_SHADER_DISK_CACHE_PATH), kept across restarts."""
    if folder is None:
        return {}
    path = str(Path(folder).expanduser().resolve())
    return {"MESA_SHADER_CACHE_DIR": path, "MESA_GLSL_CACHE_DIR": path,
            "__GL_SHADER_DISK_CACHE": "1", "__GL_SHADER_DISK_CACHE_PATH": path,
            "__GL_SHADER_DISK_CACHE_SKIP_CLEANUP": "1"}


# -- reading one input file -------------------------------------------------------------------
def load_input_file(path: str | os.PathLike[str], inputs: Sequence[Any]) -> dict[str, np.ndarray]:
    """One sample from a .npy, .npz or image file, as {input key: array without the batch dim}.
    `inputs`: the model's signature inputs (TensorInfo).  A .npz holds one array (single-input models) or
    one per input key; a leading batch dim of 1 is dropped; images become float32 in [0, 1], HWC."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".npy":
        arrays = {inputs[0].key: np.load(p)} if len(inputs) == 1 else None
        if arrays is None:
            raise ValueError(f"{p}: a .npy holds one array but the model has {len(inputs)} inputs; use a .npz")
    elif suffix == ".npz":
        with np.load(p) as z:
            files = list(z.files)
            if len(inputs) == 1 and len(files) == 1:
                arrays = {inputs[0].key: z[files[0]]}
            else:
                missing = [t.key for t in inputs if t.key not in files]
                if missing:
                    raise ValueError(f"{p}: holds {files}, the model's inputs are {[t.key for t in inputs]}")
                arrays = {t.key: z[t.key] for t in inputs}
    elif suffix in IMAGE_SUFFIXES:
        if len(inputs) != 1:
            raise ValueError(f"{p}: an image feeds a single-input model, this one has {len(inputs)} inputs")
        try:
            from PIL import Image
        except ImportError as exc:
            raise ImportError("image inputs need Pillow: pip install 'gpu-backend[ray]' or pip install pillow") from exc
        with Image.open(p) as im:
            a = np.asarray(im, dtype=np.float32) / 255.0
        arrays = {inputs[0].key: a[..., None] if a.ndim == 2 else a}
    else:
        raise ValueError(f"{p}: not an input file ({', '.join(INPUT_SUFFIXES)})")
    out = {}
    for t in inputs:
        a = np.asarray(arrays[t.key])
        if t.shape is not None and a.ndim == len(t.shape) and a.shape[0] == 1:
            a = a[0]
        if t.dtype == "float32" and a.dtype != np.float32 and a.dtype.kind in "fiu":
            a = a.astype(np.float32)
        out[t.key] = a
    return out


# -- the worker --------------------------------------------------------------------------------
class _BatchPredictor:
    """A Ray Data callable class: one backend, one GL context and one loaded model per actor.

    All GL work happens on one thread this object owns (GLBackend raises ContextThreadError from any
    other), whatever thread Ray calls __init__ and __call__ from."""

    def __init__(self, model_source: str, *, backend: str = "gl", fast_compile: bool = False,
                 warmup: bool = True, warmup_batch: int = 1, shader_cache_dir: str | None = None,
                 input_columns: dict[str, str] | None = None, id_column: str = "id",
                 path_column: str = "path", worker_column: str | None = None, strict: bool = False,
                 device_index: int | None = None, crash_on_batch: int | None = None,
                 crash_marker: str | None = None) -> None:
        os.environ.update(shader_cache_env(shader_cache_dir))      # before the driver starts
        if shader_cache_dir:
            Path(shader_cache_dir).mkdir(parents=True, exist_ok=True)
        if fast_compile and backend in ("gl", "egl"):
            from gpu_backend.context import set_fast_compile
            set_fast_compile(True)
        self.id_column = id_column
        self.path_column = path_column
        self.worker_column = worker_column
        self.input_columns = dict(input_columns or {})
        self._crash_on_batch = crash_on_batch
        self._crash_marker = crash_marker
        self._batches = 0
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="gl-worker")
        self.info = self._thread.submit(self._setup, model_source, backend, strict, warmup, warmup_batch,
                                        device_index).result()

    def _setup(self, model_source: str, backend: str, strict: bool, warmup: bool, warmup_batch: int,
               device_index: int | None) -> dict[str, Any]:
        from . import load_model
        t0 = time.perf_counter()
        info: dict[str, Any] = {"pid": os.getpid(), "thread": threading.get_ident()}
        if backend in ("gl", "egl"):
            from gpu_backend import GLBackend
            if device_index is None:
                from gpu_backend.egl_devices import device_for_this_process
                gpu_ids = _ray_gpu_ids()
                device_index, why = device_for_this_process(gpu_ids)
                info["gpu_ids"] = gpu_ids
            else:
                why = "device_index given"
            be: Any = GLBackend(device_index=device_index)
            info.update(device_index=device_index, device_choice=why, renderer=be.info.renderer)
        else:
            be = backend
        self.model = load_model(model_source, backend=be, strict=strict)
        self._owned_backend = be if not isinstance(be, str) else None
        info["load_ms"] = (time.perf_counter() - t0) * 1e3
        if warmup:      # at the batch size (a -1 batch dim takes it; a fixed one keeps its size)
            info["warmup"] = self.model.warmup(batch=max(1, int(warmup_batch)))
        self.inputs = list(self.model.inputs)
        self.output_keys = [(t.key, t.name) for t in self.model.outputs]
        fixed = {t.shape[0] for t in self.inputs if t.shape and t.shape[0] != -1}
        self._fixed_batch = fixed.pop() if len(fixed) == 1 else None      # e.g. [1, 224, 224, 3]
        if not self.input_columns:
            self.input_columns = {t.key: t.key for t in self.inputs}
        elif "__single__" in self.input_columns:       # a single-input model fed from the one data column
            self.input_columns = {self.inputs[0].key: self.input_columns["__single__"]}
        return info

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self._batches += 1
        if (self._crash_on_batch is not None and self._batches >= self._crash_on_batch and self._crash_marker
                and not os.path.exists(self._crash_marker)):
            Path(self._crash_marker).write_text(str(os.getpid()))   # fault injection: die once, mid-run
            os._exit(17)
        return self._thread.submit(self._predict, batch).result()

    def _feeds(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.path_column in batch and not any(c in batch for c in self.input_columns.values()):
            samples = [load_input_file(str(p), self.inputs) for p in batch[self.path_column]]
            return {t.key: np.stack([s[t.key] for s in samples]) for t in self.inputs}
        feeds = {}
        for key, column in self.input_columns.items():
            if column not in batch:
                raise KeyError(f"the dataset has no column {column!r} for input {key!r} (columns: {sorted(batch)})")
            feeds[key] = np.asarray(batch[column])
        return feeds

    def _predict(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        ids = np.asarray(batch[self.id_column])
        feeds = self._feeds(batch)
        step = self._fixed_batch
        if step and len(ids) != step:       # a model with a fixed batch dim: run the rows `step` at a time
            if len(ids) % step:
                raise ValueError(f"the model takes batches of exactly {step}; got {len(ids)} rows")
            parts = [self.model.predict({k: v[lo:lo + step] for k, v in feeds.items()})
                     for lo in range(0, len(ids), step)]
            outputs = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        else:
            outputs = self.model.predict(feeds)
        result: dict[str, np.ndarray] = {self.id_column: ids}
        for key, name in self.output_keys:
            a = outputs[key] if key in outputs else outputs[name]
            if a.ndim == 0 or a.shape[0] != len(ids):
                raise ValueError(f"output {key!r} has shape {list(a.shape)}, not one row per input "
                                 f"({len(ids)}): only batch-major outputs can be split per row")
            result[key] = a
        if self.worker_column:
            result[self.worker_column] = np.full(len(ids), f"{os.getpid()}", dtype=object)
        return result

    def __del__(self) -> None:  # pragma: no cover - actor teardown
        try:
            if getattr(self, "_owned_backend", None) is not None:
                self._thread.submit(self._owned_backend.close).result(timeout=10)
        except Exception:
            pass


def _ray_gpu_ids() -> list:
    try:
        import ray
        return list(ray.get_gpu_ids()) if ray.is_initialized() else []
    except Exception:
        return []


def _remote_kwargs(cls, **kwargs):
    import inspect
    params = inspect.signature(cls).parameters
    return cls(**{k: v for k, v in kwargs.items() if k in params and v is not None})


# -- the API -----------------------------------------------------------------------------------
def predict_dataset(model_source: str | os.PathLike[str], dataset: Any, *, batch_size: int,
                    num_workers: int | None = None, gpus_per_worker: float | None = None,
                    backend: str = "gl", fast_compile: bool = False, warmup: bool = True,
                    shader_cache_dir: str | os.PathLike[str] | None = None,
                    input_columns: dict[str, str] | None = None, id_column: str = "id",
                    path_column: str = "path", worker_column: str | None = None, strict: bool = False,
                    cpus_per_worker: float = 1.0, device_index: int | None = None,
                    max_restarts: int = -1, max_task_retries: int = -1,
                    _crash_on_batch: int | None = None, _crash_marker: str | None = None) -> Any:
    """Run a model over a ray.data.Dataset; returns the (lazy) Dataset of outputs.

    Rows: an id column (`id_column`, kept in the outputs so order never matters) and either one column per
    model input (`input_columns`: {input key: column}; default the input keys, or the one non-id column of a
    single-input model) or a `path_column` of .npy/.npz/image files every node can read.  Output rows: the id
    and one column per signature output (its key).  gpus_per_worker: None = 1 where the cluster has GPUs,
    else 0; num_workers: None = one per GPU (gpus_per_worker > 0), else 1.  shader_cache_dir: the driver's
    shader disk cache folder in every worker (a restarted worker then starts warm); fast_compile: llvmpipe's
    GALLIVM_PERF=nopt in every worker.  device_index pins every worker to one EGL device (default: chosen
    from the GPU Ray assigned, see gpu_backend/egl_devices.py).  A worker that dies is restarted and its
    batch retried (max_restarts / max_task_retries, Ray's -1 = without limit)."""
    ray = _require_ray()
    if not ray.is_initialized():
        ray.init()
    columns = list(dataset.columns() or [])
    if id_column not in columns:
        raise ValueError(f"the dataset has no id column {id_column!r} (columns: {columns}); outputs are keyed by "
                         "it. dataset_from_arrays()/dataset_from_files() add one, or pass id_column=")
    if input_columns is None and path_column not in columns:
        data_columns = [c for c in columns if c != id_column]
        if len(data_columns) == 1:
            input_columns = {"__single__": data_columns[0]}
    if gpus_per_worker is None:
        gpus_per_worker = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
    if num_workers is None:
        gpus = ray.cluster_resources().get("GPU", 0)
        num_workers = max(1, int(gpus // gpus_per_worker)) if gpus_per_worker else 1
    from ray.data import ActorPoolStrategy
    compute = _remote_kwargs(ActorPoolStrategy, size=int(num_workers), max_concurrent_calls_per_actor=1)
    ctor = dict(model_source=str(model_source), backend=backend, fast_compile=fast_compile, warmup=warmup,
                warmup_batch=batch_size, shader_cache_dir=str(shader_cache_dir) if shader_cache_dir else None,
                input_columns=input_columns, id_column=id_column, path_column=path_column,
                worker_column=worker_column, strict=strict, device_index=device_index,
                crash_on_batch=_crash_on_batch, crash_marker=_crash_marker)
    # Ray Data's actor pools default to max_restarts=-1 and max_task_retries=-1 (restart a dead worker,
    # retry its task there); passing them is deprecated, so only other values are passed
    fault_args = {k: v for k, v in (("max_restarts", max_restarts), ("max_task_retries", max_task_retries))
                  if v != -1}
    return dataset.map_batches(_BatchPredictor, fn_constructor_kwargs=ctor, batch_size=int(batch_size),
                               batch_format="numpy", compute=compute, num_cpus=cpus_per_worker,
                               num_gpus=gpus_per_worker or None, **fault_args)


def dataset_from_arrays(arrays: np.ndarray | dict[str, np.ndarray], ids: Iterable[Any] | None = None,
                        column: str = "x", id_column: str = "id", rows_per_block: int = 256) -> Any:
    """A dataset with one row per sample of `arrays` (one array, or {column: array} for several inputs),
    and an id column: `ids`, or the row number as a string.  Blocks of `rows_per_block` rows: Ray Data
    hands whole blocks to workers, so a dataset of one block would keep one worker busy."""
    ray = _require_ray()
    import pyarrow as pa
    from ray.data.extensions import ArrowTensorArray
    cols = dict(arrays) if isinstance(arrays, dict) else {column: np.asarray(arrays)}
    n = len(next(iter(cols.values())))
    id_values = [str(i) for i in (range(n) if ids is None else ids)]
    if len(id_values) != n or len(set(id_values)) != n:
        raise ValueError("ids must be unique, one per sample")
    tables = []
    for lo in range(0, n, max(1, int(rows_per_block))):
        hi = min(n, lo + int(rows_per_block))
        tables.append(pa.table({id_column: pa.array(id_values[lo:hi], pa.string()),
                                **{c: ArrowTensorArray.from_numpy(np.ascontiguousarray(a[lo:hi]))
                                   for c, a in cols.items()}}))
    return ray.data.from_arrow(tables)


def list_input_files(folder: str | os.PathLike[str]) -> dict[str, Path]:
    """{stem: path} of the input files in a folder (sorted); two files with one stem are an error."""
    found: dict[str, Path] = {}
    for p in sorted(Path(folder).iterdir()):
        if p.is_file() and p.suffix.lower() in INPUT_SUFFIXES and not p.name.startswith("."):
            if p.stem in found:
                raise ValueError(f"two inputs share the id {p.stem!r}: {found[p.stem].name} and {p.name}")
            found[p.stem] = p
    return found


def dataset_from_files(paths: Iterable[str | os.PathLike[str]] | str | os.PathLike[str],
                       id_column: str = "id", path_column: str = "path", rows_per_block: int = 64) -> Any:
    """A dataset of {id: file stem, path: absolute path} rows, from a folder or a list of files, in blocks
    of `rows_per_block` rows (so that every worker gets some)."""
    ray = _require_ray()
    if isinstance(paths, (str, os.PathLike)) and Path(paths).is_dir():
        files = list_input_files(paths)
    else:
        files = {}
        for p in map(Path, paths):  # type: ignore[arg-type]
            if p.stem in files:
                raise ValueError(f"two inputs share the id {p.stem!r}")
            files[p.stem] = p
    rows = [{id_column: k, path_column: str(v.resolve())} for k, v in files.items()]
    blocks = max(1, -(-len(rows) // max(1, int(rows_per_block))))
    return ray.data.from_items(rows, override_num_blocks=blocks)


__all__ = ["predict_dataset", "dataset_from_arrays", "dataset_from_files", "list_input_files",
           "load_input_file", "shader_cache_env", "INPUT_SUFFIXES"]
