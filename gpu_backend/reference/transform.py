"""ImageProjectiveTransformV3: resample images through per-image 3x3 projective transforms.

Each output pixel (x, y) reads the input at ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k) with
k = c0 x + c1 y + 1 (the 8 transform values [a0, a1, a2, b0, b1, b2, c0, c1]); k == 0 gives the fill
value. Out-of-image coordinates are first folded back by fill_mode (REFLECT: dcba|abcd|dcba, WRAP,
NEAREST: clamp, CONSTANT: left as they are), then sampled NEAREST (round half away from zero) or
BILINEAR; any tap outside the image reads fill_value (TF 2.19 has no separate "whole sample is
outside" test: a CONSTANT sample at x = 6.1 of a 7-wide image still rounds to pixel 6). The arithmetic is float32 in TF's
order, since rounding to a pixel is discontinuous; integer images truncate the interpolated value
toward zero as TF's cast does.
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedDTypeError
from ..op_checks import projective_modes, projective_shapes
from ..registry import numpy_kernel

F32 = np.float32
REFLECT, WRAP, CONSTANT, NEAREST = range(4)


def _trunc(v: np.ndarray) -> np.ndarray:
    """C's float -> int64 cast (toward zero), as a float32 array."""
    return np.trunc(v).astype(F32)


def _round_half_away(v: np.ndarray) -> np.ndarray:
    a = np.abs(v)
    f = np.floor(a)
    return np.copysign(f + (a - f >= F32(0.5)), v)


def map_coordinate(c: np.ndarray, length: int, mode: int) -> np.ndarray:
    """Fold float32 coordinates into [0, length - 1] the way TF's MapCoordinate does (scipy's rules)."""
    c = c.astype(F32)
    n = F32(length)
    if mode == CONSTANT:
        return c
    if mode == NEAREST or length <= 1:
        return np.clip(c, F32(0), n - F32(1)) if length > 1 else np.where(np.isnan(c), c, F32(0)).astype(F32)
    with np.errstate(invalid="ignore"):
        if mode == REFLECT:
            sz2 = F32(2 * length)
            neg = c < 0
            cn = (sz2 * _trunc(-c / sz2) + c).astype(F32)
            cn = np.where(cn < -n, cn + sz2, -cn - F32(1)).astype(F32)
            high = c > n - F32(1)
            ch = (c - sz2 * _trunc(c / sz2)).astype(F32)
            ch = np.where(ch >= n, sz2 - ch - F32(1), ch).astype(F32)
            out = np.where(neg, cn, np.where(high, ch, c))
        else:                                                    # WRAP
            sz = F32(length - 1)
            neg = c < 0
            cn = (c + n * (_trunc(-c / sz) + F32(1))).astype(F32)
            high = c > n - F32(1)
            ch = (c - n * _trunc(c / sz)).astype(F32)
            out = np.where(neg, cn, np.where(high, ch, c))
    return np.clip(out.astype(F32), F32(0), n - F32(1))


@numpy_kernel("ImageProjectiveTransformV3")
def image_projective_transform(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    images, transforms = np.asarray(inputs[0]), np.asarray(inputs[1])
    interp, mode = projective_modes(op, attrs)
    out_h, out_w = projective_shapes(op, images.shape, transforms.shape, attrs.get("output_shape", images.shape[1:3]))
    if images.dtype.kind not in "fi":
        raise UnsupportedDTypeError(f"{op}: images must be float32 or int32, not {images.dtype}")
    if transforms.dtype != np.float32:
        raise UnsupportedDTypeError(f"{op}: transforms must be float32, not {transforms.dtype}")
    n, h, w, ch = images.shape
    is_int = images.dtype.kind == "i"
    fill32 = F32(attrs.get("fill_value", 0.0))
    fill = F32(np.trunc(fill32)) if is_int else fill32          # static_cast<T>(fill_value)
    t = np.broadcast_to(transforms, (n, 8)).astype(F32)[:, :, None, None]
    oy = np.arange(out_h, dtype=F32)[None, :, None]
    ox = np.arange(out_w, dtype=F32)[None, None, :]
    with np.errstate(all="ignore"):
        k = (t[:, 6] * ox + t[:, 7] * oy + F32(1)).astype(F32)
        ix = ((t[:, 0] * ox + t[:, 1] * oy + t[:, 2]) / k).astype(F32)
        iy = ((t[:, 3] * ox + t[:, 4] * oy + t[:, 5]) / k).astype(F32)
    x = map_coordinate(ix, w, mode)
    y = map_coordinate(iy, h, mode)
    outside = k == 0
    src = images.astype(F32)
    b = np.arange(n)[:, None, None]

    def read(yi: np.ndarray, xi: np.ndarray) -> np.ndarray:
        ok = (yi >= 0) & (yi < h) & (xi >= 0) & (xi < w)
        v = src[b, np.clip(yi, 0, max(h - 1, 0)), np.clip(xi, 0, max(w - 1, 0))] if h and w else \
            np.zeros(yi.shape + (ch,), F32)
        return np.where(ok[..., None], v, fill)

    safe = lambda v: np.nan_to_num(v, nan=-1.0, posinf=-1.0, neginf=-1.0)        # noqa: E731
    with np.errstate(all="ignore"):
        if interp == 0:                      # NEAREST: std::round, half away from zero (-0.5 -> -1: outside)
            out = read(safe(_round_half_away(y)).astype(np.int64), safe(_round_half_away(x)).astype(np.int64))
        else:
            yf, xf = np.floor(y).astype(F32), np.floor(x).astype(F32)
            yc, xc = yf + F32(1), xf + F32(1)
            iyf, ixf = safe(yf).astype(np.int64), safe(xf).astype(np.int64)
            wx0, wx1 = (xc - x)[..., None], (x - xf)[..., None]
            top = (wx0 * read(iyf, ixf) + wx1 * read(iyf, ixf + 1)).astype(F32)
            bottom = (wx0 * read(iyf + 1, ixf) + wx1 * read(iyf + 1, ixf + 1)).astype(F32)
            out = ((yc - y)[..., None] * top + (y - yf)[..., None] * bottom).astype(F32)
    out = np.where(outside[..., None], fill, out).astype(F32)
    if is_int:
        return [np.trunc(out).astype(np.int32)]
    return [out]
