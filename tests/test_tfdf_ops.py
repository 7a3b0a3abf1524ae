"""TensorFlow Decision Forests ops (loader/tfdf.py, loader/ydf_model.py): converted-model fixtures
whose YDF models ydf trained and whose expected outputs are ydf's own predictions
(tests/fixtures/make_tfdf_fixture.py; their model.json is hand-written in TF-DF's structure), real
TF-DF models converted by tensorflowjs_converter with TensorFlow's outputs
(tests/fixtures/make_tfdf_converted.py), hand-
encoded models for what the fixtures do not provoke (contains lists, categorical sets, the other node
containers), and the load-time errors."""
from __future__ import annotations

import gzip
import io
import json
import shutil
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from loader import load_graph_model
from loader.errors import ModelLoadError, UnsafePathError
from loader.executor import NodeError
from loader.inspect import inspect_model
from loader.tfdf import AssetsZip, ForestError, infer
from loader.ydf_model import YdfFormatError, YdfUnsupportedError, read_ydf_model

TFDF = Path(__file__).resolve().parent / "fixtures" / "tfdf"
FIXTURES = sorted(p.name for p in TFDF.iterdir() if (p / "model.json").exists())
CLASSES = {"gbt_binary": [b"no", b"yes"], "rf_binary_votes": [b"no", b"yes"], "gbt_binary_na_contains": [b"no", b"yes"],
           "gbt_multiclass": [b"high", b"low", b"mid"], "rf_multiclass_distribution_oblique": [b"high", b"low", b"mid"]}


def _feeds(name: str) -> dict[str, np.ndarray]:
    raw = json.loads((TFDF / name / "inputs.json").read_text())
    out: dict[str, np.ndarray] = {}
    for k, v in raw.items():
        if k in ("num_a", "num_b"):
            out[k] = np.array(v, np.float32)             # NaN: missing
        elif k == "flag":
            out[k] = np.array(v, bool)
        elif k == "code":
            out[k] = np.array(v, np.int32)
        else:
            out[k] = np.array([s.encode() for s in v], object)
    return out


def _expected(name: str) -> np.ndarray:
    with np.load(TFDF / name / "expected.npz") as z:
        return z["Identity:0"]


def test_fixtures_cover_the_model_kinds_and_conditions():
    assert len(FIXTURES) == 8
    seen: dict[str, int] = {}
    for name in FIXTURES:
        meta = json.loads((TFDF / name / "meta.json").read_text())
        path = TFDF / name / "assets.zip"
        zf = AssetsZip(path.read_bytes(), str(path))
        model = zf.load_model(meta["file_prefix"])
        assert len(model.trees) == meta["num_trees"], name
        assert model.feature_names == meta["input_features"], name
        assert model.output_dim() == meta["dense_output_dim"]
        for k, n in model.condition_counts.items():
            seen[k] = seen.get(k, 0) + n
    assert {"higher_condition", "contains_bitmap_condition", "true_value_condition", "na_condition",
            "discretized_higher_condition", "oblique_condition"} <= set(seen)


@pytest.mark.parametrize("backend", ["gl", "numpy"])
@pytest.mark.parametrize("name", FIXTURES)
def test_converted_forests_match_ydf(name, backend, gl):
    model = load_graph_model(TFDF / name, backend=gl if backend == "gl" else "numpy", strict=True)
    try:
        feeds = _feeds(name)
        assert sorted(t.key for t in model.inputs) == sorted(feeds)     # the resource handles are bound, not fed
        want = _expected(name)
        got = model.predict(feeds)["Identity:0"]
        assert got.dtype == np.float32 and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        # the same shapes again, rows reversed: a recorded GL run must not replay the first run's forest
        got = model.predict({k: v[::-1].copy() for k, v in feeds.items()})["Identity:0"]
        np.testing.assert_allclose(got, want[::-1], rtol=1e-5, atol=1e-6)
        reps = model.execute(feeds, "inference_op:1")["inference_op:1"]
        assert reps.tolist() == CLASSES.get(name, [b""])
        placement = model.placement()
        for op in ("SimpleMLInferenceOpWithHandle", "LookupTableFindV2"):
            assert set(placement[op]) == {"host"}, placement
        if backend == "gl":
            assert "gl" in placement["Cast"] and "numpy fallback" not in str(placement)
    finally:
        model.dispose()


