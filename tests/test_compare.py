"""`gpu-backend compare` / loader.compare: the first node whose error grows is the one reported."""
from __future__ import annotations

import numpy as np
import pytest

from loader import load_graph_model
from loader.cli import example_model_dir, main
from loader.compare import compare, compare_models, first_divergences, format_report
from model_builder import dense_model, write


def test_a_perturbed_weight_is_found_at_its_node_not_downstream(tmp_path, gl):
    rng = np.random.default_rng(3)
    doc, files, weights = dense_model(rng)
    good = write(tmp_path / "good", doc, files)
    bad_weights = dict(weights, w2=weights["w2"] * np.float32(1.001))
    from model_builder import model_json
    doc2, files2 = model_json(doc["modelTopology"]["node"], bad_weights, doc["signature"])
    bad = write(tmp_path / "bad", doc2, files2)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    a = load_graph_model(good, backend=gl, optimize=False)
    b = load_graph_model(bad, backend="numpy", optimize=False)
    try:
        diffs = compare_models(a, b, {"x": x})
    finally:
        a.dispose()
        b.dispose()
    by_name = {d.name: d for d in diffs}
    assert by_name["mm"].rel < 1e-5                        # before the perturbed weight: noise only
    assert by_name["logits"].rel > 1e-4 and by_name["logits"].op == "MatMul"
    first = first_divergences(diffs)
    assert first and first[0].name == "logits"
    assert "logits (MatMul)" in format_report(diffs, first, 1e-5)


def test_gl_agrees_with_the_reference_on_the_example_model():
    diffs, first = compare(str(example_model_dir()))
    assert diffs and not first, format_report(diffs, first, 1e-5)
    assert max(d.rel for d in diffs) < 1e-5


def test_dtype_mismatch_is_reported(tmp_path):
    from loader.compare import _diff
    err, _, why = _diff(np.zeros(3, np.float32), np.zeros(3, np.int32))
    assert err == np.inf and "dtype" in why
    err, _, why = _diff(np.array([np.nan, 1], np.float32), np.array([0, 1], np.float32))
    assert "NaN" in why


def test_cli(capsys):
    assert main(["compare", str(example_model_dir())]) == 0
    out = capsys.readouterr().out
    assert "compared" in out and "no node adds more than float32 noise" in out


def test_compare_against_tensorflow_or_say_how_to_get_it():
    """--tf runs the same graph in TensorFlow; without TensorFlow installed it says what to install."""
    from pathlib import Path

    from loader.compare import compare
    from loader.errors import ModelLoadError
    seg = Path(__file__).resolve().parent / "fixtures" / "seg" / "seg_depthwise_bilinear"
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        with pytest.raises(ModelLoadError, match="pip install 'tensorflow-cpu"):
            compare(seg, backend="numpy", reference="tf")
        return
    diffs, first = compare(seg, backend="numpy", reference="tf")
    assert len(diffs) >= 70 and not first, [d.format() for d in first]      # every node, within float32 noise
