"""Conv3D, MaxPool3D and AvgPool3D (NDHWC) in numpy with TensorFlow's CPU semantics.

Same scheme as the 2-D kernels in ``conv.py`` / ``pool.py``: one strided slice of the padded input per
filter tap (kd * kh * kw of them), over the whole batch.  Conv3D accumulates in float64 and rounds to
float32 once; TF has no int32 Conv3D, so it takes float32 only.

MaxPool3D is *not* the 2-D MaxPool's rule: TF's CPU MaxPool3D (Eigen's cuboid pooling) starts its running
max at -inf and counts SAME padding taps as float32's lowest value.  So a window of only -inf inside the
input gives -inf, and one that touches the padding gives at least the lowest float.  NaN never wins (fmax):
that is what TF's vectorised loop does where the channels fill whole SIMD packets (8 floats on an AVX
build); its scalar loop for the other channels lets a NaN win until a later tap replaces it, an
order-dependent result we do not reproduce.  Without NaN inputs the result is TF's for every channel
count (tests/fixtures/tf_goldens_volumetric.npz).  int32 MaxPool3D (TF.js takes it, TF does not) is exact:
the max of the real taps.  AvgPool3D divides by the number of real (non-padding) taps.  (TF's marks
padding with the lowest float and so also skips a real input equal to -3.4028235e38; we count it.)
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..errors import ShapeError, UnsupportedDTypeError
from ..registry import numpy_kernel
from ..window import Window3D, check_data_format_3d, check_volume_rank, spatial_triple, window_geometry_3d
from .conv import FLOAT32_LOWEST, INT32_MIN, _common_kind

VOLUME = "[batch, depth, height, width, channels]"


def pad_volume(x: np.ndarray, win: Window3D, fill: object) -> np.ndarray:
    """x padded with `fill` before (TF's leading padding) and after, as far as any tap's slice reaches."""
    widths = [(0, 0)]
    for axis in range(3):
        reach = max((win.out[axis] - 1) * win.s[axis] + (win.k[axis] - 1) * win.d[axis] + 1, 0)
        widths.append((win.front[axis], max(reach - win.front[axis] - x.shape[axis + 1], 0)))
    widths.append((0, 0))
    return np.pad(x, widths, constant_values=fill)


def volume_taps(xp: np.ndarray, win: Window3D) -> Iterator[tuple[tuple[int, int, int], np.ndarray]]:
    """For every filter tap (a, b, c): the [N, OD, OH, OW, C] view of the padded input it reads."""
    def span(axis: int, tap: int) -> slice:
        start, out, step = tap * win.d[axis], win.out[axis], win.s[axis]
        return slice(start, start + (out - 1) * step + 1 if out > 0 else start, step)

    for a in range(win.k[0]):
        for b in range(win.k[1]):
            for c in range(win.k[2]):
                yield (a, b, c), xp[:, span(0, a), span(1, b), span(2, c), :]


def _pool_input(op: str, inputs: list[np.ndarray], attrs: dict) -> tuple[np.ndarray, Window3D]:
    x = inputs[0]
    check_data_format_3d(op, attrs)
    check_volume_rank(op, "input", x.shape, VOLUME)
    if x.dtype.kind == "b":
        raise UnsupportedDTypeError(f"{op} does not take bool inputs")
    k = spatial_triple(op, attrs, "filter_size")
    # TF's MaxPool3D / AvgPool3D have no dilation
    return x, window_geometry_3d(op, attrs, x.shape[1:4], k, dilations=(1, 1, 1))


@numpy_kernel("Conv3D")
def conv3d(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x, f = inputs[0], inputs[1]
    check_data_format_3d(op, attrs)
    check_volume_rank(op, "input", x.shape, "[batch, depth, height, width, in_channels]")
    check_volume_rank(op, "filter", f.shape, "[filter_depth, filter_height, filter_width, in_channels, "
                                             "out_channels]")
    if x.shape[4] != f.shape[3]:
        raise ShapeError(f"{op}: input has {x.shape[4]} channels but the filter expects {f.shape[3]} "
                         f"(filter shape {list(f.shape)})")
    _common_kind(op, x, f, ints_ok=False)
    win = window_geometry_3d(op, attrs, x.shape[1:4], f.shape[:3])
    xp = pad_volume(x.astype(np.float64), win, 0.0)
    fw = f.astype(np.float64)
    acc = np.zeros((x.shape[0],) + win.out + (f.shape[4],))
    for (a, b, c), tap in volume_taps(xp, win):
        acc += tap @ fw[a, b, c]
    return [acc.astype(np.float32)]


@numpy_kernel("MaxPool3D")
def max_pool3d(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x, win = _pool_input(op, inputs, attrs)
    shape = (x.shape[0],) + win.out + (x.shape[4],)
    if x.dtype.kind in "iu":
        xp = pad_volume(x.astype(np.int64), win, INT32_MIN)
        acc = np.full(shape, INT32_MIN, np.int64)
        for _, tap in volume_taps(xp, win):
            acc = np.maximum(acc, tap)
        return [acc.astype(np.int32)]
    xp = pad_volume(x.astype(np.float64), win, FLOAT32_LOWEST)    # padding taps are the lowest float
    acc = np.full(shape, -np.inf)
    for _, tap in volume_taps(xp, win):
        acc = np.fmax(acc, tap)                                    # NaN never wins
    return [acc.astype(np.float32)]


@numpy_kernel("AvgPool3D")
def avg_pool3d(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x, win = _pool_input(op, inputs, attrs)
    if x.dtype.kind != "f":
        raise UnsupportedDTypeError(f"{op} takes float32 inputs only (TensorFlow has no int32 AvgPool3D); "
                                    f"cast to float32 first")
    xp = pad_volume(x.astype(np.float64), win, 0.0)
    ones = pad_volume(np.ones((1,) + x.shape[1:4] + (1,)), win, 0.0)
    total = np.zeros((x.shape[0],) + win.out + (x.shape[4],))
    count = np.zeros((1,) + win.out + (1,))
    for (_, tap), (_, valid) in zip(volume_taps(xp, win), volume_taps(ones, win)):
        total += tap
        count += valid
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count                                       # a window of padding only: 0 / 0 = NaN
    return [mean.astype(np.float32)]
