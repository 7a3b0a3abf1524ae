"""Conv2D / FusedConv2D / depthwise / pooling on GL against the numpy reference, with filters both as
ordinary tensors and as constants (which kernels read from buffer textures)."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import assert_matches, random_floats, run_ref

CASES = [  # input, filter, attributes
    ((1, 7, 9, 3), (3, 3, 3, 5), {"strides": [1, 1], "pad": "same"}),
    ((2, 8, 8, 6), (3, 2, 6, 9), {"strides": [2, 1], "pad": "valid", "dilations": [1, 2]}),
    ((1, 5, 5, 8), (1, 1, 8, 12), {"strides": [1, 1], "pad": "valid"}),
    ((1, 5, 5, 8), (1, 1, 8, 12), {"strides": [2, 2], "pad": "same"}),
    ((1, 6, 7, 5), (3, 3, 5, 4), {"strides": [3, 3], "pad": [[1, 2], [0, 1]]}),      # stride > kernel
    ((1, 4, 4, 2), (5, 5, 2, 3), {"strides": [1, 1], "pad": "same", "dilations": 2}),
    ((3, 9, 4, 7), (2, 3, 7, 6), {"strides": [1, 2], "pad": "same"}),                 # batch 3, odd sizes
]
ACTS = ["linear", "relu", "relu6", "elu", "sigmoid", "leakyrelu", "tanh", "hardswish"]


def run_gl_conv(b, op, x, w, extra, attrs, constant):
    hx = b.upload(x)
    hw = b.upload(w, constant=constant) if hasattr(b, "runner") else b.upload(w)
    he = [b.upload(e) for e in extra]
    (out,) = b.run(op, [hx, hw] + he, attrs)
    try:
        return b.read(out)
    finally:
        for h in [hx, hw, out] + he:
            b.dispose(h)


@pytest.mark.parametrize("constant", [False, True], ids=["tensor-filter", "constant-filter"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_conv2d(any_gl, case, constant):
    xs, ws, attrs = CASES[case]
    rng = np.random.default_rng(case)
    x, w, bias = random_floats(rng, xs), random_floats(rng, ws), random_floats(rng, ws[3:])
    for op, extra, extra_attrs in [("Conv2D", [], {}), ("FusedConv2D", [bias], {"activation": "relu6"})]:
        got = run_gl_conv(any_gl, op, x, w, extra, dict(attrs, **extra_attrs), constant)
        (want,) = run_ref(op, [x, w] + extra, dict(attrs, **extra_attrs))
        assert_matches(got, want, rtol=1e-4, atol=1e-5, what=f"{op} {xs} {ws} {attrs}")


@pytest.mark.parametrize("act", ACTS + ["prelu"])
def test_fused_conv_activations(gl, act):
    rng = np.random.default_rng(7)
    x, w = random_floats(rng, (1, 6, 5, 4), 2.0), random_floats(rng, (3, 3, 4, 6))
    extra = [random_floats(rng, (6,))] + ([random_floats(rng, (6,))] if act == "prelu" else [])
    attrs = {"strides": [1, 1], "pad": "same", "activation": act, "leakyrelu_alpha": 0.3}
    for constant in (False, True):
        got = run_gl_conv(gl, "FusedConv2D", x, w, extra, attrs, constant)
        (want,) = run_ref("FusedConv2D", [x, w] + extra, attrs)
        assert_matches(got, want, rtol=1e-4, atol=1e-5, what=act)


@pytest.mark.parametrize("constant", [False, True], ids=["tensor-filter", "constant-filter"])
@pytest.mark.parametrize("mult", [1, 2])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_depthwise(any_gl, case, mult, constant):
    xs, ws, attrs = CASES[case]
    rng = np.random.default_rng(100 + case)
    x, w = random_floats(rng, xs), random_floats(rng, ws[:3] + (mult,))
    bias = random_floats(rng, (xs[3] * mult,))
    for op, extra, extra_attrs in [("DepthwiseConv2dNative", [], {}),
                                   ("FusedDepthwiseConv2D", [bias], {"activation": "relu"})]:
        got = run_gl_conv(any_gl, op, x, w, extra, dict(attrs, **extra_attrs), constant)
        (want,) = run_ref(op, [x, w] + extra, dict(attrs, **extra_attrs))
        assert_matches(got, want, rtol=1e-4, atol=1e-5, what=f"{op} {xs} mult {mult} {attrs}")


@pytest.mark.parametrize("op", ["MaxPool", "AvgPool"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_pool(any_gl, op, case):
    xs, ws, attrs = CASES[case]
    rng = np.random.default_rng(200 + case)
    x = random_floats(rng, xs)
    pattrs = {"filter_size": list(ws[:2]), "strides": attrs["strides"], "pad": attrs["pad"]}
    hx = any_gl.upload(x)
    (out,) = any_gl.run(op, [hx], pattrs)
    (want,) = run_ref(op, [x], pattrs)
    assert_matches(any_gl.read(out), want, rtol=1e-5, atol=1e-6, what=f"{op} {xs} {pattrs}")
    any_gl.dispose(hx)
    any_gl.dispose(out)


def test_max_pool_nan_and_inf_follow_tf(any_gl):
    """TF's CPU MaxPool never lets NaN win; a window of only NaN / -inf gives the lowest float."""
    x = random_floats(np.random.default_rng(3), (1, 5, 6, 5))
    x[0, 1, 1, :] = np.nan
    x[0, 3, 3, 2] = -np.inf
    x[0, 4, :, 4] = np.nan
    for op, attrs in [("MaxPool", {"filter_size": [2, 2], "strides": [1, 1], "pad": "valid"}),
                      ("AvgPool", {"filter_size": [3, 3], "strides": [2, 2], "pad": "same"})]:
        hx = any_gl.upload(x)
        (out,) = any_gl.run(op, [hx], attrs)
        (want,) = run_ref(op, [x], attrs)
        assert_matches(any_gl.read(out), want, what=op)


