"""Recorded runs replayed at the same input shapes (gpu_backend/recording.py, Executor.run)."""
from __future__ import annotations

import numpy as np
import pytest

from loader import load_graph_model
from loader.executor import MAX_RECORDINGS
from model_builder import const, dense_model, dense_reference, model_json, op, placeholder, signature, write


@pytest.fixture
def dense(gl, tmp_path):
    rng = np.random.default_rng(7)
    doc, files, weights = dense_model(rng)
    model = load_graph_model(write(tmp_path / "dense", doc, files), backend=gl)
    yield model, weights
    model.dispose()


def _close(out: dict, ref: dict) -> None:
    for k, v in ref.items():
        np.testing.assert_allclose(out[k], v, rtol=1e-4, atol=1e-5, err_msg=k)


def test_second_run_replays_with_the_new_inputs(dense):
    model, w = dense
    rng = np.random.default_rng(1)
    x1, x2 = (rng.standard_normal((4, 5)).astype(np.float32) for _ in range(2))
    out1 = model.predict({"x": x1})
    assert not model.executor.last_stats.replayed
    out2 = model.predict({"x": x2})
    assert model.executor.last_stats.replayed
    _close(out2, dense_reference(x2, w))
    again = model.predict({"x": x1})
    for k in out1:
        np.testing.assert_array_equal(again[k], out1[k])
    # NaN and Inf go through a replay as through a normal run
    x3 = x2.copy()
    x3[0, 0], x3[1, 1] = np.nan, np.inf
    replayed = model.predict({"x": x3})
    model.executor.replay = False
    normal = model.predict({"x": x3})
    for k in normal:
        np.testing.assert_array_equal(replayed[k], normal[k])


def test_each_input_shape_has_its_own_recording(dense):
    model, w = dense
    rng = np.random.default_rng(2)
    for batch in [2, 3, 2, 3, 1, 5, 6, 7, 2]:
        x = rng.standard_normal((batch, 5)).astype(np.float32)
        _close(model.predict({"x": x}), dense_reference(x, w))
        assert len(model.executor._recordings) <= MAX_RECORDINGS
    x = rng.standard_normal((7, 5)).astype(np.float32)
    model.predict({"x": x})
    assert model.executor.last_stats.replayed


def test_recordings_hold_their_textures_until_released(gl, tmp_path):
    rng = np.random.default_rng(3)
    doc, files, _ = dense_model(rng)
    before = gl.memory()["live_bytes"]
    model = load_graph_model(write(tmp_path / "m", doc, files), backend=gl)
    loaded = gl.memory()["live_bytes"]
    model.predict({"x": rng.standard_normal((3, 5)).astype(np.float32)})
    held = gl.memory()["live_bytes"]
    assert held > loaded                       # the recording owns its textures
    model.executor.release_recordings()
    assert gl.memory()["live_bytes"] == loaded
    model.predict({"x": rng.standard_normal((3, 5)).astype(np.float32)})
    model.dispose()
    assert gl.memory()["live_bytes"] == before


def test_backend_api_records_and_replays(gl):
    rng = np.random.default_rng(4)
    c = gl.upload(rng.standard_normal((3, 6)).astype(np.float32), constant=True)
    arr = rng.standard_normal((3, 6)).astype(np.float32)
    tape = gl.begin_recording()
    x = gl.upload(arr)
    (y,) = gl.run("Multiply", [x, c])
    (z,) = gl.run("Relu", [y])
    tape.outputs()
    first = gl.read(z)
    for h in (x, y, z):
        gl.dispose(h)
    recording, why = gl.end_recording(tape, {"x": arr}, 1)
    assert recording is not None, why
    cv = gl.read(c)
    np.testing.assert_allclose(first, np.maximum(arr * cv, 0), rtol=1e-6)
    new = rng.standard_normal((3, 6)).astype(np.float32)
    (out,) = recording.replay({"x": new})
    np.testing.assert_allclose(out, np.maximum(new * cv, 0), rtol=1e-6)
    with pytest.raises(ValueError, match="recording was made for"):
        recording.replay({"x": new[:2]})
    recording.release()
    gl.dispose(c)


