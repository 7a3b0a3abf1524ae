"""The issue-11 ops with recorded TF goldens: FakeQuantWithMinMaxVars, Bincount, DenseBincount
(and the other single ops recorded in fixtures/extra_op_goldens.npz)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import model_builder as mb
from conftest import run_gl, run_ref
from loader import load_graph_model

GOLDENS = np.load(Path(__file__).resolve().parent / "fixtures" / "extra_op_goldens.npz")
CASES = sorted({k.split("/")[0] for k in GOLDENS.files if not k.startswith("bargs")})


def _case(name: str) -> tuple[str, list[np.ndarray], dict]:
    """(kernel, inputs, kernel attributes) of a recorded case: TF's attribute spellings are turned into
    the kernel's, as loader/op_mapping.py does for a graph node."""
    ins, i = [], 0
    while f"{name}/in{i}" in GOLDENS.files:
        ins.append(GOLDENS[f"{name}/in{i}"])
        i += 1
    op, attrs = str(GOLDENS[f"{name}/op"]), json.loads(str(GOLDENS[f"{name}/attrs"]))
    if op == "MaxPoolWithArgmax":
        attrs = {"filter_size": attrs["ksize"][1:3], "strides": attrs["strides"][1:3],
                 "pad": attrs["padding"].lower(), "include_batch_in_index": attrs.get("include_batch_in_index", False)}
    elif op == "ImageProjectiveTransformV3":
        attrs = {"interpolation": attrs["interpolation"], "fill_mode": attrs["fill_mode"],
                 "output_shape": ins[2].tolist(), "fill_value": float(ins[3])}
        ins = ins[:2]
    return op, ins, attrs


def _outputs(name: str) -> list[np.ndarray]:
    outs = [GOLDENS[f"{name}/out"]]
    while f"{name}/out{len(outs)}" in GOLDENS.files:
        outs.append(GOLDENS[f"{name}/out{len(outs)}"])
    return outs


def _as_recorded(want: np.ndarray) -> np.ndarray:
    """TF's int64 outputs (argmax) are int32 here, as every int64 of a graph."""
    return want.astype(np.int32) if want.dtype == np.int64 else want


def _tf_error_core(msg: str) -> str:
    """The message TF gives without its '{{function_node ...}}' prefix and ' [Op:...]' suffix."""
    core = msg.split("}}", 1)[-1].strip()
    return core.split(" [Op:", 1)[0].rstrip("!").strip()


@pytest.mark.parametrize("case", CASES)
def test_reference_matches_tensorflow(case):
    op, ins, attrs = _case(case)
    if f"{case}/error" in GOLDENS.files:
        want = _tf_error_core(str(GOLDENS[f"{case}/error"]))
        with pytest.raises(ValueError) as err:
            run_ref(op, ins, attrs)
        assert want.split(" (")[0].lower()[:30] in str(err.value).lower(), (want, str(err.value))
        return
    got = run_ref(op, ins, attrs)
    wants = _outputs(case)
    assert len(got) == len(wants)
    for g, want in zip(got, wants):
        want = _as_recorded(want)
        assert g.dtype == want.dtype and g.shape == want.shape
        if op == "Conv1D":                 # a float64 sum here, TF's float32 one there
            np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-5)
        elif op in ("FFT", "IFFT", "RFFT", "IRFFT"):      # numpy's transform vs TF's float32 one
            np.testing.assert_allclose(g, want, rtol=0, atol=1e-6 * max(1.0, float(np.abs(want).max())))
        else:
            np.testing.assert_array_equal(g, want)       # bit-equal, NaN where TF has NaN


SPECTRAL = ("Complex", "Real", "Imag", "ComplexAbs", "FFT", "IFFT", "RFFT", "IRFFT")
GL_CASES = [c for c in CASES if f"{c}/out" in GOLDENS.files and str(GOLDENS[f"{c}/op"]) in
            ("FakeQuantWithMinMaxVars", "Conv1D", "MaxPoolWithArgmax", "ImageProjectiveTransformV3") + SPECTRAL]


