"""GL kernels for scans (Cumsum, Cumprod), sorting/searching (TopK, SearchSorted) and MatrixBandPart,
Einsum, Diag: against the numpy reference on random and edge-case data in both layouts, and against
TensorFlow's own outputs (tests/fixtures/tf_goldens_misc.npz)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import gpu_backend.kernels.misc  # noqa: F401  (registers the kernels under test)
import gpu_backend.kernels.scan  # noqa: F401
import gpu_backend.kernels.sort  # noqa: F401
from conftest import EDGE_FLOATS, assert_matches, check_kernel, random_floats, random_ints, run_gl, run_ref
from gpu_backend.einsum_plan import plan_einsum
from gpu_backend.errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from gpu_backend.registry import GL_KERNELS

KERNELS = ("Cumsum", "Cumprod", "TopK", "SearchSorted", "MatrixBandPart", "Einsum", "Diag")


def misses(b) -> int:
    return b.memory()["program_cache_misses"]


def fallbacks(b, kernel: str) -> int:
    return sum(n for k, n in b.memory()["fallbacks"].items() if k.startswith(kernel + " "))


def test_kernels_registered():
    for k in KERNELS:
        assert k in GL_KERNELS


# ----------------------------------------------------------------------------- Cumsum / Cumprod

FLAGS = [(False, False), (True, False), (False, True), (True, True)]


@pytest.mark.parametrize("op", ["Cumsum", "Cumprod"])
@pytest.mark.parametrize("shape", [(3, 5, 7), (13,), (2, 1, 9), (4, 6), (2, 3, 4, 5)])
def test_scan_every_axis_and_flag(any_gl, op, shape):
    rng = np.random.default_rng(100 + len(shape) + shape[-1])
    before = fallbacks(any_gl, op)
    x = random_floats(rng, shape)
    xi = random_ints(rng, shape)          # full int32 range: sums and products wrap
    for axis in range(-len(shape), len(shape)):
        for exclusive, reverse in FLAGS:
            attrs = {"axis": axis, "exclusive": exclusive, "reverse": reverse}
            check_kernel(any_gl, op, [x], attrs)
            check_kernel(any_gl, op, [xi], attrs)
    assert fallbacks(any_gl, op) == before


@pytest.mark.parametrize("op", ["Cumsum", "Cumprod"])
def test_scan_nan_inf_and_signed_zeros(any_gl, op):
    rows = np.stack([EDGE_FLOATS, EDGE_FLOATS[::-1], np.roll(EDGE_FLOATS, 7),
                     np.array([-0.0] * 16 + [np.inf, -np.inf] * 8, np.float32)])
    for exclusive, reverse in FLAGS:
        for axis in (0, 1, -1):
            got = check_kernel(any_gl, op, [rows], {"axis": axis, "exclusive": exclusive, "reverse": reverse})[0]
            want = run_ref(op, [rows], {"axis": axis, "exclusive": exclusive, "reverse": reverse})[0]
            if op == "Cumsum":   # TF's sum starts at +0: never -0
                np.testing.assert_array_equal(np.signbit(got[got == 0]), np.signbit(want[want == 0]))


def test_scan_long_axis_is_bit_exact(any_gl):
    """Sequential float32 accumulation in TF's order: the same bits as the reference (and TF)."""
    rng = np.random.default_rng(101)
    x = random_floats(rng, (4001,), 3.0)
    for exclusive, reverse in FLAGS:
        attrs = {"axis": 0, "exclusive": exclusive, "reverse": reverse}
        np.testing.assert_array_equal(run_gl(any_gl, "Cumsum", [x], attrs)[0], run_ref("Cumsum", [x], attrs)[0])
    x2 = random_floats(rng, (3, 257, 5))
    attrs = {"axis": 1, "reverse": True}
    np.testing.assert_array_equal(run_gl(any_gl, "Cumsum", [x2], attrs)[0], run_ref("Cumsum", [x2], attrs)[0])


def test_scan_int_beyond_2_24(gl):
    x = np.array([2**24 + 1, 2**24 + 3, 1, -(2**24) - 7, 2**31 - 1, 5, -3, 2**30], np.int32)
    for op in ("Cumsum", "Cumprod"):
        for exclusive, reverse in FLAGS:
            check_kernel(gl, op, [x], {"axis": 0, "exclusive": exclusive, "reverse": reverse})
            check_kernel(gl, op, [x.reshape(2, 4)], {"axis": 0, "exclusive": exclusive, "reverse": reverse})


