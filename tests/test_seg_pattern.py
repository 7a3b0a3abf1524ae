"""Issue 11's segmentation pattern (depthwise encoder, every ResizeBilinear flavour in the decoder with
skip adds, 1-channel logits in the hundreds, sigmoid at 256x256), converted by the real converter:
both backends within 2e-4 of max|output| of TensorFlow's outputs, and GL adds no node-level drift
over the numpy reference."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from loader import load_graph_model
from loader.compare import compare, format_report

SEG = Path(__file__).resolve().parent / "fixtures" / "seg" / "seg_depthwise_bilinear"


@pytest.fixture(scope="module")
def data():
    with np.load(SEG / "inputs.npz") as z, np.load(SEG / "expected.npz") as e:
        return z["image"], {k: e[k] for k in e.files}


def _by_shape_and_range(out: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The signature names both outputs Identity*; the mask is the one inside [0, 1]."""
    mask = next(v for v in out.values() if v.min() >= 0 and v.max() <= 1)
    logits = next(v for v in out.values() if v is not mask)
    return {"mask": mask, "logits": logits}


@pytest.mark.parametrize("backend", ["numpy", "gl"])
def test_matches_tensorflow_within_its_own_spread(backend, data, gl):
    x, want = data
    model = load_graph_model(SEG, backend=gl if backend == "gl" else "numpy", strict=backend == "gl")
    try:
        got = _by_shape_and_range(model.predict({"image": x}))
    finally:
        model.dispose()
    assert float(np.max(np.abs(want["logits"]))) > 300            # the large-logit head of the pattern
    for name in ("mask", "logits"):
        err = float(np.max(np.abs(got[name].astype(np.float64) - want[name])))
        assert err <= 2e-4 * float(np.max(np.abs(want[name]))), f"{name}: max|diff| {err}"


def test_no_node_drifts_between_gl_and_the_reference(data, gl):
    x, _ = data
    diffs, first = compare(SEG, {"image": x}, backend=gl, tol=1e-5)
    assert len(diffs) > 50
    assert not first, format_report(diffs, first, 1e-5)
