"""The numpy reference's scan, sort/search, misc-math and data-dependent kernels against TensorFlow's own
outputs (tests/fixtures/tf_goldens_misc.npz, recorded by tests/fixtures/make_tf_goldens_misc.py with
TF 2.19), plus the errors a user gets for bad attributes."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import gpu_backend.reference.dynamic  # noqa: F401  (registers the kernels under test)
import gpu_backend.reference.misc  # noqa: F401
import gpu_backend.reference.scan  # noqa: F401
import gpu_backend.reference.sort  # noqa: F401
from conftest import assert_matches, run_ref
from gpu_backend.errors import AttributeValueError, ShapeError, UnsupportedDTypeError

GOLDENS = np.load(Path(__file__).with_name("fixtures") / "tf_goldens_misc.npz")
CASES = sorted({k.split("/")[0] for k in GOLDENS.files})


def load(case: str) -> tuple[str, list[np.ndarray], dict, list[np.ndarray]]:
    call = json.loads(str(GOLDENS[f"{case}/call"]))
    inputs, outputs = [], []
    while f"{case}/in{len(inputs)}" in GOLDENS.files:
        inputs.append(GOLDENS[f"{case}/in{len(inputs)}"])
    while f"{case}/out{len(outputs)}" in GOLDENS.files:
        outputs.append(GOLDENS[f"{case}/out{len(outputs)}"])
    return call["kernel"], inputs, call["attrs"], outputs


def canonical_topk(values: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sorted=False allows any order of the k entries: compare them ordered by index."""
    order = np.argsort(indices, axis=-1, kind="stable")
    return np.take_along_axis(values, order, -1), np.take_along_axis(indices, order, -1)


def test_goldens_cover_every_kernel():
    kernels = {load(c)[0] for c in CASES}
    assert kernels == {"Cumsum", "Cumprod", "TopK", "SearchSorted", "MatrixBandPart", "Einsum", "Diag",
                       "NonMaxSuppressionV3", "NonMaxSuppressionV4", "NonMaxSuppressionV5", "Where", "Unique",
                       "UniqueV2", "ListDiff", "SparseToDense"}


@pytest.mark.parametrize("case", CASES)
def test_reference_matches_tensorflow(case):
    kernel, inputs, attrs, want = load(case)
    before = [x.copy() for x in inputs]
    got = run_ref(kernel, inputs, attrs)
    assert len(got) == len(want), f"{case}: {len(got)} outputs, TF has {len(want)}"
    if kernel == "TopK" and not attrs.get("sorted", True):
        got = list(canonical_topk(*got))
        want = list(canonical_topk(*want))
    for k, (g, w) in enumerate(zip(got, want)):
        assert_matches(g, w, rtol=1e-5, atol=1e-5, what=f"{case} output {k}")
    for x, b in zip(inputs, before):
        np.testing.assert_array_equal(x, b, err_msg=f"{case}: the kernel modified its input")
    for g in got:
        assert all(not np.shares_memory(g, x) for x in inputs), f"{case}: an output is a view of an input"


def test_cumsum_is_bit_exact_with_tensorflow():
    """Accumulating in float32 in TF's order reproduces TF exactly, not just within tolerance."""
    for case in ("Cumsum_long", "Cumsum_long_rev", "Cumsum_ax1_e1_r1_f"):
        kernel, inputs, attrs, want = load(case)
        np.testing.assert_array_equal(run_ref(kernel, inputs, attrs)[0], want[0], err_msg=case)


# ----------------------------------------------------------------------------- Einsum, against np.einsum too

EINSUM_EXTRA = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 6)]),
    ("...ij,...jk->...ik", [(3, 4), (7, 4, 2)]),
    ("i...j,j...k->...ik", [(2, 3, 4), (4, 3, 5)]),
    ("ii->i", [(4, 4)]),
    ("iji->j", [(3, 2, 3)]),
    ("ij,ji->", [(3, 4), (4, 3)]),
    ("abcd,cdbe->ea", [(2, 3, 4, 5), (4, 5, 3, 6)]),
    ("ij,kj", [(3, 4), (5, 4)]),
    ("...,...->...", [(3, 1), (1, 4)]),
    ("Ba,aC->CB", [(2, 3), (3, 4)]),
]