def test_scan_programs_are_shape_agnostic(any_gl):
    rng = np.random.default_rng(102)
    for op in ("Cumsum", "Cumprod"):
        for axis in (0, 2):
            check_kernel(any_gl, op, [random_floats(rng, (3, 5, 7))], {"axis": axis})
            before = misses(any_gl)
            check_kernel(any_gl, op, [random_floats(rng, (6, 2, 11))], {"axis": axis, "exclusive": True})
            check_kernel(any_gl, op, [random_floats(rng, (2, 9, 3))], {"axis": axis - 3, "reverse": True})
            assert misses(any_gl) == before, f"{op} axis {axis}: a new shape compiled a new program"


def test_scan_errors(gl):
    h = gl.upload(np.ones((2, 3), np.float32))
    with pytest.raises(AttributeValueError, match="axis 2 is out of range"):
        gl.run("Cumsum", [h], {"axis": 2})
    gl.dispose(h)
    h = gl.upload(np.float32(1))
    with pytest.raises(ShapeError, match="rank >= 1"):
        gl.run("Cumprod", [h], {"axis": 0})
    gl.dispose(h)
    h = gl.upload(np.ones(3, bool))
    with pytest.raises(UnsupportedDTypeError):
        gl.run("Cumsum", [h], {"axis": 0})
    gl.dispose(h)


# ----------------------------------------------------------------------------- TopK

def canonical_topk(values: np.ndarray, indices: np.ndarray) -> list[np.ndarray]:
    """sorted=False allows any order of the k entries: compare them ordered by index."""
    order = np.argsort(indices, axis=-1, kind="stable")
    return [np.take_along_axis(values, order, -1), np.take_along_axis(indices, order, -1)]


