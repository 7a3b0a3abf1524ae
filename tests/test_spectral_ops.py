"""Complex numbers and FFTs: on GL in shaders (complex64 as float32 pairs, gpu_backend/kernels/spectral.py),
on the numpy backend on the host.  A converted STFT front end, GL against the reference on random and
edge data, complex values through ops without complex kernels (the fallback), random data against a
plain DFT, and a graph with complex weights.  TF's recorded outputs of each op are checked in
test_extra_ops.py."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import model_builder as mb
from conftest import run_ref
from gpu_backend.numpy_backend import run_reference
from loader import load_graph_model

STFT = Path(__file__).resolve().parent / "fixtures" / "spectral" / "stft"


@pytest.mark.parametrize("backend", ["gl", "numpy"])
def test_converted_stft_front_end_matches_tensorflow(gl, backend):
    model = load_graph_model(STFT, backend=gl if backend == "gl" else "numpy", strict=True)
    before = sum(gl.memory()["fallbacks"].values())
    with np.load(STFT / "inputs.npz") as z, np.load(STFT / "expected.npz") as e:
        out = model.predict({k.split(":")[0]: z[k] for k in z.files})
        expected = {k: e[k] for k in e.files}
    where = model.placement()
    for op in ("RFFT", "ComplexAbs", "Complex", "Real", "Imag", "IRFFT", "FFT"):
        assert set(where[op]) == {"gl" if backend == "gl" else "host"}, (op, where[op])
    if backend == "gl":
        assert "gl" in where["Mul"] and "gl" in where["Log"]
        assert sum(gl.memory()["fallbacks"].values()) == before, gl.memory()["fallbacks"]   # all of it on GL
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


def _on_gl(gl, kernel: str, arrays: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    before = sum(gl.memory()["fallbacks"].values())
    handles = [gl.upload(a) for a in arrays]
    outs = gl.run(kernel, handles, attrs)
    got = [gl.read(o) for o in outs]
    for h in list(handles) + list(outs):
        gl.dispose(h)
    assert sum(gl.memory()["fallbacks"].values()) == before, gl.memory()["fallbacks"]
    return got


def _cplx(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


GL_CASES = [
    ("FFT", lambda r: [_cplx(r, (3, 7))], {}), ("FFT", lambda r: [_cplx(r, (2, 2, 16))], {}),
    ("FFT", lambda r: [_cplx(r, (1,))], {}), ("IFFT", lambda r: [_cplx(r, (4, 9))], {}),
    ("IFFT", lambda r: [_cplx(r, (2, 3, 2, 8))], {}),
    ("RFFT", lambda r: [r.standard_normal((5, 12)).astype(np.float32)], {"fft_length": [12]}),
    ("RFFT", lambda r: [r.standard_normal((2, 3, 11)).astype(np.float32)], {"fft_length": [11]}),
    ("RFFT", lambda r: [r.standard_normal((4, 20)).astype(np.float32)], {"fft_length": [9]}),     # cropped
    ("RFFT", lambda r: [r.standard_normal((1,)).astype(np.float32)], {"fft_length": [1]}),
    ("IRFFT", lambda r: [_cplx(r, (3, 7))], {"fft_length": [12]}),      # even: Nyquist's imag ignored
    ("IRFFT", lambda r: [_cplx(r, (2, 2, 6))], {"fft_length": [11]}),
    ("IRFFT", lambda r: [_cplx(r, (3, 9))], {"fft_length": [6]}),       # more bins than needed: cropped
    ("IRFFT", lambda r: [_cplx(r, (2, 1))], {"fft_length": [1]}),
    ("ComplexAbs", lambda r: [_cplx(r, (3, 4, 5))], {}),
    ("ComplexAbs", lambda r: [np.array([3e30 + 4e30j, 1e-30 + 1e-30j, 0, -np.inf + 1j, complex(np.nan, np.inf),
                                        complex(np.nan, 1)], np.complex64)], {}),
    ("Complex", lambda r: [r.standard_normal((3, 1, 4)).astype(np.float32),
                           r.standard_normal((5, 1)).astype(np.float32)], {}),      # broadcast
    ("Complex", lambda r: [np.float32(2.5) * np.ones((), np.float32), np.array(-1.0, np.float32)], {}),   # scalars
    ("Real", lambda r: [_cplx(r, (2, 3, 5))], {}), ("Imag", lambda r: [_cplx(r, (7,))], {}),
    ("Real", lambda r: [np.array(1 - 2j, np.complex64)], {}),
]


@pytest.mark.parametrize("case", range(len(GL_CASES)))
def test_gl_spectral_kernels_match_the_reference(gl, case):
    kernel, make, attrs = GL_CASES[case]
    arrays = make(np.random.default_rng(case))
    (want,) = run_reference(kernel, arrays, attrs)
    (got,) = _on_gl(gl, kernel, arrays, attrs)
    assert got.dtype == want.dtype and got.shape == want.shape
    if kernel in ("Complex", "Real", "Imag"):
        np.testing.assert_array_equal(got, want)
        return
    # direct float32 sums: about N * 2^-24 of the row's magnitude (module docstring of kernels/spectral.py)
    n = max(arrays[0].shape[-1] if arrays[0].ndim else 1, int(attrs.get("fft_length", [1])[0]))
    scale = float(np.nanmax(np.abs(np.where(np.isfinite(want), want, 0)))) or 1.0
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=4 * n * 2.0 ** -24 * scale)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 12, 16])
def test_gl_spectral_nan_and_inf_land_where_the_reference_has_them(gl, n):
    """A NaN or Inf sample: the shaders skip exactly-zero twiddles, as an FFT's butterflies never multiply
    by them, so DC and Nyquist keep numpy's exact zeros.  Up to length 8 the non-finite outputs are
    numpy's exactly; at lengths with more butterfly stages numpy spreads NaN/Inf into a few more outputs
    (Inf - Inf inside a butterfly) than the direct sum does, so there GL's are a subset of numpy's."""
    rng = np.random.default_rng(n)
    x = rng.standard_normal((6, n)).astype(np.float32)
    for r in range(6):
        x[r, rng.integers(n)] = [np.nan, np.inf, -np.inf][r % 3]
    c = (x + 1j * rng.standard_normal((6, n))).astype(np.complex64)
    for kernel, a, attrs in (("RFFT", x, {"fft_length": [n]}), ("FFT", c, {}), ("IFFT", c, {}),
                             ("IRFFT", c, {"fft_length": [n]})):
        with np.errstate(all="ignore"):
            (want,) = run_reference(kernel, [a], attrs)
        (got,) = _on_gl(gl, kernel, [a], attrs)
        for part in ((np.real, np.imag) if got.dtype.kind == "c" else (np.real,)):
            g, w = part(got), part(want)
            assert not (~np.isfinite(g) & np.isfinite(w)).any(), (kernel, n)
            if n <= 8:
                np.testing.assert_array_equal(np.isnan(g), np.isnan(w), err_msg=f"{kernel} n={n}")
                np.testing.assert_array_equal(np.isinf(g), np.isinf(w), err_msg=f"{kernel} n={n}")
            keep = np.isfinite(w) & np.isfinite(g)
            np.testing.assert_allclose(g[keep], w[keep], rtol=2e-6, atol=4 * n * 2.0 ** -24 * 4)


def test_complex_tensors_reach_ops_without_complex_kernels_through_the_reference(gl):
    """Reshape, Transpose and Concat have no complex GL kernels: they run on the reference (counted
    as fallbacks) and hand back complex64 handles the spectral kernels take again."""
    z = _cplx(np.random.default_rng(5), (2, 3, 4))
    h = gl.upload(z)
    assert h.dtype == "complex64" and h.shape == (2, 3, 4)
    before = dict(gl.memory()["fallbacks"])
    (t,) = gl.run("Transpose", [h], {"perm": [0, 2, 1]})
    (r,) = gl.run("Reshape", [t], {"shape": [8, 3]})
    (f,) = gl.run("FFT", [r], {})
    after = gl.memory()["fallbacks"]
    assert sum(after.values()) == sum(before.values()) + 2 and any("complex64" in k for k in after)
    np.testing.assert_allclose(gl.read(f), np.fft.fft(np.transpose(z, (0, 2, 1)).reshape(8, 3)), rtol=1e-5,
                               atol=1e-5)
    with pytest.raises(TypeError, match="takes a complex64 input"):
        gl.run("FFT", [gl.upload(np.ones(4, np.float32))], {})
    with pytest.raises(ValueError, match="must have length of at least 16 but got: 10"):
        gl.run("RFFT", [gl.upload(np.ones((2, 10), np.float32))], {"fft_length": [16]})
    for x in (h, t, r, f):
        gl.dispose(x)


def test_complex_round_trip_keeps_infinities_and_nans_apart(gl):
    z = np.array([complex(1, np.inf), complex(np.inf, -2), complex(np.nan, 3), -0.0 + 0j], np.complex64)
    h = gl.upload(z)
    back = gl.read(h)
    gl.dispose(h)
    np.testing.assert_array_equal(back.real, z.real)
    np.testing.assert_array_equal(back.imag, z.imag)


def test_complex_handles_release_their_textures(gl):
    base = gl.memory()["live_bytes"]
    h = gl.upload(_cplx(np.random.default_rng(6), (64, 64)))
    assert gl.memory()["live_bytes"] >= base + 64 * 64 * 8        # both parts
    assert gl.read(h).dtype == np.complex64
    gl.dispose(h)
    assert gl.memory()["live_bytes"] == base
