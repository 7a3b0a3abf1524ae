"""Loading graph models: the format, sources, weights, quantization, graph execution and every way a
model or its inputs can be wrong.  Uses models built here (tests/model_builder.py)."""
from __future__ import annotations

import base64
import copy
import http.server
import json
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from gpu_backend import NumpyBackend
from loader import (GraphError, MemorySource, ModelFormatError, ModelInputError, UnsafePathError,
                    UnsupportedModelError, UnsupportedOpError, WeightsError, load_graph_model)
from loader.errors import ModelLoadError
from loader.graph import decode_attr
import model_builder as mb


@pytest.fixture()
def dense(tmp_path):
    rng = np.random.default_rng(0)
    doc, files, weights = mb.dense_model(rng, shard_size=64)      # several shards; weights straddle them
    path = mb.write(tmp_path / "dense", doc, files)
    return path, doc, files, weights


def test_dense_model_matches_reference_on_gl(gl, dense):
    path, _, _, weights = dense
    x = np.random.default_rng(1).standard_normal((4, 5)).astype(np.float32)
    model = load_graph_model(path, backend=gl)
    out = model.predict({"x": x})
    want = mb.dense_reference(x, weights)
    for name in ("Identity:0", "Identity_1:0"):
        np.testing.assert_allclose(out[name], want[name], rtol=1e-4, atol=1e-5)
    # a second batch size, same model: dynamic dims are honoured and no new program compiles
    misses = gl.memory()["program_cache_misses"]
    x2 = np.random.default_rng(2).standard_normal((9, 5)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x2)["Identity:0"], mb.dense_reference(x2, weights)["Identity:0"],
                               rtol=1e-4, atol=1e-5)
    assert gl.memory()["program_cache_misses"] == misses
    model.dispose()


def test_inputs_by_key_tensor_name_node_name_or_single_array(dense):
    path, _, _, weights = dense
    model = load_graph_model(path, backend="numpy")
    x = np.ones((2, 5), np.float32)
    want = mb.dense_reference(x, weights)["Identity:0"]
    for feed in ({"x": x}, {"x:0": x}, x):
        np.testing.assert_allclose(model.predict(feed)["Identity:0"], want, rtol=1e-5)


def test_execute_any_intermediate_tensor(gl, dense):
    path, _, _, weights = dense
    model = load_graph_model(path, backend=gl)
    x = np.random.default_rng(3).standard_normal((3, 5)).astype(np.float32)
    got = model.execute({"x": x}, outputs=["mm", "logits:0", "probs"])
    h = np.maximum(x @ weights["w"] + weights["b"], 0)
    np.testing.assert_allclose(got["mm"], h, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got["logits:0"], h @ weights["w2"], rtol=1e-4, atol=1e-5)
    model.dispose()


def test_intermediates_are_disposed_and_weights_stay_resident(gl, dense):
    path, *_ = dense
    before = gl.memory()["live_tensors"]
    model = load_graph_model(path, backend=gl)
    resident = gl.memory()["live_tensors"] - before
    assert resident == 3                                  # w, b, w2 uploaded once at load
    for _ in range(3):
        model.predict(np.ones((2, 5), np.float32))
        assert gl.memory()["live_tensors"] - before == resident
    model.dispose()
    assert gl.memory()["live_tensors"] == before


@pytest.mark.parametrize("quant,tol", [("uint8", 2e-2), ("uint16", 1e-4), ("float16", 2e-3)])
def test_quantized_weights(gl, tmp_path, quant, tol):
    rng = np.random.default_rng(4)
    doc, files, weights = mb.dense_model(rng, quantize={"w": quant, "w2": quant, "b": quant})
    path = mb.write(tmp_path / quant, doc, files)
    spec = doc["weightsManifest"][0]["weights"][0]["quantization"]
    if quant != "float16":
        q = np.round((weights["w"] - spec["min"]) / spec["scale"])
        dequant = (q * spec["scale"] + spec["min"]).astype(np.float32)
        assert np.abs(dequant - weights["w"]).max() <= spec["scale"] / 2 + 1e-6
    x = rng.standard_normal((2, 5)).astype(np.float32)
    out = load_graph_model(path, backend=gl).predict(x)
    np.testing.assert_allclose(out["Identity_1:0"], mb.dense_reference(x, weights)["Identity_1:0"], rtol=tol, atol=tol * 10)


def test_memory_source_is_a_pluggable_loader():
    rng = np.random.default_rng(5)
    doc, files, weights = mb.dense_model(rng)
    model = load_graph_model(MemorySource(doc, files, "in-memory model"), backend="numpy")
    x = rng.standard_normal((1, 5)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x)["Identity:0"], mb.dense_reference(x, weights)["Identity:0"], rtol=1e-5)


