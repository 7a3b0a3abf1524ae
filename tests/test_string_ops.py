"""StaticRegexReplace, StringNGrams, StringSplit and StringToHashBucketFast (gpu_backend/reference/strings.py,
gpu_backend/reference/farmhash.py).

Three kinds of evidence: TF's own outputs and refusals (fixtures/string_goldens.npz, written by
fixtures/make_string_goldens.py), random inputs against plain implementations below (written from the
ops' definitions, sharing nothing with the kernels), and a model.json graph run under strict=True on the
GL and numpy backends, which checks the string nodes are placed on the host, that the int64 outputs TF
declares come back as int32 and that a numeric output goes on to a device op.
"""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest

import model_builder as mb
from gpu_backend.errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from gpu_backend.numpy_backend import run_reference
from gpu_backend.reference.farmhash import fingerprint64
from gpu_backend.registry import GL_KERNELS, HOST_KERNELS
from loader import load_graph_model
from loader.errors import ModelLoadError

GOLDENS = Path(__file__).parent / "fixtures" / "string_goldens.npz"
OPS = ("StaticRegexReplace", "StringNGrams", "StringSplit", "StringToHashBucketFast")
with np.load(GOLDENS) as _z:
    CASES = sorted({k.split("/")[0] for k in _z.files})

# case -> (a phrase of TF's refusal, our exception type, a regex our message must match)
_RX = AttributeValueError
ERRORS = {
    "hash_zero_buckets": ("num_buckets:int,min=1", AttributeValueError, r"num_buckets must be >= 1, got 0"),
    "hash_negative_buckets": ("num_buckets:int,min=1", AttributeValueError, r"num_buckets must be >= 1, got -3"),
    "split_matrix_input": ("input must be a vector", ShapeError, r"input must be a vector, got shape \[2, 1\]"),
    "split_vector_delimiter": ("delimiter must be a scalar", ShapeError, r"delimiter must be a scalar"),
    "ng_zero_width": ("ngram_widths must contain positive values", AttributeValueError,
                      r"ngram_widths must contain positive values, got \[2, 0\]"),
    "ng_first_split_not_zero": ("First split value must be 0, got 1", ShapeError, r"first split value must be 0, got 1"),
    "ng_last_split_short": ("Last split value must be data size. Expected 7, got 3", ShapeError,
                            r"last split value must be the data size 7, got 3"),
    "ng_decreasing_splits": ("Invalid split value 2, must be in [4, 7]", ShapeError,
                             r"invalid split value 2, must be in \[4, 7\]"),
    "ng_split_past_data": ("Invalid split value 9, must be in [0, 7]", ShapeError,
                           r"invalid split value 9, must be in \[0, 7\]"),
    "rx_backreference": ("invalid escape sequence: \\1", _RX, r"pattern .*invalid escape sequence \\1 \(RE2 has no backref"),
    "rx_bad_escape": ("invalid escape sequence: \\q", _RX, r"pattern .*invalid escape sequence \\q"),
    "rx_capital_z": ("invalid escape sequence: \\Z", _RX, r"pattern .*invalid escape sequence \\Z"),
    "rx_lookahead": ("invalid perl operator: (?=", _RX, r"pattern .*unsupported Perl syntax '\(\?=' \(RE2 has no lookaround"),
    "rx_lookbehind": ("invalid perl operator: (?<", _RX, r"pattern .*unsupported Perl syntax '\(\?<'"),
    "rx_possessive": ("bad repetition operator: *+", _RX, r"pattern .*bad repetition operator"),
    "rx_repeat_too_big": ("invalid repetition size: {1001}", _RX, r"pattern .*invalid repetition size \{1001\}"),
    "rx_missing_paren": ("missing ): (ab", _RX, r"pattern .*missing \)"),
    "rx_unbalanced_paren": ("unexpected ): ab)", _RX, r"pattern .*unexpected \)"),
    "rx_nothing_to_repeat": ("no argument for repetition operator: *", _RX, r"pattern .*missing argument to repetition"),
    # RE2 refuses the pattern; TF then fails while writing the message that quotes it
    "rx_invalid_utf8_pattern": ("can't decode byte 0xff", _RX, r"pattern b'\\xff' is not valid UTF-8"),
}
# case -> {element: why ours differs} (documented in translate_re2): RE2 scans bytes and finds \B between
# the two bytes of "ü"; this runtime matches characters
KNOWN_DIFFERENCES = {"rx_not_boundary": {3: (b"\xc3.\xbc", b"\xc3\xbc")}}


