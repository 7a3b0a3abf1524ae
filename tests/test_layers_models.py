"""Keras layers models (tensorflowjs_converter --input_format=keras): every converter-made fixture under
tests/fixtures/layers/ against TensorFlow's outputs on GL with every node on GL (strict), and on the
numpy backend as converted (no load-time merging); Keras' parameter counts; the same network as a graph
model running the same GL programs; and the load-time errors."""
from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from gpu_backend import GLBackend
from loader import (LayersModel, ModelFormatError, UnsupportedModelError, UnsupportedOpError, WeightsError,
                    load_graph_model, load_layers_model, load_model)
from test_shared_models import replay_matches_normal_run

LAYERS = Path(__file__).resolve().parent / "fixtures" / "layers"
FIXTURES = sorted(p.name for p in LAYERS.iterdir() if (p / "expected.npz").exists()) if LAYERS.exists() else []
WITH_GRAPH = [n for n in FIXTURES if (LAYERS / n / "graph" / "model.json").exists()]


# outputs where TensorFlow itself is wrong, so its recorded values are no reference (checked instead
# against a numpy definition in test_sparsemax_matches_its_definition)
TF_DEFECTS = {("zoo_activations_k3", "act_sparsemax"):
              "Keras 3.15's sparsemax on TF gives rows that do not sum to 1 (all zeros here)"}


def _data(name: str) -> tuple[dict[str, np.ndarray], list[np.ndarray | None], dict]:
    with np.load(LAYERS / name / "inputs.npz") as z:
        inputs = {k: z[k] for k in z.files}
    with np.load(LAYERS / name / "expected.npz") as z:
        n = len([k for k in z.files if k.startswith("output_")])
        expected: list[np.ndarray | None] = [z[f"output_{i}"] for i in range(n)]
        for (fixture, out_name) in TF_DEFECTS:
            if fixture == name and out_name in z.files:
                expected = [None if e is not None and np.array_equal(e, z[out_name]) else e for e in expected]
    info = json.loads((LAYERS / name / "info.json").read_text())
    return inputs, expected, info


def _check(out: dict[str, np.ndarray], expected: list[np.ndarray], what: str) -> None:
    got = list(out.values())
    assert len(got) == len(expected), f"{what}: {len(got)} outputs, expected {len(expected)}"
    for i, (g, w) in enumerate(zip(got, expected)):
        if w is None:
            continue
        assert g.shape == w.shape, f"{what} output {i}: shape {g.shape} != {w.shape}"
        if w.dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-4, err_msg=f"{what} output {i}")
        else:
            np.testing.assert_array_equal(g, w.astype(g.dtype), err_msg=f"{what} output {i}")


@pytest.mark.parametrize("name", FIXTURES)
def test_layers_model_matches_tensorflow_on_gl(gl, name):
    inputs, expected, info = _data(name)
    model = load_layers_model(LAYERS / name, backend=gl, strict=True)
    try:
        assert isinstance(model, LayersModel)
        _check(model.predict(inputs), expected, name)
        assert model.count_params() == info["count_params"], "Keras' model.count_params()"
        assert f"Total params: {info['count_params']:,}" in model.summary()
        other = {k: (v[::-1] * 0.7 + 0.1).astype(v.dtype).copy() if v.dtype.kind == "f" else v[::-1].copy()
                 for k, v in inputs.items()}
        replay_matches_normal_run(model, other)
    finally:
        model.dispose()


@pytest.mark.parametrize("name", FIXTURES)
def test_layers_model_matches_tensorflow_on_numpy_as_converted(name):
    inputs, expected, _ = _data(name)
    model = load_layers_model(LAYERS / name, backend="numpy", optimize=False)
    _check(model.predict(inputs), expected, name)
    assert not model.merged_nodes


# the graph converter writes recurrent layers as while loops over TensorLists (run by the dynamic
# executor); a layers model unrolls them at the known length: other programs, same outputs
RECURRENT = {"LSTM", "GRU", "SimpleRNN", "RNN", "Bidirectional"}


def _gl_programs(path: Path, loader, inputs) -> tuple[int, dict[str, np.ndarray]]:
    """Programs one model compiles on a backend of its own."""
    b = GLBackend()
    try:
        model = loader(path, backend=b, strict=True)
        out = model.predict(inputs)
        n = b.memory()["program_cache_misses"]
        model.dispose()
        return n, out
    finally:
        b.close()