@pytest.mark.parametrize("case", GL_CASES)
def test_gl_kernels_match_tensorflow(any_gl, case):
    op, ins, attrs = _case(case)
    before = sum(v for k, v in any_gl.fallbacks.items() if k.startswith(op))
    got = run_gl(any_gl, op, ins, attrs)
    assert sum(v for k, v in any_gl.fallbacks.items() if k.startswith(op)) == before    # it ran on GL
    for g, want in zip(got, _outputs(case)):
        want = _as_recorded(want)
        assert g.dtype == want.dtype and g.shape == want.shape
        if want.dtype.kind == "i" or op == "MaxPoolWithArgmax":
            np.testing.assert_array_equal(g, want)
        elif op in SPECTRAL:
            # direct float32 sums on GL: about N * 2^-24 of the magnitude (gpu_backend/kernels/spectral.py)
            n = max([int(np.asarray(attrs.get("fft_length", [1])).reshape(-1)[0])] +
                    [a.shape[-1] for a in ins if np.ndim(a)])
            scale = max(1.0, float(np.nanmax(np.abs(np.where(np.isfinite(want), want, 0)), initial=0.0)))
            np.testing.assert_allclose(g, want, rtol=2e-6, atol=4 * n * 2.0 ** -24 * scale)
        else:
            scale = max(1.0, float(np.nanmax(np.abs(np.where(np.isfinite(want), want, 0)))))
            np.testing.assert_allclose(g, want, rtol=0, atol=4e-6 * scale)


def _levels(x: np.ndarray, lo: float, hi: float, bits: int) -> np.ndarray:
    """How far each input sits from a rounding boundary of the grid, in steps (0.5 = on it)."""
    t = (np.clip(x, lo, hi) - lo) / ((hi - lo) / ((1 << bits) - 1))
    return np.abs(t - np.floor(t) - 0.5)


@pytest.mark.parametrize("shape,lo,hi,bits,narrow", [
    ((7, 5, 3), -1.3, 2.1, 8, False), ((2, 3, 4, 9), -6.0, -0.5, 5, True), ((), 0.2, 0.9, 3, False),
    ((1031,), -2.0, 2.0, 16, False), ((5, 1, 6), 1.0, -1.0, 8, False)])
def test_fake_quant_gl_matches_reference_on_random_data(gl, any_gl, shape, lo, hi, bits, narrow):
    rng = np.random.default_rng(abs(hash((shape, bits))) % 1000)
    x = rng.uniform(min(lo, hi) * 1.5 - 0.5, max(lo, hi) * 1.5 + 0.5, shape).astype(np.float32)
    if x.size > 8:
        x.reshape(-1)[:6] = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-40]
    ins = [x, np.array(lo, np.float32), np.array(hi, np.float32)]
    attrs = {"num_bits": bits, "narrow_range": narrow}
    (want,) = run_ref("FakeQuantWithMinMaxVars", ins, attrs)
    before = sum(v for k, v in any_gl.fallbacks.items() if k.startswith("FakeQuant"))
    (got,) = run_gl(any_gl, "FakeQuantWithMinMaxVars", ins, attrs)
    assert sum(v for k, v in any_gl.fallbacks.items() if k.startswith("FakeQuant")) == before   # it ran on GL
    assert got.dtype == np.float32 and got.shape == want.shape
    # GLSL division may differ from IEEE by an ulp: only inputs right on a rounding boundary may land
    # on the neighbouring level; everywhere else the two are equal
    near = _levels(np.nan_to_num(x.astype(np.float64)), min(lo, hi), max(lo, hi), bits) < 1e-4
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    assert np.all(same | near), np.argwhere(~(same | near))[:5]
    assert np.isnan(got).sum() == np.isnan(x).sum()


def test_fake_quant_refuses_bad_attributes(gl):
    ins = [np.ones(3, np.float32), np.array(-1, np.float32), np.array(1, np.float32)]
    for bad in (1, 17):
        for run in (lambda: run_ref("FakeQuantWithMinMaxVars", ins, {"num_bits": bad}),
                    lambda: run_gl(gl, "FakeQuantWithMinMaxVars", ins, {"num_bits": bad})):
            with pytest.raises(ValueError, match="num_bits must be between 2 and 16"):
                run()
    with pytest.raises(ValueError, match="min must be a scalar"):
        run_gl(gl, "FakeQuantWithMinMaxVars", [ins[0], np.ones(2, np.float32), ins[2]], {})


def _bincount_loop(values: np.ndarray, size: int, weights: np.ndarray | None, binary: bool) -> np.ndarray:
    dtype = weights.dtype if weights is not None else np.float32
    out = np.zeros(size, np.float64)
    for i, v in enumerate(values.reshape(-1)):
        if v < size:
            out[v] = 1 if binary else out[v] + (1 if weights is None else weights.reshape(-1)[i])
    return out.astype(dtype)


