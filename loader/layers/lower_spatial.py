"""Spatial layers: ZeroPadding1D/2D/3D, Cropping1D/2D/3D, UpSampling1D/2D/3D, and the image
preprocessing layers Resizing, CenterCrop and Rescaling.

Resampling follows tf.image.resize (what Keras 2 and 3 call on TensorFlow): half-pixel centres, no
corner alignment; bilinear and nearest only (the executor has no bicubic / area / lanczos / gaussian
resize, nor the ScaleAndTranslate op behind antialias=True).  Nearest up-sampling by an integer
factor is a plain repeat, which ResizeNearestNeighbor with half-pixel centres reproduces exactly.
Crop / pad boxes (crop_to_aspect_ratio, pad_to_aspect_ratio, CenterCrop) need a known height and
width and are computed at load with the same float32 arithmetic Keras uses.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .builder import KTensor
from .lower_conv import channels_first, ints, scaled_dims, to_first, to_last
from .ops import F32, I32, Ops
from .registry import NeedsKnownShape, LayerCall, LayerConfigError, layer


def pairs(value: Any, n: int, what: str) -> list[tuple[int, int]]:
    """Per-axis (before, after) amounts: an int, (before, after) for 1-D, n ints (symmetric per axis)
    or n pairs."""
    if isinstance(value, int) and not isinstance(value, bool):
        return [(value, value)] * n
    if isinstance(value, (list, tuple)):
        items = list(value)
        if n == 1 and len(items) == 2 and all(isinstance(v, int) for v in items):
            return [(int(items[0]), int(items[1]))]
        if len(items) == n and all(isinstance(v, int) for v in items):
            return [(int(v), int(v)) for v in items]
        if len(items) == n and all(isinstance(v, (list, tuple)) and len(v) == 2 for v in items):
            return [(int(v[0]), int(v[1])) for v in items]
    raise LayerConfigError(f"{what} must be an int, {n} ints or {n} (before, after) pairs, got {value!r}")


def _spatial_axes(x: KTensor, n: int, cf: bool) -> list[int]:
    return list(range(2, n + 2)) if cf else list(range(1, n + 1))


def _rank(c: LayerCall, n: int) -> KTensor:
    x = c.x
    if x.rank != n + 2:
        raise LayerConfigError(f"{c.class_name} needs a rank-{n + 2} input, got shape {x.shape}")
    return x


_PAD_RANK = {"ZeroPadding1D": 1, "ZeroPadding2D": 2, "ZeroPadding3D": 3}


@layer(*_PAD_RANK, propagates_mask=False)
def zero_padding(c: LayerCall) -> list[KTensor]:
    n = _PAD_RANK[c.class_name]
    x = _rank(c, n)
    p = pairs(c.cfg("padding", 1), n, "padding")
    cf = channels_first(c) if n > 1 else False
    full = [(0, 0)] * x.rank
    for a, pp in zip(_spatial_axes(x, n, cf), p):
        full[a] = pp
    return [c.f.pad(x, full)]


_CROP_RANK = {"Cropping1D": 1, "Cropping2D": 2, "Cropping3D": 3}


def crop_axes(f: Ops, x: KTensor, crops: dict[int, tuple[int, int]]) -> KTensor:
    """x with crops[axis] = (before, after) elements removed: one StridedSlice."""
    last = max(crops)
    begin, end, strides = [0] * (last + 1), [0] * (last + 1), [1] * (last + 1)
    begin_mask = end_mask = 0
    for a in range(last + 1):
        lo, hi = crops.get(a, (0, 0))
        begin[a] = lo
        if a not in crops or lo == 0:
            begin_mask |= 1 << a
        if hi == 0:
            end_mask |= 1 << a
        else:
            end[a] = -hi if x.shape[a] is None else x.shape[a] - hi
    return f.strided_slice(x, begin, end, strides, begin_mask=begin_mask, end_mask=end_mask)


@layer(*_CROP_RANK, propagates_mask=False)
def cropping(c: LayerCall) -> list[KTensor]:
    n = _CROP_RANK[c.class_name]
    x = _rank(c, n)
    p = pairs(c.cfg("cropping", 1), n, "cropping")
    cf = channels_first(c) if n > 1 else False
    crops = {}
    for a, (lo, hi) in zip(_spatial_axes(x, n, cf), p):
        if lo < 0 or hi < 0:
            raise LayerConfigError(f"cropping {p} must not be negative")
        if x.shape[a] is not None and lo + hi > x.shape[a]:
            raise LayerConfigError(f"cropping {p} removes more than the {x.shape[a]} elements of axis {a}")
        if lo or hi:
            crops[a] = (lo, hi)
    if not crops:
        return [c.f.identity(x)]
    return [crop_axes(c.f, x, crops)]


def repeat_axis(f: Ops, x: KTensor, axis: int, times: int) -> KTensor:
    """Every element of `axis` repeated `times` times (Keras' repeat_elements / ops.repeat): one
    GatherV2 with host-made indices [0, 0, 1, 1, ...]."""
    if times == 1:
        return x
    n = x.shape[axis]
    if n is None:
        raise NeedsKnownShape(f"up-sampling needs a known size of axis {axis}")
    idx = f.const(np.repeat(np.arange(n, dtype=np.int32), times), "indices", "int32")
    return f.gather(x, idx, axis)


def _resize(c: LayerCall, x: KTensor, size: tuple[int | None, int | None], method: str,
            size_t: KTensor | None = None) -> KTensor:
    """tf.image.resize (antialias off) on NHWC x: half-pixel centres, no corner alignment.  `size_t`:
    the size as a (host-computed) tensor, for inputs of unknown height / width."""
    if size_t is None and (x.shape[1], x.shape[2]) == size:
        return x      # tf.image.resize to the same size is the identity (half-pixel sampling hits every pixel)
    op = {"bilinear": "ResizeBilinear", "nearest": "ResizeNearestNeighbor"}[method]
    sz = size_t if size_t is not None else c.b.ints(list(size), name=c.n("size"))
    return c.b.op(op, [x, sz], {"T": F32, "align_corners": False, "half_pixel_centers": True}, name=c.n(op),
                  shape=(x.shape[0], size[0], size[1], x.shape[3]))


def _interpolation(c: LayerCall, default: str = "bilinear") -> str:
    method = str(c.cfg("interpolation", default)).lower()
    if method not in ("bilinear", "nearest"):
        raise LayerConfigError(f"interpolation {method!r} is not supported (bilinear and nearest are; the "
                               "executor has no bicubic / area / lanczos / gaussian / mitchellcubic resize)")
    return method


@layer("UpSampling1D", propagates_mask=False)
def upsampling1d(c: LayerCall) -> list[KTensor]:
    x = _rank(c, 1)
    size = ints(c.cfg("size", 2), 1, "size")[0]
    return [repeat_axis(c.f, x, 1, size)]


@layer("UpSampling2D", propagates_mask=False)
def upsampling2d(c: LayerCall) -> list[KTensor]:
    x = _rank(c, 2)
    sh, sw = ints(c.cfg("size", 2), 2, "size")
    method = _interpolation(c, "nearest")
    f = c.f
    cf = channels_first(c)
    if cf:
        x = to_last(f, x)
    h, w = x.shape[1], x.shape[2]
    size = (None if h is None else h * sh, None if w is None else w * sw)
    dynamic = h is None or w is None
    y = _resize(c, x, size, method, scaled_dims(f, x, [1, 2], [sh, sw], [0, 0]) if dynamic else None)
    return [to_first(f, y) if cf else y]


@layer("UpSampling3D", propagates_mask=False)
def upsampling3d(c: LayerCall) -> list[KTensor]:
    x = _rank(c, 3)
    size = ints(c.cfg("size", 2), 3, "size")
    cf = channels_first(c)
    for a, s in zip(_spatial_axes(x, 3, cf), size):
        x = repeat_axis(c.f, x, a, s)
    return [x]


# -- image preprocessing --------------------------------------------------------------------------
def _image(c: LayerCall) -> tuple[KTensor, bool]:
    """The NHWC float32 image batch (a single rank-3 image is refused: models take batches)."""
    x = c.x
    if x.rank != 4:
        raise LayerConfigError(f"{c.class_name} needs a batch of images [batch, height, width, channels], got "
                               f"shape {x.shape}")
    cf = channels_first(c)
    f = c.f
    if x.dtype != "float32":
        if c.keras3 and c.class_name == "Resizing":
            raise LayerConfigError("Resizing of integer images (Keras 3 rounds and saturates back to the "
                                   "input dtype) is not supported")
        x = f.cast(x, "float32")
    if cf:
        x = to_last(f, x)
    if x.shape[1] is None or x.shape[2] is None:
        raise NeedsKnownShape(f"{c.class_name} needs a known input height and width")
    return x, cf


def _f32_div(a: int, b: int) -> float:
    return float(np.float32(a) / np.float32(b))


def _crop_to_aspect(c: LayerCall, x: KTensor, th: int, tw: int) -> KTensor:
    """The centred box of the target's aspect ratio (Keras' smart_resize crop)."""
    h, w = int(x.shape[1]), int(x.shape[2])   # type: ignore[arg-type]
    ch, cw = min(h, int(_f32_div(w * th, tw))), min(w, int(_f32_div(h * tw, th)))
    if c.keras3:
        ch, cw = max(ch, 1), max(cw, 1)
    if ch <= 0 or cw <= 0:
        raise LayerConfigError(f"cropping a {h}x{w} image to the aspect ratio of {th}x{tw} leaves nothing")
    hs, ws = int(_f32_div(h - ch, 2)), int(_f32_div(w - cw, 2))
    if (ch, cw) == (h, w):
        return x
    return crop_axes(c.f, x, {1: (hs, h - hs - ch), 2: (ws, w - ws - cw)})


def _pad_to_aspect(c: LayerCall, x: KTensor, th: int, tw: int, fill: float) -> KTensor:
    """Keras 3's pad_to_aspect_ratio: `start` rows (columns) of fill_value on both sides, where start is
    half the missing height (width) rounded down."""
    h, w = int(x.shape[1]), int(x.shape[2])   # type: ignore[arg-type]
    ph, pw = max(h, int(_f32_div(w * th, tw))), max(w, int(_f32_div(h * tw, th)))
    hs, ws = int(_f32_div(ph - h, 2)), int(_f32_div(pw - w, 2))
    if hs > 0 and ws > 0:
        raise LayerConfigError("pad_to_aspect_ratio padding both height and width is not supported")
    if hs <= 0 and ws <= 0:
        return x
    pads = [(0, 0), (hs, hs) if hs > 0 else (0, 0), (ws, ws) if ws > 0 else (0, 0), (0, 0)]
    f = c.f
    if fill == 0.0:
        return f.pad(x, pads)
    shape = (x.shape[0], h + 2 * max(hs, 0), w + 2 * max(ws, 0), x.shape[3])
    return c.b.op("PadV2", [x, f.const(np.asarray(pads, np.int32), "paddings", "int32"), f.scalar(fill)],
                  {"T": F32, "Tpaddings": I32}, name=c.n("PadV2"), shape=shape)


@layer("Resizing")
def resizing(c: LayerCall) -> list[KTensor]:
    th, tw = int(c.cfg("height")), int(c.cfg("width"))
    method = _interpolation(c)
    if c.cfg("antialias", False) and method == "bilinear":
        raise LayerConfigError("antialias=True bilinear resizing (TF's ScaleAndTranslate) is not supported")
    crop, padded = bool(c.cfg("crop_to_aspect_ratio", False)), bool(c.cfg("pad_to_aspect_ratio", False))
    if crop and padded:
        raise LayerConfigError("crop_to_aspect_ratio and pad_to_aspect_ratio cannot both be set")
    if str(c.cfg("fill_mode", "constant")) != "constant":
        raise LayerConfigError(f"fill_mode {c.cfg('fill_mode')!r} is not supported (Keras allows only 'constant')")
    x, cf = _image(c)
    if crop:
        x = _crop_to_aspect(c, x, th, tw)
    elif padded:
        x = _pad_to_aspect(c, x, th, tw, float(c.cfg("fill_value", 0.0) or 0.0))
    y = _resize(c, x, (th, tw), method)
    return [to_first(c.f, y) if cf else y]


@layer("CenterCrop")
def center_crop(c: LayerCall) -> list[KTensor]:
    """The centred target box when the image is at least that big; otherwise (as Keras) smart_resize:
    the centred box of the target's aspect ratio, resized bilinearly."""
    th, tw = int(c.cfg("height")), int(c.cfg("width"))
    x, cf = _image(c)
    h, w = int(x.shape[1]), int(x.shape[2])   # type: ignore[arg-type]
    if h >= th and w >= tw:
        hs, ws = (h - th) // 2, (w - tw) // 2
        y = crop_axes(c.f, x, {1: (hs, h - hs - th), 2: (ws, w - ws - tw)}) if (h, w) != (th, tw) else x
    else:
        y = _resize(c, _crop_to_aspect(c, x, th, tw), (th, tw), "bilinear")
    if y is c.x:
        y = c.f.identity(y)
    return [to_first(c.f, y) if cf else y]