@pytest.mark.parametrize("shape", [(3, 17), (13,), (2, 3, 9), (5, 4), (2, 201), (1, 1)])
def test_topk_random_and_ties(any_gl, shape):
    rng = np.random.default_rng(110 + shape[-1])
    n = shape[-1]
    before = fallbacks(any_gl, "TopK")
    for k in sorted({0, 1, 2, n // 2, n - 1, n} - {-1}):
        if k > n:
            continue
        for is_sorted in (True, False):
            attrs = {"k": k, "sorted": is_sorted}
            check_kernel(any_gl, "TopK", [random_floats(rng, shape)], attrs)
            ties = np.round(random_floats(rng, shape) * 1.5).astype(np.float32)   # many equal values
            check_kernel(any_gl, "TopK", [ties], attrs)
            check_kernel(any_gl, "TopK", [random_ints(rng, shape)], attrs)
            check_kernel(any_gl, "TopK", [random_ints(rng, shape, -2, 2)], attrs)
    assert fallbacks(any_gl, "TopK") == before


def test_topk_nan_inf_rows(any_gl):
    rows = np.array([
        [np.nan, 1, -np.inf, np.nan, 2, 1, np.inf, -0.0, 0.0, np.nan],
        [np.nan] * 10,
        [-np.inf] * 5 + [np.nan] * 5,
        [0.0, -0.0] * 5,
        [np.inf, np.nan, np.inf, -np.inf, 3, 3, 3, np.nan, -1e30, 1e-30],
    ], np.float32)
    for k in (1, 3, 7, 10):
        values, indices = check_kernel(any_gl, "TopK", [rows], {"k": k})
        want_v, want_i = run_ref("TopK", [rows], {"k": k})
        np.testing.assert_array_equal(indices, want_i)
        # same bits: -0 and +0 come back as they were, NaN as NaN
        np.testing.assert_array_equal(np.signbit(values[~np.isnan(values)]), np.signbit(want_v[~np.isnan(want_v)]))
    values, indices = run_gl(any_gl, "TopK", [rows[:1]], {"k": 10})
    np.testing.assert_array_equal(indices, [[6, 4, 1, 5, 7, 8, 2, 0, 3, 9]])


def test_topk_int_beyond_2_24(any_gl):
    """Values that float32 would merge must stay distinct, indices exact."""
    x = np.array([[2**24, 2**24 + 1, 2**24 + 2, 2**24 + 1, -(2**31), 2**31 - 1, -(2**24) - 1, -(2**24)]], np.int32)
    values, indices = check_kernel(any_gl, "TopK", [x], {"k": 8})
    np.testing.assert_array_equal(indices, [[5, 2, 1, 3, 0, 7, 6, 4]])


def test_topk_long_rows(gl):
    """Rows too long to rank run the iterate scheme; only long rows with a large k fall back."""
    rng = np.random.default_rng(111)
    x = random_floats(rng, (2, 5001))
    x[:, ::3] = np.round(x[:, ::3])                              # ties
    before = fallbacks(gl, "TopK")
    check_kernel(gl, "TopK", [x], {"k": 7})
    check_kernel(gl, "TopK", [random_floats(rng, (1, 4096))], {"k": 100})     # the longest row ranked
    assert fallbacks(gl, "TopK") == before
    check_kernel(gl, "TopK", [x], {"k": 4000})
    assert fallbacks(gl, "TopK") == before + 1


def test_scan_and_einsum_limits_fall_back(gl, monkeypatch):
    import gpu_backend.kernels.misc as misc
    import gpu_backend.kernels.scan as scan
    rng = np.random.default_rng(113)
    monkeypatch.setattr(scan, "MAX_SCAN_STEPS", 100)
    before = fallbacks(gl, "Cumsum")
    check_kernel(gl, "Cumsum", [random_floats(rng, (4, 60))], {"axis": 1})
    assert fallbacks(gl, "Cumsum") == before + 1
    monkeypatch.setattr(misc, "MAX_EINSUM_PRODUCT", 100)
    before = fallbacks(gl, "Einsum")
    check_kernel(gl, "Einsum", [random_ints(rng, (5, 6)), random_ints(rng, (6, 7))], {"equation": "ij,jk->ik"})
    assert fallbacks(gl, "Einsum") == before + 1
    check_kernel(gl, "Einsum", [random_ints(rng, (50,)), random_ints(rng, (60,))], {"equation": "i,j->ij"})
    assert fallbacks(gl, "Einsum") == before + 1       # an outer product is its own output: no limit


def test_topk_programs_are_shape_agnostic(any_gl):
    rng = np.random.default_rng(112)
    check_kernel(any_gl, "TopK", [random_floats(rng, (3, 17))], {"k": 5})
    before = misses(any_gl)
    check_kernel(any_gl, "TopK", [random_floats(rng, (7, 40))], {"k": 13, "sorted": False})
    check_kernel(any_gl, "TopK", [random_floats(rng, (1, 5))], {"k": 5})
    assert misses(any_gl) == before


def test_topk_errors(gl):
    h = gl.upload(np.arange(5, dtype=np.float32))
    with pytest.raises(AttributeValueError, match=r"k=6 is larger than the last dimension \(5\)"):
        gl.run("TopK", [h], {"k": 6})
    with pytest.raises(AttributeValueError, match="k must be >= 0"):
        gl.run("TopK", [h], {"k": -1})
    with pytest.raises(AttributeValueError, match="'k'"):
        gl.run("TopK", [h], {})
    gl.dispose(h)


# ----------------------------------------------------------------------------- SearchSorted

@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("sshape,vshape", [((9,), (13,)), ((2, 3, 8), (2, 3, 5)), ((3, 10), (3, 10)),
                                           ((1, 1), (1, 7)), ((4, 33), (4, 2))])
def test_search_sorted(any_gl, side, sshape, vshape):
    rng = np.random.default_rng(120 + sshape[-1] + vshape[-1])
    before = fallbacks(any_gl, "SearchSorted")
    seq = np.sort(np.round(random_floats(rng, sshape) * 2), axis=-1).astype(np.float32)   # with duplicates
    vals = np.round(random_floats(rng, vshape) * 2).astype(np.float32)                    # hitting them
    attrs = {"side": side}
    check_kernel(any_gl, "SearchSorted", [seq, vals], attrs)
    check_kernel(any_gl, "SearchSorted", [random_floats(rng, sshape), vals], attrs)       # unsorted rows
    seq_i = np.sort(random_ints(rng, sshape), axis=-1)
    check_kernel(any_gl, "SearchSorted", [seq_i, random_ints(rng, vshape)], attrs)
    check_kernel(any_gl, "SearchSorted", [np.sort(random_ints(rng, sshape, -3, 3), -1),
                                         random_ints(rng, vshape, -4, 4)], attrs)
    assert fallbacks(any_gl, "SearchSorted") == before


@pytest.mark.parametrize("side", ["left", "right"])
def test_search_sorted_nan_inf(any_gl, side):
    seq = np.array([[-np.inf, -1, 0, 0, 2, np.inf, np.nan],
                    [np.nan, np.nan, 1, 2, 3, 4, 5],
                    [1, np.nan, 3, np.nan, 5, 6, 7],
                    [-0.0, 0.0, -0.0, 0.0, 1, 1, 1]], np.float32)
    vals = np.array([[np.nan, -np.inf, np.inf, 0, -0.0, 2.5, 7]] * 4, np.float32)
    check_kernel(any_gl, "SearchSorted", [seq, vals], {"side": side})


def test_search_sorted_int_beyond_2_24(any_gl):
    seq = np.array([[-(2**31), 2**24, 2**24 + 1, 2**24 + 1, 2**24 + 2, 2**31 - 1]], np.int32)
    vals = np.array([[2**24, 2**24 + 1, 2**24 + 2, 2**24 + 3, -(2**31), 2**31 - 1]], np.int32)
    (left,) = check_kernel(any_gl, "SearchSorted", [seq, vals], {"side": "left"})
    (right,) = check_kernel(any_gl, "SearchSorted", [seq, vals], {"side": "right"})
    np.testing.assert_array_equal(left, [[1, 2, 4, 5, 0, 5]])
    np.testing.assert_array_equal(right, [[2, 4, 5, 5, 1, 6]])


def test_search_sorted_programs_are_shape_agnostic(any_gl):
    rng = np.random.default_rng(121)
    s = np.sort(random_floats(rng, (3, 10)), -1)
    check_kernel(any_gl, "SearchSorted", [s, random_floats(rng, (3, 4))], {"side": "left"})
    before = misses(any_gl)
    s2 = np.sort(random_floats(rng, (5, 31)), -1)
    check_kernel(any_gl, "SearchSorted", [s2, random_floats(rng, (5, 9))], {"side": "right"})
    assert misses(any_gl) == before


def test_search_sorted_errors(gl):
    s = gl.upload(np.array([1, 2, 3], np.float32))
    v = gl.upload(np.ones((2, 4), np.float32))
    vi = gl.upload(np.ones(3, np.int32))
    with pytest.raises(ShapeError, match="same leading dimensions"):
        gl.run("SearchSorted", [s, v], {"side": "left"})
    with pytest.raises(AttributeValueError, match="side"):
        gl.run("SearchSorted", [s, s], {"side": "middle"})
    with pytest.raises(UnsupportedDTypeError):
        gl.run("SearchSorted", [s, vi], {"side": "left"})
    for h in (s, v, vi):
        gl.dispose(h)


# ----------------------------------------------------------------------------- MatrixBandPart

BANDS = [(-1, -1), (-1, 0), (0, -1), (0, 0), (1, 0), (0, 1), (2, 1), (-3, 2), (1, -5)]


@pytest.mark.parametrize("shape", [(4, 5), (2, 4, 5), (6, 3), (2, 2, 3, 9), (1, 1), (7, 13)])
def test_matrix_band_part_every_dtype(any_gl, shape):
    rng = np.random.default_rng(130 + shape[-1])
    rows, cols = shape[-2], shape[-1]
    before = fallbacks(any_gl, "MatrixBandPart")
    x, xi, xb = random_floats(rng, shape), random_ints(rng, shape), rng.random(shape) > 0.3
    x.flat[1::3] = np.nan
    for lower, upper in BANDS + [(rows, cols)]:
        if lower > rows or upper > cols:
            continue
        attrs = {"num_lower": lower, "num_upper": upper}
        for a in (x, xi, xb):
            check_kernel(any_gl, "MatrixBandPart", [a], attrs)
    assert fallbacks(any_gl, "MatrixBandPart") == before


def test_matrix_band_part_bounds_as_inputs(any_gl):
    x = random_floats(np.random.default_rng(131), (3, 4, 6))
    for lower, upper in ((1, 0), (-1, 2), (3, 6)):
        check_kernel(any_gl, "MatrixBandPart", [x, np.array(lower, np.int32), np.array(upper, np.int32)], {})


def test_matrix_band_part_programs_are_shape_agnostic(any_gl):
    rng = np.random.default_rng(132)
    check_kernel(any_gl, "MatrixBandPart", [random_floats(rng, (2, 4, 5))], {"num_lower": 1, "num_upper": 0})
    before = misses(any_gl)
    check_kernel(any_gl, "MatrixBandPart", [random_floats(rng, (3, 7, 9))], {"num_lower": -1, "num_upper": 2})
    assert misses(any_gl) == before


def test_matrix_band_part_errors(gl):
    h = gl.upload(np.ones((3, 4), np.float32))
    with pytest.raises(AttributeValueError, match=r"num_lower .* rows \(3\), got 5"):
        gl.run("MatrixBandPart", [h], {"num_lower": 5, "num_upper": 0})
    with pytest.raises(AttributeValueError, match=r"num_upper .* columns \(4\), got 5"):
        gl.run("MatrixBandPart", [h], {"num_lower": 0, "num_upper": 5})
    with pytest.raises(AttributeValueError, match="num_lower"):
        gl.run("MatrixBandPart", [h], {"num_upper": 0})
    gl.dispose(h)
    h = gl.upload(np.ones(4, np.float32))
    with pytest.raises(ShapeError, match="rank >= 2"):
        gl.run("MatrixBandPart", [h], {"num_lower": 0, "num_upper": 0})
    gl.dispose(h)


# ----------------------------------------------------------------------------- Diag

@pytest.mark.parametrize("shape", [(5,), (2, 3), (2, 1, 3), (1,), (9,)])
def test_diag(any_gl, shape):
    rng = np.random.default_rng(140 + len(shape))
    x = random_floats(rng, shape)
    x.flat[-1] = np.nan
    check_kernel(any_gl, "Diag", [x])
    check_kernel(any_gl, "Diag", [random_ints(rng, shape)])
    check_kernel(any_gl, "Diag", [rng.random(shape) > 0.5])


def test_diag_program_is_shape_agnostic(any_gl):
    rng = np.random.default_rng(141)
    check_kernel(any_gl, "Diag", [random_floats(rng, (2, 3))])
    before = misses(any_gl)
    check_kernel(any_gl, "Diag", [random_floats(rng, (3, 5))])
    assert misses(any_gl) == before


# ----------------------------------------------------------------------------- Einsum

EINSUM_FORMS = [
    ("ij,jk->ik", [(5, 7), (7, 3)]),                       # matmul-like
    ("ij,kj->ik", [(5, 7), (3, 7)]),
    ("ji,jk->ik", [(7, 5), (7, 3)]),
    ("ij,jk->ki", [(3, 4), (4, 5)]),
    ("ij,jk", [(3, 4), (4, 5)]),                           # implicit output
    ("bij,bjk->bik", [(2, 3, 5), (2, 5, 4)]),              # batch matmul
    ("bij,jk->bik", [(2, 3, 5), (5, 6)]),
    ("bij,bkj->bik", [(2, 3, 4), (2, 5, 4)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 5, 8), (2, 3, 7, 8)]),     # attention scores
    ("bhqk,bhkd->bhqd", [(2, 3, 5, 7), (2, 3, 7, 6)]),
    ("bhqk,bhkd->bqhd", [(2, 3, 4, 6), (2, 3, 6, 5)]),
    ("aecd,abcd->acbe", [(2, 5, 3, 4), (2, 6, 3, 4)]),     # Keras MultiHeadAttention
    ("acbe,aecd->abcd", [(2, 3, 6, 5), (2, 5, 3, 4)]),
    ("abc,cde->abde", [(2, 3, 4), (4, 5, 6)]),             # EinsumDense
    ("abcd,cde->abe", [(2, 3, 4, 5), (4, 5, 6)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 6)]),     # '...' broadcasting
    ("...ij,...jk->...ik", [(3, 4), (7, 4, 2)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 5)]),
    ("...j,...j->...", [(3, 1, 2), (5, 2)]),
    ("i...j,j...k->...ik", [(2, 3, 4), (4, 3, 5)]),
    ("ij->ji", [(3, 5)]),                                  # transposes
    ("abc->cab", [(2, 3, 5)]),
    ("abcd->acbd", [(2, 3, 4, 5)]),
    ("ba", [(2, 3)]),
    ("i...j->j...i", [(2, 4, 5, 3)]),
    ("i,j->ij", [(3,), (5,)]),                             # outer products
    ("bi,bj->bij", [(2, 3), (2, 5)]),
    ("ij,ij->ij", [(3, 4), (3, 4)]),                       # Hadamard
    (",ij->ij", [(), (2, 3)]),
    ("ijk->ik", [(2, 3, 4)]),                              # sums over absent labels
    ("ijk->", [(2, 3, 4)]),
    ("ij,kl->", [(2, 3), (3, 4)]),
    ("ij,jk->i", [(2, 3), (3, 4)]),
    ("ij,ij->", [(3, 4), (3, 4)]),
    ("i,i->", [(7,), (7,)]),
    ("ij,j->i", [(3, 4), (4,)]),
    ("abcd,cdbe->ea", [(2, 3, 4, 5), (4, 5, 3, 6)]),
    ("Ba,aC->CB", [(2, 3), (3, 4)]),
]


