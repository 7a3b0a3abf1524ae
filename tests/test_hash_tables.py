"""Hash tables (loader/tables.py): converter-made models whose tables the modelInitializer fills, checked
against TensorFlow's outputs, and hand-built graphs for the V1/V2 ops, TF's re-initialisation rules and
the errors.  Expected behaviours not taken from a fixture were observed with tf.raw_ops on TF 2.19."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import model_builder as mb
from loader import load_graph_model
from loader.errors import GraphError, ModelLoadError
from loader.executor import NodeError

TABLES = Path(__file__).resolve().parent / "fixtures" / "tables"
FIXTURES = ["vocab", "ids", "v1_vocab"]


def _expected(name: str) -> dict[str, np.ndarray]:
    """TF's outputs by signature key, as this runtime returns them: bytes objects for strings, int32
    for TF's int64 (every value is inside the int32 range)."""
    out = {}
    with np.load(TABLES / name / "expected.npz") as z:
        for k in z.files:
            v = z[k]
            if v.dtype.kind == "S":
                v = np.array([bytes(s) for s in v.reshape(-1)], dtype=object).reshape(v.shape)
            elif v.dtype == np.int64:
                assert np.all(np.abs(v) < 2**31)
                v = v.astype(np.int32)
            out[k] = v
    return out