def test_file_url(dense):
    path, *_ = dense
    model = load_graph_model(path.resolve().as_uri(), backend="numpy")
    assert model.predict(np.ones((1, 5), np.float32))["Identity:0"].shape == (1, 3)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def http_root(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_source_resolves_shards_against_the_model_url(http_root):
    root, url = http_root
    rng = np.random.default_rng(6)
    doc, files, weights = mb.dense_model(rng, shard_size=50)
    mb.write(root / "models" / "dense", doc, files)
    model = load_graph_model(f"{url}/models/dense/model.json", backend="numpy")
    x = rng.standard_normal((2, 5)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x)["Identity:0"], mb.dense_reference(x, weights)["Identity:0"], rtol=1e-5)


def test_http_errors_size_cap_and_escapes(http_root):
    root, url = http_root
    rng = np.random.default_rng(7)
    doc, files, _ = mb.dense_model(rng)
    mb.write(root / "m", doc, files)
    with pytest.raises(ModelLoadError, match="HTTP 404"):
        load_graph_model(f"{url}/nothing/model.json", backend="numpy")
    with pytest.raises(ModelLoadError, match="cap"):
        load_graph_model(f"{url}/m/model.json", backend="numpy", max_bytes=100)
    bad = copy.deepcopy(doc)
    bad["weightsManifest"][0]["paths"] = ["../m/group1-shard1of1.bin"]
    mb.write(root / "evil", bad, {})
    with pytest.raises(UnsafePathError, match="leaves the model's folder"):
        load_graph_model(f"{url}/evil/model.json", backend="numpy")
    with pytest.raises(ModelLoadError, match="could not be fetched"):
        load_graph_model("http://127.0.0.1:9/model.json", backend="numpy", timeout_s=2)


# -- malformed models -----------------------------------------------------------------------------
def _write_variant(tmp_path: Path, mutate, files_mutate=None) -> Path:
    rng = np.random.default_rng(8)
    doc, files, _ = mb.dense_model(rng, shard_size=64)
    mutate(doc)
    if files_mutate:
        files = files_mutate(files)
    return mb.write(tmp_path / "variant", doc, files)


def test_truncated_shard(tmp_path):
    path = _write_variant(tmp_path, lambda d: None, lambda f: {**f, "group1-shard2of4.bin": f["group1-shard2of4.bin"][:-7]})
    with pytest.raises(WeightsError, match=r"is short.*missing 7 bytes"):
        load_graph_model(path, backend="numpy")


def test_extra_shard_bytes(tmp_path):
    path = _write_variant(tmp_path, lambda d: None, lambda f: {**f, "group1-shard3of4.bin": f["group1-shard3of4.bin"] + b"xx"})
    with pytest.raises(WeightsError, match=r"too long.*extra 2 bytes"):
        load_graph_model(path, backend="numpy")


def test_missing_shard(tmp_path):
    path = _write_variant(tmp_path, lambda d: None, lambda f: {k: v for k, v in f.items() if "shard2" not in k})
    with pytest.raises(WeightsError, match="group1-shard2of4.bin.*missing"):
        load_graph_model(path, backend="numpy")


@pytest.mark.parametrize("evil", ["../secret.bin", "/etc/passwd", "a/../../x.bin", "sub\\..\\x.bin"])
def test_weight_paths_cannot_escape(tmp_path, evil):
    (tmp_path / "secret.bin").write_bytes(b"\0" * 400)

    def mutate(d):
        d["weightsManifest"][0]["paths"] = [evil]
    path = _write_variant(tmp_path, mutate)
    with pytest.raises(UnsafePathError):
        load_graph_model(path, backend="numpy")


def test_bad_json(tmp_path):
    (tmp_path / "model.json").write_text('{"format": "graph-model", "modelTopology": {')
    with pytest.raises(ModelFormatError, match="not valid JSON.*line 1"):
        load_graph_model(tmp_path / "model.json", backend="numpy")


@pytest.mark.parametrize("mutate,pattern", [
    (lambda d: d.pop("modelTopology"), "missing key 'modelTopology'"),
    (lambda d: d["modelTopology"].pop("node"), "missing key 'modelTopology.node'"),
    (lambda d: d["weightsManifest"][0].pop("paths"), r"missing key 'weightsManifest\[0\].paths'"),
    (lambda d: d["weightsManifest"][0]["weights"][1].pop("shape"), r"weightsManifest\[0\].weights\[1\].shape"),
    (lambda d: d["modelTopology"]["node"][0].update(input="w"), r"node\[0\].input.*list of strings"),
])
def test_missing_or_wrong_keys_are_named(tmp_path, mutate, pattern):
    with pytest.raises(ModelFormatError, match=pattern):
        load_graph_model(_write_variant(tmp_path, mutate), backend="numpy")