def test_a_run_that_reads_values_midway_is_not_replayable(gl):
    arr = np.arange(6, dtype=np.float32)
    tape = gl.begin_recording()
    x = gl.upload(arr)
    (y,) = gl.run("Neg", [x])
    gl.read(y)                                  # a value read back before the outputs
    (z,) = gl.run("Abs", [y])
    tape.outputs()
    gl.read(z)
    for h in (x, y, z):
        gl.dispose(h)
    recording, why = gl.end_recording(tape, {"x": arr}, 1)
    assert recording is None and "read a tensor back" in why


def test_input_values_used_on_the_cpu_prevent_replay(gl, tmp_path):
    """Reshape to a shape fed as an input: the same input shapes, a different result shape."""
    nodes = [placeholder("x", [2, 6]), placeholder("s", [2], "int32"),
             op("r", "Reshape", ["x", "s"], Tshape={"type": "DT_INT32"}), op("Identity", "Identity", ["r"])]
    sig = signature({"x": ("x:0", [2, 6], "float32"), "s": ("s:0", [2], "int32")},
                    {"y": ("Identity:0", [-1, -1], "float32")})
    doc, files = model_json(nodes, {}, sig)
    model = load_graph_model(write(tmp_path / "reshape", doc, files), backend=gl)
    x = np.arange(12, dtype=np.float32).reshape(2, 6)
    for shape in ([3, 4], [4, 3], [6, 2]):
        out = model.predict({"x": x, "s": np.array(shape, np.int32)})["Identity:0"]
        np.testing.assert_array_equal(out, x.reshape(shape))
        assert not model.executor.last_stats.replayed
    assert any("CPU" in why for why in model.executor.unreplayable.values())
    model.dispose()


def test_shape_outputs_are_not_replayed(gl, tmp_path):
    nodes = [placeholder("x", [-1, 3]), op("shape", "Shape", ["x"], out_type={"type": "DT_INT32"}),
             op("neg", "Neg", ["x"]), op("Identity", "Identity", ["shape"]), op("Identity_1", "Identity", ["neg"])]
    sig = signature({"x": ("x:0", [-1, 3], "float32")},
                    {"shape": ("Identity:0", [2], "int32"), "neg": ("Identity_1:0", [-1, 3], "float32")})
    doc, files = model_json(nodes, {}, sig)
    model = load_graph_model(write(tmp_path / "shape", doc, files), backend=gl)
    x = np.ones((4, 3), np.float32)
    for _ in range(2):
        out = model.predict(x)
        np.testing.assert_array_equal(out["Identity:0"], [4, 3])
        np.testing.assert_array_equal(out["Identity_1:0"], -x)
    assert not model.executor.last_stats.replayed
    assert any("host values" in why for why in model.executor.unreplayable.values())
    model.dispose()


def test_profile_of_a_replay_adds_up(dense):
    model, _ = dense
    x = np.random.default_rng(5).standard_normal((2, 5)).astype(np.float32)
    model.predict(x)
    prof = model.profile(x)
    assert model.executor.last_stats.replayed
    s = prof.summary()
    total = sum(s["categories_ms"].values())
    assert abs(s["wall_ms"] - total) <= 0.10 * s["wall_ms"]
    assert s["draws"] >= 3 and s["by_kernel"]


def test_weights_are_not_owned_by_recordings(gl, tmp_path):
    """A constant input used by a draw stays the model's: releasing recordings keeps it alive."""
    w = np.random.default_rng(6).standard_normal((5, 5)).astype(np.float32)
    nodes = [const("w"), placeholder("x", [1, 5]), op("mm", "MatMul", ["x", "w"]), op("Identity", "Identity", ["mm"])]
    doc, files = model_json(nodes, {"w": w}, signature({"x": ("x:0", [1, 5], "float32")},
                                                        {"y": ("Identity:0", [1, 5], "float32")}))
    model = load_graph_model(write(tmp_path / "mm", doc, files), backend=gl)
    x = np.ones((1, 5), np.float32)
    model.predict(x)
    model.executor.release_recordings()
    np.testing.assert_allclose(model.predict(x)["Identity:0"], x @ w, rtol=1e-5)
    np.testing.assert_allclose(model.predict(2 * x)["Identity:0"], 2 * x @ w, rtol=1e-5)
    model.dispose()