@pytest.mark.parametrize("equation,shapes", EINSUM_EXTRA)
def test_einsum_matches_numpy_einsum(equation, shapes):
    rng = np.random.default_rng(len(equation))
    ops = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    (got,) = run_ref("Einsum", ops, {"equation": equation})
    want = np.einsum(equation.replace(" ", ""), *[o.astype(np.float64) for o in ops]).astype(np.float32)
    assert_matches(got, np.asarray(want), rtol=1e-5, atol=1e-5, what=equation)


@pytest.mark.parametrize("equation,shapes,match", [
    ("ij,jk->ik->i", [(2, 3), (3, 4)], "more than one '->'"),
    ("ij->ii", [(2, 3)], "repeats the output label"),
    ("ij->ik", [(2, 3)], "output label 'k'"),
    ("i1->i", [(2, 3)], "character '1'"),
    ("i.j->ij", [(2, 3)], "character '.'"),
    ("...i...->i", [(2, 3)], "more than one '...'"),
    ("ij->ij", [(2, 3), (2, 3)], "1 input term"),
    ("ij,jk,kl->il", [(2, 3), (3, 4)], "only 1 or 2 operands"),
])
def test_einsum_malformed_equation_names_it(equation, shapes, match):
    ops = [np.ones(s, np.float32) for s in shapes]
    with pytest.raises(AttributeValueError, match=match) as info:
        run_ref("Einsum", ops, {"equation": equation})
    assert equation in str(info.value)


@pytest.mark.parametrize("equation,shapes,match", [
    ("ij,jk->ik", [(2, 3), (1, 4)], "label 'j'"),
    ("ijk->i", [(2, 3)], "rank 2"),
    ("ii->i", [(3, 2)], "label 'i'"),
    ("...ij,...jk->ik", [(4, 2, 3), (4, 3, 5)], "no '...'"),
    ("...ij,...j->...i", [(3, 1, 2), (5, 2)], "do not broadcast"),
])
def test_einsum_shape_errors(equation, shapes, match):
    ops = [np.ones(s, np.float32) for s in shapes]
    with pytest.raises(ShapeError, match=match):
        run_ref("Einsum", ops, {"equation": equation})


def test_einsum_needs_equation_and_numeric_operands():
    with pytest.raises(AttributeValueError, match="equation"):
        run_ref("Einsum", [np.ones((2, 2), np.float32)], {})
    with pytest.raises(UnsupportedDTypeError):
        run_ref("Einsum", [np.ones((2, 2), bool)], {"equation": "ij->ji"})


# ----------------------------------------------------------------------------- attribute errors

def test_topk_rejects_bad_k():
    x = np.arange(5, dtype=np.float32)
    with pytest.raises(AttributeValueError, match=r"k=6 is larger than the last dimension \(5\)"):
        run_ref("TopK", [x], {"k": 6})
    with pytest.raises(AttributeValueError, match="k must be >= 0, got k=-1"):
        run_ref("TopK", [x], {"k": -1})
    with pytest.raises(AttributeValueError, match="'k'"):
        run_ref("TopK", [x], {})
    with pytest.raises(AttributeValueError, match="integer"):
        run_ref("TopK", [x], {"k": 1.5})
    with pytest.raises(ShapeError, match="rank >= 1"):
        run_ref("TopK", [np.float32(1)], {"k": 0})


def test_topk_nan_ranks_below_every_number():
    x = np.array([[np.nan, 1, -np.inf, np.nan, 2, 1]], np.float32)
    values, indices = run_ref("TopK", [x], {"k": 6})
    np.testing.assert_array_equal(indices, [[4, 1, 5, 2, 0, 3]])
    assert_matches(values, np.array([[2, 1, 1, -np.inf, np.nan, np.nan]], np.float32))


def test_cumsum_errors():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(AttributeValueError, match="axis 2 is out of range"):
        run_ref("Cumsum", [x], {"axis": 2})
    with pytest.raises(ShapeError, match="rank >= 1"):
        run_ref("Cumprod", [np.float32(1)], {"axis": 0})
    with pytest.raises(UnsupportedDTypeError):
        run_ref("Cumsum", [np.ones(3, bool)], {"axis": 0})


def test_search_sorted_errors():
    s = np.array([1, 2, 3], np.float32)
    v = np.ones((2, 4), np.float32)
    with pytest.raises(ShapeError, match="same leading dimensions"):
        run_ref("SearchSorted", [s, v], {"side": "left"})
    with pytest.raises(AttributeValueError, match="side"):
        run_ref("SearchSorted", [s, s], {"side": "middle"})
    with pytest.raises(UnsupportedDTypeError):
        run_ref("SearchSorted", [s, s.astype(np.int32)], {"side": "left"})


