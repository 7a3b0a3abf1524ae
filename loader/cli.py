"""The `gpu-backend` command: run a model, or inspect what it needs and where it runs."""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np


def _random_inputs(model, rng: np.random.Generator) -> dict[str, np.ndarray]:
    feeds = {}
    for t in model.inputs:
        shape = [1 if d == -1 else d for d in (t.shape or (1,))]
        if t.dtype == "float32":
            feeds[t.key] = rng.standard_normal(shape).astype(np.float32)
        elif t.dtype == "int32":
            feeds[t.key] = rng.integers(0, 10, shape).astype(np.int32)
        else:
            feeds[t.key] = rng.random(shape) > 0.5
    return feeds


def _load_inputs(specs: list[str]) -> dict[str, np.ndarray]:
    feeds: dict[str, np.ndarray] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            raise SystemExit(f"--input expects NAME=FILE (.npy or .npz), got {spec!r}")
        p = Path(path)
        try:
            if p.suffix == ".npz":
                with np.load(p) as z:
                    if len(z.files) != 1:
                        raise SystemExit(f"{path} holds {len(z.files)} arrays; use a .npy or a one-array .npz")
                    feeds[name] = z[z.files[0]]
            else:
                feeds[name] = np.load(p)
        except (OSError, ValueError, EOFError) as exc:
            raise SystemExit(f"error: --input {spec}: cannot read {path} "
                             f"({getattr(exc, 'strerror', None) or exc})") from None
    return feeds


def _check_out(path: str | None) -> None:
    """Fail before the model runs, not after, when --out cannot be written."""
    if path and not Path(path).resolve().parent.is_dir():
        raise SystemExit(f"error: --out {path}: folder {Path(path).resolve().parent} does not exist")


def _model_dir(model: str) -> Path:
    p = Path(model)
    return p if p.is_dir() else p.parent


def _describe(a: np.ndarray) -> str:
    if a.size == 0:
        return "empty"
    if a.dtype == np.bool_:
        return f"{int(a.sum())} true of {a.size}"
    flat = a.astype(np.float64).reshape(-1)
    text = f"min {flat.min():.4g} max {flat.max():.4g} mean {flat.mean():.4g}"
    if a.ndim == 2 and a.shape[-1] > 1 and a.dtype.kind == "f":
        text += "; argmax per row " + str(np.argmax(a, axis=-1)[:8].tolist()) + ("..." if a.shape[0] > 8 else "")
    return text


