"""The numpy reference's convolution / pooling / normalisation / image kernels against TensorFlow.

tests/fixtures/tf_goldens_conv.npz holds TF 2.19's outputs (recorded by
tests/fixtures/make_tf_goldens_conv.py); the second half checks that bad
attributes and shapes fail with the right error type and a message that says what to fix.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import gpu_backend.reference.conv  # noqa: F401  (registers the kernels; the package __init__ does not yet)
import gpu_backend.reference.image  # noqa: F401
import gpu_backend.reference.norm  # noqa: F401
import gpu_backend.reference.pool  # noqa: F401
from conftest import assert_matches, run_ref
from gpu_backend.errors import AttributeValueError, ShapeError, UnsupportedDTypeError

GOLDENS = np.load(Path(__file__).with_name("fixtures") / "tf_goldens_conv.npz")
CASES = sorted({k.split("/")[0] for k in GOLDENS.files})


def load(case: str) -> tuple[str, list[np.ndarray], dict, np.ndarray]:
    call = json.loads(str(GOLDENS[f"{case}/call"]))
    inputs = [GOLDENS[f"{case}/in{k}"] for k in range(6) if f"{case}/in{k}" in GOLDENS.files]
    return call["kernel"], inputs, call["attrs"], GOLDENS[f"{case}/out"]


def test_goldens_cover_every_kernel():
    kernels = {load(c)[0] for c in CASES}
    assert kernels == {"Conv2D", "FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2D",
                       "Conv2DBackpropInput", "Dilation2D", "MaxPool", "AvgPool", "FusedBatchNorm", "LRN",
                       "EuclideanNorm", "ResizeBilinear", "ResizeNearestNeighbor", "CropAndResize"}


@pytest.mark.parametrize("case", CASES)
def test_reference_matches_tensorflow(case):
    kernel, inputs, attrs, want = load(case)
    (got,) = run_ref(kernel, inputs, attrs)
    assert_matches(got, want, rtol=1e-5, atol=1e-5, what=case)
    if got.dtype.kind == "f":   # Inf signs and the exact float32-lowest of empty max windows, not just closeness
        assert np.array_equal(np.isinf(got), np.isinf(want)) and np.array_equal(got[np.isinf(got)],
                                                                                want[np.isinf(want)]), case


# ---------------------------------------------------------------- errors
rng = np.random.default_rng(7)
X = rng.standard_normal((1, 5, 5, 3)).astype(np.float32)
F = rng.standard_normal((3, 3, 3, 2)).astype(np.float32)


def raises(kind: type[Exception], match: str, kernel: str, inputs: list[np.ndarray], attrs: dict) -> None:
    with pytest.raises(kind, match=match):
        run_ref(kernel, inputs, attrs)


@pytest.mark.parametrize("kernel, inputs, extra", [
    ("Conv2D", [X, F], {}),
    ("FusedConv2D", [X, F], {"activation": "relu"}),
    ("DepthwiseConv2dNative", [X, F], {}),
    ("FusedDepthwiseConv2D", [X, F], {}),
    ("Conv2DBackpropInput", [X[..., :2], F], {"input_shape": [1, 5, 5, 3]}),
    ("Dilation2D", [X, F[..., 0]], {}),
    ("MaxPool", [X], {"filter_size": 2}),
    ("AvgPool", [X], {"filter_size": 2}),
])
def test_nchw_is_refused(kernel, inputs, extra):
    raises(AttributeValueError, "data_format NCHW is not supported; only NHWC", kernel, inputs,
           {"strides": 1, "pad": "same", "data_format": "NCHW"} | extra)


@pytest.mark.parametrize("kernel, filt, match", [
    ("Conv2D", F[..., 0], r"filter must have rank 4"),
    ("DepthwiseConv2dNative", F[0], r"filter must have rank 4"),
    ("Dilation2D", F, r"filter must have rank 3"),
])
def test_wrong_filter_rank(kernel, filt, match):
    raises(ShapeError, match, kernel, [X, filt], {"strides": 1, "pad": "valid"})


@pytest.mark.parametrize("kernel, filt", [
    ("Conv2D", F[:, :, :2]), ("FusedConv2D", F[:, :, :2]), ("DepthwiseConv2dNative", F[:, :, :2]),
    ("Dilation2D", F[:, :, :2, 0]),
])
def test_mismatched_channels(kernel, filt):
    raises(ShapeError, r"input has 3 channels but the filter", kernel, [X, filt], {"strides": 1, "pad": "same"})


def test_conv_attribute_errors():
    base = {"strides": 1, "pad": "same"}
    raises(AttributeValueError, r"pad 'full' is not supported", "Conv2D", [X, F], base | {"pad": "full"})
    raises(AttributeValueError, r"missing attribute 'pad'", "Conv2D", [X, F], {"strides": 1})
    raises(AttributeValueError, r"strides must be >= 1", "Conv2D", [X, F], base | {"strides": [0, 1]})
    raises(AttributeValueError, r"batch or channel", "Conv2D", [X, F], base | {"strides": [2, 1, 1, 1]})
    raises(AttributeValueError, r"padding must be >= 0", "Conv2D", [X, F], base | {"pad": [[-1, 0], [0, 0]]})
    raises(AttributeValueError, r"explicit pad must be", "Conv2D", [X, F], base | {"pad": [1, 2, 3]})
    raises(AttributeValueError, r"activation 'swish' is not supported", "FusedConv2D", [X, F],
           base | {"activation": "swish"})
    raises(AttributeValueError, r"prelu activation needs its weights", "FusedConv2D", [X, F],
           base | {"activation": "prelu"})
    raises(ShapeError, r"bias of shape \[3\] does not broadcast", "FusedConv2D",
           [X, F, np.ones(3, np.float32)], base)
    raises(ShapeError, r"height window spans 3 \(filter 3, dilation 1\), which is larger than the padded input",
           "Conv2D", [X[:, :1], F], {"strides": 1, "pad": "valid"})
    (empty,) = run_ref("Conv2D", [X[:, :2], F], {"strides": 2, "pad": "valid"})   # TF: just too big -> 0 rows
    assert empty.shape == (1, 0, 2, 2)
    raises(ShapeError, r"input must have rank 4", "Conv2D", [X[0], F], base)


def test_backprop_input_errors():
    dy = np.ones((1, 3, 3, 2), np.float32)
    attrs = {"strides": 2, "pad": "same", "input_shape": [1, 5, 5, 3]}
    raises(AttributeValueError, r"missing attribute 'input_shape'", "Conv2DBackpropInput", [dy, F],
           {"strides": 2, "pad": "same"})
    raises(ShapeError, r"dy is 3x3 but a convolution of a 5x5 input .* gives 5x5", "Conv2DBackpropInput",
           [dy, F], attrs | {"strides": 1})
    raises(ShapeError, r"disagree", "Conv2DBackpropInput", [dy, F], attrs | {"input_shape": [1, 5, 5, 4]})


def test_dtype_errors():
    xi, fi = X.astype(np.int32), F.astype(np.int32)
    attrs = {"strides": 1, "pad": "same"}
    raises(UnsupportedDTypeError, r"float32 inputs only", "DepthwiseConv2dNative", [xi, fi], attrs)
    raises(UnsupportedDTypeError, r"float32 inputs only", "FusedConv2D", [xi, fi], attrs)
    raises(UnsupportedDTypeError, r"input is float32 but filter is int32", "Conv2D", [X, fi], attrs)
    raises(UnsupportedDTypeError, r"bool", "Conv2D", [X > 0, F > 0], attrs)
    raises(UnsupportedDTypeError, r"float32 inputs only", "AvgPool", [xi], attrs | {"filter_size": 2})
    raises(UnsupportedDTypeError, r"bool", "MaxPool", [X > 0], attrs | {"filter_size": 2})
    raises(UnsupportedDTypeError, r"must be float32", "LRN", [xi], {})
    raises(UnsupportedDTypeError, r"must be float32", "FusedBatchNorm", [xi, xi[0, 0, 0], xi[0, 0, 0]], {})
    raises(UnsupportedDTypeError, r"bool", "ResizeBilinear", [X > 0], {"size": [2, 2]})


def test_pool_and_norm_errors():
    raises(AttributeValueError, r"missing attribute 'filter_size'", "MaxPool", [X], {"strides": 1, "pad": "same"})
    raises(ShapeError, r"input must have rank 4", "AvgPool", [X[0]], {"filter_size": 2, "strides": 1, "pad": "same"})
    raises(ShapeError, r"mean of shape \[4\] does not broadcast", "FusedBatchNorm",
           [X, np.zeros(4, np.float32), np.ones(3, np.float32)], {})
    raises(ShapeError, r"rank 4", "LRN", [X[0, 0]], {})
    raises(AttributeValueError, r"depth_radius must be >= 0", "LRN", [X], {"depth_radius": -1})


def test_image_errors():
    raises(AttributeValueError, r"align_corners and half_pixel_centers cannot both be true", "ResizeBilinear", [X],
           {"size": [3, 3], "align_corners": True, "half_pixel_centers": True})
    raises(AttributeValueError, r"size must be two positive ints", "ResizeNearestNeighbor", [X], {"size": [0, 3]})
    raises(AttributeValueError, r"missing attribute 'size'", "ResizeBilinear", [X], {})
    boxes = np.array([[0, 0, 1, 1]], np.float32)
    ind = np.array([0], np.int32)
    raises(AttributeValueError, r"method 'bicubic' is not supported", "CropAndResize", [X, boxes, ind],
           {"crop_size": [2, 2], "method": "bicubic"})
    raises(ShapeError, r"box_ind has values outside \[0, 1\)", "CropAndResize", [X, boxes, ind + 1],
           {"crop_size": [2, 2]})
    raises(ShapeError, r"boxes must have shape \[num_boxes, 4\]", "CropAndResize", [X, boxes[:, :3], ind],
           {"crop_size": [2, 2]})
    raises(ShapeError, r"NaN or Inf", "CropAndResize", [X, boxes * np.nan, ind], {"crop_size": [2, 2]})


# ---------------------------------------------------------------- semantics spelled out
def test_attribute_spellings_agree():
    """Every accepted spelling of strides / pad / filter_size gives the same result."""
    (a,) = run_ref("Conv2D", [X, F], {"strides": 2, "pad": [[1, 1], [1, 1]]})
    for attrs in ({"strides": [2, 2], "pad": 1}, {"strides": [1, 2, 2, 1], "pad": [[0, 0], [1, 1], [1, 1], [0, 0]]},
                  {"strides": 2, "pad": "EXPLICIT", "explicit_paddings": [0, 0, 1, 1, 1, 1, 0, 0]},
                  {"strides": 2, "pad": "SAME", "dilations": [1, 1, 1, 1], "data_format": "NHWC"}):
        (b,) = run_ref("Conv2D", [X, F], attrs)
        np.testing.assert_array_equal(a, b)
    (p,) = run_ref("MaxPool", [X], {"filter_size": 3, "strides": 2, "pad": "same"})
    (q,) = run_ref("MaxPool", [X], {"filter_size": [1, 3, 3, 1], "strides": [2, 2], "pad": "Same"})
    np.testing.assert_array_equal(p, q)


def test_maxpool_nan_never_wins():
    x = np.array([np.nan, 2.0, np.nan, -np.inf], np.float32).reshape(1, 2, 2, 1)
    (got,) = run_ref("MaxPool", [x], {"filter_size": 2, "strides": 1, "pad": "valid"})
    assert got.ravel().tolist() == [2.0]
    (got,) = run_ref("MaxPool", [np.full((1, 2, 2, 1), np.nan, np.float32)], {"filter_size": 2, "strides": 1,
                                                                                 "pad": "valid"})
    assert got.ravel().tolist() == [float(np.finfo(np.float32).min)]


def test_depthwise_channel_order_and_rank3_resize():
    x = np.arange(2, dtype=np.float32).reshape(1, 1, 1, 2) + 1
    f = np.array([10, 20, 30, 40], np.float32).reshape(1, 1, 2, 2)
    (got,) = run_ref("DepthwiseConv2dNative", [x, f], {"strides": 1, "pad": "valid"})
    assert got.ravel().tolist() == [10, 20, 60, 80]           # channel c * mult + m
    (r3,) = run_ref("ResizeNearestNeighbor", [X[0]], {"size": [7, 2]})
    (r4,) = run_ref("ResizeNearestNeighbor", [X], {"size": [7, 2]})
    np.testing.assert_array_equal(r3, r4[0])


def test_fused_batch_norm_defaults():
    x = rng.standard_normal((2, 3)).astype(np.float32)
    mean, var = np.array([0.5, -1, 2], np.float32), np.array([1, 4, 0.25], np.float32)
    (got,) = run_ref("FusedBatchNorm", [x, mean, var], {})
    want = ((x - mean) / np.sqrt(var.astype(np.float64) + np.float32(0.001))).astype(np.float32)
    np.testing.assert_allclose(got, want, rtol=1e-6)
