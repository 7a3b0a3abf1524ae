"""Einsum as a plan of tensor-level steps (squeeze, sum, transpose, reshape, multiply, matmul).

The plan holds labels, axes, permutations and shapes only, no numbers, so any
backend can execute it with its own primitives; the GL backend runs it with its
registered Transpose / Sum / Multiply / BatchMatMul kernels (kernels/misc.py).
Tokenising and validating the equation reuses the reference's public
`parse_equation`, so both backends reject the same equations with the same
messages; `expand_labels` follows the reference's '...' rules (right-aligned
broadcasting, implicit output = '...' then the labels used once, sorted).

Steps, for each operand: drop '...' dimensions of size 1 that broadcast against a
larger one (the operand is constant along them, so they belong to the other
operand alone); sum the labels that neither the output nor the other operand
has.  Then one operand is a transpose; two operands are either a broadcast
product (no contracted label, or int32 where there is no integer matmul) summed
over the contracted labels, or a batched matmul over (batch, free_a, contracted)
x (batch, contracted, free_b) reshaped to 3 groups, un-flattened and transposed.
A label repeated within one operand (a diagonal or trace) gets kind 'diagonal'
and no steps: the executor decides what to do with it.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import ShapeError
from .reference.misc import parse_equation
from .shapes import broadcast_shapes

ELLIPSIS = "..."

Shape = tuple[int, ...]


def expand_labels(terms: list[list[str]], out: list[str] | None, shapes: Sequence[Shape],
                  equation: str) -> tuple[list[list[str]], list[str], dict[str, int]]:
    """('...' replaced by per-dimension labels '#k', output labels, size of every label).

    '...' dimensions are right-aligned across operands (numpy broadcasting) and their sizes
    broadcast; named labels must agree exactly.
    """
    ell_ranks = []
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        named = sum(1 for t in term if t != ELLIPSIS)
        if ELLIPSIS in term:
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
    ell = [f"#{k}" for k in range(n_ell)]
    expanded = []
    for term, r in zip(terms, ell_ranks):
        labels: list[str] = []
        for t in term:
            labels.extend(ell[n_ell - r:] if t == ELLIPSIS else [t])
        expanded.append(labels)
    if out is None:
        counts: dict[str, int] = {}
        for term in terms:
            for t in term:
                if t != ELLIPSIS:
                    counts[t] = counts.get(t, 0) + 1
        out_labels = ell + sorted(t for t, c in counts.items() if c == 1)
    else:
        out_labels = []
        for t in out:
            out_labels.extend(ell if t == ELLIPSIS else [t])
    sizes: dict[str, int] = {}
    ell_shapes = []
    for i, (labels, shape) in enumerate(zip(expanded, shapes)):
        ell_shapes.append(tuple(d for t, d in zip(labels, shape) if t.startswith("#")))
        for axis, (t, d) in enumerate(zip(labels, shape)):
            if not t.startswith("#") and sizes.setdefault(t, d) != d:
                raise ShapeError(f"Einsum {equation!r}: label {t!r} is {sizes[t]} in one place but {d} at axis "
                                 f"{axis} of operand {i} shaped {list(shape)}")
    try:
        ell_shape = broadcast_shapes(*ell_shapes)
    except ShapeError as e:
        raise ShapeError(f"Einsum {equation!r}: the '...' dimensions do not broadcast: {e}") from None
    if n_ell and out is not None and ELLIPSIS not in out and math.prod(ell_shape) != 1:
        raise ShapeError(f"Einsum {equation!r}: the operands have '...' dimensions {list(ell_shape)} but the "
                         f"output term has no '...' to put them in")
    sizes.update(zip(ell, ell_shape))
    return expanded, out_labels, sizes


@dataclass(frozen=True)
class Prep:
    """One operand's own steps: reshape to `squeeze` (None: keep), then Sum over `sum_axes`."""

    squeeze: Shape | None
    sum_axes: tuple[int, ...]
    labels: tuple[str, ...]         # the labels left afterwards


@dataclass(frozen=True)
class EinsumPlan:
    """kind: 'single' (prep, then transpose by final_perm), 'product' (prep, transpose by perms,
    reshape to shapes, broadcast Multiply, Sum over product_sum_axes), 'matmul' (prep, transpose
    by perms, reshape to shapes, BatchMatMul with transpose_a/b, reshape to result_shape,
    transpose by final_perm) or 'diagonal' (not planned)."""

    kind: str
    out_shape: Shape
    preps: tuple[Prep, ...] = ()
    perms: tuple[tuple[int, ...], ...] = ()
    shapes: tuple[Shape, ...] = ()
    product_sum_axes: tuple[int, ...] = ()
    transpose_a: bool = False
    transpose_b: bool = False
    result_shape: Shape = ()
    final_perm: tuple[int, ...] = ()


