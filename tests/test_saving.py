"""model.save(): folder / file:// / http(s) multipart POST / custom targets, sharding, re-quantization
(byte-identical to tensorflowjs_converter's), and bit-identical round trips, for graph and layers models."""
from __future__ import annotations

import email.parser
import email.policy
import http.server
import json
import math
import threading
from pathlib import Path

import numpy as np
import pytest

from gpu_backend.errors import GPUBackendError
from loader import MemorySource, load_model
from loader.errors import SaveError
from loader.model_json import parse_any_model_json
from loader.saving import (FolderTarget, HttpTarget, MemoryTarget, ModelArtifactsToSave, SaveResult,
                           build_artifacts, resolve_target)

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"
SAVING = FIX / "saving"
TINY = SAVING / "tiny_layers"
GRAPH_MODELS = [FIX / "static" / "mixed_layers", FIX / "static" / "resnet_unfused", FIX / "static" / "attention_block",
                ROOT / "loader" / "examples" / "digits_cnn"]
LAYERS_DIR = FIX / "layers"
LAYERS_MODELS = sorted(p for p in LAYERS_DIR.glob("*") if (p / "expected.npz").is_file()) if LAYERS_DIR.is_dir() else []


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def _load(path: Path | str, backend: object = "numpy"):
    return load_model(path, backend=backend)


def _feeds(model):
    return model.example_inputs(batch=2, seed=3)


def assert_same_model(a, b) -> None:
    """Same manifest (names, shapes, dtypes, quantization), identical weights, identical outputs."""
    assert [(w.name, w.shape, w.dtype, w.quantization) for w in a.source_artifacts.weight_specs()] == \
           [(w.name, w.shape, w.dtype, w.quantization) for w in b.source_artifacts.weight_specs()]
    assert a.source_weights.keys() == b.source_weights.keys()
    for k, va in a.source_weights.items():
        vb = b.source_weights[k]
        assert va.dtype == vb.dtype and va.shape == vb.shape, k
        assert np.array_equal(va, vb), k
    feeds = _feeds(a)
    oa, ob = a.predict(feeds), b.predict(feeds)
    assert oa.keys() == ob.keys()
    for k in oa:
        assert oa[k].dtype == ob[k].dtype
        np.testing.assert_array_equal(oa[k], ob[k], err_msg=k)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _json_without_manifest(path: Path) -> dict:
    d = json.loads(path.read_text())
    d.pop("weightsManifest", None)
    return d


# -- folder / file:// ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("src", GRAPH_MODELS + [TINY], ids=_ids(GRAPH_MODELS + [TINY]))
def test_folder_round_trip(src: Path, tmp_path: Path) -> None:
    model = _load(src)
    result = model.save(tmp_path / "out")
    assert isinstance(result, SaveResult)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["group1-shard1of1.bin", "model.json"]
    # converter-made sources (one group, one shard): the shard is the same file, model.json the same document
    assert (tmp_path / "out" / "group1-shard1of1.bin").read_bytes() == (src / "group1-shard1of1.bin").read_bytes()
    assert json.loads((tmp_path / "out" / "model.json").read_text()) == json.loads((src / "model.json").read_text())
    assert result.weight_data_bytes == (src / "group1-shard1of1.bin").stat().st_size
    back = _load(tmp_path / "out")
    assert type(back) is type(model)
    assert_same_model(model, back)
    # saving what was loaded back gives the same bytes
    back.save(tmp_path / "again")
    assert _files(tmp_path / "again") == _files(tmp_path / "out")


@pytest.mark.parametrize("src", LAYERS_MODELS, ids=_ids(LAYERS_MODELS))
def test_layers_fixtures_round_trip(src: Path, tmp_path: Path) -> None:
    model = _load(src)
    assert model.source_artifacts.format == "layers-model"
    model.save(tmp_path)
    assert _json_without_manifest(tmp_path / "model.json") == _json_without_manifest(src / "model.json")
    assert_same_model(model, _load(tmp_path))


def test_layers_fixture_folder_present() -> None:
    if not LAYERS_MODELS:
        pytest.skip("tests/fixtures/layers/ has no models yet (tiny_layers covers layers models meanwhile)")


def test_file_url_and_json_path(tmp_path: Path) -> None:
    model = _load(TINY)
    url = (tmp_path / "via url").as_uri()          # a space: percent-encoded in the URL
    assert url.startswith("file://") and "%20" in url
    model.save(url)
    assert (tmp_path / "via url" / "model.json").is_file()
    assert_same_model(model, _load(url))
    # a path ending in .json names the model.json file
    model.save(tmp_path / "named" / "tiny.json")
    assert sorted(p.name for p in (tmp_path / "named").iterdir()) == ["group1-shard1of1.bin", "tiny.json"]
    assert_same_model(model, _load(tmp_path / "named" / "tiny.json"))