def cmd_run(args: argparse.Namespace) -> int:
    from . import load_model
    _check_out(args.out)
    if args.quiet_fallback:
        warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    model = load_model(args.model, backend=args.backend, strict=args.strict)
    load_ms = (time.perf_counter() - t0) * 1e3
    info = getattr(model.backend, "info", None)
    print(f"model   {args.model}")
    print(f"backend {model.backend.name}" + (f" on {info.renderer} ({info.version})" if info else ""))
    feeds = _load_inputs(args.input) if args.input else _random_inputs(model, np.random.default_rng(args.seed))
    if args.example_inputs and not args.input:
        with np.load(_model_dir(args.model) / "inputs.npz") as z:
            feeds = {k: z[k] for k in z.files}
    t1 = time.perf_counter()
    outputs = model.predict(feeds)
    first_ms = (time.perf_counter() - t1) * 1e3
    warm = []
    for _ in range(args.runs):
        t = time.perf_counter()
        model.predict(feeds)
        warm.append((time.perf_counter() - t) * 1e3)
    print("inputs  " + ", ".join(f"{k} {list(np.shape(v))} {np.asarray(v).dtype}" for k, v in feeds.items())
          + ("" if args.input or args.example_inputs else " (random)"))
    print("outputs")
    for t in model.outputs:
        a = outputs[t.key] if t.key in outputs else outputs[t.name]
        print(f"  {t.key} ({t.name}) {list(a.shape)} {a.dtype}: {_describe(a)}")
    labels = _model_dir(args.model) / "labels.npy"
    if args.example_inputs and labels.exists() and len(model.outputs) == 1:
        pred = np.argmax(next(iter(outputs.values())), axis=-1)
        truth = np.load(labels)
        print(f"predicted classes {pred.tolist()}")
        print(f"true labels       {truth.tolist()}  ({int((pred == truth).sum())}/{truth.size} correct)")
    expected = _model_dir(args.model) / "expected.npz"
    if args.example_inputs and expected.exists():
        with np.load(expected) as z:
            want = {k: z[k] for k in z.files if k in outputs}
        diffs = {k: float(np.max(np.abs(outputs[k].astype(np.float64) - w))) for k, w in want.items()}
        ok = all(np.allclose(outputs[k], w, rtol=1e-3, atol=1e-4) for k, w in want.items())
        print("TensorFlow's outputs (expected.npz): " + ", ".join(f"{k} max |diff| {d:.2e}" for k, d in diffs.items())
              + (" -- match (rtol 1e-3, atol 1e-4)" if ok else " -- DO NOT MATCH"))
    print(f"load {load_ms:.1f} ms | first inference {first_ms:.1f} ms | warm median "
          + (f"{statistics.median(warm):.2f} ms (min {min(warm):.2f}, max {max(warm):.2f}, {len(warm)} runs)"
             if warm else "n/a"))
    fb = sum(1 for p in model.executor.plans.values() if p.kind == "fallback")
    if fb:
        print(f"numpy fallback: {fb} node(s): " + ", ".join(sorted(model.executor.fallback_types)))
    if args.out:
        try:
            np.savez(args.out, **outputs)
        except OSError as exc:
            raise SystemExit(f"error: --out {args.out}: {exc.strerror or exc}") from None
        print(f"wrote {args.out}")
    model.dispose()
    return 0


def example_model_dir() -> Path:
    from importlib import resources
    return Path(str(resources.files("loader").joinpath("examples/digits_cnn")))


def cmd_demo(args: argparse.Namespace) -> int:
    """The bundled example: a CNN trained on 8x8 digits, 16 held-out digits, on the GL backend."""
    args.model = str(example_model_dir() / "model.json")
    args.example_inputs = True
    args.input = []
    return cmd_run(args)


