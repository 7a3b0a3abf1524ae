"""MatrixBandPart, Diag and Einsum (one or two operands)."""
from __future__ import annotations

import math

import numpy as np

from ..errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from ..op_checks import band_bounds
from ..registry import numpy_kernel


def _scalar_int(op: str, value: object, name: str) -> int:
    arr = np.asarray(value)
    if arr.size != 1 or arr.dtype.kind not in "iuf" or float(arr.reshape(-1)[0]) != int(arr.reshape(-1)[0]):
        raise AttributeValueError(f"{op}: {name} must be one integer, got {value!r}")
    return int(arr.reshape(-1)[0])


@numpy_kernel("MatrixBandPart")
def matrix_band_part(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """Keep x[..., m, n] where (num_lower < 0 or m - n <= num_lower) and (num_upper < 0 or n - m <= num_upper).

    This is TF's rule (num_lower bounds the sub-diagonals, num_upper the super-diagonals);
    TF.js's own kernel swaps the roles of rows and columns in its bound check, so models
    converted from TF would differ there.  Like TF, a bound larger than the matrix
    dimension it counts is refused.  The bounds may come as attributes or, as in the TF
    graph op, as the second and third inputs.
    """
    x = inputs[0]
    if len(inputs) == 3:
        lower, upper = _scalar_int(op, inputs[1], "num_lower"), _scalar_int(op, inputs[2], "num_upper")
    else:
        if "num_lower" not in attrs or "num_upper" not in attrs:
            raise AttributeValueError("MatrixBandPart needs the attributes 'num_lower' and 'num_upper' "
                                      "(a negative value keeps the whole triangle)")
        lower = _scalar_int(op, attrs["num_lower"], "num_lower")
        upper = _scalar_int(op, attrs["num_upper"], "num_upper")
    band_bounds(lower, upper, x.shape)
    rows, cols = x.shape[-2], x.shape[-1]
    m = np.arange(rows)[:, None]
    n = np.arange(cols)[None, :]
    keep = ((lower < 0) | (m - n <= lower)) & ((upper < 0) | (n - m <= upper))
    return [np.where(keep, x, np.zeros((), x.dtype)).astype(x.dtype)]


@numpy_kernel("Diag")
def diag(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """Rank-2r tensor with out[i1..ir, i1..ir] = x[i1..ir] and zeros elsewhere (tf.raw_ops.Diag)."""
    x = inputs[0]
    if x.ndim < 1:
        raise ShapeError("Diag needs an input of rank >= 1, got a scalar")
    n = x.size
    flat = np.zeros(n * n, x.dtype)
    flat[np.arange(n) * (n + 1)] = x.reshape(-1)
    return [flat.reshape(x.shape + x.shape)]


# ----------------------------------------------------------------------------- Einsum

from ..einsum_equation import expand_labels, parse_equation


def _take_diagonals(x: np.ndarray, labels: list[str]) -> tuple[np.ndarray, list[str]]:
    """A label repeated within one operand selects that operand's diagonal along those axes."""
    labels = list(labels)
    while len(set(labels)) < len(labels):
        label = next(t for t in labels if labels.count(t) > 1)
        i = labels.index(label)
        j = labels.index(label, i + 1)
        x = np.diagonal(x, axis1=i, axis2=j)      # drops axes i, j; the diagonal becomes the last axis
        labels = [t for k, t in enumerate(labels) if k not in (i, j)] + [label]
    return x, labels


def _sum_out(x: np.ndarray, labels: list[str], keep: set[str]) -> tuple[np.ndarray, list[str]]:
    axes = tuple(k for k, t in enumerate(labels) if t not in keep)
    if not axes:
        return x, labels
    return x.sum(axis=axes), [t for t in labels if t in keep]


def _einsum(equation: str, operands: list[np.ndarray]) -> np.ndarray:
    terms, out = parse_equation(equation, len(operands))
    labels_list, out_labels, sizes = expand_labels(terms, out, [x.shape for x in operands], equation)
    prepared = []
    for x, labels in zip(operands, labels_list):
        x, labels = _take_diagonals(x, labels)
        prepared.append((x, labels))
    if len(prepared) == 1:
        x, labels = _sum_out(*prepared[0], set(out_labels))
        return np.transpose(x, [labels.index(t) for t in out_labels])

    (a, la), (b, lb) = prepared
    # labels only one operand has and the output lacks are summed before the product
    a, la = _sum_out(a, la, set(out_labels) | set(lb))
    b, lb = _sum_out(b, lb, set(out_labels) | set(la))
    batch = [t for t in out_labels if t in la and t in lb]
    contracted = [t for t in la if t in lb and t not in out_labels]
    free_a = [t for t in la if t not in lb]
    free_b = [t for t in lb if t not in la]
    # a '...' dimension that is 1 in one operand and n in the other is contracted at size n
    a = np.broadcast_to(a, tuple(sizes[t] if t in contracted else d for t, d in zip(la, a.shape)))
    b = np.broadcast_to(b, tuple(sizes[t] if t in contracted else d for t, d in zip(lb, b.shape)))
    a = np.transpose(a, [la.index(t) for t in batch + free_a + contracted])
    b = np.transpose(b, [lb.index(t) for t in batch + contracted + free_b])
    nb = len(batch)
    k = math.prod(sizes[t] for t in contracted)
    a = a.reshape(a.shape[:nb] + (math.prod(a.shape[nb:nb + len(free_a)]), k))
    b = b.reshape(b.shape[:nb] + (k, math.prod(b.shape[nb + len(contracted):])))
    r = np.matmul(a, b)                     # broadcasts '...' batch dimensions of size 1
    r = r.reshape(r.shape[:nb] + tuple(sizes[t] for t in free_a + free_b))
    labels = batch + free_a + free_b
    return np.transpose(r, [labels.index(t) for t in out_labels])


@numpy_kernel("Einsum")
def einsum(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """tf.einsum for one or two operands, built from diagonal / sum / transpose / matmul.

    Accepts what tf.einsum accepts: explicit ("ij,jk->ik") or implicit ("ij,jk": the labels
    used once, sorted by character code, after any '...') output, batch labels, repeated
    labels within an operand (diagonal / trace), '...' with numpy broadcasting, whitespace.
    Named labels must agree in size exactly (TF does not broadcast them, only '...').
    Floats are computed in float64 and rounded once to float32; int32 wraps modulo 2**32.
    """
    if not 1 <= len(inputs) <= 2:
        raise AttributeValueError(f"Einsum supports 1 or 2 operands, got {len(inputs)}")
    if "equation" not in attrs:
        raise AttributeValueError("Einsum needs the attribute 'equation' (e.g. 'ij,jk->ik')")
    kinds = {x.dtype.kind for x in inputs}
    if not kinds <= {"f", "i"} or len(kinds) != 1:
        raise UnsupportedDTypeError(f"Einsum takes float32 or int32 operands of one dtype, got "
                                    f"{[str(x.dtype) for x in inputs]}")
    is_int = kinds == {"i"}
    wide = [x.astype(np.int64 if is_int else np.float64) for x in inputs]
    with np.errstate(all="ignore"):
        r = _einsum(attrs["equation"], wide)
    if is_int:
        return [((np.asarray(r) + 2**31) % 2**32 - 2**31).astype(np.int32)]
    return [np.asarray(r).astype(np.float32)]