def test_unknown_weight_dtype_and_insane_shapes(tmp_path):
    def bad_dtype(d):
        d["weightsManifest"][0]["weights"][0]["dtype"] = "float128"
    with pytest.raises(WeightsError, match="unknown dtype 'float128'"):
        load_graph_model(_write_variant(tmp_path, bad_dtype), backend="numpy")

    def huge(d):
        d["weightsManifest"][0]["weights"][0]["shape"] = [2**20, 2**20]
    with pytest.raises(WeightsError, match="more than"):
        load_graph_model(_write_variant(tmp_path, huge), backend="numpy")

    def negative(d):
        d["weightsManifest"][0]["weights"][0]["shape"] = [-5, 7]
    with pytest.raises(WeightsError, match="shape\\[0\\]"):
        load_graph_model(_write_variant(tmp_path, negative), backend="numpy")


def test_layers_model_and_weights_manifest_are_named(tmp_path):
    (tmp_path / "model.json").write_text(json.dumps({"format": "layers-model", "generatedBy": "keras v2.15",
                                                     "modelTopology": {"class_name": "Sequential"}}))
    with pytest.raises(UnsupportedModelError, match="Keras layers model.*load_layers_model"):
        load_graph_model(tmp_path / "model.json", backend="numpy")
    (tmp_path / "model.json").write_text(json.dumps([{"paths": ["a.bin"], "weights": []}]))
    with pytest.raises(UnsupportedModelError, match="weights manifest only"):
        load_graph_model(tmp_path / "model.json", backend="numpy")


def test_every_unsupported_op_is_listed_with_its_nodes(tmp_path):
    def mutate(d):
        nodes = d["modelTopology"]["node"]
        nodes.append(mb.op("weird1", "FancyOp", ["x"]))
        nodes.append(mb.op("weird2", "FancyOp", ["weird1"]))
        nodes.append(mb.op("odd", "OtherOp", ["weird2"]))
        nodes.append(mb.op("Identity_2", "Identity", ["odd"]))
        d["signature"]["outputs"]["extra"] = {"name": "Identity_2:0", "dtype": "DT_FLOAT"}
    with pytest.raises(UnsupportedOpError) as info:
        load_graph_model(_write_variant(tmp_path, mutate), backend="numpy")
    text = str(info.value)
    assert "FancyOp: weird1, weird2" in text and "OtherOp: odd" in text and "2 op type(s)" in text


def test_nchw_is_refused_at_load_naming_the_node(tmp_path):
    def mutate(d):
        d["modelTopology"]["node"].append(mb.op("pool", "MaxPool", ["x"], data_format=mb.attr_s("NCHW"),
                                                ksize=mb.attr_list_i([1, 1, 2, 2]), strides=mb.attr_list_i([1, 1, 2, 2]),
                                                padding=mb.attr_s("VALID")))
        d["modelTopology"]["node"].append(mb.op("Identity_2", "Identity", ["pool"]))
        d["signature"]["outputs"]["pool"] = {"name": "Identity_2:0", "dtype": "DT_FLOAT"}
    with pytest.raises(UnsupportedOpError, match="pool \\(MaxPool\\): data_format 'NCHW' is not supported"):
        load_graph_model(_write_variant(tmp_path, mutate), backend="numpy")


@pytest.mark.parametrize("op_type, attrs, match", [
    ("Conv3D", {"data_format": "NCDHW"}, r"conv \(Conv3D\): data_format 'NCDHW' is not supported"),
    ("AvgPool3D", {"data_format": "NCDHW"}, r"conv \(AvgPool3D\): data_format 'NCDHW' is not supported"),
    ("MaxPool3D", {"strides": [2, 1, 1, 1, 1]}, r"conv \(MaxPool3D\): strides \[2, 1, 1, 1, 1\] over the batch"),
    ("Conv3D", {"padding": "EXPLICIT"}, r"conv \(Conv3D\): padding 'EXPLICIT' is not SAME or VALID"),
    ("Conv3DBackpropInputV2", {}, r"Conv3DBackpropInputV2: conv"),
])
def test_3d_ops_are_checked_at_load_naming_the_node(tmp_path, op_type, attrs, match):
    def mutate(d):
        a = {"data_format": "NDHWC", "padding": "SAME", "strides": [1, 1, 1, 1, 1]} | attrs
        d["modelTopology"]["node"].append(mb.op("conv", op_type, ["x", "x"] if "Conv" in op_type else ["x"],
                                                data_format=mb.attr_s(a["data_format"]), padding=mb.attr_s(a["padding"]),
                                                strides=mb.attr_list_i(a["strides"]),
                                                ksize=mb.attr_list_i([1, 1, 1, 1, 1])))
        d["modelTopology"]["node"].append(mb.op("Identity_2", "Identity", ["conv"]))
        d["signature"]["outputs"]["conv"] = {"name": "Identity_2:0", "dtype": "DT_FLOAT"}
    with pytest.raises(UnsupportedOpError, match=match):
        load_graph_model(_write_variant(tmp_path, mutate), backend="numpy")


