"""Einsum as a plan of tensor-level steps (squeeze, sum, transpose, reshape, multiply, matmul).

The plan holds labels, axes, permutations and shapes only, no numbers, so any
backend can execute it with its own primitives; the GL backend runs it with its
registered Transpose / Sum / Multiply / BatchMatMul kernels (kernels/misc.py).
Tokenising, validating and expanding the equation live in einsum_equation.py,
shared with the numpy reference, so both backends reject the same equations with
the same messages and read '...' the same way.

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

from .einsum_equation import expand_labels, parse_equation

Shape = tuple[int, ...]


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