def _numbers(v: Any, what: str) -> np.ndarray:
    if isinstance(v, dict):        # Keras 3 may serialize arrays as {'class_name': '__numpy__', 'config': {...}}
        v = (v.get("config") or {}).get("value", v)
    try:
        arr = np.asarray(v, np.float32)
    except (TypeError, ValueError):
        raise LayerConfigError(f"{what} {v!r} is not a number or a list of numbers") from None
    if arr.dtype.kind != "f":
        raise LayerConfigError(f"{what} {v!r} is not a number or a list of numbers")
    return arr


@layer("Rescaling")
def rescaling(c: LayerCall) -> list[KTensor]:
    """x * scale + offset in float32 (scale / offset scalars or arrays broadcast against the trailing
    axes, as in Keras with the default channels_last image format)."""
    x = c.x
    f = c.f
    if x.dtype != "float32":
        x = f.cast(x, "float32")
    scale = _numbers(c.cfg("scale", 1.0), "scale")
    offset = _numbers(c.cfg("offset", 0.0), "offset")
    y = f.mul(x, float(scale) if scale.ndim == 0 else f.const(scale, "scale"))
    if offset.ndim > 0 or float(offset) != 0.0:
        y = f.add(y, float(offset) if offset.ndim == 0 else f.const(offset, "offset"))
    return [y]