def _array(z: np.lib.npyio.NpzFile, key: str) -> np.ndarray | None:
    if key + ".str" in z.files:
        spec = json.loads(str(z[key + ".str"]))
        out = np.empty(len(spec["b64"]), object)
        out[:] = [base64.b64decode(v) for v in spec["b64"]]
        return out.reshape(spec["shape"])
    return z[key] if key in z.files else None


def golden(case: str) -> tuple[str, list[np.ndarray], dict, list[np.ndarray] | None, str | None]:
    """(op, inputs, attrs as the loader gives them, TF's outputs or None, TF's error or None)."""
    with np.load(GOLDENS) as z:
        inputs, outs = [], []
        while (a := _array(z, f"{case}/in{len(inputs)}")) is not None:
            inputs.append(a)
        while (a := _array(z, f"{case}/out{len(outs)}")) is not None:
            outs.append(a)
        attrs = {k: base64.b64decode(v["b64"]) if isinstance(v, dict) else v
                 for k, v in json.loads(str(z[f"{case}/attrs"])).items()}
        error = str(z[f"{case}/error"]) if f"{case}/error" in z.files else None
        return str(z[f"{case}/op"]), inputs, attrs, outs or None, error


def test_goldens_cover_each_op_with_results_and_refusals():
    by_op: dict[str, dict[str, int]] = {op: {"ok": 0, "error": 0} for op in OPS}
    for case in CASES:
        op, _, _, _, error = golden(case)
        by_op[op]["error" if error else "ok"] += 1
    assert all(c["ok"] >= 5 and c["error"] >= 2 for c in by_op.values()), by_op
    assert {c for c in CASES if golden(c)[4]} == set(ERRORS)


@pytest.mark.parametrize("case", CASES)
def test_reference_matches_tensorflow(case):
    op, inputs, attrs, want, tf_error = golden(case)
    if tf_error is not None:
        tf_phrase, exc, ours = ERRORS[case]
        assert tf_phrase in tf_error, f"{case}: TF refused for another reason: {tf_error}"
        with pytest.raises(exc, match=re.escape(op) + ": " + ours):
            run_reference(op, inputs, attrs)
        return
    if case == "hash_full_width":
        return                              # bucket ids beyond int32: see the test below
    got = run_reference(op, inputs, attrs)
    assert want is not None and len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape, f"{case} output {k}: shape {g.shape}, TF {w.shape}"
        if w.dtype == object:
            assert g.dtype == object and all(type(v) is bytes for v in g.reshape(-1)), f"{case} output {k}"
            w = w.copy()
            for i, (tf_text, ours) in KNOWN_DIFFERENCES.get(case, {}).items():
                assert tf_text in w.reshape(-1)[i], f"{case}: TF no longer shows the documented difference"
                w.reshape(-1)[i] = w.reshape(-1)[i].replace(tf_text, ours)
            assert g.tolist() == w.tolist(), f"{case} output {k}"
        else:
            assert g.dtype == np.int32, f"{case} output {k}: {g.dtype} (TF {w.dtype} is int32 here)"
            np.testing.assert_array_equal(g, w, err_msg=f"{case} output {k}")


def test_fingerprint64_is_farmhash_bit_for_bit():
    """TF's ids modulo 2**63 - 1 pin nearly all 64 bits, for every length 0..200 and a few longer ones."""
    _, (strings,), attrs, (want,), _ = golden("hash_full_width")
    lengths = {len(s) for s in strings}
    assert set(range(201)) <= lengths and max(lengths) >= 1000
    assert any(0 in s for s in strings) and any(max(s, default=0) >= 0x80 for s in strings)
    got = np.array([fingerprint64(s) % attrs["num_buckets"] for s in strings], np.int64)
    np.testing.assert_array_equal(got, want)
    assert fingerprint64(b"") == 0x9AE16A3B2F90404F
    # with that many buckets the ids leave int32: refused, not wrapped
    with pytest.raises(ShapeError, match="outside the int32 range"):
        run_reference("StringToHashBucketFast", [strings], attrs)


# ----------------------------------------------------------------- plain implementations, from the definitions

def obj(values: list) -> np.ndarray:
    out = np.empty(len(values), object)
    out[:] = [v.encode() if isinstance(v, str) else v for v in values]
    return out