@pytest.mark.parametrize("equation,shapes", EINSUM_FORMS)
def test_einsum_forms(any_gl, equation, shapes):
    rng = np.random.default_rng(150 + len(equation))
    ops = [random_floats(rng, s) for s in shapes]
    before, live = fallbacks(any_gl, "Einsum"), any_gl.memory()["live_textures"]
    check_kernel(any_gl, "Einsum", ops, {"equation": equation}, rtol=1e-4, atol=1e-5)
    assert any_gl.memory()["live_textures"] == live, "Einsum leaked a temporary"
    assert fallbacks(any_gl, "Einsum") == before
    ints = [random_ints(rng, s, -1000, 1000) for s in shapes]
    check_kernel(any_gl, "Einsum", ints, {"equation": equation})


def test_einsum_int_wraps_beyond_2_24(any_gl):
    rng = np.random.default_rng(151)
    a, b = random_ints(rng, (3, 5)), random_ints(rng, (5, 4))
    check_kernel(any_gl, "Einsum", [a, b], {"equation": "ij,jk->ik"})
    check_kernel(any_gl, "Einsum", [a, a], {"equation": "ij,ij->"})
    check_kernel(any_gl, "Einsum", [a], {"equation": "ij->j"})


def test_einsum_nan_inf(any_gl):
    a = np.array([[1, np.nan, 2], [np.inf, 1, 0], [1, 2, 3]], np.float32)
    b = np.array([[1, 0], [2, 1], [-np.inf, 1]], np.float32)
    check_kernel(any_gl, "Einsum", [a, b], {"equation": "ij,jk->ik"})
    check_kernel(any_gl, "Einsum", [a, b.T.copy()], {"equation": "ij,kj->ki"})
    check_kernel(any_gl, "Einsum", [a], {"equation": "ij->i"})