@pytest.mark.parametrize("name", WITH_GRAPH)
def test_layers_model_and_graph_model_run_the_same_programs(name):
    inputs, expected, info = _data(name)
    n_layers, out_layers = _gl_programs(LAYERS / name, load_layers_model, inputs)
    n_graph, out_graph = _gl_programs(LAYERS / name / "graph", load_graph_model, inputs)
    recurrent = set(info.get("layer_classes", [])) & RECURRENT
    if not recurrent:
        # the lowering fuses at least as much as the converter's graph (it may fuse more: e.g. a Keras 3
        # batch norm exported unfused, or a separable conv's bias)
        assert n_layers <= n_graph + 1, f"layers model compiles {n_layers} programs, graph model {n_graph}"
    for i, want in enumerate(expected):       # the graph model's outputs are keyed otherwise: match by value
        if want is None:
            continue
        assert any(g.shape == want.shape and np.allclose(g, want, rtol=1e-3, atol=1e-4) for g in out_graph.values()), i
    for got, want in zip(out_layers.values(), expected):
        if want is None:
            continue
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)


# -- loading either kind ---------------------------------------------------------------------------
def test_load_model_detects_the_format():
    m = load_model(LAYERS / "core_nested_k3", backend="numpy")
    assert isinstance(m, LayersModel) and [o.key for o in m.outputs] == ["subseq", "shared"]
    g = load_model(LAYERS / "core_nested_k3" / "graph", backend="numpy")
    assert not isinstance(g, LayersModel)
    with pytest.raises(UnsupportedModelError, match="load_graph_model"):
        load_layers_model(LAYERS / "core_nested_k3" / "graph", backend="numpy")
    with pytest.raises(UnsupportedModelError, match="load_layers_model"):
        load_graph_model(LAYERS / "core_nested_k3", backend="numpy")


def test_summary_is_the_layers_table():
    m = load_layers_model(LAYERS / "core_nested_k2", backend="numpy")
    text = m.summary()
    for row in ("c1 (Conv2D)", "(None, 8, 8, 4)", "112", "shared (Dense)", "subseq (Sequential)", "shared[1][0]",
                "Total params: 67,499", "Non-trainable params: 0"):
        assert row in text, row
    assert m.keras_version.startswith("2.")


def test_inputs_by_keras_name_and_wrong_inputs():
    from loader import ModelInputError
    m = load_layers_model(LAYERS / "core_nested_k3", backend="numpy")
    x = np.zeros((1, 8, 8, 3), np.float32)
    assert set(m.predict({"img": x})) == {"subseq", "shared"}
    with pytest.raises(ModelInputError, match="img"):
        m.predict({"image": x})
    with pytest.raises(ModelInputError, match="shape"):
        m.predict({"img": np.zeros((1, 8, 3), np.float32)})


# -- bad models ---------------------------------------------------------------------------------------
def _copy(tmp_path: Path, name: str = "core_nested_k3") -> tuple[Path, dict]:
    dst = tmp_path / name
    shutil.copytree(LAYERS / name, dst, ignore=shutil.ignore_patterns("graph"))
    return dst, json.loads((dst / "model.json").read_text())


def _write(folder: Path, obj: dict) -> Path:
    (folder / "model.json").write_text(json.dumps(obj))
    return folder


def _layers(obj: dict) -> list[dict]:
    return obj["modelTopology"]["model_config"]["config"]["layers"]


def test_unknown_layer_classes_are_all_named(tmp_path):
    folder, obj = _copy(tmp_path)
    _layers(obj)[1]["class_name"] = "MyCustomLayer"
    _layers(obj)[-1]["config"]["layers"][1]["class_name"] = "AnotherCustom"   # inside the nested model
    with pytest.raises(UnsupportedOpError) as err:
        load_layers_model(_write(folder, obj), backend="numpy")
    text = str(err.value)
    assert "MyCustomLayer" in text and "AnotherCustom" in text and "'c1'" in text and "'sd1'" in text


def test_unsupported_config_values_are_all_named(tmp_path):
    folder, obj = _copy(tmp_path)
    by_name = {l["name"]: l for l in _layers(obj)}
    by_name["pre"]["config"]["lora_rank"] = 4
    by_name["c1"]["config"]["activation"] = "not_an_activation"
    with pytest.raises(UnsupportedOpError) as err:
        load_layers_model(_write(folder, obj), backend="numpy")
    assert "'pre'" in str(err.value) and "lora" in str(err.value)
    assert "'c1'" in str(err.value) and "not_an_activation" in str(err.value)