def test_graph_references_a_missing_node(tmp_path):
    def mutate(d):
        d["modelTopology"]["node"][-1]["input"] = ["nowhere"]
    with pytest.raises(GraphError, match="reads 'nowhere'"):
        load_graph_model(_write_variant(tmp_path, mutate), backend="numpy")


def test_wrong_inputs_list_what_the_model_expects(dense):
    path, *_ = dense
    model = load_graph_model(path, backend="numpy")
    with pytest.raises(ModelInputError, match=r"unknown input 'y'.*Expected: x \(x:0, float32, shape \[-1, 5\]\)"):
        model.predict({"y": np.ones((1, 5), np.float32)})
    with pytest.raises(ModelInputError, match=r"must have shape \[-1, 5\].*got \[1, 4\]"):
        model.predict({"x": np.ones((1, 4), np.float32)})
    with pytest.raises(ModelInputError, match=r"must have shape.*got \[5\]"):
        model.predict({"x": np.ones(5, np.float32)})
    with pytest.raises(ModelInputError, match="must be float32, got int32"):
        model.predict({"x": np.ones((1, 5), np.int32)})
    with pytest.raises(ModelInputError, match="missing input"):
        model.predict({})


def test_strict_mode_refuses_numpy_fallback(tmp_path):
    def mutate(d):
        d["modelTopology"]["node"].append(mb.op("u", "Unique", ["x"]))
    path = _write_variant(tmp_path, mutate)
    from gpu_backend import GLBackend
    be = GLBackend()
    try:
        d = json.loads(path.read_text())
        d["modelTopology"]["node"].append(mb.op("Identity_2", "Identity", ["u"]))
        d["signature"]["outputs"]["u"] = {"name": "Identity_2:0", "dtype": "DT_FLOAT"}
        path.write_text(json.dumps(d))
        with pytest.raises(UnsupportedOpError, match=r"strict=True.*Unique \(1 node\)"):
            load_graph_model(path, backend=be, strict=True)
        with pytest.warns(UserWarning, match="Unique has no gl kernel"):
            model = load_graph_model(path, backend=be)
        summary = model.summary()
        assert "numpy fallback" in summary and "Unique" in summary
        model.dispose()
    finally:
        be.close()


def test_attribute_decoding():
    assert decode_attr({"i": "-3"}, "x") == -3
    assert decode_attr({"f": "NaN"}, "x") != decode_attr({"f": "NaN"}, "x")
    assert decode_attr({"s": "U0FNRQ=="}, "x") == "SAME"
    assert decode_attr({"type": "DT_INT64"}, "x") == "int32"
    assert decode_attr({"shape": {"dim": [{"size": "-1"}, {"size": "3"}]}}, "x") == (-1, 3)
    assert decode_attr({"shape": {"unknownRank": True}}, "x") is None
    assert decode_attr({"list": {"i": ["1", "2"]}}, "x") == [1, 2]
    assert decode_attr({"list": {}}, "x") == []
    assert decode_attr({"func": {"name": "body"}}, "x").name == "body"


def test_numpy_backend_model_reports_placement(dense):
    path, *_ = dense
    model = load_graph_model(path, backend=NumpyBackend())
    placement = model.placement()
    assert placement["Softmax"]["numpy"] == 1 and placement["Const"]["graph"] == 3   # the unused const is pruned


def test_zero_pad_folds_into_the_following_valid_convolution(gl, tmp_path):
    rng = np.random.default_rng(9)
    weights = {"paddings": np.array([[0, 0], [1, 2], [2, 1], [0, 0]], np.int32),
               "filter": rng.standard_normal((3, 3, 4, 1)).astype(np.float32)}
    nodes = [mb.const("paddings", "int32"), mb.const("filter"), mb.placeholder("x", [1, 7, 6, 4]),
             mb.op("pad", "Pad", ["x", "paddings"]),
             mb.op("dw", "DepthwiseConv2dNative", ["pad", "filter"], strides=mb.attr_list_i([1, 2, 2, 1]),
                   padding=mb.attr_s("VALID"), data_format=mb.attr_s("NHWC"), dilations=mb.attr_list_i([1, 1, 1, 1])),
             mb.op("Identity", "Identity", ["dw"])]
    doc, files = mb.model_json(nodes, weights, mb.signature({"x": ("x:0", [1, 7, 6, 4], "float32")},
                                                            {"y": ("Identity:0", [1, 4, 4, 4], "float32")}))
    model = load_graph_model(mb.write(tmp_path / "padconv", doc, files), backend=gl)
    assert "Pad" not in model.placement()                          # folded away at load
    x = rng.standard_normal((1, 7, 6, 4)).astype(np.float32)
    from gpu_backend.numpy_backend import run_reference
    (padded,) = run_reference("PadV2", [x], {"paddings": weights["paddings"].tolist()})
    (want,) = run_reference("DepthwiseConv2dNative", [padded, weights["filter"]], {"strides": [2, 2], "pad": "valid"})
    np.testing.assert_allclose(model.predict(x)["Identity:0"], want, rtol=1e-5, atol=1e-6)
    model.dispose()