CONVERTED = Path(__file__).resolve().parent / "fixtures" / "tfdf_converted"


@pytest.mark.parametrize("backend", ["gl", "numpy"])
@pytest.mark.parametrize("name", ["gbt_binary", "rf_multi", "gbt_regress"])
def test_real_tfdf_conversions_match_tensorflow(name, backend, gl):
    """Keras TF-DF models saved by TF-DF 1.12 and converted by tensorflowjs_converter 4.22 itself
    (tests/fixtures/make_tfdf_converted.py): the graph around the ops is the converter's, the expected
    outputs are TensorFlow's, and the missing value and the out-of-vocabulary string are among the rows."""
    folder = CONVERTED / name
    model = load_graph_model(folder, backend=gl if backend == "gl" else "numpy", strict=True)
    try:
        raw = json.loads((folder / "inputs.json").read_text())
        feeds = {k: (np.array([s.encode() for s in v], object) if isinstance(v[0], str) else
                     np.array(v, np.float32 if isinstance(v[0], float) else np.int32)) for k, v in raw.items()}
        with np.load(folder / "expected.npz") as z:
            want = z["output_1"]
        got = model.predict(feeds)
        (out,) = got.values()
        assert out.dtype == np.float32 and out.shape == want.shape
        np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)
        assert model.shape_report is not None and model.shape_report.shapes["Identity"] == [(None, want.shape[1])]
    finally:
        model.dispose()


def test_inspect_reports_the_forest_ops_on_the_host():
    report = inspect_model(TFDF / "gbt_binary")
    assert report.placement["SimpleMLInferenceOpWithHandle"] == {"host": 1}
    assert not report.unsupported


def _copy(tmp_path: Path, name: str = "gbt_binary") -> Path:
    dst = tmp_path / name
    shutil.copytree(TFDF / name, dst)
    return dst


def _rezip(folder: Path, change) -> None:
    """Rewrite assets.zip with change({name: bytes}) applied."""
    with zipfile.ZipFile(folder / "assets.zip") as z:
        files = {n: z.read(n) for n in z.namelist()}
    files = change(files)
    with zipfile.ZipFile(folder / "assets.zip", "w") as z:
        for n, data in files.items():
            z.writestr(n, data)


def test_a_forest_model_without_assets_zip_fails_at_load(tmp_path):
    folder = _copy(tmp_path)
    (folder / "assets.zip").unlink()
    with pytest.raises(ModelLoadError, match=r"SimpleML.*assets\.zip beside model\.json.*could not be read"):
        load_graph_model(folder, backend="numpy")


def test_zip_members_leaving_the_assets_folder_are_refused(tmp_path):
    for evil in ("../evil.pb", "/etc/evil.pb", "a/../../evil.pb"):
        folder = _copy(tmp_path / evil.replace("/", "_"))
        _rezip(folder, lambda f: {**f, evil: b"x"})
        with pytest.raises(UnsafePathError, match="leaves the assets folder; refused"):
            load_graph_model(folder, backend="numpy")


def test_the_model_is_found_by_its_prefix_anywhere_in_the_zip(tmp_path):
    folder = _copy(tmp_path)
    _rezip(folder, lambda f: {"nested/dir/" + n.removeprefix("./"): d for n, d in f.items()})
    model = load_graph_model(folder, backend="numpy")
    np.testing.assert_allclose(model.predict(_feeds("gbt_binary"))["Identity:0"], _expected("gbt_binary"), rtol=1e-5)
    # another prefix in the graph: the error names the member it looked for
    doc = json.loads((folder / "model.json").read_text())
    load = next(n for n in doc["modelInitializer"]["node"] if n["op"] == "SimpleMLLoadModelFromPathWithHandle")
    load["attr"]["file_prefix"] = {"s": "b3RoZXJf"}              # "other_"
    (folder / "model.json").write_text(json.dumps(doc))
    with pytest.raises(YdfFormatError, match="modelInitializer.*no 'other_header.pb'"):
        load_graph_model(folder, backend="numpy")


