"""Texture layout planning and views (pure Python, no GL)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from gpu_backend.errors import TextureTooLargeError
from gpu_backend.layout import (broadcast_view, plan_layout, reshape_view, slice_view, texel_shape)


def positions(view) -> np.ndarray:
    """Texture (x, y) of every texel, by the view's own rule."""
    out = []
    for c in np.ndindex(*view.tshape):
        if view.mode == "L":
            x = view.offset[0] + sum(ci * s[0] for ci, s in zip(c, view.strides))
            y = view.offset[1] + sum(ci * s[1] for ci, s in zip(c, view.strides))
        else:
            t = view.offset[0] + sum(ci * s[0] for ci, s in zip(c, view.strides))
            x, y = t % view.width, t // view.width
        out.append((x, y))
    return np.array(out)


@pytest.mark.parametrize("shape", [(), (1,), (5,), (3, 7), (1, 128, 128, 3), (2, 3, 5, 6), (1, 1000), (7, 1, 1, 9),
                                   (65536, 3)])
@pytest.mark.parametrize("packed", [True, False])
def test_standard_layout_is_a_bijection_within_limits(shape, packed):
    v = plan_layout(shape, packed, 16384)
    assert v.tshape == texel_shape(shape, packed)
    pos = positions(v)
    assert len({tuple(p) for p in pos}) == v.texels                      # no two texels share a position
    assert (pos[:, 0] < v.width).all() and (pos[:, 1] < v.height).all()
    assert v.width <= 16384 and v.height <= 16384
    assert v.is_dense()


def test_layout_prefers_square_textures():
    v = plan_layout((1, 128, 128, 32), True, 16384)
    assert v.extent() == (1024, 128) and v.mode == "L"
    assert (v.width, v.height) == (1025, 129)          # never a power of two (one llvmpipe variant per program)


def test_flat_fallback_and_error():
    v = plan_layout((3, 5), False, 4)                     # 15 texels: no x/y split fits, flat 4x4 does
    assert v.mode == "F" and v.width == 4 and v.height == 4   # at the limit a power of two is kept
    assert len({tuple(p) for p in positions(v)}) == 15
    with pytest.raises(TextureTooLargeError, match=r"weights/kernel of shape \[5, 9\].*GL_MAX_TEXTURE_SIZE=4"):
        plan_layout((5, 9), False, 4, name="weights/kernel")


def test_reshape_view_keeps_texels_when_last_dim_kept():
    v = plan_layout((2, 3, 4, 8), True, 16384)
    r = reshape_view(v, (6, 4, 8), 16384)
    assert r is not None
    flat_old = [tuple(p) for p in positions(v)]
    flat_new = [tuple(p) for p in positions(r)]
    assert flat_old == flat_new                             # same texel at the same row-major index


def test_reshape_view_refuses_packed_regrouping():
    v = plan_layout((2, 6), True, 16384)
    assert reshape_view(v, (3, 4), 16384) is None          # texels of 4 would straddle rows of 6
    assert reshape_view(v, (12,), 16384) is None
    v8 = plan_layout((2, 8), True, 16384)
    assert reshape_view(v8, (4, 4), 16384) is not None    # multiples of 4 regroup freely


def test_broadcast_view_zeroes_strides_and_splats():
    v = plan_layout((3, 1), True, 16384)
    b = broadcast_view(v, (2, 3, 5))
    assert b.strides[0] == (0, 0) and b.strides[2] == (0, 0) and b.splat


def test_slice_view_offsets():
    v = plan_layout((6, 8), True, 16384)
    s = slice_view(v, (2, 4), (3, 4))
    assert s is not None and s.shape == (3, 4)
    assert slice_view(v, (0, 1), (6, 4)) is None            # would split a packed texel
    assert slice_view(v, (0, 0), (6, 6)) is None            # would leave non-zero lanes in the tail


def test_layout_sizes_match_math():
    for shape in [(1, 3), (10, 10, 10), (1, 64, 64, 24)]:
        v = plan_layout(shape, True, 16384)
        assert v.width * v.height >= math.prod(texel_shape(shape, True))


def test_texture_sizes_are_never_powers_of_two():
    """llvmpipe compiles a shader variant per power-of-two-ness of each sampled texture's sides."""
    from gpu_backend.layout import npot
    for n in range(1, 5000):
        m = npot(n, 16384)
        assert m >= n and m - n <= 2 and m & (m - 1) != 0, (n, m)
    assert npot(16384, 16384) == 16384          # no room to grow: kept


def test_buffer_texture_sizes_share_one_driver_variant():
    """Buffer byte sizes padded so llvmpipe's variant key bits (power of two, bits 8-15) never vary."""
    from gpu_backend.buffers import stable_texel_count
    for n in list(range(1, 9000)) + [65536, 65535, 1 << 20, (1 << 20) + 3]:
        m = stable_texel_count(n)
        nbytes = 16 * m
        assert m >= n and m - n <= 17, (n, m)
        assert nbytes & (nbytes - 1) != 0 and (nbytes >> 8) & 0xFF != 0, (n, m)


def test_layout_spreads_tiles_over_raster_threads():
    """One 64x64 tile runs on one llvmpipe thread: two half tiles beat one full one on 2 threads."""
    from gpu_backend.layout import raster_cost
    assert raster_cost(98, 32, 2) < raster_cost(49, 64, 2)
    assert raster_cost(49, 64, 1) <= raster_cost(98, 32, 1)          # one thread: fewer tiles win
    assert raster_cost(512, 512, 2) < raster_cost(16384, 16, 2)       # long thin strips still lose
