"""The project's own converter-made static models (tests/fixtures/make_static_fixtures.py): Keras layer
patterns through the real tensorflowjs_converter, against TensorFlow's outputs, with and without the
load-time rewrites, replayed, and at a second batch size."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from loader import load_graph_model
from test_shared_models import check_outputs, replay_matches_normal_run

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "static"
STATIC = ["resnet_unfused", "unet_small", "mixed_layers", "attention_block", "volumetric"]
# the load-time rewrites (loader/folding.py) know no 3-D op, and the BiasAdd / Relu after each Conv3D
# have nothing 2-D to fold into: these models run as converted
NOTHING_TO_MERGE = {"volumetric"}


def _data(name: str) -> tuple[dict, dict]:
    with np.load(FIXTURES / name / "inputs.npz") as z:
        inputs = {k: z[k] for k in z.files}
    with np.load(FIXTURES / name / "expected.npz") as z:
        expected = {k: z[k] for k in z.files}
    return inputs, expected


@pytest.mark.parametrize("optimize", [True, False], ids=["optimized", "as-converted"])
@pytest.mark.parametrize("name", STATIC)
def test_fixture_matches_tensorflow_on_gl(gl, name, optimize):
    inputs, expected = _data(name)
    model = load_graph_model(FIXTURES / name / "model.json", backend=gl, strict=True, optimize=optimize)
    try:
        check_outputs(model.predict(inputs), expected)
        if optimize and name not in NOTHING_TO_MERGE:
            assert model.merged_nodes, "the rewrites should find something to merge in these models"
        # a second run replays the first; other values give what a normal run gives
        other = {k: (v[::-1] * 0.7 + 0.1).astype(v.dtype).copy() for k, v in inputs.items()}
        assert replay_matches_normal_run(model, other)
    finally:
        model.dispose()


def test_second_batch_size_compiles_nothing(gl):
    inputs, expected = _data("unet_small")
    model = load_graph_model(FIXTURES / "unet_small" / "model.json", backend=gl)
    try:
        model.predict(inputs)
        misses = gl.memory()["program_cache_misses"]
        one = {k: v[:1] for k, v in inputs.items()}
        out = model.predict(one)
        assert gl.memory()["program_cache_misses"] == misses
        np.testing.assert_allclose(out["Identity:0"], expected["Identity:0"][:1], rtol=1e-3, atol=1e-4)
    finally:
        model.dispose()