def test_an_unsupported_model_type_is_refused_at_load(tmp_path):
    folder = _copy(tmp_path)
    prefix = json.loads((folder / "meta.json").read_text())["file_prefix"]
    # a later occurrence of field 1 (the model name) wins, as in any protobuf parser
    _rezip(folder, lambda f: {n: (d + _field(1, 2, b"ISOLATION_FOREST") if n.endswith(prefix + "header.pb") else d)
                              for n, d in f.items()})
    with pytest.raises(YdfUnsupportedError, match="model type 'ISOLATION_FOREST' is not supported"):
        load_graph_model(folder, backend="numpy")


def test_a_malformed_header_is_refused_at_load(tmp_path):
    folder = _copy(tmp_path)
    prefix = json.loads((folder / "meta.json").read_text())["file_prefix"]
    _rezip(folder, lambda f: {n: (d[:-3] if n.endswith(prefix + "header.pb") else d) for n, d in f.items()})
    with pytest.raises(YdfFormatError, match=f"{prefix}header.pb.*(truncated|claims).*not a valid header.pb"):
        load_graph_model(folder, backend="numpy")


def test_inconsistent_batch_sizes_are_an_error_naming_the_inputs():
    model = load_graph_model(TFDF / "gbt_binary", backend="numpy")
    feeds = _feeds("gbt_binary")
    feeds = {k: (v[:3] if k in ("num_a", "num_b", "flag") else v[:4]) for k, v in feeds.items()}
    with pytest.raises(NodeError, match=r"inference_op.*batch size of the input features are inconsistent: "
                                        r"numerical_features has 3, boolean_features has 3, categorical_int_features has 4"):
        model.predict(feeds)


def test_dense_output_dim_must_match_the_model(tmp_path):
    folder = _copy(tmp_path)
    doc = json.loads((folder / "model.json").read_text())
    op = next(n for n in doc["modelTopology"]["node"] if n["op"] == "SimpleMLInferenceOpWithHandle")
    op["attr"]["dense_output_dim"] = {"i": "3"}
    (folder / "model.json").write_text(json.dumps(doc))
    model = load_graph_model(folder, backend="numpy")
    with pytest.raises(NodeError, match='"dense_output_dim"=3 attribute does not match the model output dimension=2'):
        model.predict(_feeds("gbt_binary"))


# -- hand-encoded models -----------------------------------------------------------------------

def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, wire: int, value: int | float | bytes) -> bytes:
    tag = _varint(number << 3 | wire)
    if wire == 0:
        return tag + _varint(int(value))
    if wire == 5:
        return tag + struct.pack("<f", value)
    return tag + _varint(len(value)) + value  # type: ignore[arg-type]


def _packed(values: list[int]) -> bytes:
    return b"".join(_varint(v) for v in values)


def _leaf(value: float) -> bytes:
    return _field(2, 2, _field(1, 5, value))                           # regressor.top_value


def _cond(attribute: int, na_value: bool, number: int, body: bytes) -> bytes:
    return _field(3, 2, _field(1, 0, na_value) + _field(2, 0, attribute) + _field(3, 2, _field(number, 2, body)))


def _column(ctype: int, name: str, num_unique: int = 0) -> bytes:
    col = _field(1, 0, ctype) + _field(2, 2, name.encode())
    return _field(1, 2, col + (_field(6, 2, _field(2, 0, num_unique)) if num_unique else b""))


def _crafted(node_format: str, root_condition: tuple[int, bytes] | None = None) -> dict[str, bytes]:
    """A one-tree regression forest over columns 0 label, 1 tags (categorical set, 5 items), 2 x
    (numerical), 3 kind (categorical, 4 items):
        tags contains {2, 3} (missing: false)?
          yes: x >= 0.5 (missing: false)? 4 : 3
          no:  kind contains {1} (missing: true)? 2 : 1
    written depth-first, negative child first, in the given node container."""
    number, body = root_condition or (4, _field(1, 2, _packed([2, 3])))
    nodes = [_cond(1, False, number, body), _cond(3, True, 4, _field(1, 2, _packed([1]))), _leaf(1.0), _leaf(2.0),
             _cond(2, False, 2, _field(1, 5, 0.5)), _leaf(3.0), _leaf(4.0)]
    header = (_field(1, 2, b"RANDOM_FOREST") + _field(2, 0, 2) + _field(3, 0, 0)
              + _field(5, 2, _packed([1, 2, 3])))
    spec = _column(1, "label") + _column(5, "tags", 5) + _column(1, "x") + _column(4, "kind", 4)
    rf_header = _field(1, 0, 1) + _field(2, 0, 1) + _field(3, 0, 1)
    if node_format != "TFE_RECORDIO":                                   # the proto2 default
        rf_header += _field(7, 2, node_format.encode())
    if node_format == "TFE_RECORDIO":
        shard = b"".join(struct.pack("<Q", len(n)) + b"\0" * 4 + n + b"\0" * 4 for n in nodes)
    else:
        records = b"".join(struct.pack("<I", len(n)) + n for n in nodes)
        gz = node_format == "BLOB_SEQUENCE_GZIP"
        shard = b"BS" + struct.pack("<HBBH", 1, int(gz), 0, 0) + (gzip.compress(records) if gz else records)
    return {"p_header.pb": header, "p_data_spec.pb": spec, "p_random_forest_header.pb": rf_header,
            "p_nodes-00000-of-00001": shard}


