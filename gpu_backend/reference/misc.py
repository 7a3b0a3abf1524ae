"""MatrixBandPart, Diag and Einsum (one or two operands)."""
from __future__ import annotations

import math
import string

import numpy as np

from ..errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from ..registry import numpy_kernel
from ..shapes import broadcast_shapes


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
    if x.ndim < 2:
        raise ShapeError(f"MatrixBandPart needs an input of rank >= 2, got shape {list(x.shape)}")
    rows, cols = x.shape[-2], x.shape[-1]
    if lower > rows:
        raise AttributeValueError(f"MatrixBandPart: num_lower must be negative or <= the number of rows "
                                  f"({rows}), got {lower}")
    if upper > cols:
        raise AttributeValueError(f"MatrixBandPart: num_upper must be negative or <= the number of columns "
                                  f"({cols}), got {upper}")
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

_ELLIPSIS = "..."
_LETTERS = frozenset(string.ascii_letters)


def _tokens(term: str, equation: str) -> list[str]:
    """Split one subscript term into labels: single letters and at most one '...'."""
    out: list[str] = []
    i = 0
    while i < len(term):
        if term.startswith(_ELLIPSIS, i):
            if _ELLIPSIS in out:
                raise AttributeValueError(f"Einsum: equation {equation!r} has more than one '...' in the "
                                          f"term {term!r}")
            out.append(_ELLIPSIS)
            i += 3
        elif term[i] in _LETTERS:
            out.append(term[i])
            i += 1
        else:
            raise AttributeValueError(f"Einsum: equation {equation!r} has the character {term[i]!r} in the term "
                                      f"{term!r}; subscripts are letters a-z, A-Z and one optional '...'")
    return out


def parse_equation(equation: object, n_operands: int) -> tuple[list[list[str]], list[str] | None]:
    """Input terms and the output term (None when implicit), validated like tf.einsum does."""
    if not isinstance(equation, str):
        raise AttributeValueError(f"Einsum needs the attribute 'equation' as a string, got {equation!r}")
    eq = "".join(equation.split())
    if eq.count("->") > 1:
        raise AttributeValueError(f"Einsum: equation {equation!r} has more than one '->'")
    lhs, arrow, rhs = eq.partition("->")
    terms = [_tokens(t, equation) for t in lhs.split(",")]
    if not 1 <= len(terms) <= 2:
        raise AttributeValueError(f"Einsum: equation {equation!r} has {len(terms)} input terms; "
                                  f"only 1 or 2 operands are supported")
    if len(terms) != n_operands:
        raise AttributeValueError(f"Einsum: equation {equation!r} has {len(terms)} input term(s) but "
                                  f"{n_operands} operand(s) were given")
    if not arrow:
        return terms, None
    out = _tokens(rhs, equation)
    seen: set[str] = set()
    known = {label for t in terms for label in t}
    for label in out:
        if label in seen:
            raise AttributeValueError(f"Einsum: equation {equation!r} repeats the output label {label!r}")
        seen.add(label)
        if label != _ELLIPSIS and label not in known:
            raise AttributeValueError(f"Einsum: equation {equation!r} has the output label {label!r} that no "
                                      f"input term has")
    return terms, out


def _expand(terms: list[list[str]], out: list[str] | None, shapes: list[tuple[int, ...]],
            equation: str) -> tuple[list[list[str]], list[str], dict[str, int]]:
    """Replace '...' by per-dimension labels '#k' (right-aligned across operands, as in numpy
    broadcasting), resolve the implicit output and check every label's size."""
    ell_ranks = []
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        named = sum(1 for t in term if t != _ELLIPSIS)
        if _ELLIPSIS in term:
            if len(shape) < named:
                raise ShapeError(f"Einsum {equation!r}: operand {i} has rank {len(shape)} but its term needs at "
                                 f"least {named} dimensions")
            ell_ranks.append(len(shape) - named)
        else:
            if len(shape) != named:
                raise ShapeError(f"Einsum {equation!r}: operand {i} has rank {len(shape)} (shape {list(shape)}) "
                                 f"but its term names {named} dimensions")
            ell_ranks.append(0)
    n_ell = max(ell_ranks)
    ell_labels = [f"#{k}" for k in range(n_ell)]
    expanded = []
    for term, r in zip(terms, ell_ranks):
        labels: list[str] = []
        for t in term:
            labels.extend(ell_labels[n_ell - r:] if t == _ELLIPSIS else [t])
        expanded.append(labels)
    if out is None:
        counts: dict[str, int] = {}
        for term in terms:
            for t in term:
                if t != _ELLIPSIS:
                    counts[t] = counts.get(t, 0) + 1
        out_labels = ell_labels + sorted(t for t, c in counts.items() if c == 1)
    else:
        out_labels = []
        for t in out:
            out_labels.extend(ell_labels if t == _ELLIPSIS else [t])
    sizes: dict[str, int] = {}
    ell_shapes: list[tuple[int, ...]] = []
    for i, (labels, shape) in enumerate(zip(expanded, shapes)):
        ell_shapes.append(tuple(d for t, d in zip(labels, shape) if t.startswith("#")))
        for axis, (t, d) in enumerate(zip(labels, shape)):
            if t.startswith("#"):
                continue
            if sizes.setdefault(t, d) != d:
                raise ShapeError(f"Einsum {equation!r}: label {t!r} is {sizes[t]} in one place but {d} at axis "
                                 f"{axis} of operand {i} shaped {list(shape)}")
    try:
        ell_shape = broadcast_shapes(*ell_shapes)
    except ShapeError as e:
        raise ShapeError(f"Einsum {equation!r}: the '...' dimensions do not broadcast: {e}") from None
    if n_ell and (out is not None) and _ELLIPSIS not in out and math.prod(ell_shape) != 1:
        raise ShapeError(f"Einsum {equation!r}: the operands have '...' dimensions {list(ell_shape)} but the "
                         f"output term has no '...' to put them in")
    sizes.update(zip(ell_labels, ell_shape))
    return expanded, out_labels, sizes


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
    labels_list, out_labels, sizes = _expand(terms, out, [x.shape for x in operands], equation)
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