def test_constant_filter_is_prepared_once(gl):
    rng = np.random.default_rng(4)
    x, w = random_floats(rng, (1, 8, 8, 4)), random_floats(rng, (3, 3, 4, 8))
    before = len(gl.runner._derived)
    hx, hw = gl.upload(x), gl.upload(w, constant=True)
    (a,) = gl.run("Conv2D", [hx, hw], {"strides": [1, 1], "pad": "same"})
    derived = len(gl.runner._derived)
    (b,) = gl.run("Conv2D", [hx, hw], {"strides": [1, 1], "pad": "same"})
    assert len(gl.runner._derived) == derived                       # reused, not rebuilt
    np.testing.assert_array_equal(gl.read(a), gl.read(b))
    assert derived == before + 1
    for h in (hx, hw, a, b):
        gl.dispose(h)
    assert len(gl.runner._derived) == before                      # freed with its filter


def test_constant_bias_and_filter_together(gl):
    rng = np.random.default_rng(9)
    x, w, bias = random_floats(rng, (2, 7, 6, 5)), random_floats(rng, (3, 3, 5, 7)), random_floats(rng, (7,))
    attrs = {"strides": [1, 1], "pad": "same", "activation": "relu"}
    hs = [gl.upload(x), gl.upload(w, constant=True), gl.upload(bias, constant=True)]
    (out,) = gl.run("FusedConv2D", hs, attrs)
    (want,) = run_ref("FusedConv2D", [x, w, bias], attrs)
    assert_matches(gl.read(out), want, rtol=1e-4, atol=1e-5)
    dw = random_floats(rng, (3, 3, 5, 1))
    hd = gl.upload(dw, constant=True)
    hb = gl.upload(random_floats(rng, (5,)), constant=True)
    (out2,) = gl.run("FusedDepthwiseConv2D", [hs[0], hd, hb], attrs)
    (want2,) = run_ref("FusedDepthwiseConv2D", [x, dw, gl.read(hb)], attrs)
    assert_matches(gl.read(out2), want2, rtol=1e-4, atol=1e-5)
    for h in hs + [hd, hb, out, out2]:
        gl.dispose(h)


@pytest.mark.parametrize("act", ["linear", "relu", "relu6", "leakyrelu", "elu", "sigmoid", "tanh", "hardswish"])
@pytest.mark.parametrize("op", ["FusedConv2D", "FusedDepthwiseConv2D", "_FusedMatMul"])
def test_fused_activations_at_edge_values(gl, op, act):
    """Bias values of NaN, +-inf and huge magnitudes push every activation through its edge cases
    (the piecewise-linear ones share one program whose choice is a uniform)."""
    from conftest import EDGE_FLOATS
    rng = np.random.default_rng(3)
    c = 12
    bias = EDGE_FLOATS[:c].copy()
    attrs = {"activation": act, "leakyrelu_alpha": 0.3}
    if op == "_FusedMatMul":
        x, w = random_floats(rng, (5, 7)), random_floats(rng, (7, c))
    else:
        x = random_floats(rng, (1, 5, 6, c))
        w = random_floats(rng, (3, 3, c, 1) if op == "FusedDepthwiseConv2D" else (3, 3, c, c))
        attrs.update(strides=[1, 1], pad="same")
    hx, hw, hb = gl.upload(x), gl.upload(w, constant=True), gl.upload(bias, constant=True)
    (out,) = gl.run(op, [hx, hw, hb], attrs)
    (want,) = run_ref(op, [x, w, bias], attrs)
    assert_matches(gl.read(out), want, rtol=1e-4, atol=1e-5, what=f"{op} {act}")
    for h in (hx, hw, hb, out):
        gl.dispose(h)