def loop_split(texts: list[bytes], delim: bytes, skip_empty: bool):
    rows = []
    for t in texts:
        tokens, cur = [], b""
        if t:
            for ch in t:
                if not delim or ch in delim:
                    if delim:
                        tokens.append(cur)
                    else:
                        tokens.append(bytes([ch]))
                    cur = b""
                else:
                    cur += bytes([ch])
            if delim:
                tokens.append(cur)
        rows.append([x for x in tokens if x or not skip_empty] if delim else tokens)
    idx = [[r, c] for r, toks in enumerate(rows) for c in range(len(toks))]
    return (np.array(idx, np.int32).reshape(-1, 2), [x for toks in rows for x in toks],
            np.array([len(texts), max((len(t) for t in rows), default=0)], np.int32))


def loop_ngrams(data: list[bytes], splits: list[int], widths: list[int], sep: bytes, lpad: bytes, rpad: bytes,
                pad_width: int, preserve: bool):
    out, out_splits = [], [0]
    for r in range(len(splits) - 1):
        row = data[splits[r]:splits[r + 1]]
        grams = []
        for n in widths:
            p = n - 1 if pad_width < 0 else min(pad_width, n - 1)
            seq = [lpad] * p + row + [rpad] * p
            start = 0
            while start + n <= len(seq):
                grams.append(sep.join(seq[start:start + n]))
                start += 1
        if not grams and preserve and row:
            grams = [sep.join([lpad] * pad_width + row + [rpad] * pad_width)]
        out += grams
        out_splits.append(len(out))
    return out, np.array(out_splits, np.int32)


@pytest.mark.parametrize("seed", range(6))
def test_split_matches_a_loop(seed):
    rng = np.random.default_rng(300 + seed)
    alphabet = [b"a", b"b", b",", b";", b" ", "é".encode(), b"\x00"]
    texts = [b"".join(rng.choice(alphabet, int(rng.integers(0, 12)))) for _ in range(int(rng.integers(0, 8)))]
    delim = [b",", b",;", b"", b" \x00", "é".encode(), b";"][seed]
    for skip in (False, True):
        idx, values, shape = run_reference("StringSplit", [obj(texts), np.array(delim, object)], {"skip_empty": skip})
        w_idx, w_values, w_shape = loop_split(texts, delim, skip)
        assert idx.dtype == np.int32 and shape.dtype == np.int32 and values.dtype == object
        np.testing.assert_array_equal(idx, w_idx)
        assert values.tolist() == w_values
        np.testing.assert_array_equal(shape, w_shape)


@pytest.mark.parametrize("seed", range(8))
def test_ngrams_match_a_loop(seed):
    rng = np.random.default_rng(400 + seed)
    lengths = rng.integers(0, 6, int(rng.integers(1, 6)))
    splits = [0] + np.cumsum(lengths).tolist()
    data = [f"w{i}".encode() for i in range(splits[-1])]
    widths = sorted(set(rng.integers(1, 7, int(rng.integers(1, 4))).tolist()))
    pad_width = int(rng.integers(-1, 4))
    preserve = bool(seed % 2)
    sdt = np.int64 if seed % 3 == 0 else np.int32
    attrs = {"separator": b"+", "ngram_widths": widths, "left_pad": b"<s>", "right_pad": b"</s>",
             "pad_width": pad_width, "preserve_short_sequences": preserve}
    grams, gram_splits = run_reference("StringNGrams", [obj(data), np.array(splits, sdt)], attrs)
    want, want_splits = loop_ngrams(data, splits, widths, b"+", b"<s>", b"</s>", pad_width, preserve)
    assert grams.tolist() == want, (widths, pad_width, preserve)
    assert gram_splits.dtype == np.int32
    np.testing.assert_array_equal(gram_splits, want_splits)


def _random_pattern(rng: np.random.Generator) -> str:
    """A pattern over a, b, c that means the same in RE2 and Python and cannot match the empty string."""
    atoms = ["a", "b", "c", "[ab]", "[^a]", ".", "(a|bc)", "(b+)", "(?:ca)", r"\w", "[[:lower:]]"]
    quants = ["", "", "+", "?", "*", "{1,2}", "+?", "{2}"]
    while True:
        parts = [str(rng.choice(atoms)) + str(rng.choice(quants)) for _ in range(int(rng.integers(1, 4)))]
        pattern = "".join(parts)
        python = pattern.replace("[[:lower:]]", "[a-z]")
        if re.fullmatch(python, "") is None:
            return pattern


