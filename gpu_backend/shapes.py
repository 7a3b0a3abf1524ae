"""Shape arithmetic shared by kernels (broadcasting, axes), kept pure and tiny.

Both backends use these so an attribute is validated the same way everywhere;
the numeric work itself is never shared between the GL kernels and the numpy
reference.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
import math

from .errors import AttributeValueError, ShapeError

Shape = tuple[int, ...]


def size_of(shape: Sequence[int]) -> int:
    return math.prod(shape)


def broadcast_shapes(*shapes: Sequence[int]) -> Shape:
    """numpy/TF broadcasting of several shapes, with an error naming both shapes."""
    rank = max((len(s) for s in shapes), default=0)
    out = [1] * rank
    for shape in shapes:
        padded = (1,) * (rank - len(shape)) + tuple(shape)
        for i, d in enumerate(padded):
            if d == out[i] or d == 1:
                continue
            if out[i] == 1:
                out[i] = d
            else:
                raise ShapeError(
                    f"shapes {' and '.join(str(list(s)) for s in shapes)} cannot be broadcast together "
                    f"(dimension {i - rank} is {out[i]} in one and {d} in another)")
    return tuple(out)


def normalize_axis(axis: int, rank: int, what: str = "axis") -> int:
    if not -max(rank, 1) <= axis < max(rank, 1):
        raise AttributeValueError(f"{what} {axis} is out of range for a tensor of rank {rank}")
    return axis % max(rank, 1)


def normalize_axes(axes: int | Iterable[int] | None, rank: int, what: str = "axis") -> tuple[int, ...]:
    """Axes as a sorted tuple of distinct non-negative ints; None means every axis."""
    if axes is None:
        return tuple(range(rank))
    if isinstance(axes, int):
        axes = [axes]
    out = sorted({normalize_axis(int(a), rank, what) for a in axes})
    if rank == 0:
        return ()
    return tuple(out)


def attr(attrs: dict, name: str, default: object = ...) -> object:
    """Fetch a kernel attribute, failing with a message that names it."""
    if name in attrs:
        return attrs[name]
    if default is ...:
        raise AttributeValueError(f"missing attribute {name!r}")
    return default


def resolve_reshape(shape: Sequence[int], new_shape: object) -> Shape:
    """TF reshape semantics: at most one -1, sizes must match."""
    if new_shape is None:
        raise AttributeValueError("Reshape needs a 'shape' attribute")
    target = [int(d) for d in new_shape]  # type: ignore[union-attr]
    total = size_of(shape)
    unknown = [i for i, d in enumerate(target) if d == -1]
    if len(unknown) > 1 or any(d < -1 for d in target):
        raise ShapeError(f"cannot reshape {list(shape)} to {target}: only one dimension may be -1 and none below it")
    if unknown:
        known = size_of([d for d in target if d != -1])
        if known == 0 or total % known:
            raise ShapeError(f"cannot reshape {list(shape)} ({total} values) to {target}")
        target[unknown[0]] = total // known
    if size_of(target) != total:
        raise ShapeError(f"cannot reshape {list(shape)} ({total} values) to {target} ({size_of(target)} values)")
    return tuple(target)


def reduced_shape(shape: Sequence[int], axes: Sequence[int], keep_dims: bool) -> Shape:
    if keep_dims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def check_perm(perm: object, rank: int) -> list[int]:
    """A transpose permutation (None = reversed axes), negative entries allowed."""
    p = list(range(rank))[::-1] if perm is None else [int(v) % max(rank, 1) for v in perm]  # type: ignore[union-attr]
    if sorted(p) != list(range(rank)):
        raise AttributeValueError(f"Transpose: perm {perm} is not a permutation of 0..{rank - 1}")
    return p