@pytest.mark.parametrize("seed", range(4))
def test_bincounts_match_a_plain_loop_on_random_data(seed):
    rng = np.random.default_rng(seed)
    size = int(rng.integers(0, 12))
    arr = rng.integers(0, 15, (3, 11)).astype(np.int32)
    w = rng.standard_normal((3, 11)).astype(np.float32)
    wi = rng.integers(-(1 << 26), 1 << 26, (3, 11)).astype(np.int32)     # int sums above 2^24 stay exact
    (got,) = run_ref("Bincount", [arr, np.array(size, np.int32), w], {})
    np.testing.assert_allclose(got, _bincount_loop(arr, size, w, False), rtol=1e-6, atol=1e-6)
    (got,) = run_ref("Bincount", [arr, np.array(size, np.int32), wi], {})
    np.testing.assert_array_equal(got, _bincount_loop(arr, size, wi.astype(np.int64), False).astype(np.int32))
    for binary in (False, True):
        (got,) = run_ref("DenseBincount", [arr, np.array(size, np.int32), np.zeros(0, np.int32)],
                         {"binary_output": binary})
        want = np.stack([_bincount_loop(r, size, None, binary) for r in arr]).astype(np.int32)
        assert got.dtype == np.int32
        np.testing.assert_array_equal(got, want)


def test_bincount_shape_errors():
    with pytest.raises(ValueError, match="weights of shape"):
        run_ref("Bincount", [np.array([1, 2], np.int32), np.array(3, np.int32), np.ones(3, np.float32)], {})
    with pytest.raises(ValueError, match="rank 1 or 2"):
        run_ref("DenseBincount", [np.zeros((2, 2, 2), np.int32), np.array(3, np.int32), np.zeros(0, np.float32)], {})


def test_quant_and_bincount_in_a_graph_on_both_backends(tmp_path, gl):
    """x -> FakeQuant -> out; ids -> DenseBincount(binary) -> counts, with the bincount placed on the host."""
    rng = np.random.default_rng(5)
    f, i = "float32", "int32"
    nodes = [mb.placeholder("x", [2, 9], f), mb.placeholder("ids", [3, 6], i),
             mb.const("lo"), mb.const("hi"), mb.const("size", i), mb.const("w", i),
             {"name": "fq", "op": "FakeQuantWithMinMaxVars", "input": ["x", "lo", "hi"],
              "attr": {"num_bits": {"i": "6"}, "narrow_range": {"b": True}}},
             {"name": "bc", "op": "DenseBincount", "input": ["ids", "size", "w"],
              "attr": {"T": {"type": "DT_INT32"}, "Tidx": {"type": "DT_INT32"}, "binary_output": {"b": True}}},
             mb.op("Identity", "Identity", ["fq"]),
             {"name": "Identity_1", "op": "Identity", "input": ["bc"], "attr": {"T": {"type": "DT_INT32"}}}]
    consts = {"lo": np.array(-1.5, np.float32), "hi": np.array(2.5, np.float32), "size": np.array(5, np.int32),
              "w": np.zeros(0, np.int32)}
    doc, files = mb.model_json(nodes, consts, mb.signature(
        {"x": ("x:0", [2, 9], f), "ids": ("ids:0", [3, 6], i)},
        {"q": ("Identity:0", [2, 9], f), "c": ("Identity_1:0", [3, 5], i)}))
    folder = mb.write(tmp_path, doc, files)
    x = rng.uniform(-3, 3, (2, 9)).astype(np.float32)
    ids = rng.integers(0, 8, (3, 6)).astype(np.int32)
    want_q = run_ref("FakeQuantWithMinMaxVars", [x, consts["lo"], consts["hi"]], {"num_bits": 6, "narrow_range": True})[0]
    want_c = run_ref("DenseBincount", [ids, consts["size"], consts["w"]], {"binary_output": True})[0]
    for backend in (gl, "numpy"):
        model = load_graph_model(folder, backend=backend, strict=True)
        out = model.predict({"x": x, "ids": ids})
        if backend is gl:
            assert model.executor.plans["bc"].kind == "host"
            assert model.executor.plans["fq"].kind == "device"
        model.dispose()
        np.testing.assert_allclose(out["Identity:0"], want_q, rtol=0, atol=1e-6)
        assert out["Identity_1:0"].dtype == np.int32
        np.testing.assert_array_equal(out["Identity_1:0"], want_c)


