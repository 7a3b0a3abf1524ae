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
    ins, i = [], 0
    while f"{name}/in{i}" in GOLDENS.files:
        ins.append(GOLDENS[f"{name}/in{i}"])
        i += 1
    return str(GOLDENS[f"{name}/op"]), ins, json.loads(str(GOLDENS[f"{name}/attrs"]))


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
    (got,) = run_ref(op, ins, attrs)
    want = GOLDENS[f"{case}/out"]
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)       # bit-equal, NaN where TF has NaN


@pytest.mark.parametrize("case", [c for c in CASES if c.startswith("fq") and f"{c}/out" in GOLDENS.files])
def test_fake_quant_on_gl_matches_tensorflow(gl, case):
    op, ins, attrs = _case(case)
    (got,) = run_gl(gl, op, ins, attrs)
    want = GOLDENS[f"{case}/out"]
    lo, hi = float(ins[1]), float(ins[2])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * max(1.0, abs(lo), abs(hi)))


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
