"""Where each value of a tensor lives in its 2D texture.

Packing ("C4"): the last dimension is cut into groups of 4 values, one RGBA
texel per group (TFLite GPU's PHWC4 idea applied to any rank).  A tensor of
logical shape ``[d0, ..., dn]`` therefore has the *texel shape*
``[d0, ..., ceil(dn / 4)]``; components past ``dn`` in the last texel are always
zero, which every kernel may rely on and must preserve.  The unpacked layout
stores one value per texel (R32F/R32I), texel shape == logical shape.

Mapping texels to the 2D texture: the texel shape is split into a prefix and a
suffix; the suffix runs along x and the prefix along y, so each dimension has
a stride on exactly one axis.  A texel's position is then ``offset +
sum(c[i] * stride[i])`` with ``stride[i]`` an (x, y) pair: no integer division
on the fetch path, which on llvmpipe costs about as much as the fetch itself.
The split is chosen to make the texture as square as possible within
``GL_MAX_TEXTURE_SIZE`` (llvmpipe shades square render targets about 3x faster
than very wide ones of the same area).  Only when no split fits, the tensor is
stored "flat": texel ``t`` at ``(t % width, t // width)`` on a near-square
texture; kernels then pay the division.  Views (reshape, broadcast, slices)
are other offsets/strides over the same texture.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from functools import lru_cache
from collections.abc import Sequence

from .errors import TextureTooLargeError

# Software rasterisers (Mesa's llvmpipe) split a draw into 64x64-pixel tiles and hand whole tiles to
# their threads, one thread per core: a 49x64 output is one tile and runs on one core, the same texels
# as 98x32 run on two (measured 3.2 ms against 2.0 ms for the same shader on 2 cores).  The layout
# planner therefore prefers texture shapes whose tiles spread evenly over the threads.  On hardware
# GPUs the shape of a texture barely matters, so the same choice costs nothing there.
RASTER_TILE = 64
RASTER_THREADS = max(1, min(int(os.environ.get("LP_NUM_THREADS") or (os.cpu_count() or 1)), 16))
TILE_OVERHEAD = 256          # fixed cost of a tile, in shaded-pixel equivalents (binning, setup)

# (dtype, packed) -> (moderngl dtype string, components, bytes per texel)
TEXTURE_FORMATS: dict[tuple[str, bool], tuple[str, int, int]] = {
    ("float32", True): ("f4", 4, 16),
    ("float32", False): ("f4", 1, 4),
    ("int32", True): ("i4", 4, 16),
    ("int32", False): ("i4", 1, 4),
    ("bool", True): ("i1", 4, 4),
    ("bool", False): ("i1", 1, 1),
}


def texel_shape(shape: Sequence[int], packed: bool) -> tuple[int, ...]:
    """Shape in texels; scalars are stored as one texel of shape (1,)."""
    s = tuple(shape) if len(shape) else (1,)
    if packed:
        s = s[:-1] + ((s[-1] + 3) // 4,)
    return s


@dataclass(frozen=True)
class View:
    """How the texels of a tensor map to texture positions.

    mode 'L': position = offset + sum(c[i] * strides[i]) with (x, y) pairs.
    mode 'F': t = offset[0] + sum(c[i] * strides[i][0]); position = (t % pitch, t // pitch).
    ``width``/``height`` are the texture's size.  ``splat`` marks a packed view
    whose last dimension (size 1) is broadcast: its texel's .x fills all four lanes.
    """

    shape: tuple[int, ...]
    packed: bool
    mode: str
    tshape: tuple[int, ...]
    strides: tuple[tuple[int, int], ...]
    offset: tuple[int, int]
    width: int
    height: int
    splat: bool = False
    row: int = 0            # texels per row of the dense interpretation (0: the texture width)

    def __hash__(self) -> int:
        # views key several caches on every draw: hash the fields once
        h = self.__dict__.get("_hash")
        if h is None:
            h = hash((self.shape, self.packed, self.mode, self.tshape, self.strides, self.offset, self.width,
                      self.height, self.splat, self.row))
            object.__setattr__(self, "_hash", h)
        return h

    @property
    def rank(self) -> int:
        return len(self.tshape)

    @property
    def texels(self) -> int:
        return math.prod(self.tshape)

    @property
    def pitch(self) -> int:
        """Texels per row when the tensor is read densely (texel t at (t % pitch, t // pitch))."""
        return self.row or self.width

    def extent(self) -> tuple[int, int]:
        """The (width, height) rectangle a dense tensor of this view covers (what a draw must shade)."""
        return self.pitch, -(-self.texels // self.pitch)

    def is_dense(self) -> bool:
        """Texels in row-major order from position (0, 0): texel t is at (t % width, t // width)."""
        if self.offset != (0, 0) or self.splat:
            return False
        flat = 1
        for size, (sx, sy) in zip(reversed(self.tshape), reversed(self.strides)):
            if size > 1:
                pitch = self.pitch
                if self.mode == "F":
                    ok = (sx, sy) == (flat, 0)
                elif flat * size <= pitch:
                    ok = (sx, sy) == (flat, 0)
                elif flat % pitch == 0:
                    ok = (sx, sy) == (0, flat // pitch)
                else:
                    ok = False  # the dimension straddles texture rows
                if not ok:
                    return False
            flat *= size
        return True


def _dense_strides(tshape: tuple[int, ...], mode: str, width: int) -> tuple[tuple[int, int], ...] | None:
    if mode == "F":
        out = []
        acc = 1
        for d in reversed(tshape):
            out.append((acc, 0))
            acc *= d
        return tuple(reversed(out))
    # L: find the split whose suffix spans exactly `width`
    split = _split_for_width(tshape, width)
    if split is None:
        return None
    return _l_strides(tshape, split)


def _split_for_width(tshape: tuple[int, ...], width: int) -> int | None:
    acc = 1
    for s in range(len(tshape), -1, -1):
        if s < len(tshape):
            acc *= tshape[s]
        if acc == width:
            return s
        if acc > width:
            return None
    return None


def _l_strides(tshape: tuple[int, ...], split: int) -> tuple[tuple[int, int], ...]:
    strides: list[tuple[int, int]] = [(0, 0)] * len(tshape)
    acc = 1
    for i in range(len(tshape) - 1, split - 1, -1):
        strides[i] = (acc, 0)
        acc *= tshape[i]
    acc = 1
    for i in range(split - 1, -1, -1):
        strides[i] = (0, acc)
        acc *= tshape[i]
    return tuple(strides)


def npot(n: int, max_size: int) -> int:
    """The smallest size >= n that is not a power of two (and still fits).

    Mesa's llvmpipe keys its compiled fragment-shader variants on whether each sampled texture's
    width and height are powers of two, so a program drawn once with a 16x4 input and once with a
    15x3 one is JIT-compiled twice (40-200 ms each).  Never allocating power-of-two sizes keeps one
    variant per program; the cost is one unused row or column of texels at most."""
    while n & (n - 1) == 0 and n + 1 <= max_size:     # 1 -> 3, 2 -> 3, 4 -> 5
        n += 1
    return n


@lru_cache(maxsize=4096)
def raster_cost(width: int, height: int, threads: int = RASTER_THREADS) -> float:
    """Estimated time to shade a width x height target, in pixel units: the busiest thread's share
    when tiles go to threads longest first (what llvmpipe's tile queue approximates)."""
    tx, ty = -(-width // RASTER_TILE), -(-height // RASTER_TILE)
    if tx * ty > 256:
        return (width * height + TILE_OVERHEAD * tx * ty) / threads
    sizes = sorted((min(RASTER_TILE, width - RASTER_TILE * i) * min(RASTER_TILE, height - RASTER_TILE * j)
                    for i in range(tx) for j in range(ty)), reverse=True)
    loads = [0.0] * threads
    for size in sizes:
        k = loads.index(min(loads))
        loads[k] += size + TILE_OVERHEAD
    return max(loads)


def plan_layout(shape: Sequence[int], packed: bool, max_size: int, name: str = "tensor",
                dtype: str = "float32") -> View:
    """The standard layout of a new tensor: the x/y split cheapest to shade (then the squarest),
    else flat."""
    shape = tuple(int(d) for d in shape)
    try:
        return _plan_layout(shape, packed, max_size)
    except TextureTooLargeError as exc:
        raise TextureTooLargeError(str(exc).replace("<tensor>", name).replace("<dtype>", dtype)) from None


@lru_cache(maxsize=4096)
def _plan_layout(shape: tuple[int, ...], packed: bool, max_size: int) -> View:
    name, dtype = "<tensor>", "<dtype>"
    ts = texel_shape(shape, packed)
    n = math.prod(ts)
    options = []
    for split in range(len(ts) + 1):
        w = math.prod(ts[split:])
        h = math.prod(ts[:split])
        if w > max_size or h > max_size:
            continue
        options.append((raster_cost(max(w, 1), max(h, 1)), abs(math.log(max(w, 1)) - math.log(max(h, 1))), -w, h, split))
    best = None
    if options:
        # the cheapest to shade, and among those within 5% of it the squarest (then the widest)
        cheapest = min(o[0] for o in options)
        best = min((o for o in options if o[0] <= cheapest * 1.05), key=lambda o: (round(o[1], 9), o[2]))
    if best is not None:
        _, _, w, h, split = best
        w = -w
        w, h = max(w, 1), max(h, 1)
        return View(shape, packed, "L", ts, _l_strides(ts, split), (0, 0), npot(w, max_size), npot(h, max_size), row=w)
    w = npot(min(max_size, math.isqrt(n - 1) + 1 if n > 0 else 1), max_size)
    h = -(-n // w)
    if h > max_size:
        raise TextureTooLargeError(
            f"{name} of shape {list(shape)} ({dtype}) needs {n} texels, more than the largest texture "
            f"this GL context allows ({max_size} x {max_size} = {max_size * max_size} texels, "
            f"GL_MAX_TEXTURE_SIZE={max_size}); split the tensor or use a smaller batch")
    return View(shape, packed, "F", ts, _dense_strides(ts, "F", w) or (), (0, 0), w, npot(h, max_size), row=w)


def is_standard(view: View, max_size: int) -> bool:
    """True when `view` is exactly the layout plan_layout would give a new tensor of its shape."""
    if view.splat or view.offset != (0, 0):
        return False
    return plan_layout(view.shape, view.packed, max_size) == view


def reshape_view(view: View, new_shape: Sequence[int], max_size: int) -> View | None:
    """A view of the same texels under another shape, or None when only a copy can do it."""
    return _reshape_view(view, tuple(int(d) for d in new_shape), max_size)


@lru_cache(maxsize=4096)
def _reshape_view(view: View, new_shape: tuple[int, ...], max_size: int) -> View | None:
    if not view.is_dense():
        return None
    old = view.shape if view.shape else (1,)
    new = new_shape if new_shape else (1,)
    if view.packed and old[-1] != new[-1] and (old[-1] % 4 or new[-1] % 4):
        return None
    ts = texel_shape(new_shape, view.packed)
    if math.prod(ts) != view.texels:
        return None
    # Prefer the new shape's own standard layout when it is the same texture arrangement.
    try:
        std = plan_layout(new_shape, view.packed, max_size)
    except TextureTooLargeError:
        std = None
    if std is not None and (std.width, std.height, std.pitch) == (view.width, view.height, view.pitch):
        return std
    pitch = view.pitch
    split = _split_for_width(ts, pitch)
    if split is not None and math.prod(ts[:split]) <= view.height:
        return View(new_shape, view.packed, "L", ts, _l_strides(ts, split), (0, 0), view.width, view.height, row=pitch)
    return View(new_shape, view.packed, "F", ts, _dense_strides(ts, "F", view.width) or (), (0, 0),
                view.width, view.height, row=pitch)


def broadcast_view(view: View, out_shape: Sequence[int]) -> View:
    return _broadcast_view(view, tuple(out_shape))


@lru_cache(maxsize=4096)
def _broadcast_view(view: View, out_shape: tuple[int, ...]) -> View:
    """The view read with output coordinates: missing and size-1 dims get stride 0.

    The result has the output's rank; a packed size-1 last dimension broadcast
    against a longer one is marked ``splat``.
    """
    out_rank = max(len(out_shape), 1)
    in_shape = view.shape if view.shape else (1,)
    pad = out_rank - len(in_shape)
    strides: list[tuple[int, int]] = [(0, 0)] * pad
    for i, d in enumerate(in_shape):
        out_d = (out_shape if out_shape else (1,))[pad + i]
        strides.append((0, 0) if (d == 1 and out_d != 1) else view.strides[i])
    full_out = out_shape if out_shape else (1,)
    splat = view.packed and in_shape[-1] == 1 and full_out[-1] != 1
    return replace(view, shape=out_shape, tshape=texel_shape(out_shape, view.packed),
                   strides=tuple(strides), splat=splat or view.splat)


def slice_view(view: View, begin: Sequence[int], size: Sequence[int], step: Sequence[int] | None = None) -> View | None:
    """A strided window of a view without copying, or None when the packed last dim forbids it.

    The last dimension of a packed view can only be windowed on whole texels
    that keep the zero-tail invariant: begin % 4 == 0, step 1, and the window
    ending at the old end or on a multiple of 4.
    """
    shape = view.shape if view.shape else (1,)
    rank = len(shape)
    step = tuple(step) if step is not None else (1,) * rank
    if any(s < 1 for s in step):
        return None
    if view.splat:
        return None
    if view.packed:
        b, n, st = begin[-1], size[-1], step[-1]
        if n > 0 and (b % 4 or st != 1 or not (b + n == shape[-1] or (b + n) % 4 == 0)):
            return None
    ox, oy = view.offset
    strides = []
    for i in range(rank):
        sx, sy = view.strides[i]
        b = begin[i] // 4 if (view.packed and i == rank - 1) else begin[i]
        ox += b * sx
        oy += b * sy
        strides.append((sx * step[i], sy * step[i]))
    new_shape = tuple(int(s) for s in size)
    if not view.shape:
        new_shape = ()
    return replace(view, shape=new_shape, tshape=texel_shape(new_shape, view.packed),
                   strides=tuple(strides), offset=(ox, oy))


def batch_view(view: View, out_batch: Sequence[int], keep: int = 2) -> View:
    """Broadcast the leading (batch) dims of a view to `out_batch`, keeping its last `keep` dims."""
    shape = view.shape
    rank = len(shape)
    batch = shape[: rank - keep]
    pad = len(out_batch) - len(batch)
    strides: list[tuple[int, int]] = [(0, 0)] * pad
    for i, d in enumerate(batch):
        strides.append((0, 0) if (d == 1 and out_batch[pad + i] != 1) else view.strides[i])
    strides += list(view.strides[rank - keep:])
    new_shape = tuple(out_batch) + tuple(shape[rank - keep:])
    return replace(view, shape=new_shape, tshape=texel_shape(new_shape, view.packed), strides=tuple(strides))


def permute_view(view: View, perm: Sequence[int]) -> View:
    """Dims reordered (out dim i = input dim perm[i]); the packed last dim must stay last."""
    shape = view.shape
    new_shape = tuple(shape[p] for p in perm)
    strides = tuple(view.strides[p] for p in perm)
    return replace(view, shape=new_shape, tshape=texel_shape(new_shape, view.packed), strides=strides)