def _perm(labels: Sequence[str], order: Sequence[str]) -> tuple[int, ...]:
    return tuple(list(labels).index(t) for t in order)


def is_identity(perm: Sequence[int]) -> bool:
    return list(perm) == list(range(len(perm)))


def plan_einsum(equation: object, shapes: Sequence[Sequence[int]], use_matmul: bool = True) -> EinsumPlan:
    """The steps computing Einsum(equation) of operands with these shapes.

    use_matmul=False plans two-operand contractions as a broadcast product and a sum
    (for dtypes without a matmul kernel); it materialises the product over every label.
    """
    shapes = [tuple(int(d) for d in s) for s in shapes]
    terms, out = parse_equation(equation, len(shapes))
    labels_list, out_labels, sizes = expand_labels(terms, out, shapes, str(equation))
    out_shape = tuple(sizes[t] for t in out_labels)
    if any(len(set(labels)) < len(labels) for labels in labels_list):
        return EinsumPlan("diagonal", out_shape)

    squeezed = []
    for labels, shape in zip(labels_list, shapes):
        keep = [i for i, (t, d) in enumerate(zip(labels, shape)) if not (d == 1 and sizes[t] != 1)]
        squeezed.append(([labels[i] for i in keep], tuple(shape[i] for i in keep), len(keep) != len(labels)))
    preps = []
    for i, (labels, shape, dropped) in enumerate(squeezed):
        needed = set(out_labels)
        for j, other in enumerate(squeezed):
            if j != i:
                needed |= set(other[0])
        sum_axes = tuple(a for a, t in enumerate(labels) if t not in needed)
        preps.append(Prep(shape if dropped else None, sum_axes, tuple(t for t in labels if t in needed)))

    if len(preps) == 1:
        return EinsumPlan("single", out_shape, tuple(preps), final_perm=_perm(preps[0].labels, out_labels))

    la, lb = preps[0].labels, preps[1].labels
    contracted = [t for t in la if t in lb and t not in out_labels]
    if not contracted or not use_matmul:
        order = list(out_labels) + contracted
        perms = tuple(_perm(lab, [t for t in order if t in lab]) for lab in (la, lb))
        bshapes = tuple(tuple(sizes[t] if t in lab else 1 for t in order) for lab in (la, lb))
        return EinsumPlan("product", out_shape, tuple(preps), perms, bshapes,
                          product_sum_axes=tuple(range(len(out_labels), len(order))))

    batch = [t for t in out_labels if t in la and t in lb]
    free_a = [t for t in la if t not in lb]
    free_b = [t for t in lb if t not in la]
    best: tuple[int, tuple[int, ...], tuple[int, ...], bool, bool] | None = None
    # the contracted labels' order and which operand is read transposed are free choices:
    # take the one needing the fewest transposes (a transpose keeping the last axis is a view)
    for c_order, ta, tb in itertools.product((contracted, [t for t in lb if t in contracted]), (False, True),
                                             (False, True)):
        pa = _perm(la, batch + (c_order + free_a if ta else free_a + c_order))
        pb = _perm(lb, batch + (free_b + c_order if tb else c_order + free_b))
        cost = (not is_identity(pa)) + (not is_identity(pb))
        if best is None or cost < best[0]:
            best = (cost, pa, pb, ta, tb)
    assert best is not None
    _, pa, pb, ta, tb = best
    bsz = tuple(sizes[t] for t in batch)
    m = math.prod(sizes[t] for t in free_a)
    k = math.prod(sizes[t] for t in contracted)
    n = math.prod(sizes[t] for t in free_b)
    shape_a = bsz + ((k, m) if ta else (m, k))
    shape_b = bsz + ((n, k) if tb else (k, n))
    result = batch + free_a + free_b
    return EinsumPlan("matmul", out_shape, tuple(preps), (pa, pb), (shape_a, shape_b), transpose_a=ta,
                      transpose_b=tb, result_shape=tuple(sizes[t] for t in result),
                      final_perm=_perm(result, out_labels))