def _conv_attrs() -> dict:
    return dict(strides=mb.attr_list_i([1, 1, 1, 1]), padding=mb.attr_s("SAME"), data_format=mb.attr_s("NHWC"),
                dilations=mb.attr_list_i([1, 1, 1, 1]))


@pytest.mark.parametrize("producer", ["Conv2D", "DepthwiseConv2dNative", "MatMul"])
def test_per_channel_mul_add_sub_fold_into_the_producer(gl, tmp_path, producer):
    """Batch norm exported as Mul + AddV2 (+ a Sub) after a layer without activation folds into its
    filter and bias at load; the result is unchanged."""
    rng = np.random.default_rng(11)
    if producer == "MatMul":
        xs, ws, cout = (3, 6), (6, 5), 5
    elif producer == "Conv2D":
        xs, ws, cout = (1, 5, 4, 3), (3, 3, 3, 5), 5
    else:
        xs, ws, cout = (1, 5, 4, 3), (3, 3, 3, 2), 6                 # channel multiplier 2
    weights = {"w": rng.standard_normal(ws).astype(np.float32), "s": rng.standard_normal(cout).astype(np.float32),
               "t": rng.standard_normal((1,) * (len(xs) - 1) + (cout,)).astype(np.float32),
               "u": np.array(0.25, np.float32)}
    attrs = {} if producer == "MatMul" else _conv_attrs()
    nodes = [mb.const("w"), mb.const("s"), mb.const("t"), mb.const("u"), mb.placeholder("x", list(xs)),
             mb.op("p", producer, ["x", "w"], **attrs), mb.op("mul", "Mul", ["s", "p"]),
             mb.op("add", "AddV2", ["mul", "t"]), mb.op("sub", "Sub", ["add", "u"]), mb.op("Identity", "Identity", ["sub"])]
    doc, files = mb.model_json(nodes, weights, mb.signature({"x": ("x:0", list(xs), "float32")},
                                                            {"y": ("Identity:0", [-1] * len(xs), "float32")}))
    model = load_graph_model(mb.write(tmp_path / producer, doc, files), backend=gl)
    placement = model.placement()
    assert "Mul" not in placement and "AddV2" not in placement and "Sub" not in placement
    x = rng.standard_normal(xs).astype(np.float32)
    from gpu_backend.numpy_backend import run_reference
    kattrs = {} if producer == "MatMul" else {"strides": [1, 1], "pad": "same"}
    (p,) = run_reference(producer, [x, weights["w"]], kattrs)
    want = p * weights["s"] + weights["t"] - weights["u"]
    np.testing.assert_allclose(model.predict(x)["Identity:0"], want, rtol=1e-4, atol=1e-5)
    model.dispose()