def test_einsum_diagonals_fall_back(gl):
    rng = np.random.default_rng(152)
    before = fallbacks(gl, "Einsum")
    check_kernel(gl, "Einsum", [random_floats(rng, (4, 4))], {"equation": "ii->i"})
    check_kernel(gl, "Einsum", [random_floats(rng, (3, 3, 2)), random_floats(rng, (2, 4))], {"equation": "iij,jk->ik"})
    assert fallbacks(gl, "Einsum") == before + 2


def test_einsum_attention_plan_has_no_transposes():
    """The converter's attention forms map straight onto BatchMatMul (transpose flags, no copies)."""
    p = plan_einsum("bhqd,bhkd->bhqk", [(2, 3, 5, 8), (2, 3, 7, 8)])
    assert p.kind == "matmul" and p.transpose_b and not p.transpose_a
    assert all(list(q) == list(range(len(q))) for q in p.perms + (p.final_perm,))
    p = plan_einsum("ij,jk->ik", [(3, 4), (4, 5)])
    assert p.kind == "matmul" and not p.transpose_a and not p.transpose_b
    assert plan_einsum("ii->i", [(3, 3)]).kind == "diagonal"
    assert plan_einsum("i,j->ij", [(3,), (4,)]).kind == "product"


def test_einsum_programs_are_shape_agnostic(any_gl):
    rng = np.random.default_rng(153)
    eq = {"equation": "bhqd,bhkd->bhqk"}
    check_kernel(any_gl, "Einsum", [random_floats(rng, (2, 3, 5, 8)), random_floats(rng, (2, 3, 7, 8))], eq,
                 rtol=1e-4, atol=1e-5)
    before = misses(any_gl)
    check_kernel(any_gl, "Einsum", [random_floats(rng, (1, 2, 9, 4)), random_floats(rng, (1, 2, 6, 4))], eq,
                 rtol=1e-4, atol=1e-5)
    assert misses(any_gl) == before