@pytest.mark.parametrize("seed", range(10))
def test_regex_replace_matches_python_where_the_semantics_agree(seed):
    """Without empty matches, ASCII text and no \\s, RE2's GlobalReplace is re.sub and Replace is re.sub
    with count=1; the rewrite \\N is \\g<N>."""
    rng = np.random.default_rng(500 + seed)
    texts = ["".join(rng.choice(list("abc "), int(rng.integers(0, 15)))) for _ in range(12)]
    pattern = _random_pattern(rng)
    python = re.compile(pattern.replace("[[:lower:]]", "[a-z]"))
    groups = python.groups
    rewrite = "<" + "".join(f"\\{int(g)}" for g in rng.integers(0, groups + 1, 2)) + "\\\\>"
    py_rewrite = re.sub(r"\\(\d)", r"\\g<\1>", rewrite.replace("\\\\", "\x01")).replace("\x01", "\\\\")
    for replace_global in (True, False):
        (got,) = run_reference("StaticRegexReplace", [obj(texts)],
                               {"pattern": pattern, "rewrite": rewrite, "replace_global": replace_global})
        want = [python.sub(py_rewrite, t, count=0 if replace_global else 1).encode() for t in texts]
        assert got.tolist() == want, (pattern, rewrite, replace_global)


def test_literal_patterns_replace_like_bytes_replace():
    rng = np.random.default_rng(7)
    for _ in range(20):
        texts = [bytes(rng.choice(list(b"xy.*"), int(rng.integers(0, 20)))) for _ in range(5)]
        lit = bytes(rng.choice(list(b"xy.*"), int(rng.integers(1, 3))))
        pattern = "".join("\\" + chr(c) if chr(c) in ".*" else chr(c) for c in lit)
        for replace_global in (True, False):
            (got,) = run_reference("StaticRegexReplace", [obj(texts)],
                                   {"pattern": pattern, "rewrite": b"#", "replace_global": replace_global})
            assert got.tolist() == [t.replace(lit, b"#", -1 if replace_global else 1) for t in texts], pattern


def test_global_replace_skips_an_empty_match_right_after_a_match():
    """RE2's rule, where re.sub differs: 'abxd' with x* -> RE2 '-a-b-d-', Python '-a-b--d-'."""
    (got,) = run_reference("StaticRegexReplace", [obj(["abxd"])], {"pattern": "x*", "rewrite": "-"})
    assert got.tolist() == [b"-a-b-d-"] and re.sub("x*", "-", "abxd") == "-a-b--d-"


# ----------------------------------------------------------------- refusals beyond the goldens

def test_refusals_beyond_the_goldens():
    s = obj(["a"])
    with pytest.raises(UnsupportedDTypeError, match="StringToHashBucketFast: input must be a string tensor, got int32"):
        run_reference("StringToHashBucketFast", [np.array([1], np.int32)], {"num_buckets": 3})
    with pytest.raises(AttributeValueError, match="num_buckets must be an int"):
        run_reference("StringToHashBucketFast", [s], {"num_buckets": 2.5})
    with pytest.raises(UnsupportedDTypeError, match="data_splits must be an integer tensor"):
        run_reference("StringNGrams", [s, np.array([0, 1], np.float32)],
                      {"separator": " ", "ngram_widths": [1], "left_pad": "", "right_pad": "", "pad_width": 0})
    # TF reads past its buffers for empty splits (it returns garbage); a ragged tensor has one split at least
    with pytest.raises(ShapeError, match="data_splits is empty"):
        run_reference("StringNGrams", [s, np.zeros(0, np.int32)],
                      {"separator": " ", "ngram_widths": [1], "left_pad": "", "right_pad": "", "pad_width": 0})
    with pytest.raises(ShapeError, match="StringSplit takes 2 inputs"):
        run_reference("StringSplit", [s], {})
    # RE2 features Python's re cannot express are refused with the reason, not mistranslated
    for pattern, why in ((r"\pL", "Unicode classes are not supported"), (r"\C", "any single byte"),
                         (r"[\D]", "inside a character class"), (r"^*", "repeated assertion"),
                         (r"[[:^alpha:]]", "negated POSIX class")):
        with pytest.raises(AttributeValueError, match=re.escape(why)):
            run_reference("StaticRegexReplace", [s], {"pattern": pattern, "rewrite": "x"})


