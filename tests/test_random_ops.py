"""TF's stateful random ops (gpu_backend/reference/random.py): TF's Philox stream for fixed seeds
(goldens recorded by tests/fixtures/make_random_goldens.py), shapes and dtypes, seeding and per-run
state, distributions, TF's errors, and graphs run through load_graph_model on both backends."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import model_builder as mb
from gpu_backend.errors import AttributeValueError, ShapeError
from gpu_backend.numpy_backend import run_reference
from gpu_backend.reference.random import PhiloxStream, philox
from loader import load_graph_model
from loader.errors import UnsupportedOpError
from loader.executor import NodeError

GOLDENS = Path(__file__).resolve().parent / "fixtures" / "random_goldens.npz"
I32 = np.int32


def shape(*dims: int) -> np.ndarray:
    return np.array(dims, I32)


def run(op: str, inputs: list[np.ndarray], stream: PhiloxStream | None = None, **attrs: int) -> np.ndarray:
    if stream is not None:
        attrs["_stream"] = stream      # type: ignore[assignment]
    (out,) = run_reference(op, inputs, attrs)
    return out


def _cases() -> list[str]:
    with np.load(GOLDENS) as z:
        return sorted({k.split("/")[0] for k in z.files})


# -- TF's stream ---------------------------------------------------------------------------
def test_philox_known_answer():
    """Philox4x32-10's published known-answer vector (Salmon et al., Random123: counter and key all
    ones), independent of TF's seeding: catches a wrong round, multiplier or word order."""
    vectors = [  # (key, counter words from the least significant, output)
        ((0, 0), (0, 0, 0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
        ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF,) * 4, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
        ((0xA4093822, 0x299F31D0), (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
         (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1))]
    for key, words, want in vectors:
        counter = sum(w << (32 * i) for i, w in enumerate(words))
        got = philox(key, counter, np.zeros(1, np.uint64))[0]
        assert [hex(v) for v in got] == [hex(v) for v in want], key


@pytest.mark.parametrize("case", _cases())
def test_matches_tensorflow_stream(case):
    """Three executions of one freshly seeded kernel, as TF ran them: uniform, integer and multinomial
    values are bit-identical; normal ones agree to 2 float32 ulps (Box-Muller through different libms)."""
    with np.load(GOLDENS) as z:
        op = str(z[f"{case}/op"])
        attrs = json.loads(str(z[f"{case}/attrs"]))
        inputs = [z[f"{case}/in{i}"] for i in range(3) if f"{case}/in{i}" in z.files]
        wants = [z[f"{case}/out{k}"] for k in range(3)]
    stream = PhiloxStream(attrs["seed"], attrs["seed2"])
    for k, want in enumerate(wants):
        got = run(op, inputs, stream)
        assert got.shape == want.shape and got.dtype == want.dtype, (k, got.shape, got.dtype)
        if op in ("RandomStandardNormal", "TruncatedNormal"):
            np.testing.assert_allclose(got, want, rtol=2.5e-7, atol=1e-7, err_msg=f"call {k}")
            assert (got == want).mean() > 0.9, f"call {k}: only {(got == want).mean():.3f} bit-identical"
        else:
            np.testing.assert_array_equal(got, want, err_msg=f"call {k}")


# -- shapes, dtypes, seeds -----------------------------------------------------------------
@pytest.mark.parametrize("op,inputs,want_shape,dtype", [
    ("RandomUniform", [shape(2, 3, 4)], (2, 3, 4), np.float32),
    ("RandomStandardNormal", [shape(5)], (5,), np.float32),
    ("TruncatedNormal", [shape(3, 1)], (3, 1), np.float32),
    ("RandomUniform", [shape()], (), np.float32),
    ("TruncatedNormal", [shape(0, 4)], (0, 4), np.float32),
    ("RandomUniformInt", [shape(4, 2), np.array(0, I32), np.array(3, I32)], (4, 2), np.int32),
    ("RandomUniformInt", [shape(0), np.array(3, I32), np.array(3, I32)], (0,), np.int32),  # empty: no bound check
    ("Multinomial", [np.zeros((3, 4), np.float32), np.array(7, I32)], (3, 7), np.int32),
    ("Multinomial", [np.zeros((0, 4), np.float32), np.array(7, I32)], (0, 7), np.int32),
    ("Multinomial", [np.zeros((2, 4), np.float32), np.array(0, I32)], (2, 0), np.int32),
])
def test_output_shape_and_dtype(op, inputs, want_shape, dtype):
    out = run(op, inputs, seed=3, seed2=4)
    assert out.shape == want_shape and out.dtype == dtype


@pytest.mark.parametrize("op,inputs", [
    ("RandomUniform", [shape(50)]), ("RandomStandardNormal", [shape(50)]), ("TruncatedNormal", [shape(50)]),
    ("RandomUniformInt", [shape(50), np.array(0, I32), np.array(1000, I32)]),
    ("Multinomial", [np.zeros((2, 100), np.float32), np.array(25, I32)])])
def test_seeds_fix_the_sequence_and_each_run_draws_anew(op, inputs):
    a, b = PhiloxStream(7, 8), PhiloxStream(7, 8)
    first = [run(op, inputs, a) for _ in range(3)]
    again = [run(op, inputs, b) for _ in range(3)]
    for x, y in zip(first, again):
        np.testing.assert_array_equal(x, y)                      # same seeds: same sequence
    assert not np.array_equal(first[0], first[1]) and not np.array_equal(first[1], first[2])
    for other in (PhiloxStream(7, 9), PhiloxStream(8, 8)):        # either seed changes the numbers
        assert not np.array_equal(run(op, inputs, other), first[0])
    # without a stream (a direct call) a seeded op gives its first-execution values every time
    np.testing.assert_array_equal(run(op, inputs, seed=7, seed2=8), first[0])


def test_unseeded_ops_are_nondeterministic():
    """seed == seed2 == 0 is TF's "no seed": each stream is keyed from OS entropy."""
    draws = [run("RandomUniform", [shape(64)], seed=0, seed2=0) for _ in range(3)]
    assert not np.array_equal(draws[0], draws[1]) and not np.array_equal(draws[1], draws[2])
    assert PhiloxStream(0, 0).key != PhiloxStream(0, 0).key


# -- distributions (fixed seeds, so these are deterministic; bounds are ~5 sigma) ------------
N = 100_000


def test_uniform_distribution():
    x = run("RandomUniform", [shape(N)], seed=11, seed2=1).astype(np.float64)
    assert x.min() >= 0.0 and x.max() < 1.0
    assert abs(x.mean() - 0.5) < 0.005 and abs(x.var() - 1 / 12) < 0.0015
    counts = np.histogram(x, bins=20, range=(0, 1))[0]
    chi2 = ((counts - N / 20) ** 2 / (N / 20)).sum()
    assert chi2 < 50, chi2                                       # 19 dof: p ~ 1e-4


def test_standard_normal_distribution():
    x = run("RandomStandardNormal", [shape(N)], seed=12, seed2=1).astype(np.float64)
    assert abs(x.mean()) < 0.016 and abs(x.var() - 1) < 0.025
    assert abs(np.mean(np.abs(x) > 2) - 0.0455) < 0.0035
    assert abs(np.mean(x ** 3)) < 0.04 and abs(np.mean(x ** 4) - 3) < 0.1   # symmetric, normal tails


def test_truncated_normal_distribution():
    x = run("TruncatedNormal", [shape(N)], seed=13, seed2=1).astype(np.float64)
    assert np.abs(x).max() < 2.0
    assert abs(x.mean()) < 0.014 and abs(x.std() - 0.8796) < 0.008
    assert np.abs(x).max() > 1.99                               # resampled, not squashed into the bounds
    # density ratio at 0 and near 2 follows the normal's: exp(-1.9**2 / 2) ~ 0.164
    near0 = np.mean(np.abs(x) < 0.1)
    near2 = np.mean((np.abs(x) > 1.85) & (np.abs(x) < 1.95))
    assert 0.12 < near2 / near0 < 0.21, near2 / near0


def test_uniform_int_covers_exactly_the_range():
    x = run("RandomUniformInt", [shape(N), np.array(-3, I32), np.array(10, I32)], seed=14, seed2=1)
    counts = Counter(x.tolist())
    assert set(counts) == set(range(-3, 10))
    chi2 = sum((c - N / 13) ** 2 / (N / 13) for c in counts.values())
    assert chi2 < 40, chi2                                       # 12 dof
    single = run("RandomUniformInt", [shape(100), np.array(5, I32), np.array(6, I32)], seed=1, seed2=1)
    assert (single == 5).all()
    wide = run("RandomUniformInt", [shape(N), np.array(-2**31, I32), np.array(2**31 - 1, I32)], seed=2, seed2=2)
    assert wide.min() < -2**31 * 0.99 and wide.max() > (2**31 - 1) * 0.99 and abs(wide.mean()) < 2**31 * 0.01


def test_multinomial_frequencies_follow_softmax():
    logits = np.array([[0.0, 1.0, 2.0, 3.0, -np.inf], [-np.inf, 0.5, 0.5, -1.0, 2.0]], np.float32)
    x = run("Multinomial", [logits, np.array(N // 2, I32)], seed=15, seed2=1)
    assert x.shape == (2, N // 2)
    for row, z in zip(x, logits):
        p = np.exp(z - z.max())
        p /= p.sum()
        counts = np.bincount(row, minlength=5)
        assert counts[np.isinf(z)].sum() == 0                     # -inf classes never drawn
        live = p > 0
        expected = p[live] * row.size
        chi2 = ((counts[live] - expected) ** 2 / expected).sum()
        assert chi2 < 25, (chi2, counts, expected)                 # 3 dof
        np.testing.assert_allclose(counts / row.size, p, atol=0.01)


def test_multinomial_with_no_finite_logit_returns_num_classes():
    """TF's CPU kernel: no mass at all, so every upper-bound search ends past the last class."""
    x = run("Multinomial", [np.full((1, 3), -np.inf, np.float32), np.array(4, I32)], seed=1, seed2=1)
    np.testing.assert_array_equal(x, [[3, 3, 3, 3]])


# -- errors (TF's messages) ----------------------------------------------------------------
@pytest.mark.parametrize("op,inputs,error,match", [
    ("RandomUniformInt", [shape(3), np.array(3, I32), np.array(3, I32)], AttributeValueError, "Need minval < maxval"),
    ("RandomUniformInt", [shape(3), np.array(5, I32), np.array(-1, I32)], AttributeValueError, "5 >= -1"),
    ("RandomUniformInt", [shape(3), np.array([1, 2], I32), np.array(3, I32)], ShapeError, "minval must be 0-D"),
    ("RandomUniform", [shape(2, -1)], ShapeError, "must be >= 0"),
    ("TruncatedNormal", [np.array([[2, 2]], I32)], ShapeError, "shape must be a vector"),
    ("RandomStandardNormal", [np.array(3, I32)], ShapeError, "shape must be a vector"),
    ("RandomUniform", [np.array([2.0], np.float32)], ShapeError, "shape must be a vector of"),
    ("Multinomial", [np.zeros((1, 3), np.float32), np.array(-1, I32)], AttributeValueError, "non-negative, got -1"),
    ("Multinomial", [np.zeros(3, np.float32), np.array(2, I32)], ShapeError, "logits should be a matrix"),
    ("Multinomial", [np.zeros((2, 0), np.float32), np.array(2, I32)], ShapeError, "num_classes should be positive"),
    ("Multinomial", [np.zeros((1, 3), np.float32), np.array([[2]], I32)], ShapeError, "num_samples should be a scalar"),
])
def test_errors(op, inputs, error, match):
    with pytest.raises(error, match=match):
        run(op, inputs, seed=1, seed2=2)


# -- graphs --------------------------------------------------------------------------------
def _dt(name: str) -> dict:
    return {"type": name}


def _seeds(seed: int, seed2: int) -> dict:
    return {"seed": {"i": str(seed)}, "seed2": {"i": str(seed2)}}


def _random_graph(tmp_path: Path, name: str, dtype: str = "DT_FLOAT", tout: str = "DT_INT32") -> Path:
    """All five ops in one graph, seeded; x + normal noise makes a device node read a random host value."""
    nodes = [mb.const("shape", "int32"), mb.const("lo", "int32"), mb.const("hi", "int32"), mb.const("ns", "int32"),
             mb.placeholder("x", [3, 7]), mb.placeholder("logits", [2, 4]),
             {"name": "u", "op": "RandomUniform", "input": ["shape"],
              "attr": {"dtype": _dt(dtype), "T": _dt("DT_INT32"), **_seeds(1, 2)}},
             {"name": "n", "op": "RandomStandardNormal", "input": ["shape"],
              "attr": {"dtype": _dt(dtype), "T": _dt("DT_INT32"), **_seeds(1, 2)}},
             {"name": "t", "op": "TruncatedNormal", "input": ["shape"],
              "attr": {"dtype": _dt(dtype), "T": _dt("DT_INT32"), **_seeds(1, 2)}},
             {"name": "i", "op": "RandomUniformInt", "input": ["shape", "lo", "hi"],
              "attr": {"Tout": _dt(tout), "T": _dt("DT_INT32"), **_seeds(1, 2)}},
             {"name": "m", "op": "Multinomial", "input": ["logits", "ns"],   # output_dtype: TF's default int64
              "attr": {"T": _dt("DT_FLOAT"), **_seeds(1, 2)}},
             mb.op("noisy", "AddV2", ["x", "n"])]
    outs = {"u": ("u:0", [3, 7], "float32"), "n": ("noisy:0", [3, 7], "float32"), "t": ("t:0", [3, 7], "float32"),
            "i": ("i:0", [3, 7], "int32"), "m": ("m:0", [2, 5], "int32")}
    weights = {"shape": shape(3, 7), "lo": np.array(-3, I32), "hi": np.array(10, I32), "ns": np.array(5, I32)}
    doc, files = mb.model_json(nodes, weights, mb.signature(
        {"x": ("x:0", [3, 7], "float32"), "logits": ("logits:0", [2, 4], "float32")}, outs))
    return mb.write(tmp_path / name, doc, files)


def _graph_goldens() -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]]]:
    """The graph's feeds and TF's outputs of its nodes for three executions."""
    with np.load(GOLDENS) as z:
        for case in ("uniform0", "graph_normal", "graph_truncated", "graph_int"):
            assert json.loads(str(z[f"{case}/attrs"])) == {"seed": 1, "seed2": 2} and z[f"{case}/in0"].tolist() == [3, 7]
        feeds = {"x": np.zeros((3, 7), np.float32), "logits": z["graph_multinomial/in0"]}
        assert int(z["graph_multinomial/in1"]) == 5
        wants = [{"u:0": z[f"uniform0/out{k}"], "noisy:0": z[f"graph_normal/out{k}"], "t:0": z[f"graph_truncated/out{k}"],
                  "i:0": z[f"graph_int/out{k}"], "m:0": z[f"graph_multinomial/out{k}"]} for k in range(3)]
    return feeds, wants


RANDOM_OPS = ("RandomUniform", "RandomStandardNormal", "TruncatedNormal", "RandomUniformInt", "Multinomial")


@pytest.mark.parametrize("backend", ["gl", "numpy"])
def test_graph_gives_tf_sequence_per_predict(tmp_path, gl, backend):
    """strict=True (every output's dtype checked against the graph's), the random nodes on the host
    on GL, TF's first three executions from three predict() calls, and a fresh load starting over."""
    feeds, wants = _graph_goldens()
    assert np.isneginf(feeds["logits"]).any()
    path = _random_graph(tmp_path, "all")
    runs = []
    for _ in range(2):                                   # two fresh loads
        model = load_graph_model(path, backend=gl if backend == "gl" else "numpy", strict=True)
        where = model.placement()
        if backend == "gl":
            for op in RANDOM_OPS:
                assert where[op] == Counter({"host": 1}), (op, where[op])
            assert where["AddV2"] == Counter({gl.name: 1})
        else:                                            # constant inputs: on the host there too
            for op in RANDOM_OPS[:4]:
                assert where[op] == Counter({"host": 1}), (op, where[op])
        runs.append([model.predict(feeds) for _ in range(3)])
        model.dispose()
    for k, want in enumerate(wants):
        out = runs[0][k]
        for name in ("u:0", "i:0", "m:0"):
            assert out[name].dtype == want[name].dtype, name
            np.testing.assert_array_equal(out[name], want[name], err_msg=f"call {k}, {name}")
        for name in ("noisy:0", "t:0"):                    # noisy = x + normal with x = 0
            assert out[name].dtype == np.float32
            np.testing.assert_allclose(out[name], want[name], rtol=2.5e-7, atol=1e-7, err_msg=f"call {k}, {name}")
        for name, v in out.items():
            np.testing.assert_array_equal(v, runs[1][k][name], err_msg=f"fresh load, call {k}, {name}")
    # every predict drew anew, the GL device node (x + noise) included: a recorded replay would repeat it
    for name in ("u:0", "noisy:0", "t:0", "i:0", "m:0"):
        assert not np.array_equal(runs[0][0][name], runs[0][1][name]), name


def test_gl_run_with_random_input_is_not_replayed(tmp_path, gl):
    """Only device outputs (x + noise): such a run would be recorded and replayed, uploading the
    recorded noise again; the random node marks it unreplayable, so each predict() draws anew."""
    nodes = [mb.const("shape", "int32"), mb.placeholder("x", [3, 7]),
             {"name": "n", "op": "RandomStandardNormal", "input": ["shape"],
              "attr": {"dtype": _dt("DT_FLOAT"), "T": _dt("DT_INT32"), **_seeds(1, 2)}},
             mb.op("noisy", "AddV2", ["x", "n"]), mb.op("Identity", "Identity", ["noisy"])]
    doc, files = mb.model_json(nodes, {"shape": shape(3, 7)}, mb.signature(
        {"x": ("x:0", [3, 7], "float32")}, {"y": ("Identity:0", [3, 7], "float32")}))
    model = load_graph_model(mb.write(tmp_path / "noise", doc, files), backend=gl, strict=True)
    x = np.full((3, 7), 10.0, np.float32)
    outs = [model.predict({"x": x})["Identity:0"] for _ in range(3)]
    why = list(model.executor.unreplayable.values())
    model.dispose()
    with np.load(GOLDENS) as z:
        for k in range(3):
            np.testing.assert_allclose(outs[k] - x, z[f"graph_normal/out{k}"], atol=2e-6, err_msg=f"call {k}")
    assert why and "random" in why[0]


@pytest.mark.parametrize("dtype,tout", [("DT_HALF", "DT_INT64"), ("DT_DOUBLE", "DT_INT32")])
def test_other_requested_dtypes_map_to_float32_and_int32(tmp_path, dtype, tout):
    """TF allows half/double outputs and int64 Tout; the loader maps them to float32/int32 (as TF.js
    does) and the declared-dtype check in strict mode agrees."""
    model = load_graph_model(_random_graph(tmp_path, dtype + tout, dtype, tout), backend="numpy", strict=True)
    out = model.predict(_graph_goldens()[0])
    model.dispose()
    assert out["u:0"].dtype == np.float32 and out["t:0"].dtype == np.float32
    assert out["i:0"].dtype == np.int32 and out["m:0"].dtype == np.int32


def test_integer_dtype_for_a_float_op_is_refused_at_load(tmp_path):
    nodes = [mb.const("shape", "int32"),
             {"name": "u", "op": "RandomUniform", "input": ["shape"], "attr": {"dtype": _dt("DT_INT32"), **_seeds(1, 1)}},
             mb.op("Identity", "Identity", ["u"], T=_dt("DT_INT32"))]
    doc, files = mb.model_json(nodes, {"shape": shape(2)}, mb.signature({}, {"u": ("Identity:0", [2], "int32")}))
    with pytest.raises(UnsupportedOpError, match="RandomUniform with dtype='int32' is not supported"):
        load_graph_model(mb.write(tmp_path / "bad", doc, files), backend="numpy", strict=True)


def test_graph_error_names_the_node(tmp_path):
    nodes = [mb.const("shape", "int32"), mb.const("lo", "int32"), mb.const("hi", "int32"),
             {"name": "ints", "op": "RandomUniformInt", "input": ["shape", "lo", "hi"],
              "attr": {"Tout": _dt("DT_INT32"), "T": _dt("DT_INT32"), **_seeds(1, 1)}},
             mb.op("Identity", "Identity", ["ints"], T=_dt("DT_INT32"))]
    doc, files = mb.model_json(nodes, {"shape": shape(2), "lo": np.array(4, I32), "hi": np.array(4, I32)},
                               mb.signature({}, {"i": ("Identity:0", [2], "int32")}))
    model = load_graph_model(mb.write(tmp_path / "err", doc, files), backend="numpy", strict=True)
    with pytest.raises(NodeError, match=r"'ints' \(RandomUniformInt\).*Need minval < maxval, got 4 >= 4"):
        model.predict({})
    model.dispose()


def test_stream_reservation_matches_tf_per_execution():
    """Each execution moves the counter by 256 blocks per output element (TF's reservation), which is
    what makes call k of a kernel reproducible on its own."""
    s = PhiloxStream(5, 6)
    start = s.counter
    run("RandomUniform", [shape(3, 7)], s)
    assert s.counter - start == 21 * 256
    run("Multinomial", [np.zeros((2, 4), np.float32), np.array(5, I32)], s)
    assert s.counter - start == 21 * 256 + 2 * 8 * 2 * 256
    assert start == 6 << 64               # seed2 fills the counter's upper half