@pytest.mark.parametrize("equation,shapes,error", [
    ("ij,jk->ik->i", [(2, 3), (3, 4)], AttributeValueError),
    ("ij->ik", [(2, 3)], AttributeValueError),
    ("ij,jk->ik", [(2, 3), (1, 4)], ShapeError),
    ("...ij,...jk->ik", [(4, 2, 3), (4, 3, 5)], ShapeError),
    ("...ij,...j->...i", [(3, 1, 2), (5, 2)], ShapeError),
])
def test_einsum_errors_match_reference(gl, equation, shapes, error):
    ops = [np.ones(s, np.float32) for s in shapes]
    with pytest.raises(error) as want:
        run_ref("Einsum", ops, {"equation": equation})
    handles = [gl.upload(o) for o in ops]
    with pytest.raises(error) as got:
        gl.run("Einsum", handles, {"equation": equation})
    assert str(got.value) == str(want.value)
    for h in handles:
        gl.dispose(h)


# ----------------------------------------------------------------------------- TensorFlow's goldens

GOLDENS = np.load(Path(__file__).with_name("fixtures") / "tf_goldens_misc.npz")
GOLDEN_CASES = sorted(c for c in {k.split("/")[0] for k in GOLDENS.files}
                      if json.loads(str(GOLDENS[f"{c}/call"]))["kernel"] in KERNELS)


