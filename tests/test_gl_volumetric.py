"""Conv3D / MaxPool3D / AvgPool3D on GL against the numpy reference, in both layouts: odd volumes,
input and output channels that do not fill whole texels, batch 2, strides larger than the window,
dilations, SAME and VALID, NaN / Inf in max pooling, int32 beyond float32's exact 2^24, and the
errors both backends raise for calls they refuse."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import assert_matches, random_floats, random_ints, run_gl, run_ref
from gpu_backend import GLBackend
from gpu_backend.errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from gpu_backend.layout import plan_layout

CASES = [  # input [N, D, H, W, Cin], filter [kd, kh, kw, Cin, Cout], attributes
    ((1, 5, 7, 6, 3), (3, 3, 3, 3, 5), {"strides": 1, "pad": "same"}),
    ((2, 5, 7, 6, 5), (2, 3, 2, 5, 6), {"strides": [2, 1, 2], "pad": "valid"}),
    ((2, 6, 5, 7, 4), (3, 2, 2, 4, 3), {"strides": [1, 1, 1], "pad": "same", "dilations": [2, 1, 3]}),
    ((1, 9, 8, 7, 5), (2, 2, 1, 5, 3), {"strides": 3, "pad": "same"}),                         # stride > kernel
    ((2, 8, 9, 7, 2), (1, 2, 2, 2, 7), {"strides": [1, 4, 3, 3, 1], "pad": "valid"}),           # TF's 5-list
    ((1, 9, 7, 8, 8), (3, 2, 2, 8, 4), {"strides": [1, 2, 2], "pad": "valid", "dilations": 2}),
    ((1, 4, 5, 3, 9), (1, 1, 1, 9, 1), {"strides": 1, "pad": "valid"}),                         # 1x1x1, cout 1
]
POOLS = [  # input, window, strides, pad
    ((2, 5, 7, 6, 3), 2, 2, "same"),
    ((1, 7, 9, 8, 5), 3, [2, 2, 2], "valid"),
    ((1, 4, 6, 7, 6), [3, 3, 3], 1, "same"),
    ((2, 8, 10, 9, 2), [2, 1, 2], 3, "same"),                      # stride > window
    ((1, 9, 11, 10, 4), [1, 2, 3], [3, 4, 3], "valid"),
    ((2, 3, 5, 6, 7), [3, 5, 6], 1, "valid"),                      # global
    ((1, 6, 9, 6, 1), [1, 3, 1, 2, 1], [1, 2, 1, 2, 1], "same"),   # TF's 5-lists
]


def misses(b) -> int:
    return b.memory()["program_cache_misses"]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_conv3d(any_gl, case):
    xs, ws, attrs = CASES[case]
    rng = np.random.default_rng(300 + case)
    x, w = random_floats(rng, xs), random_floats(rng, ws)
    got = run_gl(any_gl, "Conv3D", [x, w], attrs)[0]
    (want,) = run_ref("Conv3D", [x, w], attrs)
    assert_matches(got, want, rtol=1e-4, atol=1e-5, what=f"Conv3D {xs} {ws} {attrs}")


def test_conv3d_constant_filter(gl):
    """As the loader runs it: the filter uploaded once as a model constant."""
    rng = np.random.default_rng(310)
    x, w = random_floats(rng, (2, 5, 7, 6, 3)), random_floats(rng, (3, 3, 3, 3, 5))
    attrs = {"strides": [1, 2, 1], "pad": "same"}
    hx, hw = gl.upload(x), gl.upload(w, constant=True)
    outs = [gl.run("Conv3D", [hx, hw], attrs)[0] for _ in range(2)]
    (want,) = run_ref("Conv3D", [x, w], attrs)
    for o in outs:
        assert_matches(gl.read(o), want, rtol=1e-4, atol=1e-5)
    for h in [hx, hw] + outs:
        gl.dispose(h)


def test_conv3d_nan_and_inf_stay_in_their_windows(any_gl):
    """A NaN input reaches exactly the outputs whose window holds it, and the filter rows of the next
    tap are never read with the zero lanes past Cin: an inf there would turn every output's +-inf
    into NaN (0 * inf)."""
    rng = np.random.default_rng(311)
    x, w = random_floats(rng, (2, 5, 6, 7, 5)), random_floats(rng, (2, 2, 3, 5, 6))
    x[x == 0] = 0.5
    x[0, 1, 2, 3, 4] = np.nan
    w[0, 0, 1, 0, :] = np.inf          # row 0 of the tap after (0, 0, 0), whose last texel holds 1 channel
    attrs = {"strides": 1, "pad": "valid"}
    got = run_gl(any_gl, "Conv3D", [x, w], attrs)[0]
    want = run_ref("Conv3D", [x, w], attrs)[0]
    assert_matches(got, want, rtol=1e-4, atol=1e-5)
    nan = np.zeros(got.shape, bool)
    nan[0, 0:2, 1:3, 1:4] = True
    np.testing.assert_array_equal(np.isnan(got), nan)
    assert np.isinf(got[~nan]).all()


@pytest.mark.parametrize("op", ["MaxPool3D", "AvgPool3D"])
@pytest.mark.parametrize("case", range(len(POOLS)))
def test_pool3d(any_gl, op, case):
    xs, k, s, pad = POOLS[case]
    rng = np.random.default_rng(400 + case)
    x = random_floats(rng, xs)
    attrs = {"filter_size": k, "strides": s, "pad": pad}
    assert_matches(run_gl(any_gl, op, [x], attrs)[0], run_ref(op, [x], attrs)[0], what=f"{op} {xs} {attrs}")


def test_max_pool3d_nan_and_inf(any_gl):
    """NaN never wins; a window of only -inf gives -inf, one that also touches SAME padding the lowest
    float (TF's MaxPool3D); +inf wins."""
    x = random_floats(np.random.default_rng(5), (2, 4, 6, 6, 5))
    x[0, 0, 0, 0, 0] = np.nan
    x[0, 2:4, 4:6, 4:6, 2] = np.nan                # all NaN
    x[1, 0:2, 0:2, 0:2, 0] = -np.inf              # all -inf
    x[1, 2:4, 0:2, 2:4, 3] = -np.inf
    x[1, 2, 0, 2, 3] = np.nan                      # -inf and NaN only
    x[:, 3, 5, 5, 4] = -np.inf                     # the far corner: -inf and padding
    x[1, 3, 3, 3, 1] = np.inf
    for k, s, pad in ((2, 2, "valid"), (3, 1, "same"), (2, 2, "same"), ([1, 2, 2], [1, 2, 2], "same")):
        attrs = {"filter_size": k, "strides": s, "pad": pad}
        for op in ("MaxPool3D", "AvgPool3D"):
            got = run_gl(any_gl, op, [x], attrs)[0]
            want = run_ref(op, [x], attrs)[0]
            assert_matches(got, want, what=f"{op} {attrs}")
            np.testing.assert_array_equal(got[np.isinf(want)], want[np.isinf(want)])
    (got,) = run_gl(any_gl, "MaxPool3D", [x], {"filter_size": 2, "strides": 2, "pad": "valid"})
    assert got[1, 0, 0, 0, 0] == -np.inf and got[0, 1, 2, 2, 2] == -np.inf and got[1, 1, 1, 1, 1] == np.inf
    assert not np.isnan(got).any()
    (got,) = run_gl(any_gl, "MaxPool3D", [x], {"filter_size": 2, "strides": 2, "pad": "same"})
    assert got[0, 1, 2, 2, 2] == -np.inf                        # no padding in that window
    x2 = np.full((1, 1, 1, 3, 2), -np.inf, np.float32)
    (got,) = run_gl(any_gl, "MaxPool3D", [x2], {"filter_size": [1, 1, 3], "strides": 1, "pad": "same"})
    lowest = np.finfo(np.float32).min
    np.testing.assert_array_equal(got[0, 0, 0, :, 0], [lowest, -np.inf, lowest])


def test_max_pool3d_int32_is_exact(any_gl):
    rng = np.random.default_rng(6)
    x = random_ints(rng, (2, 5, 7, 6, 5))
    x[0, :2, :2, :2, 0] = -2**31
    x[1, 1, 1, 1, 1] = 2**24 + 1                  # differs from its neighbours only beyond float32
    x[1, 1, 1, 2, 1] = 2**24
    x[1, 1, 2, 1, 1] = 2**31 - 1
    for k, s, pad in ((2, 2, "valid"), (3, [1, 2, 1], "same"), ([1, 1, 2], 1, "valid")):
        attrs = {"filter_size": k, "strides": s, "pad": pad}
        got = run_gl(any_gl, "MaxPool3D", [x], attrs)[0]
        assert got.dtype == np.int32
        assert_matches(got, run_ref("MaxPool3D", [x], attrs)[0], what=str(attrs))
    small = np.full((1, 1, 2, 2, 1), 2**24 + 1, np.int32)
    small[0, 0, 1, 1, 0] = 2**24 + 3
    np.testing.assert_array_equal(run_gl(any_gl, "MaxPool3D", [small], {"filter_size": 2, "strides": 1,
                                                                         "pad": "same"})[0].ravel(),
                                  [2**24 + 3] * 4)


def test_avg_pool3d_same_edges_count_real_taps(any_gl):
    """At SAME edges the average is over the real taps only: a constant input stays constant."""
    x = np.full((1, 5, 7, 6, 3), 2.5, np.float32)
    x[..., 1] = -1.0
    for k, s in ((3, 1), (4, 3), ([2, 5, 4], [2, 1, 3])):
        attrs = {"filter_size": k, "strides": s, "pad": "same"}
        got = run_gl(any_gl, "AvgPool3D", [x], attrs)[0]
        np.testing.assert_allclose(got[..., 0], 2.5, rtol=1e-6)
        np.testing.assert_allclose(got[..., 1], -1.0, rtol=1e-6)
    # a corner of a 3x3x3 SAME window sees 2x2x2 real taps: their mean
    rng = np.random.default_rng(7)
    y = random_floats(rng, (1, 4, 4, 4, 2))
    (got,) = run_gl(any_gl, "AvgPool3D", [y], {"filter_size": 3, "strides": 1, "pad": "same"})
    np.testing.assert_allclose(got[0, 0, 0, 0], y[0, :2, :2, :2].mean((0, 1, 2)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[0, 3, 3, 3], y[0, 2:, 2:, 2:].mean((0, 1, 2)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[0, 1, 2, 0], y[0, 0:3, 1:4, :2].mean((0, 1, 2)), rtol=1e-5, atol=1e-6)


def test_valid_window_larger_than_input_gives_an_empty_output(gl):
    x = random_floats(np.random.default_rng(8), (1, 3, 5, 4, 2))
    w = random_floats(np.random.default_rng(9), (4, 2, 2, 2, 3))
    assert run_gl(gl, "Conv3D", [x, w], {"strides": [2, 1, 1], "pad": "valid"})[0].shape == (1, 0, 4, 3, 3)
    assert run_gl(gl, "MaxPool3D", [x], {"filter_size": [4, 1, 1], "strides": 2, "pad": "valid"})[0].shape \
        == (1, 0, 3, 2, 2)


def test_one_program_serves_every_shape(gl):
    """Shapes, strides, dilations and padding are uniforms: new geometry compiles nothing."""
    rng = np.random.default_rng(10)
    run_gl(gl, "Conv3D", [random_floats(rng, (1, 3, 3, 3, 4)), random_floats(rng, (1, 1, 1, 4, 4))],
           {"strides": 1, "pad": "valid"})
    for op in ("MaxPool3D", "AvgPool3D"):
        run_gl(gl, op, [random_floats(rng, (1, 3, 3, 3, 4))], {"filter_size": 1, "strides": 1, "pad": "valid"})
    before = misses(gl)
    for xs, ws, attrs in CASES:
        x, w = random_floats(rng, xs), random_floats(rng, ws)
        run_gl(gl, "Conv3D", [x, w], attrs)
        for op in ("MaxPool3D", "AvgPool3D"):
            run_gl(gl, op, [x], {"filter_size": ws[:3], "strides": attrs["strides"], "pad": attrs["pad"]})
    assert misses(gl) == before
    assert not any(k.split(" ")[0].endswith("3D") for k in gl.memory()["fallbacks"])


def test_flat_layout_inputs():
    """Textures too narrow for a 2-D split use the flat layout; reading along W and Cin wraps rows."""
    b = GLBackend(max_texture_size=32)
    try:
        rng = np.random.default_rng(11)
        x, w = random_floats(rng, (2, 5, 7, 6, 5)), random_floats(rng, (2, 3, 2, 5, 6))
        attrs = {"strides": [1, 2, 1], "pad": "same", "dilations": [2, 1, 1]}
        assert plan_layout(x.shape, True, 32).mode == "F"
        assert_matches(run_gl(b, "Conv3D", [x, w], attrs)[0], run_ref("Conv3D", [x, w], attrs)[0],
                       rtol=1e-4, atol=1e-5)
        for op in ("MaxPool3D", "AvgPool3D"):
            attrs = {"filter_size": [2, 3, 3], "strides": [1, 2, 1], "pad": "same"}
            assert_matches(run_gl(b, op, [x], attrs)[0], run_ref(op, [x], attrs)[0], what=op)
    finally:
        b.close()


X = random_floats(np.random.default_rng(12), (1, 4, 5, 6, 3))
F = random_floats(np.random.default_rng(13), (2, 2, 2, 3, 4))
SAME = {"strides": 1, "pad": "same"}


@pytest.mark.parametrize("kind, match, op, inputs, attrs", [
    (AttributeValueError, r"Conv3D: data_format NCDHW is not supported; only NDHWC", "Conv3D", [X, F],
     SAME | {"data_format": "NCDHW"}),
    (AttributeValueError, r"MaxPool3D: data_format NHWC is not supported", "MaxPool3D", [X],
     SAME | {"filter_size": 2, "data_format": "NHWC"}),
    (AttributeValueError, r"AvgPool3D: data_format NCDHW", "AvgPool3D", [X],
     SAME | {"filter_size": 2, "data_format": "NCDHW"}),
    (ShapeError, r"Conv3D: input must have rank 5", "Conv3D", [X[0], F], SAME),
    (ShapeError, r"Conv3D: filter must have rank 5", "Conv3D", [X, F[0]], SAME),
    (ShapeError, r"MaxPool3D: input must have rank 5", "MaxPool3D", [X[0]], SAME | {"filter_size": 2}),
    (ShapeError, r"AvgPool3D: input must have rank 5", "AvgPool3D", [X[..., 0]], SAME | {"filter_size": 2}),
    (ShapeError, r"input has 3 channels but the filter expects 2", "Conv3D", [X, F[:, :, :, :2]], SAME),
    (UnsupportedDTypeError, r"Conv3D", "Conv3D", [X.astype(np.int32), F.astype(np.int32)], SAME),
    (UnsupportedDTypeError, r"AvgPool3D", "AvgPool3D", [X.astype(np.int32)], SAME | {"filter_size": 2}),
    (UnsupportedDTypeError, r"MaxPool3D", "MaxPool3D", [X > 0], SAME | {"filter_size": 2}),
    (AttributeValueError, r"strides \[2, 1, 1, 1, 1\] moves along the batch", "Conv3D", [X, F],
     SAME | {"strides": [2, 1, 1, 1, 1]}),
    (AttributeValueError, r"strides must be an int, \[depth, height, width\]", "MaxPool3D", [X],
     SAME | {"filter_size": 2, "strides": [1, 2]}),
    (AttributeValueError, r"pad \[\[1, 1\], \[1, 1\], \[1, 1\]\] is not supported", "Conv3D", [X, F],
     SAME | {"pad": [[1, 1], [1, 1], [1, 1]]}),
    (AttributeValueError, r"missing attribute 'filter_size'", "AvgPool3D", [X], SAME),
    (AttributeValueError, r"dilations must be >= 1", "Conv3D", [X, F], SAME | {"dilations": [1, 0, 1]}),
])
def test_bad_calls_are_refused_alike(gl, kind, match, op, inputs, attrs):
    with pytest.raises(kind, match=match):
        run_ref(op, inputs, attrs)
    with pytest.raises(kind, match=match):
        run_gl(gl, op, inputs, attrs)