def test_gl_backend_round_trip(gl, tmp_path: Path) -> None:
    src = ROOT / "loader" / "examples" / "digits_cnn"
    model = load_model(src, backend=gl)
    try:
        model.save(tmp_path)
        back = load_model(tmp_path, backend=gl)
        try:
            assert_same_model(model, back)
        finally:
            back.dispose()
    finally:
        model.dispose()


# -- sharding ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shard", [1000, 4096, 7])
def test_sharding(shard: int, tmp_path: Path) -> None:
    src = FIX / "static" / "mixed_layers"
    model = _load(src)
    total = (src / "group1-shard1of1.bin").stat().st_size
    model.save(tmp_path, weight_shard_size_bytes=shard)
    n = math.ceil(total / shard)
    doc = json.loads((tmp_path / "model.json").read_text())
    names = [f"group1-shard{i}of{n}.bin" for i in range(1, n + 1)]
    assert len(doc["weightsManifest"]) == 1 and doc["weightsManifest"][0]["paths"] == names
    sizes = [(tmp_path / name).stat().st_size for name in names]
    assert sizes[:-1] == [shard] * (n - 1) and 0 < sizes[-1] <= shard and sum(sizes) == total
    assert b"".join((tmp_path / name).read_bytes() for name in names) == (src / "group1-shard1of1.bin").read_bytes()
    assert_same_model(model, _load(tmp_path))


def test_single_weights_bin(tmp_path: Path) -> None:
    model = _load(TINY)
    model.save(tmp_path, weight_shard_size_bytes=None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "weights.bin"]
    assert json.loads((tmp_path / "model.json").read_text())["weightsManifest"][0]["paths"] == ["weights.bin"]
    assert_same_model(model, _load(tmp_path))