def test_matrix_band_part_errors():
    x = np.ones((3, 4), np.float32)
    with pytest.raises(AttributeValueError, match=r"num_lower .* rows \(3\), got 5"):
        run_ref("MatrixBandPart", [x], {"num_lower": 5, "num_upper": 0})
    with pytest.raises(AttributeValueError, match=r"num_upper .* columns \(4\), got 5"):
        run_ref("MatrixBandPart", [x], {"num_lower": 0, "num_upper": 5})
    with pytest.raises(AttributeValueError, match="num_lower"):
        run_ref("MatrixBandPart", [x], {"num_upper": 0})
    with pytest.raises(ShapeError, match="rank >= 2"):
        run_ref("MatrixBandPart", [x[0]], {"num_lower": 0, "num_upper": 0})


def test_matrix_band_part_bounds_as_inputs():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    (a,) = run_ref("MatrixBandPart", [x, np.array(1, np.int32), np.array(0, np.int32)], {})
    (b,) = run_ref("MatrixBandPart", [x], {"num_lower": 1, "num_upper": 0})
    np.testing.assert_array_equal(a, b)


def test_nms_errors():
    boxes = np.array([[0, 0, 1, 1], [0, 0.1, 1, 1.1]], np.float32)
    scores = np.array([0.9, 0.8], np.float32)
    with pytest.raises(AttributeValueError, match="iou_threshold must be in"):
        run_ref("NonMaxSuppressionV3", [boxes, scores], {"max_output_size": 2, "iou_threshold": 1.5})
    with pytest.raises(AttributeValueError, match="max_output_size"):
        run_ref("NonMaxSuppressionV3", [boxes, scores], {"max_output_size": -1})
    with pytest.raises(AttributeValueError, match="max_output_size"):
        run_ref("NonMaxSuppressionV4", [boxes, scores], {})
    with pytest.raises(AttributeValueError, match="soft_nms_sigma"):
        run_ref("NonMaxSuppressionV5", [boxes, scores], {"max_output_size": 2, "soft_nms_sigma": -0.5})
    with pytest.raises(ShapeError, match=r"\[N, 4\]"):
        run_ref("NonMaxSuppressionV3", [boxes[:, :3], scores], {"max_output_size": 2})
    with pytest.raises(ShapeError, match="scores"):
        run_ref("NonMaxSuppressionV3", [boxes, scores[:1]], {"max_output_size": 2})


def test_unique_and_where_errors():
    # UniqueV2 along an axis of an N-D tensor: distinct slices (values checked against TF 2.19)
    y, idx = run_ref("UniqueV2", [np.array([[1, 2, 1], [3, 4, 3]], np.int32)], {"axis": [1]})
    np.testing.assert_array_equal(y, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(idx, [0, 1, 0])
    y, idx = run_ref("UniqueV2", [np.array([[1.0, np.nan], [1.0, np.nan]], np.float32)], {"axis": [0]})
    assert y.shape == (2, 2) and list(idx) == [0, 1]          # rows with NaN never compare equal
    with pytest.raises(AttributeValueError, match="axis"):
        run_ref("UniqueV2", [np.ones((2, 2), np.int32)], {"axis": [5]})
    with pytest.raises(ShapeError, match="1-D"):
        run_ref("Unique", [np.ones((2, 2), np.int32)], {})
    with pytest.raises(ShapeError, match="rank >= 1"):
        run_ref("Where", [np.array(True)], {})


def test_sparse_to_dense_errors_and_tfjs_form():
    ind, vals, dflt = np.array([[0, 1], [2, 0]], np.int32), np.array([5, 6], np.float32), np.float32(-1)
    with pytest.raises(ShapeError, match="out of bounds"):
        run_ref("SparseToDense", [ind, np.array([2, 2], np.int32), vals, np.asarray(dflt)], {})
    with pytest.raises(ShapeError, match=r"should be \[\] or \[2\]"):
        run_ref("SparseToDense", [ind, np.array([3, 2], np.int32), np.ones(3, np.float32), np.asarray(dflt)], {})
    (tf_order,) = run_ref("SparseToDense", [ind, np.array([3, 2], np.int32), vals, np.asarray(dflt)], {})
    (tfjs,) = run_ref("SparseToDense", [ind, vals, np.asarray(dflt)], {"output_shape": [3, 2]})
    np.testing.assert_array_equal(tf_order, tfjs)
    np.testing.assert_array_equal(tf_order, [[-1, 5], [-1, -1], [6, -1]])