def _zip(files: dict[str, bytes]) -> AssetsZip:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n, d in files.items():
            z.writestr("./" + n, d)
    return AssetsZip(buf.getvalue(), "assets.zip")


SET_INPUTS = [np.array([[0.7], [0.2], [0.0], [0.0], [np.nan], [0.0], [np.nan]], np.float32),   # x
              np.zeros((0, 0), np.float32),
              np.array([[0], [0], [1], [-1], [0], [7], [0]], np.int32),                            # kind
              np.array([2, 1, 3, -1, 4, 9, 3], np.int32),                                          # tags items
              np.array([0, 1, 3, 3, 4, 5, 6, 7], np.int64),       # per example: {2} {1,3} {} missing {4} {9} {3}
              np.arange(8, dtype=np.int64)]
SET_EXPECTED = [4.0, 3.0, 2.0, 2.0, 1.0, 1.0, 3.0]


@pytest.mark.parametrize("node_format", ["BLOB_SEQUENCE", "BLOB_SEQUENCE_GZIP", "TFE_RECORDIO"])
def test_hand_encoded_forest_with_categorical_sets_and_contains_lists(node_format):
    model = _zip(_crafted(node_format)).load_model("p_")
    assert model.feature_columns("categorical_set") == [1] and model.feature_columns("categorical") == [3]
    assert dict(model.condition_counts) == {"contains_condition": 2, "higher_condition": 1}
    pred, reps = infer(model, SET_INPUTS, 1)
    assert pred.tolist() == [[v] for v in SET_EXPECTED] and reps.tolist() == [b""]


def test_categorical_set_splits_are_checked():
    model = _zip(_crafted("BLOB_SEQUENCE")).load_model("p_")
    bad = list(SET_INPUTS)
    bad[5] = np.array([0, 1, 2, 3, 4, 5, 6, 8], np.int64)
    with pytest.raises(ForestError, match="row_splits_dim_2"):
        infer(model, bad, 1)
    bad = list(SET_INPUTS)
    bad[4] = np.array([0, 1, 3, 3, 4, 5, 6], np.int64)
    with pytest.raises(ForestError, match="row_splits_dim_1"):
        infer(model, bad, 1)


def test_an_unsupported_condition_is_refused_at_load():
    files = _crafted("BLOB_SEQUENCE", root_condition=(8, b""))           # numerical_vector_sequence
    with pytest.raises(YdfUnsupportedError, match="tree 0 node 0: condition numerical_vector_sequence is not supported"):
        _zip(files).load_model("p_")


def test_an_unknown_node_container_is_refused_and_a_short_shard_reported():
    files = _crafted("BLOB_SEQUENCE")
    files["p_random_forest_header.pb"] += _field(7, 2, b"CAPNPROTO")
    with pytest.raises(YdfUnsupportedError, match="node container format 'CAPNPROTO'"):
        _zip(files).load_model("p_")
    files = _crafted("BLOB_SEQUENCE")
    files["p_nodes-00000-of-00001"] = files["p_nodes-00000-of-00001"][:-5]
    with pytest.raises(YdfFormatError, match="truncated"):
        _zip(files).load_model("p_")
    files = _crafted("BLOB_SEQUENCE")
    del files["p_data_spec.pb"]
    with pytest.raises(YdfFormatError, match="no member 'p_data_spec.pb'"):
        read_ydf_model(_zip(files).read, "p_")