# -- custom targets --------------------------------------------------------------------------------------------
class DictTarget:
    """A user's target: keeps the files in a dict, as a key-value store would."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.calls = 0

    def save(self, artifacts: ModelArtifactsToSave) -> None:
        self.calls += 1
        shards = artifacts.shards(600)
        paths = [f"w{i}.bin" for i in range(len(shards))]
        self.files = dict(zip(paths, shards))
        self.files["model.json"] = artifacts.model_json_bytes(paths)
        self.artifacts = artifacts


def test_custom_target(tmp_path: Path) -> None:
    model = _load(FIX / "static" / "resnet_unfused")
    target = DictTarget()
    result = model.save(target)
    assert target.calls == 1 and isinstance(result, SaveResult)
    a = target.artifacts
    assert a.format == "graph-model" and a.model_topology == model.source_artifacts.raw["modelTopology"]
    assert a.converted_by == model.source_artifacts.converted_by
    assert a.generated_by == model.source_artifacts.generated_by
    assert a.signature == model.source_artifacts.raw.get("signature")
    assert [w["name"] for w in a.weight_specs] == [w.name for w in model.source_artifacts.weight_specs()]
    assert result.weight_data_bytes == len(a.weight_data)
    files = {k: v for k, v in target.files.items() if k != "model.json"}
    back = _load(MemorySource(target.files["model.json"], files, "dict target"))
    assert_same_model(model, back)
    assert len(files) > 1


def test_memory_target_and_resolve() -> None:
    model = _load(TINY)
    mem = MemoryTarget()
    model.save(mem)
    assert_same_model(model, _load(mem.source()))
    assert resolve_target(mem) is mem
    assert isinstance(resolve_target("some/folder"), FolderTarget)
    assert isinstance(resolve_target("https://example.invalid/upload", headers={"X": "1"}), HttpTarget)


# -- http ------------------------------------------------------------------------------------------------------
class _Upload(http.server.BaseHTTPRequestHandler):
    """Parses the multipart body with the stdlib email parser and writes the parts to server.out."""

    def log_message(self, *args: object) -> None:
        pass

    def _handle(self) -> None:
        srv = self.server
        body = self.rfile.read(int(self.headers["Content-Length"]))
        srv.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers.items())})
        if self.path.startswith("/fail"):
            self.send_response(500, "Internal Server Error")
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"boom")
            return
        head = f"Content-Type: {self.headers['Content-Type']}\r\nMIME-Version: 1.0\r\n\r\n".encode()
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        assert msg.is_multipart()
        parts = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            parts[name] = {"filename": part.get_filename(), "type": part.get_content_type(), "data": payload}
            if part.get_filename():
                (srv.out / part.get_filename()).write_bytes(payload)
        srv.requests[-1]["parts"] = parts
        reply = b'{"ok": true}'
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_POST = _handle
    do_PUT = _handle


@pytest.fixture
def upload_server(tmp_path: Path):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upload)
    srv.out = tmp_path / "received"
    srv.out.mkdir()
    srv.requests = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


@pytest.mark.parametrize("src", [TINY, FIX / "static" / "attention_block"], ids=["tiny_layers", "attention_block"])
def test_http_post_multipart(src: Path, upload_server) -> None:
    model = _load(src)
    url = f"http://127.0.0.1:{upload_server.server_address[1]}/upload/model"
    result = model.save(url, headers={"Authorization": "Bearer t0ken"}, fields={"note": "hello"},
                        weight_shard_size_bytes=100)   # ignored over http: one weights part, as TF.js
    (req,) = upload_server.requests
    assert req["method"] == "POST" and req["path"] == "/upload/model"
    assert req["headers"]["Authorization"] == "Bearer t0ken"
    assert req["headers"]["Content-Type"].startswith("multipart/form-data; boundary=")
    parts = req["parts"]
    assert list(parts) == ["model.json", "model.weights.bin", "note"]
    assert parts["model.json"]["filename"] == "model.json" and parts["model.json"]["type"] == "application/json"
    assert parts["model.weights.bin"]["filename"] == "model.weights.bin"
    assert parts["model.weights.bin"]["type"] == "application/octet-stream"
    assert parts["note"]["data"] == b"hello" and parts["note"]["filename"] is None
    doc = json.loads(parts["model.json"]["data"])
    assert doc["weightsManifest"][0]["paths"] == ["./model.weights.bin"]
    assert parts["model.weights.bin"]["data"] == (src / "group1-shard1of1.bin").read_bytes()
    assert result.responses[0].status == 201 and json.loads(result.responses[0].body) == {"ok": True}
    assert result.files == ["model.json", "model.weights.bin"]
    assert_same_model(model, _load(upload_server.out / "model.json"))


def test_http_method_put(upload_server) -> None:
    model = _load(TINY)
    model.save(f"http://127.0.0.1:{upload_server.server_address[1]}/m", method="PUT", timeout_s=10)
    assert upload_server.requests[0]["method"] == "PUT"
    assert_same_model(model, _load(upload_server.out / "model.json"))


def test_http_500_is_a_save_error(upload_server) -> None:
    model = _load(TINY)
    url = f"http://127.0.0.1:{upload_server.server_address[1]}/fail"
    with pytest.raises(SaveError, match=r"HTTP 500.*boom") as info:
        model.save(url)
    assert url in str(info.value) and isinstance(info.value, GPUBackendError)


def test_http_unreachable_is_a_save_error(upload_server) -> None:
    port = upload_server.server_address[1]
    upload_server.shutdown()
    upload_server.server_close()
    with pytest.raises(SaveError, match="failed"):
        _load(TINY).save(f"http://127.0.0.1:{port}/gone", timeout_s=5)


# -- quantization ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["uint8", "uint16", "float16"])
def test_quantize_matches_the_converter(mode: str, tmp_path: Path) -> None:
    """tiny_layers_<mode>/ is tensorflowjs_converter --quantize_<mode>='*' of the same Keras model."""
    _load(TINY).save(tmp_path, quantize=mode)
    assert _files(tmp_path) == _files(SAVING / f"tiny_layers_{mode}")


@pytest.mark.parametrize("mode", ["uint8", "uint16", "float16"])
@pytest.mark.parametrize("src", [GRAPH_MODELS[0], GRAPH_MODELS[3], TINY], ids=["mixed_layers", "digits_cnn", "tiny"])
def test_quantize_round_trip(src: Path, mode: str, tmp_path: Path) -> None:
    model = _load(src)
    model.save(tmp_path / "q", quantize=mode)
    q = _load(tmp_path / "q")
    step = {"uint8": 255, "uint16": 65535}
    for spec in q.source_artifacts.weight_specs():
        orig = model.source_weights[spec.name]
        got = q.source_weights[spec.name]
        assert got.dtype == orig.dtype and got.shape == orig.shape
        if orig.dtype != np.float32:
            assert spec.quantization is None and np.array_equal(got, orig), spec.name   # int / bool untouched
            continue
        assert spec.quantization is not None and spec.quantization.dtype == mode
        if mode == "float16":
            np.testing.assert_array_equal(got, orig.astype(np.float16).astype(np.float32))
        else:
            scale = spec.quantization.scale
            assert scale == pytest.approx(max(float(orig.max() - orig.min()), 0) / step[mode]) or orig.min() == orig.max()
            assert np.max(np.abs(got - orig)) <= scale / 2 * 1.001 + 1e-7, spec.name
            if orig.min() <= 0 <= orig.max():
                zero = -spec.quantization.min / scale      # 0 is exactly representable
                assert abs(zero - round(zero)) < 1e-6
    feeds = _feeds(model)
    ref, out = model.predict(feeds), q.predict(feeds)
    tol = {"uint8": 0.05, "uint16": 5e-4, "float16": 5e-3}[mode]
    for k in ref:
        span = float(np.max(np.abs(ref[k]))) or 1.0
        np.testing.assert_allclose(out[k], ref[k], atol=tol * span, rtol=0, err_msg=k)
    # re-saving the quantized model: unchanged bytes, with or without the same quantize
    q.save(tmp_path / "again")
    q.save(tmp_path / "again_q", quantize=mode)
    assert _files(tmp_path / "again") == _files(tmp_path / "q") == _files(tmp_path / "again_q")
    assert_same_model(q, _load(tmp_path / "again"))


@pytest.mark.parametrize("mode", ["uint8", "uint16", "float16"])
def test_quantized_source_keeps_its_encoding(mode: str, tmp_path: Path) -> None:
    src = SAVING / f"tiny_layers_{mode}"
    model = _load(src)
    model.save(tmp_path / "plain", weight_shard_size_bytes=64)
    parts = sorted((tmp_path / "plain").glob("group1-shard*.bin"), key=lambda p: int(p.name[12:].split("of")[0]))
    assert b"".join(p.read_bytes() for p in parts) == (src / "group1-shard1of1.bin").read_bytes()
    assert json.loads((tmp_path / "plain" / "model.json").read_text())["weightsManifest"][0]["weights"] == \
        json.loads((src / "model.json").read_text())["weightsManifest"][0]["weights"]
    assert_same_model(model, _load(tmp_path / "plain"))
    # the encoding is recoverable from the decoded values alone too (a model whose raw bytes were not kept)
    fresh = parse_any_model_json((src / "model.json").read_bytes())
    rebuilt = build_artifacts(fresh, model.source_weights)
    assert rebuilt.weight_data == (src / "group1-shard1of1.bin").read_bytes()


def test_requantize_to_another_dtype(tmp_path: Path) -> None:
    model = _load(SAVING / "tiny_layers_uint8")
    model.save(tmp_path, quantize="float16")
    back = _load(tmp_path)
    for spec in back.source_artifacts.weight_specs():
        assert spec.quantization.dtype == "float16"
        np.testing.assert_array_equal(back.source_weights[spec.name],
                                      model.source_weights[spec.name].astype(np.float16).astype(np.float32))


def test_quantize_selected_weights(tmp_path: Path) -> None:
    model = _load(TINY)
    model.save(tmp_path, quantize="uint8", quantize_weights=["conv/*", "dense/kernel"])
    specs = {w.name: w for w in _load(tmp_path).source_artifacts.weight_specs()}
    quantized = sorted(n for n, w in specs.items() if w.quantization is not None)
    assert quantized == ["conv/bias", "conv/kernel", "dense/kernel"]
    model.save(tmp_path / "one", quantize="uint16", quantize_weights="bn/beta")
    specs = {w.name: w for w in _load(tmp_path / "one").source_artifacts.weight_specs()}
    assert [n for n, w in specs.items() if w.quantization is not None] == ["bn/beta"]
    # a constant tensor: zeros with scale 1 and min the value, as the converter
    assert specs["bn/beta"].quantization.scale == 1.0 and specs["bn/beta"].quantization.min == 0.25


# -- errors ----------------------------------------------------------------------------------------------------
def test_unwritable_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(SaveError, match="cannot save the model to") as info:
        _load(TINY).save(blocker / "model")
    assert str(blocker) in str(info.value) and isinstance(info.value, GPUBackendError)
    assert not (tmp_path / "model.json").exists()


@pytest.mark.parametrize("kwargs, match", [
    ({"quantize": "int4"}, "quantize must be None or one of uint8, uint16, float16"),
    ({"quantize": "UINT8"}, "quantize must be"),
    ({"quantize_weights": ["*"]}, "needs quantize"),
    ({"weight_shard_size_bytes": 0}, "weight_shard_size_bytes must be a positive integer"),
    ({"weight_shard_size_bytes": 1.5}, "weight_shard_size_bytes"),
    ({"headers": {"X": "1"}}, "only apply to http"),
])
def test_bad_options(kwargs: dict, match: str, tmp_path: Path) -> None:
    with pytest.raises(SaveError, match=match):
        _load(TINY).save(tmp_path / "x", **kwargs)
    assert not (tmp_path / "x").exists()


def test_bad_targets(tmp_path: Path) -> None:
    model = _load(TINY)
    with pytest.raises(SaveError, match="unsupported URL scheme 'ftp'"):
        model.save("ftp://host/model")
    with pytest.raises(SaveError, match="save\\(artifacts\\)"):
        model.save(42)
    with pytest.raises(SaveError, match="unknown http save option"):
        model.save("http://127.0.0.1:1/x", bogus=1)
    with pytest.raises(SaveError, match="Content-Type"):
        model.save("http://127.0.0.1:1/x", headers={"content-type": "text/plain"})