@pytest.mark.parametrize("mutate, pattern", [
    (lambda o: o["modelTopology"].pop("model_config"), "model_config"),
    (lambda o: o["modelTopology"]["model_config"]["config"].__setitem__("layers", 3), r"config\.layers"),
    (lambda o: _layers(o)[1].__setitem__("inbound_nodes", [{"args": [{"class_name": "__keras_tensor__",
                                                                        "config": {"keras_history": ["nope", 0, 0]}}]}]),
     r"layers\[1\]\.inbound_nodes\[0\]\.args\[0\].*'nope'"),
    (lambda o: _layers(o)[1].__setitem__("inbound_nodes", ["bad"]), r"layers\[1\]\.inbound_nodes\[0\]"),
    (lambda o: o["modelTopology"]["model_config"]["config"].__setitem__("output_layers", [["c9", 0, 0]]),
     "output_layers"),
    (lambda o: _layers(o)[0]["config"].pop("batch_shape"), "batch_shape"),
    (lambda o: _layers(o)[2].__setitem__("inbound_nodes", [{"args": [{"class_name": "__keras_tensor__",
                                                                       "config": {"keras_history": ["add", 0, 0]}}]}]),
     "never produced"),
], ids=["no-model-config", "layers-not-list", "missing-layer", "bad-node", "bad-output", "no-input-shape", "cycle"])
def test_malformed_topology_names_the_key_path(tmp_path, mutate, pattern):
    folder, obj = _copy(tmp_path)
    mutate(obj)
    with pytest.raises(ModelFormatError, match=pattern):
        load_layers_model(_write(folder, obj), backend="numpy")


def test_weights_are_checked_by_name_count_and_shape(tmp_path):
    folder, obj = _copy(tmp_path)
    bad = copy.deepcopy(obj)
    bad["weightsManifest"][0]["weights"][0]["name"] = "c1/kernel_renamed"
    with pytest.raises((UnsupportedOpError, WeightsError), match="kernel"):
        load_layers_model(_write(folder, bad), backend="numpy")
    bad = copy.deepcopy(obj)
    w = bad["weightsManifest"][0]["weights"]
    i = next(k for k, s in enumerate(w) if s["name"] == "shared/kernel")
    j = next(k for k, s in enumerate(w) if s["name"] == "shared/bias")
    w[i]["shape"] = [128, 12]      # same byte count, wrong shape
    with pytest.raises((UnsupportedOpError, WeightsError), match="shared"):
        load_layers_model(_write(folder, bad), backend="numpy")


@pytest.mark.parametrize("tag", ["k2", "k3"])
def test_recurrent_layers_over_any_sequence_length(gl, tag):
    """A sequence of unknown length is unrolled at the length each run gives (one lowering per input
    shape, sharing the programs: shapes are uniforms; only the Pack that joins the steps is a program of
    its own per input count)."""
    folder = LAYERS / f"core_dynamic_rnn_{tag}"
    model = load_layers_model(folder, backend=gl, strict=True)
    try:
        assert model.specializes and model.inputs[0].shape == (-1, -1, 4)
        inputs, expected, _ = _data(folder.name)
        _check(model.predict(inputs), expected, "length 5")
        misses = gl.memory()["program_cache_misses"]
        with np.load(folder / "inputs_len7.npz") as z, np.load(folder / "expected_len7.npz") as e:
            _check(model.predict({"seq": z["seq"]}), [e[f"output_{i}"] for i in range(len(e.files))], "length 7")
        assert gl.memory()["program_cache_misses"] <= misses + 1, "a second length compiled new programs"
        assert "per input shape" in model.summary()
    finally:
        model.dispose()


def test_sparsemax_matches_its_definition(gl):
    """Sparsemax (Keras 3's activation) against the definition: project onto the simplex."""
    from loader.layers.activations import sparsemax
    from loader.layers.builder import GraphBuilder
    from loader.layers.ops import Ops
    from loader.model import GraphModel
    from loader.model_json import ModelArtifacts, TensorInfo
    b = GraphBuilder()
    x = b.placeholder("x", (None, 7), "float32")
    y = sparsemax(Ops(b, "sm"), x)
    b.nodes.append({"name": "out", "op": "Identity", "input": [y.ref], "attr": {"T": {"type": "DT_FLOAT"}}})
    art = ModelArtifacts("graph-model", b.topology(), [], [TensorInfo("x", "x:0", "float32", (-1, 7))],
                         [TensorInfo("y", "out:0", "float32", (-1, 7))])
    model = GraphModel(art, b.weights, gl, False, True, {"read": 0.0, "weights": 0.0})
    rng = np.random.default_rng(3)
    v = (rng.standard_normal((5, 7)) * 2).astype(np.float32)
    got = model.predict(v)["out:0"]
    for row, out in zip(v.astype(np.float64), got):
        z = np.sort(row)[::-1]
        k = np.arange(1, 8)
        support = 1 + k * z > np.cumsum(z)
        kk = support.sum()
        tau = (np.cumsum(z)[kk - 1] - 1) / kk
        np.testing.assert_allclose(out, np.maximum(row - tau, 0), rtol=1e-5, atol=1e-6)
        assert abs(out.sum() - 1) < 1e-5
    model.dispose()