def test_convolutions_with_and_without_bias_share_a_program(gl):
    rng = np.random.default_rng(4)
    x = gl.upload(random_floats(rng, (1, 6, 7, 8)))
    w = gl.upload(random_floats(rng, (3, 3, 8, 8)), constant=True)
    b = gl.upload(random_floats(rng, (8,)), constant=True)
    attrs = {"strides": [1, 1], "pad": "same"}
    (warm,) = gl.run("FusedConv2D", [x, w, b], dict(attrs, activation="relu"))
    misses = gl.memory()["program_cache_misses"]
    outs = [gl.run("Conv2D", [x, w], attrs)[0], gl.run("FusedConv2D", [x, w, b], dict(attrs, activation="relu6"))[0],
            gl.run("FusedConv2D", [x, w, b], dict(attrs, activation="leakyrelu"))[0]]
    assert gl.memory()["program_cache_misses"] == misses
    (want,) = run_ref("Conv2D", [gl.read(x), gl.read(w)], attrs)
    assert_matches(gl.read(outs[0]), want, rtol=1e-4, atol=1e-5)
    for h in [x, w, b, warm] + outs:
        gl.dispose(h)


@pytest.mark.parametrize("op", ["FusedConv2D", "FusedDepthwiseConv2D"])
@pytest.mark.parametrize("act", ["linear", "relu", "elu"])
@pytest.mark.parametrize("constant", [True, False])
def test_fused_residual_add(gl, op, act, constant):
    """TF's fused_ops [BiasAdd, Add, act]: the skip connection is added before the activation."""
    rng = np.random.default_rng(8)
    x = random_floats(rng, (2, 5, 7, 6))
    w = random_floats(rng, (3, 3, 6, 1) if op == "FusedDepthwiseConv2D" else (3, 3, 6, 5))
    cout = 6 if op == "FusedDepthwiseConv2D" else 5
    bias, skip = random_floats(rng, (cout,)), random_floats(rng, (2, 5, 7, cout))
    skip[0, 0, 0, 0] = np.nan
    attrs = {"strides": [1, 1], "pad": "same", "activation": act, "residual": True}
    handles = [gl.upload(x), gl.upload(w, constant=constant), gl.upload(bias, constant=constant), gl.upload(skip)]
    (out,) = gl.run(op, handles, attrs)
    (want,) = run_ref(op, [x, w, bias, skip], attrs)
    assert_matches(gl.read(out), want, rtol=1e-4, atol=1e-5)
    for h in handles + [out]:
        gl.dispose(h)


@pytest.mark.parametrize("op", ["MaxPool", "AvgPool"])
@pytest.mark.parametrize("act", ["linear", "relu", "relu6", "leakyrelu"])
def test_pool_zero_padding_and_activation(any_gl, op, act):
    """The attributes the loader sets when it folds a zero Pad and an activation into a pool."""
    rng = np.random.default_rng(9)
    x = random_floats(rng, (1, 6, 7, 5), 4.0)
    x[0, 0, 0, :] = -np.inf
    x[0, 1, 1, 2] = np.nan
    attrs = {"filter_size": [3, 3], "strides": [2, 2], "pad": [[1, 2], [2, 1]], "pad_zeros": True,
             "activation": act, "leakyrelu_alpha": 0.3}
    got = any_gl.read(any_gl.run(op, [any_gl.upload(x)], attrs)[0])
    # the definition: pool the zero-padded tensor without padding, then activate
    (padded,) = run_ref("PadV2", [x], {"paddings": [[0, 0], [1, 2], [2, 1], [0, 0]]})
    (pooled,) = run_ref(op, [padded], {"filter_size": [3, 3], "strides": [2, 2], "pad": "valid"})
    want = {"linear": pooled, "relu": np.where(pooled > 0, pooled, 0.0),
            "relu6": np.where(pooled > 0, np.minimum(pooled, 6), 0.0),
            "leakyrelu": np.where(pooled > 0, pooled, np.float32(0.3) * pooled)}[act].astype(np.float32)
    want = np.where(np.isnan(pooled), np.nan, want).astype(np.float32)
    assert_matches(got, want, rtol=1e-5, atol=1e-6)
    (ref,) = run_ref(op, [x], attrs)
    assert_matches(ref, want, rtol=1e-5, atol=1e-6)