def test_flags_scopes_and_anchors_translate_as_in_re2():
    """Spot checks of the translator; each expected value is what TF 2.19 returned for it."""
    def rx(pattern: str, text: str, rewrite: str = "_") -> bytes:
        return run_reference("StaticRegexReplace", [obj([text])], {"pattern": pattern, "rewrite": rewrite})[0][0]
    assert rx("$", "ab\n") == b"ab\n_"                     # RE2's $ is the very end, not before a final \n
    assert rx("(?m)$", "ab\ncd\n") == b"ab_\ncd_\n_"
    assert rx(r"\s", "a\vb c") == b"a\vb_c"               # RE2's \s has no \v
    assert rx(r"\12", "a\nb") == b"a_b"                    # octal, not a backreference
    assert rx("a(?i)b|c", "aB C c") == b"_ _ _"            # (?i) lasts to the end of the group, across |
    assert rx("(a(?i)b)c|C", "aBc aBC C") == b"_ aB_ _"    # ... and ends with the group
    assert rx("(?i)a(?-i)b|B", "Ab AB") == b"_ A_"         # (?-i) turns it off again
    assert rx("x(?i:a|b)y", "xAy xBY") == b"_ xBY"
    assert rx("(?U)a+", "aaa") == b"___" and rx("(?U)a+?", "aaa") == b"_"


# ----------------------------------------------------------------- a graph through the loader

def _graph(tmp_path: Path) -> Path:
    """s -> StaticRegexReplace -> StringToHashBucketFast -> Cast -> AddV2 (a device op on GL); s ->
    StringSplit; (words, splits) -> StringNGrams."""
    def t(dtype: str) -> dict:
        return {"type": mb.DT[dtype]}
    nodes = [
        mb.placeholder("s", [-1], "string"), mb.placeholder("words", [-1], "string"),
        mb.placeholder("splits", [-1], "int32"), mb.placeholder("bias", [-1]), mb.const("delim", "string"),
        {"name": "clean", "op": "StaticRegexReplace", "input": ["s"],
         "attr": {"pattern": mb.attr_s(r"[^a-z ]+"), "rewrite": mb.attr_s(""), "replace_global": {"b": True}}},
        {"name": "hash", "op": "StringToHashBucketFast", "input": ["clean"], "attr": {"num_buckets": {"i": "50"}}},
        {"name": "hash_f", "op": "Cast", "input": ["hash"], "attr": {"SrcT": t("int32"), "DstT": t("float32")}},
        mb.op("shifted", "AddV2", ["hash_f", "bias"]),
        {"name": "split", "op": "StringSplit", "input": ["clean", "delim"], "attr": {"skip_empty": {"b": True}}},
        {"name": "grams", "op": "StringNGrams", "input": ["words", "splits"],
         "attr": {"separator": mb.attr_s("_"), "ngram_widths": mb.attr_list_i([1, 2]), "left_pad": mb.attr_s("^"),
                  "right_pad": mb.attr_s("$"), "pad_width": {"i": "-1"},
                  "preserve_short_sequences": {"b": False}, "Tsplits": t("int32")}},
    ]
    outs = {"clean": ("clean", "string"), "hash": ("hash", "int32"), "shifted": ("shifted", "float32"),
            "split_idx": ("split:0", "int32"), "split_val": ("split:1", "string"),
            "split_shape": ("split:2", "int32"), "grams": ("grams:0", "string"), "gram_splits": ("grams:1", "int32")}
    for k, (ref, dtype) in outs.items():
        nodes.append({"name": f"out_{k}", "op": "Identity", "input": [ref], "attr": {"T": t(dtype)}})
    sig = mb.signature({"s": ("s:0", [-1], "string"), "words": ("words:0", [-1], "string"),
                        "splits": ("splits:0", [-1], "int32"), "bias": ("bias:0", [-1], "float32")},
                       {k: (f"out_{k}:0", [-1], d) for k, (_, d) in outs.items()})
    doc, files = mb.model_json(nodes, {"delim": np.array(" ", object)}, sig)
    return mb.write(tmp_path / "strings", doc, files)


