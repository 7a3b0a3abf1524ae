"""Every model in ../shared/models (converted by the real tensorflowjs_converter) against TensorFlow's
outputs stored beside it: rtol 1e-3, atol 1e-4, int/bool exact.  Skipped where ../shared is absent."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from conftest import SHARED
from loader import load_graph_model
from loader.cli import example_model_dir
from loader.inspect import inspect_model

MODELS = sorted(p.parent for p in (SHARED / "models").glob("*/model.json"))
pytestmark = pytest.mark.shared_models


def check_outputs(out: dict[str, np.ndarray], expected: dict[str, np.ndarray], rtol: float = 1e-3,
                  atol: float = 1e-4) -> None:
    assert set(out) == set(expected), f"outputs {sorted(out)} != expected {sorted(expected)}"
    for name, want in expected.items():
        got = out[name]
        assert got.shape == want.shape, f"{name}: shape {got.shape} != {want.shape}"
        if want.dtype.kind == "f":
            np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=name)
        else:
            np.testing.assert_array_equal(got, want.astype(got.dtype), err_msg=name)


def replay_matches_normal_run(model, inputs: dict[str, np.ndarray]) -> bool:
    """Runs `inputs` as the executor chooses (a replay when an earlier run recorded these shapes), then
    with replay off, and requires identical outputs; returns whether the first run replayed.  Replay is
    left off."""
    first = model.predict(inputs)
    replayed = model.executor.last_stats.replayed
    model.executor.replay = False
    normal = model.predict(inputs)
    for k in normal:
        np.testing.assert_array_equal(first[k], normal[k], err_msg=k)
    return replayed


def _load(folder, gl):
    """The model on `gl` (fallback warnings silenced), its reference inputs and TensorFlow's outputs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = load_graph_model(folder / "model.json", backend=gl)
    with np.load(folder / "inputs.npz") as z:
        inputs = {k: z[k] for k in z.files}
    with np.load(folder / "expected.npz") as z:
        expected = {k: z[k] for k in z.files}
    return model, inputs, expected


@pytest.mark.skipif(not MODELS, reason="../shared/models is not present")
@pytest.mark.parametrize("folder", MODELS, ids=[p.name for p in MODELS])
def test_shared_model_matches_tensorflow(gl, folder):
    live_before = gl.memory()["live_tensors"]
    model, inputs, expected = _load(folder, gl)
    try:
        check_outputs(model.predict(inputs), expected)
        # nothing leaked by the run: only the resident weights remain
        assert gl.memory()["live_tensors"] == live_before + len(model.executor.resident)
    finally:
        model.dispose()


@pytest.mark.skipif(not MODELS, reason="../shared/models is not present")
@pytest.mark.parametrize("folder", MODELS, ids=[p.name for p in MODELS])
def test_inspect_reports_the_split(folder):
    report = inspect_model(folder)
    split = report.split()
    assert sum(split.values()) > 0 and "graph" in split
    text = report.format()
    assert "where it runs" in text and "weights:" in text


def test_bundled_example_matches_tensorflow(gl):
    folder = example_model_dir()
    model = load_graph_model(folder / "model.json", backend=gl)
    with np.load(folder / "inputs.npz") as z:
        inputs = {k: z[k] for k in z.files}
    with np.load(folder / "expected.npz") as z:
        expected = {k: z[k] for k in z.files}
    out = model.predict(inputs)
    check_outputs(out, expected)
    labels = np.load(folder / "labels.npy")
    assert (np.argmax(out["Identity:0"], -1) == labels).mean() >= 0.9
    model.dispose()


@pytest.mark.skipif(not MODELS, reason="../shared/models is not present")
@pytest.mark.parametrize("folder", MODELS, ids=[p.name for p in MODELS])
def test_shared_model_runs_entirely_on_gl_under_strict(gl, folder):
    """strict=True refuses any op that would run on the numpy fallback: every node here is GL,
    host-side shape arithmetic on constants, or a graph op; the run itself falls back nowhere."""
    model = load_graph_model(folder / "model.json", backend=gl, strict=True)
    try:
        kinds = {p.kind for p in model.executor.plans.values()}
        assert "fallback" not in kinds
        assert "numpy fallback" not in model.summary().split("numpy fallback:")[0]
        before = dict(gl.fallbacks)
        with np.load(folder / "inputs.npz") as z:
            model.predict({k: z[k] for k in z.files})
        assert dict(gl.fallbacks) == before, f"GL kernels fell back: {set(gl.fallbacks) - set(before)}"
        assert model.executor.last_stats.fallback_kernels == 0
    finally:
        model.dispose()


@pytest.mark.skipif(not MODELS, reason="../shared/models is not present")
@pytest.mark.parametrize("folder", MODELS, ids=[p.name for p in MODELS])
def test_shared_model_replays_like_a_normal_run(gl, folder):
    """The second run at the same shapes replays the first one's recording: with other input values it
    must give exactly what a normal run gives, and with the reference inputs TensorFlow's outputs."""
    model, inputs, expected = _load(folder, gl)
    try:
        model.predict(inputs)
        check_outputs(model.predict(inputs), expected)
        other = {k: (v * 0.9 + 0.05).astype(v.dtype) if v.dtype.kind == "f" else np.flip(v, -1).copy()
                 for k, v in inputs.items()}
        if not replay_matches_normal_run(model, other):
            # only graphs whose outputs are computed on the host (shapes) are not replayed
            assert all("host values" in why for why in model.executor.unreplayable.values()), \
                model.executor.unreplayable
    finally:
        model.dispose()