def cmd_inspect(args: argparse.Namespace) -> int:
    from .inspect import inspect_model
    report = inspect_model(args.model)
    print(report.format(shapes=args.shapes))
    return 1 if (report.unsupported and args.fail_on_unsupported) else 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import format_report, plot_report, run_bench
    report, first, warm = run_bench(args.model, runs=args.runs, backend=args.backend, inputs=args.inputs,
                                    batch=args.batch, with_cold_states=args.cold_states, progress=not args.no_progress)
    print(format_report(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
        print(f"wrote {args.json}")
    if args.trace:
        trace = first.chrome_trace(pid=1, label="first inference")
        trace["traceEvents"] += warm.chrome_trace(pid=2, label="warm inference")["traceEvents"]
        Path(args.trace).write_text(json.dumps(trace))
        print(f"wrote {args.trace} (open in https://ui.perfetto.dev or chrome://tracing)")
    if args.plot:
        plot_report(report, args.plot)
        print(f"wrote {args.plot}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Node by node against a reference backend: the first nodes whose error grows."""
    from .compare import compare, format_report
    feeds = _load_inputs(args.input) if args.input else None
    diffs, first = compare(args.model, feeds, backend=args.backend, reference=args.reference, tol=args.tol,
                           growth=args.growth, limit=args.limit)
    print(format_report(diffs, first, args.tol))
    return 1 if first else 0


def cmd_batch(args: argparse.Namespace) -> int:
    """A model over a folder of inputs on Ray (loader/batch.py): one output per input, resumable."""
    try:
        from .batch import make_example_inputs, run_batch
        from .distributed import list_input_files
    except ImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    model = str(example_model_dir()) if args.model == "example" else args.model
    input_dir = Path(args.input_dir)
    if args.make_example_inputs and not (input_dir.is_dir() and list_input_files(input_dir)):
        n = make_example_inputs(_model_dir(model) if not Path(model).is_dir() else Path(model), input_dir)
        print(f"wrote {n} example inputs to {input_dir}")
    if not input_dir.is_dir():
        print(f"error: {input_dir} is not a folder", file=sys.stderr)
        return 2
    try:
        summary = run_batch(model, input_dir, args.output_dir, workers=args.workers, batch_size=args.batch_size,
                            address=args.address, fmt=args.format, backend=args.backend,
                            fast_compile=args.fast_compile, shader_cache_dir=args.shader_cache,
                            gpus_per_worker=args.gpus_per_worker, num_cpus=args.num_cpus,
                            object_store_mb=args.object_store_mb, progress=not args.no_progress)
    except ImportError as exc:          # Ray (the [ray] extra) missing
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary.format())
    if args.summary_json:
        Path(args.summary_json).write_text(json.dumps(summary.as_dict(), indent=1))
        print(f"wrote {args.summary_json}")
    return 0 if summary.duplicates == 0 else 1


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="gpu-backend", description="Run converted TF.js graph models on OpenGL.")
    sub = ap.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a model and print its outputs and timings")
    run.add_argument("model", help="model.json path, folder, file:// or http(s):// URL")
    run.add_argument("--input", action="append", default=[], metavar="NAME=FILE.npy",
                     help="an input (signature key, tensor name or node name); repeat per input")
    run.add_argument("--example-inputs", action="store_true", help="use inputs.npz next to model.json")
    run.add_argument("--out", help="write the outputs to this .npz")
    run.add_argument("--runs", type=int, default=10, help="warm runs after the first (default 10)")
    run.add_argument("--backend", default="gl", choices=["gl", "glfw", "numpy"])
    run.add_argument("--fast-compile", action="store_true",
                      help="llvmpipe: skip LLVM optimisation (first inference about 2x faster, warm 10-20%% slower)")
    run.add_argument("--strict", action="store_true", help="fail if any op would run on the numpy fallback")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--quiet-fallback", action="store_true", help="do not warn about numpy fallback ops")
    run.set_defaults(fn=cmd_run)
    demo = sub.add_parser("demo", help="run the bundled example model (digits CNN) on 16 held-out digits")
    demo.add_argument("--runs", type=int, default=20)
    demo.add_argument("--backend", default="gl", choices=["gl", "glfw", "numpy"])
    demo.add_argument("--fast-compile", action="store_true",
                      help="llvmpipe: skip LLVM optimisation (first inference about 2x faster, warm 10-20%% slower)")
    demo.set_defaults(fn=cmd_demo, strict=False, seed=0, out=None, quiet_fallback=False)
    bench = sub.add_parser("bench", help="load time, first inference with its breakdown, warm runs, cold states")
    bench.add_argument("model")
    bench.add_argument("--runs", type=int, default=20, help="warm runs (default 20)")
    bench.add_argument("--inputs", default="example", choices=["example", "random"],
                       help="inputs.npz next to model.json when present (default), or seeded random inputs")
    bench.add_argument("--batch", type=int, default=1, help="size of -1 dims for generated inputs")
    bench.add_argument("--backend", default="gl", choices=["gl", "glfw", "numpy"])
    bench.add_argument("--fast-compile", action="store_true",
                      help="llvmpipe: skip LLVM optimisation (first inference about 2x faster, warm 10-20%% slower)")
    bench.add_argument("--cold-states", action="store_true",
                       help="also measure fresh processes with the driver's shader cache disabled / warm")
    bench.add_argument("--json", help="write the full report as JSON")
    bench.add_argument("--trace", help="write a Chrome trace-event JSON of the first and a warm inference")
    bench.add_argument("--plot", help="write a PNG of the time by category (needs matplotlib)")
    bench.add_argument("--no-progress", action="store_true")
    bench.set_defaults(fn=cmd_bench)
    cmp = sub.add_parser("compare", help="run a model here and on a reference backend, node by node, and print the "
                                          "first nodes whose difference grows beyond float32 noise")
    cmp.add_argument("model", help="model.json path, folder, file:// or http(s):// URL")
    cmp.add_argument("--input", action="append", default=[], metavar="NAME=FILE.npy",
                     help="an input (default: random inputs from the signature)")
    cmp.add_argument("--backend", default="gl", choices=["gl", "glfw", "numpy"])
    cmp.add_argument("--reference", default="numpy", choices=["numpy", "gl", "tf"],
                     help="what to compare against (default: numpy, our reference kernels; tf: TensorFlow running "
                          "the same graph, when TensorFlow is installed)")
    cmp.add_argument("--tf", dest="reference", action="store_const", const="tf", help="same as --reference tf")
    cmp.add_argument("--tol", type=float, default=1e-5, help="relative error counted as more than noise")
    cmp.add_argument("--growth", type=float, default=4.0,
                     help="report a node only when its relative error is this many times its inputs'")
    cmp.add_argument("--limit", type=int, default=5, help="how many divergent nodes to print")
    cmp.set_defaults(fn=cmd_compare)
    batch = sub.add_parser("batch", help="run a model over a folder of inputs on Ray (needs the [ray] extra)")
    batch.add_argument("model", help="model.json path, folder or URL every node can reach; 'example' = the bundled one")
    batch.add_argument("input_dir", help="one .npy/.npz/image per input; its stem is the input's id")
    batch.add_argument("output_dir", help="OUTPUT_DIR/<id>.npz per input (or Parquet parts); existing ones are skipped")
    batch.add_argument("--workers", type=int, default=None, help="worker actors (default: one per GPU, else 1)")
    batch.add_argument("--batch-size", type=int, default=16)
    batch.add_argument("--address", default=None, help="a Ray cluster (ray://host:10001, auto); default: start a local one")
    batch.add_argument("--format", default="npz", choices=["npz", "parquet"])
    batch.add_argument("--backend", default="gl", choices=["gl", "numpy"])
    batch.add_argument("--fast-compile", action="store_true", help="llvmpipe: GALLIVM_PERF=nopt in every worker")
    batch.add_argument("--shader-cache", default=None, metavar="DIR",
                       help="the driver's shader disk cache folder in every worker (restarts start warm)")
    batch.add_argument("--gpus-per-worker", type=float, default=None, help="default: 1 where the cluster has GPUs, else 0")
    batch.add_argument("--num-cpus", type=int, default=None, help="CPUs of a local cluster (default: all)")
    batch.add_argument("--object-store-mb", type=int, default=None, help="object store of a local cluster")
    batch.add_argument("--make-example-inputs", action="store_true",
                       help="INPUT_DIR empty or missing: fill it from inputs.npz next to the model (one .npy per sample)")
    batch.add_argument("--summary-json", default=None, help="write the counts and throughput as JSON")
    batch.add_argument("--no-progress", action="store_true")
    batch.set_defaults(fn=cmd_batch)
    ins = sub.add_parser("inspect", help="inputs/outputs, ops and where each runs, weights")
    ins.add_argument("model")
    ins.add_argument("--fail-on-unsupported", action="store_true", help="exit 1 when an op has no kernel")
    ins.add_argument("--shapes", action="store_true",
                     help="list every scheduled node with its output shapes inferred at load ('?': unknown size)")
    ins.set_defaults(fn=cmd_inspect)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from gpu_backend.errors import GPUBackendError
    if getattr(args, "fast_compile", False):
        from gpu_backend.context import set_fast_compile
        set_fast_compile(True)      # before any context; cold-state children inherit it
    try:
        return args.fn(args)
    except GPUBackendError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