# -- random data: GL against the reference -------------------------------------------------------
@pytest.mark.parametrize("shape,ksize,strides,pad,batch,dtype", [
    ((3, 9, 7, 5), (3, 2), (2, 1), "same", True, "float32"), ((1, 5, 11, 6), (2, 4), (3, 3), "valid", False, "int32"),
    ((2, 4, 4, 1), (4, 4), (1, 1), "same", False, "float32")])
def test_max_pool_with_argmax_gl_matches_reference(any_gl, shape, ksize, strides, pad, batch, dtype):
    rng = np.random.default_rng(sum(shape))
    if dtype == "int32":     # values above 2^24 that float32 could not tell apart, with ties
        x = ((1 << 26) + rng.integers(0, 5, shape) * 3).astype(np.int32)
    else:
        x = rng.standard_normal(shape).astype(np.float32)
        x.reshape(-1)[::7] = np.nan
        x.reshape(-1)[3::11] = -np.inf
    attrs = {"filter_size": list(ksize), "strides": list(strides), "pad": pad, "include_batch_in_index": batch}
    want = run_ref("MaxPoolWithArgmax", [x], attrs)
    got = run_gl(any_gl, "MaxPoolWithArgmax", [x], attrs)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("interp", ["NEAREST", "BILINEAR"])
@pytest.mark.parametrize("mode", ["REFLECT", "WRAP", "CONSTANT", "NEAREST"])
def test_projective_transform_gl_matches_reference_on_random_transforms(gl, interp, mode):
    rng = np.random.default_rng(len(interp) * 7 + len(mode))
    img = rng.uniform(-3, 3, (3, 7, 5, 2)).astype(np.float32)
    t = np.concatenate([rng.uniform(0.5, 1.5, (3, 1)), rng.uniform(-0.4, 0.4, (3, 1)), rng.uniform(-6, 6, (3, 1)),
                        rng.uniform(-0.4, 0.4, (3, 1)), rng.uniform(0.5, 1.5, (3, 1)), rng.uniform(-6, 6, (3, 1)),
                        rng.uniform(-0.05, 0.05, (3, 2))], axis=1).astype(np.float32)
    attrs = {"interpolation": interp, "fill_mode": mode, "output_shape": [8, 6], "fill_value": -0.5}
    (want,) = run_ref("ImageProjectiveTransformV3", [img, t], attrs)
    (got,) = run_gl(gl, "ImageProjectiveTransformV3", [img, t], attrs)
    assert got.shape == (3, 8, 6, 2)
    close = np.isclose(got, want, rtol=1e-5, atol=1e-5)
    # a GLSL division an ulp away from IEEE may move a nearest sample across a pixel boundary: allow a few
    assert close.mean() > 0.99 if interp == "NEAREST" else close.all(), np.argwhere(~close)[:5]


@pytest.mark.parametrize("n,w,c,k,o,stride,pad,dil,fmt", [
    (2, 17, 3, 5, 6, 2, "same", 1, "NWC"), (1, 8, 1, 3, 1, 1, "valid", 2, "NWC"), (3, 10, 5, 2, 4, 3, "same", 1, "NCW")])
def test_conv1d_gl_matches_reference(any_gl, n, w, c, k, o, stride, pad, dil, fmt):
    rng = np.random.default_rng(w)
    x = rng.standard_normal((n, c, w) if fmt == "NCW" else (n, w, c)).astype(np.float32)
    f = rng.standard_normal((k, c, o)).astype(np.float32)
    attrs = {"stride": stride, "pad": pad, "dilation": dil, "data_format": fmt}
    (want,) = run_ref("Conv1D", [x, f], attrs)
    (got,) = run_gl(any_gl, "Conv1D", [x, f], attrs)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_bad_calls_are_refused_with_a_reason(gl):
    img, t = np.ones((1, 4, 4, 1), np.float32), np.zeros((1, 8), np.float32)
    for run in (run_ref, lambda *a: run_gl(gl, *a)):
        with pytest.raises(ValueError, match="interpolation must be one of"):
            run("ImageProjectiveTransformV3", [img, t], {"interpolation": "CUBIC", "output_shape": [2, 2]})
        with pytest.raises(ValueError, match="num_images x 8 or 1 x 8"):
            run("ImageProjectiveTransformV3", [img, np.zeros((2, 8), np.float32)], {"interpolation": "NEAREST"})
        with pytest.raises(ValueError, match="filter must be of rank 3"):
            run("Conv1D", [np.ones((1, 5, 2), np.float32), np.ones((2, 2), np.float32)], {"pad": "valid"})
        with pytest.raises(ValueError, match="data_format 'NCHW' is not NWC or NCW"):
            run("Conv1D", [np.ones((1, 5, 2), np.float32), np.ones((2, 2, 1), np.float32)],
                {"pad": "valid", "data_format": "NCHW"})


