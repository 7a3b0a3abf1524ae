"""ResizeBilinear, ResizeNearestNeighbor and CropAndResize with TensorFlow's exact sampling rules.

Sample positions are computed in float32 with the same operation order as TF's
CPU kernels, because nearest-neighbour rounding and CropAndResize's
"outside the image" test are discontinuous: computing them in float64 would
pick a different source pixel (or extrapolate) where TF does not.  Only the
interpolation itself, which is continuous, runs in float64.

Position rules (scale = in/out, or (in-1)/(out-1) with align_corners and out > 1):
  bilinear, half_pixel_centers: (i + 0.5) * scale - 0.5; legacy: i * scale;
    lower = max(floor(p), 0), upper = min(ceil(p), in - 1), weight p - floor(p).
  nearest, half_pixel_centers: floor((i + 0.5) * scale) clamped to [0, in - 1];
    align_corners: round-half-away(i * scale); legacy: floor(i * scale); both capped at in - 1.
"""
from __future__ import annotations

import numpy as np

from ..errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from ..registry import numpy_kernel

F32 = np.float32


def _round_half_away(p: np.ndarray) -> np.ndarray:
    """C's roundf for p >= 0, without the float32 rounding error of floor(p + 0.5)."""
    f = np.floor(p)
    return f + (p - f >= F32(0.5))


def _size_pair(op: str, attrs: dict, name: str) -> tuple[int, int]:
    value = attrs.get(name)
    if value is None:
        raise AttributeValueError(f"{op}: missing attribute {name!r} ([height, width])")
    vals = [int(v) for v in np.asarray(value).ravel()]
    if len(vals) != 2 or min(vals) < 1:
        raise AttributeValueError(f"{op}: {name} must be two positive ints [height, width], got {value!r}")
    return vals[0], vals[1]


def _images(op: str, x: np.ndarray) -> np.ndarray:
    """The input as a rank-4 batch (rank 3 is one image, as TF.js allows), refusing bools and empty images."""
    if x.ndim not in (3, 4):
        raise ShapeError(f"{op}: images must have rank 4 ([batch, height, width, channels]) or 3, "
                         f"got shape {list(x.shape)}")
    if x.dtype.kind == "b":
        raise UnsupportedDTypeError(f"{op} does not take bool images")
    x4 = x[None] if x.ndim == 3 else x
    if x4.shape[1] < 1 or x4.shape[2] < 1:
        raise ShapeError(f"{op}: image height and width must be positive, got shape {list(x.shape)}")
    return x4


def _flags(op: str, attrs: dict) -> tuple[bool, bool]:
    align = bool(attrs.get("align_corners", False))
    half = bool(attrs.get("half_pixel_centers", False))
    if align and half:
        raise AttributeValueError(f"{op}: align_corners and half_pixel_centers cannot both be true "
                                  f"(TensorFlow refuses it); set one of them to false")
    return align, half


def _scale(in_size: int, out_size: int, align: bool) -> np.float32:
    if align and out_size > 1:
        return F32(in_size - 1) / F32(out_size - 1)
    return F32(in_size) / F32(out_size)


