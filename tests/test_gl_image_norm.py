"""Image resampling, normalisations, Dilation2D and the transposed convolution: GL against the numpy
reference (random data, edge values, both layouts) and against TF's own outputs
(tests/fixtures/tf_goldens_conv.npz)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import gpu_backend.kernels.conv_transpose  # noqa: F401  (registers the kernels; the package __init__ does not yet)
import gpu_backend.kernels.image  # noqa: F401
import gpu_backend.kernels.norm  # noqa: F401
from conftest import assert_matches, check_kernel, random_floats, random_ints, run_gl, run_ref
from gpu_backend.errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from gpu_backend.window import window_geometry

FLAGS = [{}, {"align_corners": True}, {"half_pixel_centers": True}]
# (out_h, out_w) against a 5 x 7 image: up, down, mixed, identity, and size 1
SIZES = [[9, 13], [3, 4], [11, 2], [5, 7], [1, 1], [1, 9]]


# ---------------------------------------------------------------- resize
@pytest.mark.parametrize("op", ["ResizeBilinear", "ResizeNearestNeighbor"])
@pytest.mark.parametrize("flags", FLAGS, ids=["legacy", "align", "half"])
def test_resize_random(any_gl, op, flags):
    rng = np.random.default_rng(30)
    x = random_floats(rng, (2, 5, 7, 6))
    for size in SIZES:
        check_kernel(any_gl, op, [x], {"size": size, **flags})
        check_kernel(any_gl, op, [x[1]], {"size": size, **flags})                 # rank 3: one image
    # int images: bilinear reads them as float32 (TF's float32 arithmetic; |x| <= 1000 -> ~1e-4 apart
    # from the reference's float64), nearest copies them exactly
    xi = random_ints(rng, (3, 4, 9, 5), -1000, 1000)
    for size in ([7, 4], [2, 17]):
        check_kernel(any_gl, op, [xi], {"size": size, **flags}, atol=1e-3)


@pytest.mark.parametrize("flags", FLAGS, ids=["legacy", "align", "half"])
def test_resize_nearest_picks_exact(gl, flags):
    """Every pick over many (in, out) size pairs, two pairs per call: an index image shows any miss."""
    ins = [1, 2, 3, 5, 7, 9, 11, 13, 16, 31, 97]
    outs = [1, 2, 3, 4, 6, 7, 9, 10, 15, 17, 29, 33, 64, 13]
    for a, ih in enumerate(ins):
        for b, oh in enumerate(outs):
            iw, ow = ins[(a + b + 3) % len(ins)], outs[(a * 5 + b + 1) % len(outs)]
            x = (np.arange(ih * iw, dtype=np.float32).reshape(1, ih, iw, 1) * 3 - 7)
            check_kernel(gl, "ResizeNearestNeighbor", [x], {"size": [oh, ow], **flags}, rtol=0, atol=0)


def test_resize_bilinear_nan_inf(any_gl):
    x = np.arange(2 * 4 * 5 * 3, dtype=np.float32).reshape(2, 4, 5, 3) / 10
    x[0, 1, 2, 0] = np.nan
    x[0, 2, 3, 1] = np.inf
    x[1, 0, 0, 2] = -np.inf
    x[1, 3, 4, :] = np.inf
    for flags in FLAGS:
        for size in ([7, 9], [2, 3], [4, 5]):
            check_kernel(any_gl, "ResizeBilinear", [x], {"size": size, **flags})
            check_kernel(any_gl, "ResizeNearestNeighbor", [x], {"size": size, **flags})


def test_resize_strided_view_input(gl):
    """A transposed (strided, no copy) image feeds the resize directly."""
    rng = np.random.default_rng(31)
    x = random_floats(rng, (5, 2, 7, 4))
    h = gl.upload(x)
    (t,) = gl.run("Transpose", [h], {"perm": [1, 0, 2, 3]})
    (r,) = gl.run("ResizeBilinear", [t], {"size": [8, 3], "half_pixel_centers": True})
    want = run_ref("ResizeBilinear", [np.transpose(x, (1, 0, 2, 3))], {"size": [8, 3], "half_pixel_centers": True})
    assert_matches(gl.read(r), want[0])
    for handle in (h, t, r):
        gl.dispose(handle)


# ---------------------------------------------------------------- crop and resize
CROP_BOXES = np.array([[0, 0, 1, 1], [1, 1, 0, 0], [0.2, 0.1, 0.8, 0.7], [0.8, 0.9, 0.1, 0.2],
                       [-0.3, -0.2, 1.2, 1.4], [0.5, 0.5, 0.5, 0.5], [0.3, 0.0, 0.3, 1.0], [1.1, 0.2, 1.5, 0.4],
                       [0, 0, 1 / 3, 2 / 3], [-0.5, -0.5, -0.1, -0.2], [0.25, 1 / 7, 0.75, 6 / 7]], np.float32)


@pytest.mark.parametrize("method", ["bilinear", "nearest"])
def test_crop_and_resize(any_gl, method):
    rng = np.random.default_rng(32)
    image = random_floats(rng, (3, 7, 9, 5))
    grid = np.array([0.0, 1.0, 0.5, 0.25, 1 / 3, 2 / 3, 1 / 6, 0.125, 0.875, 1 / 8, -0.25, 1.25], np.float32)
    boxes = np.concatenate([CROP_BOXES, rng.choice(grid, size=(12, 4)).astype(np.float32),
                            rng.uniform(-0.4, 1.4, size=(6, 4)).astype(np.float32)])
    box_ind = rng.integers(0, 3, size=len(boxes)).astype(np.int32)
    for crop in ([5, 4], [1, 1], [1, 6], [7, 1], [9, 11]):
        for fill in (0.0, -2.5):
            check_kernel(any_gl, "CropAndResize", [image, boxes, box_ind],
                         {"crop_size": crop, "method": method, "extrapolation_value": fill})
    imi = random_ints(rng, (2, 5, 4, 3), -50, 50)
    check_kernel(any_gl, "CropAndResize", [imi, boxes[:10], (np.arange(10) % 2).astype(np.int32)],
                 {"crop_size": [3, 4], "method": method})


def test_crop_and_resize_nan_inf_image(any_gl):
    image = np.arange(1 * 5 * 6 * 2, dtype=np.float32).reshape(1, 5, 6, 2) / 7
    image[0, 1, 1, 0] = np.nan
    image[0, 3, 4, 1] = np.inf
    box_ind = np.zeros(len(CROP_BOXES), np.int32)
    for method in ("bilinear", "nearest"):
        check_kernel(any_gl, "CropAndResize", [image, CROP_BOXES, box_ind], {"crop_size": [6, 5], "method": method})


# ---------------------------------------------------------------- normalisations
@pytest.mark.parametrize("n_params", [2, 3, 4])
def test_fused_batch_norm(any_gl, n_params):
    rng = np.random.default_rng(33)
    for shape in ((2, 5, 7, 6), (3, 9), (4, 3, 5)):
        c = shape[-1]
        x = random_floats(rng, shape, 3.0)
        mean, var = random_floats(rng, (c,)), np.abs(random_floats(rng, (c,))) + 0.05
        extra = [random_floats(rng, (c,)) for _ in range(n_params - 2)]
        check_kernel(any_gl, "FusedBatchNorm", [x, mean, var] + extra, {"variance_epsilon": 1e-3},
                     rtol=1e-5, atol=1e-5)
    # parameters broadcasting over more than the last dim, and a single value for every channel
    x = random_floats(rng, (2, 3, 5, 4))
    check_kernel(any_gl, "FusedBatchNorm", [x, random_floats(rng, (5, 4)), np.full((1,), 0.5, np.float32),
                                            random_floats(rng, (3, 1, 4)), random_floats(rng, (1,))][:n_params + 1],
                 {}, rtol=1e-5, atol=1e-5)


def test_fused_batch_norm_edges(any_gl):
    x = np.array([[1.0, np.nan, np.inf, 2.0, -1.0], [0.0, 1.0, -np.inf, 3.0, 0.5]], np.float32)
    mean = np.array([1.0, 0.0, 0.0, np.inf, 0.0], np.float32)
    var = np.array([-1e-3, 1.0, 2.0, 1.0, -5.0], np.float32)      # -eps: division by 0; below: NaN
    check_kernel(any_gl, "FusedBatchNorm", [x, mean, var], {"variance_epsilon": 1e-3})


@pytest.mark.parametrize("channels", [1, 3, 4, 6, 13])
def test_lrn(any_gl, channels):
    rng = np.random.default_rng(34)
    x = random_floats(rng, (2, 3, 5, channels), 2.0)
    for radius in (0, 1, 2, 5, 9):
        check_kernel(any_gl, "LRN", [x], {"depth_radius": radius, "bias": 1.5, "alpha": 0.3, "beta": 0.75},
                     rtol=2e-5, atol=1e-6)
    check_kernel(any_gl, "LRN", [x[0]], {}, rtol=2e-5, atol=1e-6)       # defaults, rank 3


def test_lrn_nan_inf_stay_in_their_windows(any_gl):
    x = np.linspace(-2, 2, 2 * 3 * 11, dtype=np.float32).reshape(2, 3, 11)
    x[0, 0, 2] = np.nan
    x[1, 1, 7] = np.inf
    x[0, 2, 10] = -np.inf
    (out,) = check_kernel(any_gl, "LRN", [x], {"depth_radius": 2, "alpha": 0.5, "beta": 0.5}, rtol=2e-5, atol=1e-6)
    assert np.isnan(out[0, 0, :5]).all() and not np.isnan(out[0, 0, 5:]).any()


@pytest.mark.parametrize("axis", [None, 0, -1, [1, 2], [0, 3], []], ids=str)
def test_euclidean_norm(any_gl, axis):
    rng = np.random.default_rng(35)
    x = random_floats(rng, (2, 5, 7, 6), 3.0)
    for keep in (False, True):
        check_kernel(any_gl, "EuclideanNorm", [x], {"axis": axis, "keep_dims": keep}, rtol=2e-5)
        check_kernel(any_gl, "EuclideanNorm", [random_ints(rng, x.shape, -3000, 3000)],
                     {"axis": axis, "keep_dims": keep})
        check_kernel(any_gl, "EuclideanNorm", [random_ints(rng, x.shape)], {"axis": axis, "keep_dims": keep})


def test_euclidean_norm_edges(any_gl):
    xe = np.array([[1e20, 1.0, 2.0], [1e-30, 1e-30, 0.0], [np.nan, 1.0, 1.0], [np.inf, -3.0, 4.0],
                   [-3.0, 4.0, 0.0], [1e19, 1e19, 0.0]], np.float32)
    check_kernel(any_gl, "EuclideanNorm", [xe], {"axis": 1})
    # exact integer roots where float32 rounds the sum up to a perfect square (k^2 - 1 above 2^24:
    # 4097^2 - 1 and 30001^2 - 1 as sums of three squares), and sums that wrap negative (INT_MIN)
    xi = np.array([[4096, 64, 64], [29996, 520, 172], [4097, 0, 0], [4097, 1, 0], [46340, 0, 0],
                   [40000, 40000, 0], [46341, 0, 0], [-5, 12, 0]], np.int32)
    (out,) = check_kernel(any_gl, "EuclideanNorm", [xi], {"axis": [1]})
    assert out[:2].tolist() == [4096, 30000]


# ---------------------------------------------------------------- Dilation2D
DIL_CASES = [  # x shape, filter (kh, kw), strides, pad, rates
    ((2, 7, 9, 3), (3, 3), 1, "same", 1),
    ((1, 8, 7, 5), (2, 3), 2, "valid", 1),
    ((2, 9, 9, 6), (3, 2), [3, 2], "same", [2, 1]),
    ((1, 7, 11, 4), (2, 2), [4, 3], "valid", 1),             # stride > kernel
    ((2, 6, 5, 2), (3, 3), 1, [[1, 2], [0, 1]], [1, 2]),     # explicit padding, dilation
]


@pytest.mark.parametrize("xs,ks,s,pad,r", DIL_CASES)
def test_dilation2d(any_gl, xs, ks, s, pad, r):
    rng = np.random.default_rng(36)
    x, f = random_floats(rng, xs), random_floats(rng, ks + (xs[3],))
    attrs = {"strides": s, "pad": pad, "dilations": r}
    check_kernel(any_gl, "Dilation2D", [x, f], attrs)
    check_kernel(any_gl, "Dilation2D", [random_ints(rng, xs), random_ints(rng, ks + (xs[3],))], attrs)   # wraps
    check_kernel(any_gl, "Dilation2D", [x, f], {"strides": s, "pad": pad, "rates": r})      # TF's name


def test_dilation2d_nan_inf(any_gl):
    """NaN and padding never win; all -Inf windows give float32's lowest, as TF's CPU kernel."""
    x = np.arange(1 * 6 * 5 * 3, dtype=np.float32).reshape(1, 6, 5, 3) / 9
    x[0, 0, 0, :] = np.nan
    x[0, 2, 2, 0] = np.inf
    x[0, 3:, :, 1] = -np.inf
    x[0, 4, 1, 2] = np.nan
    f = np.array([[[0.5, 0.0, np.nan], [1.0, -np.inf, 0.0]], [[np.inf, 0.0, 0.0], [0.0, 0.0, -1.0]]], np.float32)
    for pad in ("same", "valid"):
        (out,) = check_kernel(any_gl, "Dilation2D", [x, f], {"strides": 1, "pad": pad, "dilations": 1})
        assert not np.isnan(out).any()
    (out,) = check_kernel(any_gl, "Dilation2D", [x, np.zeros((2, 2, 3), np.float32)], {"strides": 1, "pad": "same"})
    assert (out[0, 3:, :, 1] == np.finfo(np.float32).min).all()


# ---------------------------------------------------------------- Conv2DBackpropInput
BPI_CASES = [  # (N, H, W, Cin), (kh, kw, Cout), strides, pad, dilations
    ((2, 7, 9, 3), (3, 3, 5), 2, "same", 1),
    ((1, 8, 8, 4), (3, 3, 4), 1, "valid", 1),
    ((2, 9, 7, 6), (2, 3, 3), [3, 2], "valid", 1),
    ((1, 7, 7, 5), (3, 3, 2), 1, "same", 2),                  # dilation
    ((2, 6, 5, 2), (3, 2, 7), [2, 3], [[1, 2], [0, 1]], 1),   # explicit padding
    ((1, 11, 10, 1), (2, 2, 1), 4, "valid", 1),               # stride > kernel: gaps get 0
    ((1, 10, 11, 9), (4, 3, 6), 2, "same", [1, 2]),
]


@pytest.mark.parametrize("shape,fs,s,pad,d", BPI_CASES)
def test_conv2d_backprop_input(any_gl, shape, fs, s, pad, d):
    rng = np.random.default_rng(37)
    attrs = {"strides": s, "pad": pad, "dilations": d, "input_shape": list(shape)}
    win = window_geometry("Conv2DBackpropInput", attrs, shape[1], shape[2], fs[0], fs[1])
    dy = random_floats(rng, (shape[0], win.out_h, win.out_w, fs[2]))
    f = random_floats(rng, (fs[0], fs[1], shape[3], fs[2]))
    check_kernel(any_gl, "Conv2DBackpropInput", [dy, f], attrs, rtol=1e-5, atol=1e-5)
    check_kernel(any_gl, "Conv2DBackpropInput", [random_ints(rng, dy.shape), random_ints(rng, f.shape)], attrs)


def test_conv2d_backprop_input_nan_inf(any_gl):
    rng = np.random.default_rng(38)
    attrs = {"strides": 2, "pad": "same", "input_shape": [1, 7, 7, 3]}
    dy, f = random_floats(rng, (1, 4, 4, 2)), random_floats(rng, (3, 3, 3, 2))
    dy[0, 1, 1, 0] = np.inf
    dy[0, 3, 2, 1] = np.nan
    f[0, 0, 1, 0] = np.inf
    check_kernel(any_gl, "Conv2DBackpropInput", [dy, f], attrs, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- errors, dtypes, programs
def test_errors_match_the_reference(gl):
    rng = np.random.default_rng(39)
    x = random_floats(rng, (1, 4, 4, 2))
    cases = [
        (UnsupportedDTypeError, "ResizeBilinear", [x > 0], {"size": [2, 2]}),
        (AttributeValueError, "ResizeNearestNeighbor", [x], {"size": [2, 2], "align_corners": True,
                                                             "half_pixel_centers": True}),
        (ShapeError, "ResizeBilinear", [x[0, 0]], {"size": [2, 2]}),
        (AttributeValueError, "CropAndResize", [x, CROP_BOXES[:2], np.zeros(2, np.int32)],
         {"crop_size": [2, 2], "method": "cubic"}),
        (ShapeError, "CropAndResize", [x, CROP_BOXES[:2], np.zeros(3, np.int32)], {"crop_size": [2, 2]}),
        (UnsupportedDTypeError, "LRN", [random_ints(rng, (1, 2, 2, 3))], {}),
        (ShapeError, "FusedBatchNorm", [x, np.zeros(3, np.float32), np.ones(2, np.float32)], {}),
        (UnsupportedDTypeError, "EuclideanNorm", [x > 0], {}),
        (UnsupportedDTypeError, "Dilation2D", [x, random_ints(rng, (2, 2, 2))], {"strides": 1, "pad": "same"}),
        (ShapeError, "Conv2DBackpropInput", [x, random_floats(rng, (3, 3, 2, 2))],
         {"strides": 2, "pad": "same", "input_shape": [1, 4, 4, 2]}),
        (AttributeValueError, "Conv2DBackpropInput", [x, random_floats(rng, (3, 3, 2, 2))],
         {"strides": 1, "pad": "same"}),
    ]
    for kind, op, arrays, attrs in cases:
        with pytest.raises(kind) as ref_err:
            run_ref(op, arrays, attrs)
        with pytest.raises(kind) as gl_err:
            run_gl(gl, op, arrays, attrs)
        assert str(gl_err.value) == str(ref_err.value), op


def _one_of_each(b, rng: np.random.Generator, h: int, w: int, c: int) -> None:
    """Every kernel of this family once, at spatial size h x w with c channels."""
    x = random_floats(rng, (2, h, w, c))
    for op in ("ResizeBilinear", "ResizeNearestNeighbor"):
        check_kernel(b, op, [x], {"size": [h + 3, w - 1], "half_pixel_centers": True})
    check_kernel(b, "CropAndResize", [x, CROP_BOXES[:3], np.array([0, 1, 1], np.int32)], {"crop_size": [h, w]})
    check_kernel(b, "FusedBatchNorm", [x, random_floats(rng, (c,)), np.ones(c, np.float32), random_floats(rng, (c,)),
                                       random_floats(rng, (c,))], {}, atol=1e-5)
    check_kernel(b, "LRN", [x], {"depth_radius": 2}, rtol=2e-5)
    check_kernel(b, "EuclideanNorm", [x], {"axis": [1, 2]}, rtol=2e-5)
    check_kernel(b, "Dilation2D", [x, random_floats(rng, (3, 2, c))], {"strides": 2, "pad": "same"})
    attrs = {"strides": 2, "pad": "same", "input_shape": [2, h, w, c]}
    win = window_geometry("Conv2DBackpropInput", attrs, h, w, 3, 3)
    check_kernel(b, "Conv2DBackpropInput", [random_floats(rng, (2, win.out_h, win.out_w, 3)),
                                            random_floats(rng, (3, 3, c, 3))], attrs, atol=1e-5)


def test_second_size_reuses_programs(any_gl):
    rng = np.random.default_rng(40)
    _one_of_each(any_gl, rng, 7, 9, 5)
    misses = any_gl.memory()["program_cache_misses"]
    _one_of_each(any_gl, rng, 12, 5, 11)
    assert any_gl.memory()["program_cache_misses"] == misses
    assert not any(k.split(" ")[0] in ("ResizeBilinear", "ResizeNearestNeighbor", "CropAndResize", "FusedBatchNorm",
                                       "LRN", "EuclideanNorm", "Dilation2D", "Conv2DBackpropInput")
                   for k in any_gl.memory()["fallbacks"])


# ---------------------------------------------------------------- TensorFlow goldens
GOLDENS = np.load(Path(__file__).with_name("fixtures") / "tf_goldens_conv.npz")
KERNELS = {"ResizeBilinear", "ResizeNearestNeighbor", "CropAndResize", "FusedBatchNorm", "LRN", "EuclideanNorm",
           "Dilation2D", "Conv2DBackpropInput"}


def _load(case: str) -> tuple[str, list[np.ndarray], dict, np.ndarray]:
    call = json.loads(str(GOLDENS[f"{case}/call"]))
    inputs = [GOLDENS[f"{case}/in{k}"] for k in range(6) if f"{case}/in{k}" in GOLDENS.files]
    return call["kernel"], inputs, call["attrs"], GOLDENS[f"{case}/out"]


CASES = sorted(c for c in {k.split("/")[0] for k in GOLDENS.files} if _load(c)[0] in KERNELS)


@pytest.mark.parametrize("case", CASES)
def test_gl_matches_tensorflow(gl, case):
    kernel, inputs, attrs, want = _load(case)
    (got,) = run_gl(gl, kernel, inputs, attrs)
    assert_matches(got, want, rtol=1e-5, atol=1e-5, what=case)
    if got.dtype.kind == "f":   # Inf signs and float32's lowest from empty max windows exactly
        assert np.array_equal(got[np.isinf(want)], want[np.isinf(want)]), case
        assert (got[want == np.finfo(np.float32).min] == want[want == np.finfo(np.float32).min]).all(), case