def test_the_new_ops_in_a_graph_with_tf_attribute_spellings(tmp_path, gl):
    """Conv1D (TF.js's attrs) -> ExpandDims -> MaxPoolWithArgmax (two outputs) and an
    ImageProjectiveTransformV3 with its output shape and fill value as constant inputs."""
    rng = np.random.default_rng(8)
    f = "float32"
    w = rng.standard_normal((3, 2, 4)).astype(np.float32)
    t = np.array([[1.0, 0.2, -1.0, -0.1, 0.9, 0.5, 0.0, 0.0]], np.float32)
    nodes = [mb.placeholder("x", [1, 12, 2]), mb.placeholder("img", [2, 6, 6, 3]), mb.const("w"), mb.const("t"),
             mb.const("hw", "int32"), mb.const("fill"), mb.const("axis", "int32"),
             {"name": "c1", "op": "Conv1D", "input": ["x", "w"],
              "attr": {"stride": {"i": "1"}, "padding": mb.attr_s("SAME"), "dilation": {"i": "2"},
                       "data_format": mb.attr_s("NWC")}},
             {"name": "e", "op": "ExpandDims", "input": ["c1", "axis"], "attr": {"T": {"type": "DT_FLOAT"}}},
             {"name": "mp", "op": "MaxPoolWithArgmax", "input": ["e"],
              "attr": {"ksize": mb.attr_list_i([1, 1, 3, 1]), "strides": mb.attr_list_i([1, 1, 2, 1]),
                       "padding": mb.attr_s("SAME"), "Targmax": {"type": "DT_INT64"}, "T": {"type": "DT_FLOAT"},
                       "include_batch_in_index": {"b": False}}},
             {"name": "ipt", "op": "ImageProjectiveTransformV3", "input": ["img", "t", "hw", "fill"],
              "attr": {"interpolation": mb.attr_s("BILINEAR"), "fill_mode": mb.attr_s("REFLECT"),
                       "dtype": {"type": "DT_FLOAT"}}},
             mb.op("Identity", "Identity", ["mp"]),
             {"name": "Identity_1", "op": "Identity", "input": ["mp:1"], "attr": {"T": {"type": "DT_INT64"}}},
             mb.op("Identity_2", "Identity", ["ipt"])]
    consts = {"w": w, "t": t, "hw": np.array([5, 7], np.int32), "fill": np.array(0.25, np.float32),
              "axis": np.array(1, np.int32)}
    doc, files = mb.model_json(nodes, consts, mb.signature(
        {"x": ("x:0", [1, 12, 2], f), "img": ("img:0", [2, 6, 6, 3], f)},
        {"v": ("Identity:0", [1, 1, 6, 4], f), "i": ("Identity_1:0", [1, 1, 6, 4], "int32"),
         "p": ("Identity_2:0", [2, 5, 7, 3], f)}))
    folder = mb.write(tmp_path, doc, files)
    x = rng.standard_normal((1, 12, 2)).astype(np.float32)
    img = rng.standard_normal((2, 6, 6, 3)).astype(np.float32)
    conv = run_ref("Conv1D", [x, w], {"stride": 1, "pad": "same", "dilation": 2, "data_format": "NWC"})[0]
    want_v, want_i = run_ref("MaxPoolWithArgmax", [conv[:, None]], {"filter_size": [1, 3], "strides": [1, 2],
                                                                    "pad": "same"})
    want_p = run_ref("ImageProjectiveTransformV3", [img, t], {"interpolation": "BILINEAR", "fill_mode": "REFLECT",
                                                              "output_shape": [5, 7], "fill_value": 0.25})[0]
    for backend in (gl, "numpy"):
        model = load_graph_model(folder, backend=backend, strict=True)
        out = model.predict({"x": x, "img": img})
        if backend is gl:
            assert not any(k.split(" ")[0] in ("Conv1D", "MaxPoolWithArgmax", "ImageProjectiveTransformV3")
                           for k in gl.fallbacks), gl.fallbacks
        model.dispose()
        np.testing.assert_allclose(out["Identity:0"], want_v, rtol=1e-5, atol=1e-5)
        assert out["Identity_1:0"].dtype == np.int32
        np.testing.assert_array_equal(out["Identity_1:0"], want_i)
        np.testing.assert_allclose(out["Identity_2:0"], want_p, rtol=1e-5, atol=1e-5)