def test_affine_ops_that_must_not_fold_stay(gl, tmp_path):
    """Not folded: a constant that varies over space, a producer with a second consumer, a producer
    with an activation; the results stay right."""
    rng = np.random.default_rng(12)
    weights = {"w": rng.standard_normal((1, 1, 3, 4)).astype(np.float32),
               "b": rng.standard_normal(4).astype(np.float32),
               "sp": rng.standard_normal((1, 5, 4, 4)).astype(np.float32)}
    relu = {"fused_ops": {"list": {"s": [base64.b64encode(b"BiasAdd").decode(), base64.b64encode(b"Relu").decode()]}},
            "num_args": {"i": "1"}}
    nodes = [mb.const("w"), mb.const("b"), mb.const("sp"), mb.placeholder("x", [1, 5, 4, 3]),
             mb.op("c1", "Conv2D", ["x", "w"], **_conv_attrs()), mb.op("m1", "Mul", ["c1", "sp"]),   # spatial constant
             mb.op("c2", "Conv2D", ["x", "w"], **_conv_attrs()), mb.op("m2", "Mul", ["c2", "b"]),
             mb.op("a2", "AddV2", ["c2", "m2"]),                                                     # c2 used twice
             mb.op("c3", "_FusedConv2D", ["x", "w", "b"], **_conv_attrs(), **relu), mb.op("m3", "Mul", ["c3", "b"]),
             mb.op("Identity", "Identity", ["m1"]), mb.op("Identity_1", "Identity", ["a2"]),
             mb.op("Identity_2", "Identity", ["m3"])]
    sig = mb.signature({"x": ("x:0", [1, 5, 4, 3], "float32")},
                       {k: (f"Identity{s}:0", [1, 5, 4, 4], "float32") for k, s in (("y", ""), ("z", "_1"), ("v", "_2"))})
    doc, files = mb.model_json(nodes, weights, sig)
    model = load_graph_model(mb.write(tmp_path / "nofold", doc, files), backend=gl)
    assert model.placement()["Mul"]["gl"] == 3
    x = rng.standard_normal((1, 5, 4, 3)).astype(np.float32)
    from gpu_backend.numpy_backend import run_reference
    (c,) = run_reference("Conv2D", [x, weights["w"]], {"strides": [1, 1], "pad": "same"})
    out = model.predict(x)
    np.testing.assert_allclose(out["Identity:0"], c * weights["sp"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["Identity_1:0"], c + c * weights["b"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["Identity_2:0"], np.maximum(c + weights["b"], 0) * weights["b"], rtol=1e-4, atol=1e-5)
    model.dispose()


def test_residual_block_folds_into_one_convolution(gl, tmp_path):
    """grappler's form of a ResNet block: AddN(conv, skip) -> AddV2(bias, .) -> Relu, and Keras's:
    AddV2(conv + bias, skip) -> Relu; each becomes one convolution with a fused residual add."""
    rng = np.random.default_rng(13)
    weights = {"w": rng.standard_normal((3, 3, 4, 4)).astype(np.float32),
               "w2": rng.standard_normal((1, 1, 4, 4)).astype(np.float32),
               "b": rng.standard_normal(4).astype(np.float32), "b2": rng.standard_normal(4).astype(np.float32)}
    bias_add = {"fused_ops": {"list": {"s": [base64.b64encode(b"BiasAdd").decode()]}}, "num_args": {"i": "1"}}
    nodes = [mb.const("w"), mb.const("w2"), mb.const("b"), mb.const("b2"), mb.placeholder("x", [1, 6, 5, 4]),
             mb.op("c1", "Conv2D", ["x", "w"], **_conv_attrs()),
             mb.op("sum", "AddN", ["c1", "x"], N={"i": "2"}), mb.op("badd", "AddV2", ["b", "sum"]),
             mb.op("r1", "Relu", ["badd"]),
             mb.op("c2", "_FusedConv2D", ["r1", "w2", "b2"], **_conv_attrs(), **bias_add),
             mb.op("add2", "AddV2", ["c2", "r1"]), mb.op("r2", "Relu6", ["add2"]),
             mb.op("Identity", "Identity", ["r2"])]
    doc, files = mb.model_json(nodes, weights, mb.signature({"x": ("x:0", [1, 6, 5, 4], "float32")},
                                                            {"y": ("Identity:0", [1, 6, 5, 4], "float32")}))
    model = load_graph_model(mb.write(tmp_path / "resblock", doc, files), backend=gl)
    placement = model.placement()
    assert set(placement) >= {"_FusedConv2D"} and not {"AddN", "AddV2", "Relu", "Relu6", "Conv2D"} & set(placement)
    x = rng.standard_normal((1, 6, 5, 4)).astype(np.float32)
    from gpu_backend.numpy_backend import run_reference
    (c1,) = run_reference("Conv2D", [x, weights["w"]], {"strides": [1, 1], "pad": "same"})
    r1 = np.maximum(c1 + x + weights["b"], 0)
    (c2,) = run_reference("Conv2D", [r1, weights["w2"]], {"strides": [1, 1], "pad": "same"})
    want = np.clip(c2 + weights["b2"] + r1, 0, 6)
    np.testing.assert_allclose(model.predict(x)["Identity:0"], want, rtol=1e-4, atol=1e-5)
    model.dispose()


def test_zero_pad_and_relu_fold_into_a_pool(gl, tmp_path):
    rng = np.random.default_rng(14)
    weights = {"paddings": np.array([[0, 0], [1, 1], [0, 2], [0, 0]], np.int32)}
    pool_attrs = dict(ksize=mb.attr_list_i([1, 3, 3, 1]), strides=mb.attr_list_i([1, 2, 2, 1]),
                      padding=mb.attr_s("VALID"), data_format=mb.attr_s("NHWC"))
    nodes = [mb.const("paddings", "int32"), mb.placeholder("x", [1, 7, 6, 3]), mb.op("pad", "Pad", ["x", "paddings"]),
             mb.op("pool", "AvgPool", ["pad"], **pool_attrs), mb.op("relu", "Relu", ["pool"]),
             mb.op("Identity", "Identity", ["relu"])]
    doc, files = mb.model_json(nodes, weights, mb.signature({"x": ("x:0", [1, 7, 6, 3], "float32")},
                                                            {"y": ("Identity:0", [1, 4, 3, 3], "float32")}))
    model = load_graph_model(mb.write(tmp_path / "padpool", doc, files), backend=gl)
    assert set(model.placement()) == {"AvgPool", "Placeholder", "Identity"}
    x = rng.standard_normal((1, 7, 6, 3)).astype(np.float32)
    from gpu_backend.numpy_backend import run_reference
    (padded,) = run_reference("PadV2", [x], {"paddings": weights["paddings"].tolist()})
    (pooled,) = run_reference("AvgPool", [padded], {"filter_size": [3, 3], "strides": [2, 2], "pad": "valid"})
    np.testing.assert_allclose(model.predict(x)["Identity:0"], np.maximum(pooled, 0), rtol=1e-5, atol=1e-6)
    model.dispose()


def test_tf_fused_conv_with_add_loads_and_runs(gl, tmp_path):
    """A converter may emit TF's own _FusedConv2D with fused_ops [BiasAdd, Add, Relu] (4 inputs)."""
    rng = np.random.default_rng(15)
    weights = {"w": rng.standard_normal((3, 3, 2, 3)).astype(np.float32), "b": rng.standard_normal(3).astype(np.float32)}
    fused = {"fused_ops": {"list": {"s": [base64.b64encode(o).decode() for o in (b"BiasAdd", b"Add", b"Relu")]}},
             "num_args": {"i": "2"}}
    nodes = [mb.const("w"), mb.const("b"), mb.placeholder("x", [1, 4, 4, 2]), mb.placeholder("s", [1, 4, 4, 3]),
             mb.op("c", "_FusedConv2D", ["x", "w", "b", "s"], **_conv_attrs(), **fused),
             mb.op("Identity", "Identity", ["c"])]
    doc, files = mb.model_json(nodes, weights, mb.signature(
        {"x": ("x:0", [1, 4, 4, 2], "float32"), "s": ("s:0", [1, 4, 4, 3], "float32")},
        {"y": ("Identity:0", [1, 4, 4, 3], "float32")}))
    model = load_graph_model(mb.write(tmp_path / "tffused", doc, files), backend=gl, strict=True)
    x, s = rng.standard_normal((1, 4, 4, 2)).astype(np.float32), rng.standard_normal((1, 4, 4, 3)).astype(np.float32)
    from gpu_backend.numpy_backend import run_reference
    (c,) = run_reference("Conv2D", [x, weights["w"]], {"strides": [1, 1], "pad": "same"})
    np.testing.assert_allclose(model.predict({"x": x, "s": s})["Identity:0"], np.maximum(c + weights["b"] + s, 0),
                               rtol=1e-4, atol=1e-5)
    model.dispose()


def test_merged_nodes_are_named_when_executed_and_kept_without_optimize(gl, tmp_path):
    rng = np.random.default_rng(16)
    weights = {"w": rng.standard_normal((3, 3, 2, 2)).astype(np.float32)}
    nodes = [mb.const("w"), mb.placeholder("x", [1, 4, 4, 2]), mb.op("c", "Conv2D", ["x", "w"], **_conv_attrs()),
             mb.op("r", "Relu", ["c"]), mb.op("Identity", "Identity", ["r"])]
    doc, files = mb.model_json(nodes, weights, mb.signature({"x": ("x:0", [1, 4, 4, 2], "float32")},
                                                            {"y": ("Identity:0", [1, 4, 4, 2], "float32")}))
    path = mb.write(tmp_path / "merged", doc, files)
    x = rng.standard_normal((1, 4, 4, 2)).astype(np.float32)
    model = load_graph_model(path, backend=gl)
    assert "c" in model.merged_nodes
    with pytest.raises(ModelInputError, match="merged into a neighbour.*optimize=False"):
        model.execute(x, ["c"])
    model.dispose()
    plain = load_graph_model(path, backend=gl, optimize=False)
    (c,) = plain.execute(x, ["c"]).values()
    from gpu_backend.numpy_backend import run_reference
    (want,) = run_reference("Conv2D", [x, weights["w"]], {"strides": [1, 1], "pad": "same"})
    np.testing.assert_allclose(c, want, rtol=1e-5, atol=1e-5)
    plain.dispose()


def test_bias_after_a_reshape_of_a_dense_layer_folds_only_when_exact(gl, tmp_path):
    """Keras Dense on 3-D input (MatMul, Reshape, BiasAdd) and EinsumDense (BatchMatMulV2, Reshape to
    heads, Add of a [heads, depth] bias) fold the bias into the product; a bias that varies along a
    dimension the columns do not span (or a reshape that mixes rows into the last axis) stays."""
    rng = np.random.default_rng(17)
    weights = {"w": rng.standard_normal((4, 6)).astype(np.float32), "heads": np.array([2, 3, 2, 3], np.int32),
               "rows": np.array([2, 3, 6], np.int32), "mixed": np.array([3, 12], np.int32),
               "hb": rng.standard_normal((2, 3)).astype(np.float32), "b6": rng.standard_normal(6).astype(np.float32),
               "b12": rng.standard_normal(12).astype(np.float32),
               "bt": rng.standard_normal((3, 1, 1)).astype(np.float32)}
    nodes = [mb.const(k, "int32" if weights[k].dtype == np.int32 else "float32") for k in weights]
    nodes += [mb.placeholder("x", [2, 3, 4]), mb.placeholder("x2", [6, 4]),
              mb.op("q", "BatchMatMulV2", ["x", "w"]), mb.op("qr", "Reshape", ["q", "heads"]),
              mb.op("qa", "AddV2", ["qr", "hb"]),                                       # folds
              mb.op("d", "MatMul", ["x2", "w"]), mb.op("dr", "Reshape", ["d", "rows"]),
              mb.op("da", "BiasAdd", ["dr", "b6"], data_format=mb.attr_s("NHWC")),    # folds
              mb.op("m", "MatMul", ["x2", "w"]), mb.op("mr", "Reshape", ["m", "mixed"]),
              mb.op("ma", "AddV2", ["b12", "mr"]),                                      # rows mixed in: stays
              mb.op("t", "BatchMatMulV2", ["x", "w"]), mb.op("tr", "Reshape", ["t", "heads"]),
              mb.op("ta", "AddV2", ["tr", "bt"]),                                       # varies along T: stays
              mb.op("Identity", "Identity", ["qa"]), mb.op("Identity_1", "Identity", ["da"]),
              mb.op("Identity_2", "Identity", ["ma"]), mb.op("Identity_3", "Identity", ["ta"])]
    sig = mb.signature({"x": ("x:0", [2, 3, 4], "float32"), "x2": ("x2:0", [6, 4], "float32")},
                       {"q": ("Identity:0", [2, 3, 2, 3], "float32"), "d": ("Identity_1:0", [2, 3, 6], "float32"),
                        "m": ("Identity_2:0", [3, 12], "float32"), "t": ("Identity_3:0", [2, 3, 2, 3], "float32")})
    doc, files = mb.model_json(nodes, weights, sig)
    path = mb.write(tmp_path / "reshapebias", doc, files)
    model = load_graph_model(path, backend=gl, strict=True)
    assert {"qr", "dr"} <= model.merged_nodes and not {"mr", "tr", "ma", "ta", "m", "t"} & model.merged_nodes
    placement = model.placement()
    assert placement["_FusedMatMul"]["gl"] == 2 and placement["AddV2"]["gl"] == 2 and "BiasAdd" not in placement
    x, x2 = rng.standard_normal((2, 3, 4)).astype(np.float32), rng.standard_normal((6, 4)).astype(np.float32)
    out = model.predict({"x": x, "x2": x2})
    w = weights["w"]
    np.testing.assert_allclose(out["Identity:0"], (x @ w).reshape(2, 3, 2, 3) + weights["hb"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["Identity_1:0"], (x2 @ w).reshape(2, 3, 6) + weights["b6"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["Identity_2:0"], (x2 @ w).reshape(3, 12) + weights["b12"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["Identity_3:0"], (x @ w).reshape(2, 3, 2, 3) + weights["bt"], rtol=1e-4, atol=1e-5)
    model.dispose()


def test_grappler_fused_hard_swish_runs(gl, tmp_path):
    """grappler's remapper turns conv + bias + x * relu6(x + 3) / 6 into _FusedConv2D with fused_ops
    [BiasAdd, _FusedHardSwish] (Keras MobileNetV3 converts this way; TF.js has no kernel for it)."""
    rng = np.random.default_rng(18)
    weights = {"w": rng.standard_normal((3, 3, 2, 5)).astype(np.float32), "b": rng.standard_normal(5).astype(np.float32)}
    fused = {"fused_ops": {"list": {"s": [base64.b64encode(o).decode() for o in (b"BiasAdd", b"_FusedHardSwish")]}},
             "num_args": {"i": "1"}}
    nodes = [mb.const("w"), mb.const("b"), mb.placeholder("x", [1, 6, 5, 2]),
             mb.op("c", "_FusedConv2D", ["x", "w", "b"], **_conv_attrs(), **fused), mb.op("Identity", "Identity", ["c"])]
    doc, files = mb.model_json(nodes, weights, mb.signature({"x": ("x:0", [1, 6, 5, 2], "float32")},
                                                            {"y": ("Identity:0", [1, 6, 5, 5], "float32")}))
    model = load_graph_model(mb.write(tmp_path / "hardswish", doc, files), backend=gl, strict=True)
    x = (rng.standard_normal((1, 6, 5, 2)) * 3).astype(np.float32)
    from gpu_backend.numpy_backend import run_reference
    (c,) = run_reference("Conv2D", [x, weights["w"]], {"strides": [1, 1], "pad": "same"})
    z = c + weights["b"]
    np.testing.assert_allclose(model.predict(x)["Identity:0"], z * np.clip(z + 3, 0, 6) / 6, rtol=1e-4, atol=1e-5)
    model.dispose()