def _by_key(model, got: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {o.key: got[o.name] for o in model.outputs}


def _check(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert set(got) == set(want)
    for k, w in want.items():
        assert got[k].dtype == w.dtype, (k, got[k].dtype, w.dtype)
        assert got[k].shape == w.shape, k
        assert got[k].tolist() == w.tolist(), k          # exact, strings included


@pytest.mark.parametrize("backend", ["gl", "numpy"])
@pytest.mark.parametrize("name", FIXTURES)
def test_converted_tables_match_tensorflow(name, backend, gl):
    model = load_graph_model(TABLES / name, backend=gl if backend == "gl" else "numpy", strict=True)
    try:
        feeds = json.loads((TABLES / name / "inputs.json").read_text())
        # the table handles are the initializer's business: the caller feeds the data inputs only
        assert [t.name for t in model.inputs] == list(feeds)
        want = _expected(name)
        _check(_by_key(model, model.predict(feeds)), want)
        # again at the same shape, reversed: a recorded GL run must not replay the first run's lookups
        rev = {k: v[::-1] for k, v in feeds.items()}
        got = _by_key(model, model.predict(rev))
        _check(got, {k: (v[::-1] if v.ndim else v) for k, v in want.items()})
        placement = model.placement()
        assert set(placement["LookupTableFindV2"]) == {"host"}             # run by the executor, on the host
        if backend == "gl":
            numeric = {"vocab": "Cast", "ids": "Mul", "v1_vocab": "Cast"}[name]
            assert placement[numeric] == {"gl": 1}, placement
    finally:
        model.dispose()


def test_the_initializer_runs_once_at_load_into_the_models_own_scope():
    a = load_graph_model(TABLES / "vocab", backend="numpy")
    b = load_graph_model(TABLES / "vocab", backend="numpy")
    try:
        (ta,), (tb,) = a.executor.bound.values(), b.executor.bound.values()
        assert ta is not tb and ta.entries == tb.entries     # per model, never module-global
        assert ta.entries[b"f\xc3\xbcnf"] == 9 and ta.key_dtype == "string" and ta.value_dtype == "int32"
        assert a.load_times.init_ms > 0
        assert a.example_inputs(3)["x"].dtype == object      # string inputs get strings (warmup runs them)
        a.warmup()
    finally:
        a.dispose()
        b.dispose()


def test_save_keeps_the_initializer_and_the_resource_ids(tmp_path):
    model = load_graph_model(TABLES / "ids", backend="numpy")
    feeds = json.loads((TABLES / "ids" / "inputs.json").read_text())
    want = model.predict(feeds)
    model.save(tmp_path)
    model.dispose()
    doc = json.loads((tmp_path / "model.json").read_text())
    assert doc["modelInitializer"]["node"]
    ids = {o["resourceId"] for o in doc["initializerSignature"]["outputs"].values()}
    assert len(ids) == 2 and ids == {i["resourceId"] for i in doc["signature"]["inputs"].values() if "resourceId" in i}
    again = load_graph_model(tmp_path, backend="numpy")
    try:
        got = again.predict(feeds)
        assert {k: v.tolist() for k, v in got.items()} == {k: v.tolist() for k, v in want.items()}
    finally:
        again.dispose()


# -- hand-built graphs ----------------------------------------------------------------------------

def _table(name: str, op: str = "HashTableV2", key: str = "DT_STRING", value: str = "DT_INT64",
           shared: str = "") -> dict:
    return {"name": name, "op": op, "attr": {"key_dtype": {"type": key}, "value_dtype": {"type": value},
                                             "shared_name": mb.attr_s(shared), "container": mb.attr_s(""),
                                             "use_node_name_sharing": {"b": True}}}


def _fill(name: str, op: str, inputs: list[str], key: str = "DT_STRING", value: str = "DT_INT64") -> dict:
    return {"name": name, "op": op, "input": inputs, "attr": {"Tin": {"type": key}, "Tout": {"type": value}}}


def _size(name: str, op: str, inputs: list[str]) -> dict:
    return {"name": name, "op": op, "input": inputs}


def _ident(name: str, src: str, dtype: str) -> dict:
    return {"name": name, "op": "Identity", "input": [src], "attr": {"T": {"type": dtype}}}


KEYS = np.array(["a", "b", "fünf"], dtype=object)
VALUES = np.array([5, -7, 11], np.int32)


def _main_graph_model(tmp_path: Path, v1: bool, keys=KEYS, values=VALUES, default=np.array(-1, np.int32),
                      key_type: str = "DT_STRING", value_type: str = "DT_INT64", x_dtype: str = "string",
                      find_tout: str | None = None, init_ops: tuple[str, ...] | None = None,
                      initializer: list[dict] | None = None, with_init: bool = True) -> Path:
    """x -> Find(table, x, default) and Size(table), the table filled in the main graph (the lookups wait
    for it by control edges, as a TF1 graph with control_dependencies orders them) or by `initializer`."""
    suffix = "" if v1 else "V2"
    init_ops = init_ops or (("InitializeTable" if v1 else "LookupTableImportV2"),)
    out_type = {"DT_STRING": "string", "DT_FLOAT": "float32"}.get(value_type, "int32")
    nodes = [_table("table", "HashTable" + suffix, key_type, value_type), mb.placeholder("x", [-1], x_dtype),
             mb.const("keys", {"DT_STRING": "string", "DT_FLOAT": "float32"}.get(key_type, "int32")),
             mb.const("values", out_type), mb.const("default", {"f": "float32", "i": "int32", "O": "string"}[
                 np.asarray(default).dtype.kind])]
    deps = []
    if with_init and initializer is None:
        for i, op in enumerate(init_ops):
            nodes.append(_fill(f"init{i}", op, ["table", "keys", "values"] + [f"^{d}" for d in deps], key_type,
                               value_type))
            deps.append(f"init{i}")
    nodes += [_fill("find", "LookupTableFind" + suffix, ["table", "x", "default"] + [f"^{d}" for d in deps], key_type,
                    find_tout or value_type),
              _size("size", "LookupTableSize" + suffix, ["table"] + [f"^{d}" for d in deps]),
              _ident("Identity", "find", find_tout or value_type), _ident("Identity_1", "size", "DT_INT64")]
    weights = {"keys": keys, "values": values, "default": default}
    sig = mb.signature({"x": ("x:0", [-1], x_dtype)}, {"values": ("Identity:0", [-1], out_type),
                                                         "size": ("Identity_1:0", [], "int32")})
    doc, files = mb.model_json(nodes, weights, sig)
    if initializer is not None:
        doc["modelInitializer"] = {"node": initializer, "versions": {}}
    return mb.write(tmp_path, doc, files).parent


def _run(folder: Path, x, backend="numpy", strict=True):
    model = load_graph_model(folder, backend=backend, strict=strict)
    try:
        out = model.predict({"x": x})
        return out["Identity:0"], out["Identity_1:0"]
    finally:
        model.dispose()


@pytest.mark.parametrize("v1", [True, False], ids=["V1", "V2"])
def test_tables_filled_and_read_in_the_main_graph(tmp_path, v1):
    values, size = _run(_main_graph_model(tmp_path, v1), ["b", "zz", "fünf", "a", ""])
    assert values.dtype == np.int32 and values.tolist() == [-7, -1, 11, 5, -1]
    assert size.dtype == np.int32 and int(size) == 3


def test_int_keys_to_float_values_on_gl(tmp_path, gl):
    folder = _main_graph_model(tmp_path, False, keys=np.array([3, -9, 2**30], np.int32),
                               values=np.array([0.25, -1.5, 7.0], np.float32), default=np.array(np.nan, np.float32),
                               key_type="DT_INT64", value_type="DT_FLOAT", x_dtype="int32")
    values, size = _run(folder, np.array([[2**30, 4], [-9, 3]], np.int32).reshape(-1), backend=gl)
    assert values.dtype == np.float32
    np.testing.assert_array_equal(values, [7.0, np.nan, -1.5, 0.25])
    assert int(size) == 3


def test_string_values_and_a_default_per_key(tmp_path):
    folder = _main_graph_model(tmp_path, False, keys=np.array([1, 2], np.int32),
                               values=np.array(["one", "two"], dtype=object),
                               default=np.array(["d0", "d1", "d2"], dtype=object), key_type="DT_INT64",
                               value_type="DT_STRING", x_dtype="int32")
    values, _ = _run(folder, np.array([2, 5, 1], np.int32))
    assert values.dtype == object and values.tolist() == [b"two", b"d1", b"one"]
    with pytest.raises(NodeError, match=r"default_value must be a scalar or have the keys' shape \[2\], got \[3\]"):
        _run(folder, np.array([2, 5], np.int32))


def test_a_v1_initializer_graph_shares_tables_with_the_main_graph_by_node_name(tmp_path):
    init = [_table("table", "HashTable"), mb.const("k0", "string"), mb.const("v0", "int32"),
            _fill("init", "InitializeTable", ["table", "k0", "v0"])]
    folder = _main_graph_model(tmp_path, True, initializer=init)
    doc = json.loads((folder / "model.json").read_text())
    # the initializer's constants travel in the same weights manifest, as the converter writes them
    specs, data = mb.encode_weights({"keys": KEYS, "values": VALUES, "default": np.array(-1, np.int32),
                                     "k0": np.array(["q", "a"], dtype=object), "v0": np.array([1, 2], np.int32)})
    doc["weightsManifest"][0]["weights"] = specs
    (folder / "model.json").write_text(json.dumps(doc))
    (folder / "group1-shard1of1.bin").write_bytes(data)
    values, size = _run(folder, ["a", "q", "b"])
    assert values.tolist() == [2, 1, -1] and int(size) == 2


def test_tf_reinitialisation_rules(tmp_path):
    # TF 2.19: a table initialised again keeps its first contents when the new data has as many
    # entries (its check compares counts only) and fails when it has not
    folder = _main_graph_model(tmp_path / "same", False, init_ops=("InitializeTableV2", "LookupTableImportV2"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")                  # the same data again: silently fine
        values, size = _run(folder, ["a"])
    assert values.tolist() == [5] and int(size) == 3
    init = [_table("table", "HashTableV2"), mb.const("k0", "string"), mb.const("v0", "int32"),
            _fill("init", "LookupTableImportV2", ["table", "k0", "v0"])]
    same_size = _with_initializer(tmp_path / "same_size", init, np.array(["x", "y", "z"], dtype=object),
                                  np.array([0, 0, 0], np.int32))
    with pytest.warns(RuntimeWarning, match="keeps its first contents"):
        values, size = _run(same_size, ["x", "a"])
    assert values.tolist() == [0, -1] and int(size) == 3                   # the main graph's import was ignored
    other_size = _with_initializer(tmp_path / "other_size", init, np.array(["x"], dtype=object),
                                   np.array([0], np.int32))
    with pytest.raises(NodeError, match=r"already initialized with different data \(1 entries, now given 3\)"):
        _run(other_size, ["x"])


def _with_initializer(folder: Path, init: list[dict], k0: np.ndarray, v0: np.ndarray, **kw) -> Path:
    """The main-graph model, its table also filled first by a modelInitializer from k0 -> v0."""
    _main_graph_model(folder, False, initializer=init, **kw)
    doc = json.loads((folder / "model.json").read_text())
    main_fill = _fill("init0", "LookupTableImportV2", ["table", "keys", "values"])
    doc["modelTopology"]["node"].insert(5, main_fill)
    for n in doc["modelTopology"]["node"]:
        if n["name"] in ("find", "size"):
            n["input"].append("^init0")
    specs, data = mb.encode_weights({"keys": KEYS, "values": VALUES, "default": np.array(-1, np.int32),
                                     "k0": k0, "v0": v0})
    doc["weightsManifest"][0]["weights"] = specs
    (folder / "model.json").write_text(json.dumps(doc))
    (folder / "group1-shard1of1.bin").write_bytes(data)
    return folder


@pytest.mark.parametrize("case, match", [
    ("key_dtype", r"'find' \(LookupTableFindV2\): keys are int32 but table 'table' maps string keys to int32 values"),
    ("default_dtype", r"'find' \(LookupTableFindV2\): default_value are float32 but table 'table' maps string keys"),
    ("tout", r"'find' \(LookupTableFindV2\): the node declares Tout=float32 but table 'table' maps string keys "
             r"to int32"),
    ("length", r"'init0' \(LookupTableImportV2\): keys and values must have the same size \(3 vs 2\)"),
    ("duplicate", r"'init0' \(LookupTableImportV2\): HashTable has different values for the same key: key b'a' has 5"),
    ("vector", r"'init0' \(InitializeTableV2\): Keys must be a vector, but received shape \[1, 3\]"),
    ("uninitialised", r"'find' \(LookupTableFindV2\): table 'table' is not initialized"),
])
def test_errors_name_the_node_and_what_tf_would_refuse(tmp_path, case, match):
    kw: dict = {}
    x: object = ["a"]
    if case == "key_dtype":
        kw, x = {"x_dtype": "int32"}, np.array([1], np.int32)
    elif case == "default_dtype":
        kw = {"default": np.array(-1.0, np.float32)}
    elif case == "tout":
        kw = {"find_tout": "DT_FLOAT"}
    elif case == "length":
        kw = {"values": np.array([1, 2], np.int32)}
    elif case == "duplicate":
        kw = {"keys": np.array(["a", "b", "a"], dtype=object)}
    elif case == "vector":
        kw = {"keys": KEYS.reshape(1, 3), "values": VALUES.reshape(1, 3), "init_ops": ("InitializeTableV2",)}
    elif case == "uninitialised":
        kw = {"with_init": False}
    folder = _main_graph_model(tmp_path, False, **kw)
    if case in LOAD_TIME:
        # the file itself contradicts the node's Tin/Tout: strict refuses it at load; otherwise the table
        # check at run time names the node
        with pytest.raises(GraphError, match=LOAD_TIME[case]):
            _run(folder, x)
        with pytest.warns(RuntimeWarning, match="contradicts itself"), pytest.raises(NodeError, match=match):
            _run(folder, x, strict=False)
        return
    with pytest.raises(NodeError, match=match):
        _run(folder, x)


LOAD_TIME = {
    "key_dtype": r"find \(LookupTableFindV2\): input 1 \(x:0, Placeholder\) is declared int32 but "
                 r"LookupTableFindV2 takes string there",
    "default_dtype": r"find \(LookupTableFindV2\): input 2 \(default:0, Const\) is declared float32 but "
                     r"LookupTableFindV2 takes int32 there",
    "tout": r"find \(LookupTableFindV2\): input 2 \(default:0, Const\) is declared int32 but "
            r"LookupTableFindV2 takes float32 there",
}


def test_a_failed_initialisation_leaves_the_table_uninitialised(tmp_path):
    # as TF: nothing of a rejected import is kept, the table stays empty (size 0) and uninitialised
    folder = _main_graph_model(tmp_path, False, keys=np.array(["a", "a"], dtype=object),
                               values=np.array([1, 2], np.int32))
    model = load_graph_model(folder, backend="numpy")
    try:
        with pytest.raises(NodeError, match="different values for the same key"):
            model.predict({"x": ["a"]})
        (table,) = model.executor.resources.tables.values()
        assert not table.initialized and table.size() == 0
    finally:
        model.dispose()


def test_size_of_an_uninitialised_table_is_zero(tmp_path):
    folder = _main_graph_model(tmp_path, True, with_init=False)
    model = load_graph_model(folder, backend="numpy", strict=True)
    try:
        assert model.execute({"x": ["a"]}, "Identity_1")["Identity_1"].tolist() == 0
        with pytest.raises(NodeError, match="a HashTable is a resource, not a tensor"):
            model.execute({"x": ["a"]}, "table")
    finally:
        model.dispose()


def test_initializer_errors_fail_the_load(tmp_path):
    init = [_table("table", "HashTableV2"), mb.const("k0", "string"), mb.const("v0", "int32"),
            _fill("bad", "InitializeTableV2", ["table", "k0", "v0"])]
    folder = _with_initializer(tmp_path, init, np.array(["x", "y"], dtype=object), np.array([0], np.int32))
    with pytest.raises(NodeError, match=r"model initializer \(modelInitializer\) failed: node 'bad' "
                                        r"\(InitializeTableV2\): keys and values must have the same size \(2 vs 1\)"):
        load_graph_model(folder, backend="numpy")


def test_conflicting_dtypes_for_one_shared_name(tmp_path):
    init = [_table("t_init", "HashTableV2", value="DT_FLOAT", shared="shared")]
    folder = _main_graph_model(tmp_path, False, with_init=False, initializer=init)
    doc = json.loads((folder / "model.json").read_text())
    doc["modelTopology"]["node"][0] = _table("table", "HashTableV2", shared="shared")
    (folder / "model.json").write_text(json.dumps(doc))
    with pytest.raises(NodeError, match=r"'table' \(HashTableV2\): conflicting key/value dtypes string->int32 with "
                                        r"string->float32 for table 'shared'"):
        _run(folder, ["a"])


def test_a_resource_input_nobody_provides_is_refused_at_load(tmp_path):
    doc = json.loads((TABLES / "vocab" / "model.json").read_text())
    del doc["modelInitializer"], doc["initializerSignature"]
    (tmp_path / "model.json").write_text(json.dumps(doc))
    for p in (TABLES / "vocab").glob("*.bin"):
        (tmp_path / p.name).write_bytes(p.read_bytes())
    with pytest.raises(ModelLoadError, match="are resources \\(hash tables, decision forests\\) but model.json has no modelInitializer"):
        load_graph_model(tmp_path, backend="numpy")


def test_tables_in_a_graph_with_control_flow(tmp_path):
    """The dynamic executor (TF1 control flow) runs the table ops and binds resource inputs the same way."""
    doc = json.loads((TABLES / "vocab" / "model.json").read_text())
    nodes = doc["modelTopology"]["node"]
    find = next(n["name"] for n in nodes if n["op"] == "LookupTableFindV2")
    nodes.append({"name": "pred", "op": "Const", "attr": {"dtype": {"type": "DT_BOOL"}, "value": {"tensor": {
        "dtype": "DT_BOOL", "tensorShape": {}, "boolVal": [True]}}}})
    nodes.append({"name": "sw", "op": "Switch", "input": [find, "pred"], "attr": {"T": {"type": "DT_INT64"}}})
    for n in nodes:
        if n["name"] == "Identity":
            n["input"][0] = "sw:1"
    (tmp_path / "model.json").write_text(json.dumps(doc))
    for p in (TABLES / "vocab").glob("*.bin"):
        (tmp_path / p.name).write_bytes(p.read_bytes())
    model = load_graph_model(tmp_path, backend="numpy", strict=True)
    try:
        assert model.dynamic
        feeds = json.loads((TABLES / "vocab" / "inputs.json").read_text())
        _check(_by_key(model, model.predict(feeds)), _expected("vocab"))
    finally:
        model.dispose()
