"""Complex numbers and FFTs (host kernels: complex64 lives on the host): a converted STFT front end,
random data against a plain DFT, and a graph with complex weights handing float results to GL.
TF's recorded outputs of each op are checked in test_extra_ops.py."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import model_builder as mb
from conftest import run_ref
from loader import load_graph_model

STFT = Path(__file__).resolve().parent / "fixtures" / "spectral" / "stft"


@pytest.mark.parametrize("backend", ["gl", "numpy"])
def test_converted_stft_front_end_matches_tensorflow(gl, backend):
    model = load_graph_model(STFT, backend=gl if backend == "gl" else "numpy", strict=True)
    with np.load(STFT / "inputs.npz") as z, np.load(STFT / "expected.npz") as e:
        out = model.predict({k.split(":")[0]: z[k] for k in z.files})
        expected = {k: e[k] for k in e.files}
    where = model.placement()
    for op in ("RFFT", "ComplexAbs", "Complex", "Real", "Imag", "IRFFT", "FFT"):
        assert set(where[op]) == {"host"}, (op, where[op])
    if backend == "gl":
        assert "gl" in where["Mul"] and "gl" in where["Log"]      # the float parts stay on the device
    model.dispose()
    assert set(out) == set(expected)
    for name, want in expected.items():
        scale = max(1.0, float(np.abs(want).max()))
        np.testing.assert_allclose(out[name], want, rtol=1e-3, atol=1e-4 * scale, err_msg=name)


def _dft(x: np.ndarray, inverse: bool = False) -> np.ndarray:
    n = x.shape[-1]
    k = np.arange(n)
    w = np.exp((2j if inverse else -2j) * np.pi * np.outer(k, k) / n)
    return (x.astype(np.complex128) @ w.T) / (n if inverse else 1)


@pytest.mark.parametrize("n", [1, 5, 8, 33])
def test_transforms_match_a_plain_dft(n):
    rng = np.random.default_rng(n)
    z = (rng.standard_normal((3, n)) + 1j * rng.standard_normal((3, n))).astype(np.complex64)
    for op, inverse in (("FFT", False), ("IFFT", True)):
        (got,) = run_ref(op, [z], {})
        assert got.dtype == np.complex64
        np.testing.assert_allclose(got, _dft(z, inverse), rtol=1e-5, atol=1e-5 * n)
    x = rng.standard_normal((2, n + 3)).astype(np.float32)
    (spec,) = run_ref("RFFT", [x], {"fft_length": [n]})            # a longer input is cropped
    np.testing.assert_allclose(spec, _dft(x[:, :n])[:, : n // 2 + 1], rtol=1e-5, atol=1e-5 * n)
    (back,) = run_ref("IRFFT", [spec], {"fft_length": [n]})
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, x[:, :n], rtol=1e-5, atol=1e-5)


def test_spectral_errors_name_the_problem():
    with pytest.raises(ValueError, match="must have length of at least 16 but got: 10"):
        run_ref("RFFT", [np.ones((2, 10), np.float32)], {"fft_length": [16]})
    with pytest.raises(ValueError, match="exactly one length"):
        run_ref("RFFT", [np.ones((2, 10), np.float32)], {"fft_length": [4, 4]})
    with pytest.raises(TypeError, match="takes a complex64 input"):
        run_ref("FFT", [np.ones(4, np.float32)], {})
    with pytest.raises(TypeError, match="must be float32"):
        run_ref("Complex", [np.ones(2, np.int32), np.ones(2, np.float32)], {})


def test_complex_weights_into_float_math_on_gl(tmp_path, gl):
    """A complex64 weight (converter layout: (re, im) pairs) -> ComplexAbs on the host -> AddV2 on GL."""
    rng = np.random.default_rng(3)
    w = (rng.standard_normal((2, 5)) + 1j * rng.standard_normal((2, 5))).astype(np.complex64)
    nodes = [mb.placeholder("x", [2, 5]), mb.const("w", "complex64"),
             {"name": "a", "op": "ComplexAbs", "input": ["w"], "attr": {"T": {"type": "DT_COMPLEX64"},
                                                                        "Tout": {"type": "DT_FLOAT"}}},
             mb.op("y", "AddV2", ["x", "a"]), mb.op("Identity", "Identity", ["y"])]
    doc, files = mb.model_json(nodes, {"w": w}, mb.signature({"x": ("x:0", [2, 5], "float32")},
                                                             {"y": ("Identity:0", [2, 5], "float32")}))
    x = rng.standard_normal((2, 5)).astype(np.float32)
    model = load_graph_model(mb.write(tmp_path, doc, files), backend=gl, strict=True)
    got = model.predict({"x": x})["Identity:0"]
    assert model.placement()["ComplexAbs"] == {"host": 1} and model.placement()["AddV2"] == {"gl": 1}
    model.dispose()
    np.testing.assert_allclose(got, x + np.abs(w), rtol=1e-6, atol=1e-6)


def test_a_model_with_complex_weights_saves_and_loads_back(tmp_path):
    rng = np.random.default_rng(4)
    w = (rng.standard_normal((3,)) + 1j * rng.standard_normal((3,))).astype(np.complex64)
    nodes = [mb.const("w", "complex64"),
             {"name": "r", "op": "Real", "input": ["w"], "attr": {"T": {"type": "DT_COMPLEX64"}, "Tout": {"type": "DT_FLOAT"}}},
             {"name": "Identity", "op": "Identity", "input": ["r"], "attr": {"T": {"type": "DT_FLOAT"}}}]
    doc, files = mb.model_json(nodes, {"w": w}, mb.signature({}, {"y": ("Identity:0", [3], "float32")}))
    model = load_graph_model(mb.write(tmp_path / "a", doc, files), backend="numpy", strict=True)
    model.save(tmp_path / "b")
    model.dispose()
    again = load_graph_model(tmp_path / "b", backend="numpy", strict=True)
    np.testing.assert_array_equal(again.predict({})["Identity:0"], w.real)
    np.testing.assert_array_equal(again.executor.consts["w"], w)
    again.dispose()