def _bilinear_axis(in_size: int, out_size: int, align: bool, half: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scale = _scale(in_size, out_size, align)
    i = np.arange(out_size, dtype=F32)
    pos = (i + F32(0.5)) * scale - F32(0.5) if half else i * scale
    fl = np.floor(pos)
    lower = np.clip(fl, 0, in_size - 1).astype(np.int64)
    upper = np.minimum(np.ceil(pos), in_size - 1).astype(np.int64)
    upper = np.maximum(upper, 0)
    return lower, upper, (pos - fl).astype(np.float64)


def _lerp2(img: np.ndarray, y0: np.ndarray, y1: np.ndarray, ylerp: np.ndarray,
           x0: np.ndarray, x1: np.ndarray, xlerp: np.ndarray) -> np.ndarray:
    """TF's formula, term for term (so Inf/NaN neighbours give the same NaNs): top + (bottom - top) * ylerp."""
    tl = img[:, y0][:, :, x0]
    tr = img[:, y0][:, :, x1]
    bl = img[:, y1][:, :, x0]
    br = img[:, y1][:, :, x1]
    xl = xlerp[None, None, :, None]
    with np.errstate(invalid="ignore"):
        top = tl + (tr - tl) * xl
        bottom = bl + (br - bl) * xl
        return top + (bottom - top) * ylerp[None, :, None, None]


@numpy_kernel("ResizeBilinear")
def resize_bilinear(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x = inputs[0]
    img = _images(op, x).astype(F32).astype(np.float64)      # TF reads int pixels as float32
    out_h, out_w = _size_pair(op, attrs, "size")
    align, half = _flags(op, attrs)
    y0, y1, yl = _bilinear_axis(img.shape[1], out_h, align, half)
    x0, x1, xl = _bilinear_axis(img.shape[2], out_w, align, half)
    out = _lerp2(img, y0, y1, yl, x0, x1, xl).astype(F32)
    return [out[0] if x.ndim == 3 else out]


def _nearest_axis(in_size: int, out_size: int, align: bool, half: bool) -> np.ndarray:
    scale = _scale(in_size, out_size, align)
    i = np.arange(out_size, dtype=F32)
    if half:
        idx = np.floor((i + F32(0.5)) * scale)
    else:
        pos = i * scale
        idx = _round_half_away(pos) if align else np.floor(pos)
    return np.clip(idx, 0, in_size - 1).astype(np.int64)


@numpy_kernel("ResizeNearestNeighbor")
def resize_nearest_neighbor(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x = inputs[0]
    img = _images(op, x)
    out_h, out_w = _size_pair(op, attrs, "size")
    align, half = _flags(op, attrs)
    ys = _nearest_axis(img.shape[1], out_h, align, half)
    xs = _nearest_axis(img.shape[2], out_w, align, half)
    out = img[:, ys][:, :, xs]
    out = out.astype(np.int32) if out.dtype.kind in "iu" else out.astype(F32)
    return [out[0] if x.ndim == 3 else out]


def _crop_positions(a1: np.float32, a2: np.float32, in_size: int, crop: int) -> np.ndarray:
    """Sample positions along one axis of one box, in float32 as TF computes them."""
    extent = F32(in_size - 1)
    if crop > 1:
        step = (a2 - a1) * extent / F32(crop - 1)
        return a1 * extent + np.arange(crop, dtype=F32) * step
    # TF: 0.5 * (a1 + a2) * (in - 1) is evaluated in double (0.5 is a double literal), then stored as float
    return np.array([F32(0.5 * float(F32(a1 + a2)) * (in_size - 1))], F32)


@numpy_kernel("CropAndResize")
def crop_and_resize(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """Crops boxes [y1, x1, y2, x2] (normalised; y1 > y2 flips) of the images and resamples them.

    A normalised coordinate c maps to c * (size - 1); samples that fall outside
    [0, size - 1] get extrapolation_value.  Output is float32 for every image dtype.
    """
    if len(inputs) != 3:
        raise ShapeError(f"{op} needs inputs [image, boxes, box_ind], got {len(inputs)} inputs")
    image, boxes, box_ind = inputs
    if image.ndim != 4:
        raise ShapeError(f"{op}: image must have rank 4 ([batch, height, width, channels]), "
                         f"got shape {list(image.shape)}")
    if image.dtype.kind == "b":
        raise UnsupportedDTypeError(f"{op} does not take bool images")
    if image.shape[1] < 1 or image.shape[2] < 1:
        raise ShapeError(f"{op}: image height and width must be positive, got shape {list(image.shape)}")
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ShapeError(f"{op}: boxes must have shape [num_boxes, 4], got {list(boxes.shape)}")
    if box_ind.shape != (boxes.shape[0],):
        raise ShapeError(f"{op}: box_ind must have shape [{boxes.shape[0]}] (one image index per box), "
                         f"got {list(box_ind.shape)}")
    if box_ind.dtype.kind not in "iu":
        raise UnsupportedDTypeError(f"{op}: box_ind must be int32, got {box_ind.dtype}")
    batch, height, width, depth = image.shape
    bad = (box_ind < 0) | (box_ind >= batch)
    if bad.any():
        raise ShapeError(f"{op}: box_ind has values outside [0, {batch}) (the image batch size): "
                         f"{sorted(set(box_ind[bad].tolist()))}")
    boxes = boxes.astype(F32)
    if not np.isfinite(boxes).all():
        raise ShapeError(f"{op}: boxes contain NaN or Inf")
    crop_h, crop_w = _size_pair(op, attrs, "crop_size")
    method = str(attrs.get("method", "bilinear")).lower()
    if method not in ("bilinear", "nearest"):
        raise AttributeValueError(f"{op}: method {attrs.get('method')!r} is not supported; use 'bilinear' or 'nearest'")
    fill = float(F32(attrs.get("extrapolation_value", 0.0)))
    img = image.astype(F32).astype(np.float64)
    out = np.empty((boxes.shape[0], crop_h, crop_w, depth))
    for b in range(boxes.shape[0]):
        y1, x1, y2, x2 = boxes[b]
        py = _crop_positions(y1, y2, height, crop_h)
        px = _crop_positions(x1, x2, width, crop_w)
        inside_y = (py >= 0) & (py <= F32(height - 1))
        inside_x = (px >= 0) & (px <= F32(width - 1))
        cy = np.clip(py, 0, height - 1)                     # any in-range index; masked out below
        cx = np.clip(px, 0, width - 1)
        src = img[box_ind[b]][None]
        if method == "bilinear":
            fy, fx = np.floor(cy), np.floor(cx)
            crop = _lerp2(src, fy.astype(np.int64), np.ceil(cy).astype(np.int64), (cy - fy).astype(np.float64),
                          fx.astype(np.int64), np.ceil(cx).astype(np.int64), (cx - fx).astype(np.float64))[0]
        else:
            crop = src[0][_round_half_away(cy).astype(np.int64)][:, _round_half_away(cx).astype(np.int64)]
        inside = inside_y[:, None] & inside_x[None, :]
        out[b] = np.where(inside[:, :, None], crop, fill)
    return [out.astype(F32)]