@pytest.mark.parametrize("backend", ["gl", "numpy"])
def test_graph_runs_the_string_ops_on_the_host(tmp_path, request, backend):
    assert set(OPS) <= set(HOST_KERNELS.names()) and not set(OPS) & set(GL_KERNELS.names())
    b = request.getfixturevalue("gl") if backend == "gl" else request.getfixturevalue("ref")
    model = load_graph_model(_graph(tmp_path), backend=b, strict=True)
    try:
        for name in ("clean", "hash", "split", "grams"):
            assert model.executor.plans[name].kind == "host", (name, model.executor.plans[name].kind)
        assert model.executor.plans["shifted"].kind == "device"
        texts = ["Hello, World!", "", "a  b  c", "ünïcode text 42"]
        words, splits = ["x", "y", "z", "w"], np.array([0, 3, 3, 4], np.int32)
        bias = np.arange(4, dtype=np.float32) * 0.5
        got = model.predict({"s": texts, "words": words, "splits": splits, "bias": bias})
        clean = [re.sub(r"[^a-z ]+", "", t).encode() for t in texts]
        ids = np.array([fingerprint64(c) % 50 for c in clean], np.int32)
        s_idx, s_val, s_shape = loop_split(clean, b" ", True)
        grams, gram_splits = loop_ngrams([w.encode() for w in words], splits.tolist(), [1, 2], b"_", b"^", b"$", -1, False)
        assert got["out_clean:0"].tolist() == clean
        assert got["out_hash:0"].dtype == np.int32
        np.testing.assert_array_equal(got["out_hash:0"], ids)
        np.testing.assert_allclose(got["out_shifted:0"], ids.astype(np.float32) + bias)
        np.testing.assert_array_equal(got["out_split_idx:0"], s_idx)
        assert got["out_split_val:0"].tolist() == s_val
        np.testing.assert_array_equal(got["out_split_shape:0"], s_shape)
        assert got["out_grams:0"].tolist() == grams
        np.testing.assert_array_equal(got["out_gram_splits:0"], gram_splits)
        for k in ("split_idx", "split_shape", "gram_splits"):
            assert got[f"out_{k}:0"].dtype == np.int32, k
        assert model.executor.last_stats.fallback_kernels == 0
    finally:
        model.dispose()


def test_an_unsupported_pattern_is_refused_at_load_naming_the_node(tmp_path):
    nodes = [mb.placeholder("s", [-1], "string"),
             {"name": "rx", "op": "StaticRegexReplace", "input": ["s"],
              "attr": {"pattern": mb.attr_s(r"a(?=b)"), "rewrite": mb.attr_s(""), "replace_global": {"b": True}}},
             {"name": "Identity", "op": "Identity", "input": ["rx"], "attr": {"T": {"type": "DT_STRING"}}}]
    doc, files = mb.model_json(nodes, {}, mb.signature({"s": ("s:0", [-1], "string")},
                                                      {"y": ("Identity:0", [-1], "string")}))
    with pytest.raises(ModelLoadError, match=r"rx.*RE2 has no lookaround"):
        load_graph_model(mb.write(tmp_path / "bad", doc, files), backend="numpy", strict=True)


# ----------------------------------------------------------------- a model made by tensorflowjs_converter

CONVERTED = Path(__file__).parent / "fixtures" / "strings" / "regex_hash_embedding"


@pytest.mark.parametrize("backend", ["gl", "numpy"])
def test_converted_text_model_matches_tensorflow(request, backend):
    """fixtures/make_string_fixture.py: regex_replace -> to_hash_bucket_fast -> an embedding GatherV2 ->
    Mean, Mul, AddV2, and a v1 string_split, as the real converter wrote them.  Every numeric node here
    descends from host values only (the hash ids and constants), so the executor's rule for host-computed
    values keeps them on the host as well; the hand-off to a device op is the graph test's above."""
    b = request.getfixturevalue("gl") if backend == "gl" else request.getfixturevalue("ref")
    model = load_graph_model(CONVERTED, backend=b, strict=True)
    try:
        for op in ("StaticRegexReplace", "StringToHashBucketFast", "StringSplit"):
            assert model.placement()[op] == {"host": 1}, model.placement()
        with np.load(CONVERTED / "inputs.npz") as z:
            feeds = {k: z[k] for k in z.files}
        with np.load(CONVERTED / "expected.npz") as z:
            want = {k: z[k] for k in z.files}
        got = model.predict(feeds)
        assert set(got) == set(want)
        for name, w in want.items():
            g = got[name]
            assert g.shape == w.shape, name
            if w.dtype.kind == "S":
                assert g.dtype == object and g.tolist() == w.tolist(), name
            elif w.dtype.kind == "f":
                np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, err_msg=name)
            else:
                assert g.dtype == np.int32, (name, g.dtype)        # TF's int64 ids, indices and shape
                np.testing.assert_array_equal(g, w, err_msg=name)
        assert model.executor.last_stats.fallback_kernels == 0
    finally:
        model.dispose()