@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_gl_matches_tensorflow(any_gl, case):
    call = json.loads(str(GOLDENS[f"{case}/call"]))
    inputs, want = [], []
    while f"{case}/in{len(inputs)}" in GOLDENS.files:
        inputs.append(GOLDENS[f"{case}/in{len(inputs)}"])
    while f"{case}/out{len(want)}" in GOLDENS.files:
        want.append(GOLDENS[f"{case}/out{len(want)}"])
    got = run_gl(any_gl, call["kernel"], inputs, call["attrs"])
    if call["kernel"] == "TopK" and not call["attrs"].get("sorted", True):
        got, want = canonical_topk(*got), canonical_topk(*want)
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        assert_matches(g, w, rtol=1e-5, atol=1e-5, what=f"{case} output {k}")
    if call["kernel"] == "Cumsum":     # bit-exact, as the reference is
        np.testing.assert_array_equal(got[0], want[0], err_msg=case)


# ----------------------------------------------------------------------------- flat layout

@pytest.fixture(scope="module")
def gl_flat():
    """Textures capped at 32 x 32: rows longer than that are stored flat (mode 'F'), where walking a
    row wraps across texture lines."""
    from gpu_backend import GLBackend
    b = GLBackend(max_texture_size=32)
    yield b
    b.close()


def test_flat_layout(gl_flat):
    rng = np.random.default_rng(160)
    x = random_floats(rng, (7, 161))
    x[:, ::4] = np.round(x[:, ::4])
    x[1, ::5] = np.nan
    h = gl_flat.upload(x)
    assert gl_flat.tensor(h).view.mode == "F"
    gl_flat.dispose(h)
    for axis in (0, 1):
        for exclusive, reverse in FLAGS:
            check_kernel(gl_flat, "Cumsum", [x], {"axis": axis, "exclusive": exclusive, "reverse": reverse})
    for k in (3, 161):
        check_kernel(gl_flat, "TopK", [x], {"k": k})
    s = np.sort(random_floats(rng, (7, 161)), -1)
    for side in ("left", "right"):
        check_kernel(gl_flat, "SearchSorted", [s, random_floats(rng, (7, 150))], {"side": side})
    check_kernel(gl_flat, "MatrixBandPart", [x], {"num_lower": 3, "num_upper": 40})
    check_kernel(gl_flat, "Einsum", [x, random_floats(rng, (161, 9))], {"equation": "ij,jk->ki"}, rtol=1e-4, atol=1e-5)
    assert not gl_flat.memory()["fallbacks"]
