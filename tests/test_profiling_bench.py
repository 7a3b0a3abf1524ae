"""The profiler, warm-up and the benchmark runner: structure and accounting, never speed."""
from __future__ import annotations

import json

import numpy as np
import pytest

from loader import load_graph_model
from loader.bench import SCHEMA_VERSION, run_bench
from loader.cli import example_model_dir, main
from gpu_backend.profiling import CATEGORIES

EXAMPLE = example_model_dir() / "model.json"


def _inputs() -> dict[str, np.ndarray]:
    with np.load(example_model_dir() / "inputs.npz") as z:
        return {k: z[k] for k in z.files}


def test_profile_categories_add_up_to_the_wall_time(gl):
    model = load_graph_model(EXAMPLE, backend=gl)
    for _ in range(2):                             # first (maybe compiling) and warm
        prof = model.profile(_inputs())
        s = prof.summary()
        assert set(s["categories_ms"]) == set(CATEGORIES)
        assert all(v >= 0 for v in s["categories_ms"].values())
        total = sum(s["categories_ms"].values())
        assert abs(s["wall_ms"] - total) <= 0.10 * s["wall_ms"]
        assert s["nodes"] == len(prof.nodes) and s["draws"] >= 1
        # every device node has its draws; their times are inside the node's
        for n in prof.nodes:
            if n.placement == "device":
                assert n.draws and n.measured_ms() <= n.ms + 0.5
    model.dispose()


def test_chrome_trace_is_valid_trace_event_json(gl, tmp_path):
    model = load_graph_model(EXAMPLE, backend=gl)
    prof = model.profile(_inputs())
    path = tmp_path / "trace.json"
    prof.write_trace(str(path))
    trace = json.loads(path.read_text())
    events = trace["traceEvents"]
    slices = [e for e in events if e["ph"] == "X"]
    assert {e["ph"] for e in events} <= {"X", "M"}
    assert len([e for e in slices if e["tid"] == 1]) == len(prof.nodes)        # one slice per node
    for e in slices:
        assert isinstance(e["name"], str) and e["ts"] >= 0 and e["dur"] >= 0 and e["pid"] == 1
    assert {e["cat"] for e in slices if e["tid"] == 2} <= set(CATEGORIES)
    model.dispose()


def test_second_input_size_compiles_no_new_program(gl):
    model = load_graph_model(EXAMPLE, backend=gl)
    x = _inputs()["image:0"]
    model.predict(x[:16])
    misses = gl.memory()["program_cache_misses"]
    for n in (5, 1, 9):
        out = model.predict(x[:n])["Identity:0"]
        assert out.shape == (n, 10)
    assert gl.memory()["program_cache_misses"] == misses
    model.dispose()


def test_warmup_compiles_everything_at_the_real_shapes_and_touches_no_user_data(gl):
    model = load_graph_model(EXAMPLE, backend=gl)
    x = _inputs()["image:0"]
    keep = x.copy()
    info = model.warmup({"image": x})
    assert info["ms"] > 0
    misses = gl.memory()["program_cache_misses"]
    out = model.predict(x)["Identity:0"]
    assert gl.memory()["program_cache_misses"] == misses                  # nothing left to compile
    np.testing.assert_array_equal(x, keep)
    with np.load(example_model_dir() / "expected.npz") as z:
        np.testing.assert_allclose(out, z["Identity:0"], rtol=1e-3, atol=1e-4)   # no garbage from warm-up
    model.warmup()                                                          # zeros of the signature shapes
    model.dispose()


def test_bench_report_schema(gl):
    report, first, warm = run_bench(str(EXAMPLE), runs=3, progress=False)
    assert report["schema"] == SCHEMA_VERSION
    for key in ("model", "date", "machine", "context_ms", "load_ms", "driver_settings", "backend", "inputs",
                "first_inference", "warm", "warm_profile", "replay", "after_warmup", "programs", "memory",
                "cold_states"):
        assert key in report, key
    assert report["replay"]["warm_runs_replay"] is True and report["replay"]["why_not"] is None
    assert "GALLIVM_PERF" in report["driver_settings"]
    assert report["warm"]["runs"] == 3 and len(report["warm"]["all_ms"]) == 3
    assert report["warm"]["min_ms"] <= report["warm"]["median_ms"] <= report["warm"]["max_ms"]
    assert set(report["first_inference"]["categories_ms"]) == set(CATEGORIES)
    assert report["after_warmup"]["ratio_to_warm_median"] > 0
    assert "c_in_process" in report["cold_states"]
    assert report["memory"]["peak_bytes"] > 0
    json.dumps(report)                                                       # serialisable as is


@pytest.mark.slow
def test_bench_cli_with_cold_states_json_and_trace(tmp_path, capsys):
    out_json, out_trace = tmp_path / "b.json", tmp_path / "t.json"
    assert main(["bench", str(EXAMPLE), "--runs", "2", "--cold-states", "--json", str(out_json),
                 "--trace", str(out_trace), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "cold a (no driver disk cache)" in text and "cold b (driver disk cache warm)" in text
    report = json.loads(out_json.read_text())
    for state in ("a_no_disk_cache", "b_disk_cache_warm"):
        fi = report["cold_states"][state]["first_inference"]
        assert fi["wall_ms"] > 0 and fi["programs_compiled"] > 0         # a fresh process compiles
    trace = json.loads(out_trace.read_text())
    assert {e["pid"] for e in trace["traceEvents"]} == {1, 2}            # first and warm inference


def _shared_models() -> list:
    from conftest import SHARED
    return sorted(p.parent for p in (SHARED / "models").glob("*/model.json"))


@pytest.mark.skipif(not _shared_models(), reason="../shared/models is not present")
@pytest.mark.parametrize("folder", _shared_models(), ids=lambda p: p.name)
def test_bench_cli_on_every_shared_model(tmp_path, capsys, folder):
    """`gpu-backend bench` on each shared model: a report and a trace that parse and hold together."""
    out_json, out_trace = tmp_path / "b.json", tmp_path / "t.json"
    assert main(["bench", str(folder), "--runs", "2", "--json", str(out_json), "--trace", str(out_trace),
                 "--no-progress"]) == 0
    assert "warm     median" in capsys.readouterr().out
    report = json.loads(out_json.read_text())
    assert report["schema"] == SCHEMA_VERSION and report["warm"]["runs"] == 2
    first = report["first_inference"]
    assert set(first["categories_ms"]) == set(CATEGORIES) and first["nodes"] > 0
    assert abs(first["wall_ms"] - sum(first["categories_ms"].values())) <= 0.10 * first["wall_ms"]
    trace = json.loads(out_trace.read_text())
    events = trace["traceEvents"]
    assert events and all({"name", "ph", "pid"} <= set(e) for e in events)
    assert all(e["dur"] >= 0 for e in events if e["ph"] == "X")
