"""Einsum equations: tokenising, validation and label expansion, as tf.einsum reads them.

Shared by the numpy reference (reference/misc.py) and the GL plan (einsum_plan.py) so both accept
and reject the same equations with the same messages."""
from __future__ import annotations

import math
import string
from collections.abc import Sequence

from .errors import AttributeValueError, ShapeError
from .shapes import broadcast_shapes

ELLIPSIS = "..."
LETTERS = frozenset(string.ascii_letters)
Shape = tuple[int, ...]


def _tokens(term: str, equation: str) -> list[str]:
    """Split one subscript term into labels: single letters and at most one '...'."""
    out: list[str] = []
    i = 0
    while i < len(term):
        if term.startswith(ELLIPSIS, i):
            if ELLIPSIS in out:
                raise AttributeValueError(f"Einsum: equation {equation!r} has more than one '...' in the "
                                          f"term {term!r}")
            out.append(ELLIPSIS)
            i += 3
        elif term[i] in LETTERS:
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
        if label != ELLIPSIS and label not in known:
            raise AttributeValueError(f"Einsum: equation {equation!r} has the output label {label!r} that no "
                                      f"input term has")
    return terms, out



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
