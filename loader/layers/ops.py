"""Small typed helpers that emit common TF ops with their output shapes: the vocabulary the lowerings
are written in, so a lowering reads like the math of its layer (`f.add(f.matmul(x, w), b)`).

Shapes follow TensorFlow's rules (numpy broadcasting); None is an unknown dim.  Reshapes to a target
with unknown dims use -1 when at most one is unknown, else a Shape-derived target (computed on the host
by the executor, never on the GPU).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .builder import GraphBuilder, KTensor, Shape, TFType

F32 = TFType("float32")
I32 = TFType("int32")


def broadcast_shape(a: Shape, b: Shape) -> Shape:
    n = max(len(a), len(b))
    a2 = (1,) * (n - len(a)) + tuple(a)
    b2 = (1,) * (n - len(b)) + tuple(b)
    out: list[int | None] = []
    for x, y in zip(a2, b2):
        if x == 1:
            out.append(y)
        elif y == 1:
            out.append(x)
        elif x is None or y is None:
            out.append(x if y is None else y)
        else:
            out.append(x if x == y else max(x, y))
    return tuple(out)


def norm_axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


class Ops:
    """Op helpers bound to one builder and one name scope."""

    def __init__(self, b: GraphBuilder, scope: str) -> None:
        self.b = b
        self.scope = scope

    def _n(self, name: str) -> str:
        return f"{self.scope}/{name}"

    @staticmethod
    def _t(dtype: str) -> TFType:
        return TFType(dtype)

    # -- constants -------------------------------------------------------------------------------
    def const(self, value: Any, name: str = "const", dtype: str | None = None) -> KTensor:
        return self.b.const(value, name=self._n(name), dtype=dtype)

    def scalar(self, value: float, dtype: str = "float32") -> KTensor:
        return self.const(np.asarray(value, np.float32 if dtype == "float32" else np.int32), "scalar", dtype)

    # -- element-wise ------------------------------------------------------------------------------
    def unary(self, op: str, x: KTensor, attrs: dict[str, Any] | None = None, dtype: str | None = None) -> KTensor:
        a = {"T": self._t(x.dtype)} | (attrs or {})
        return self.b.op(op, [x], a, name=self._n(op), shape=x.shape, dtype=dtype or x.dtype)

    def binary(self, op: str, x: KTensor, y: KTensor, dtype: str | None = None) -> KTensor:
        return self.b.op(op, [x, y], {"T": self._t(x.dtype)}, name=self._n(op),
                         shape=broadcast_shape(x.shape, y.shape), dtype=dtype or x.dtype)

    def _operand(self, v: KTensor | float, like: KTensor) -> KTensor:
        return v if isinstance(v, KTensor) else self.scalar(v, like.dtype)

    def add(self, x: KTensor, y: KTensor | float) -> KTensor:
        return self.binary("AddV2", x, self._operand(y, x))

    def sub(self, x: KTensor | float, y: KTensor | float) -> KTensor:
        if not isinstance(x, KTensor):
            assert isinstance(y, KTensor)
            return self.binary("Sub", self.scalar(x, y.dtype), y)
        return self.binary("Sub", x, self._operand(y, x))

    def mul(self, x: KTensor, y: KTensor | float) -> KTensor:
        return self.binary("Mul", x, self._operand(y, x))

    def div(self, x: KTensor, y: KTensor | float) -> KTensor:
        return self.binary("RealDiv", x, self._operand(y, x))

    def maximum(self, x: KTensor, y: KTensor | float) -> KTensor:
        return self.binary("Maximum", x, self._operand(y, x))

    def minimum(self, x: KTensor, y: KTensor | float) -> KTensor:
        return self.binary("Minimum", x, self._operand(y, x))

    def compare(self, op: str, x: KTensor, y: KTensor | float) -> KTensor:
        return self.binary(op, x, self._operand(y, x), dtype="bool")

    def select(self, cond: KTensor, x: KTensor, y: KTensor) -> KTensor:
        shape = broadcast_shape(broadcast_shape(cond.shape, x.shape), y.shape)
        return self.b.op("SelectV2", [cond, x, y], {"T": self._t(x.dtype)}, name=self._n("Select"),
                         shape=shape, dtype=x.dtype)

    def cast(self, x: KTensor, dtype: str) -> KTensor:
        if x.dtype == dtype:
            return x
        return self.b.op("Cast", [x], {"SrcT": self._t(x.dtype), "DstT": self._t(dtype)}, name=self._n("Cast"),
                         shape=x.shape, dtype=dtype)

    def clip(self, x: KTensor, lo: float, hi: float) -> KTensor:
        return self.b.op("ClipByValue", [x, self.scalar(lo), self.scalar(hi)], {"T": F32}, name=self._n("Clip"),
                         shape=x.shape)

    def identity(self, x: KTensor, name: str = "Identity") -> KTensor:
        return self.b.op("Identity", [x], {"T": self._t(x.dtype)}, name=self._n(name), shape=x.shape,
                         dtype=x.dtype).with_mask(x.mask)

    # -- linear algebra ----------------------------------------------------------------------------
    def matmul(self, x: KTensor, w: KTensor, transpose_a: bool = False, transpose_b: bool = False) -> KTensor:
        """x @ w; rank-2 x uses MatMul (the form the folding fuses), higher ranks BatchMatMulV2."""
        xs = x.shape[:-2] + ((x.shape[-1], x.shape[-2]) if transpose_a else x.shape[-2:])
        ws = w.shape[:-2] + ((w.shape[-1], w.shape[-2]) if transpose_b else w.shape[-2:])
        batch = broadcast_shape(xs[:-2], ws[:-2])
        shape = batch + (xs[-2], ws[-1])
        if x.rank == 2 and w.rank == 2:
            return self.b.op("MatMul", [x, w], {"T": self._t(x.dtype), "transpose_a": transpose_a,
                                                 "transpose_b": transpose_b}, name=self._n("MatMul"),
                             shape=shape, dtype=x.dtype)
        return self.b.op("BatchMatMulV2", [x, w], {"T": self._t(x.dtype), "adj_x": transpose_a, "adj_y": transpose_b},
                         name=self._n("BatchMatMul"), shape=shape, dtype=x.dtype)

    def dense(self, x: KTensor, kernel: KTensor, bias: KTensor | None) -> KTensor:
        """x @ kernel (+ bias) over the last axis of x, any rank: rank > 2 is reshaped to 2-D and back,
        as TF lowers Keras Dense (Tensordot), so the product is one fused MatMul."""
        units = kernel.shape[-1]
        if x.rank == 2:
            y = self.matmul(x, kernel)
        else:
            flat = self.reshape(x, (None, x.shape[-1]), allow_unknown_first=True)
            y = self.matmul(flat, kernel)
            y = self.reshape(y, x.shape[:-1] + (units,), like=x, keep_last=units)
        if bias is not None:
            y = self.bias_add(y, bias)
        return y

    def bias_add(self, x: KTensor, bias: KTensor) -> KTensor:
        return self.b.op("BiasAdd", [x, bias], {"T": F32, "data_format": "NHWC"}, name=self._n("BiasAdd"),
                         shape=x.shape)

    # -- shapes ------------------------------------------------------------------------------------
    def shape_of(self, x: KTensor) -> KTensor:
        return self.b.op("Shape", [x], {"T": self._t(x.dtype), "out_type": I32}, name=self._n("Shape"),
                         shape=(x.rank,), dtype="int32")

    def dim(self, x: KTensor, axis: int) -> KTensor:
        """Dim `axis` of x as a [1] int32 tensor (static when known)."""
        axis = norm_axis(axis, x.rank)
        if x.shape[axis] is not None:
            return self.const(np.asarray([x.shape[axis]], np.int32), "dim", "int32")
        return self.strided_slice(self.shape_of(x), [axis], [axis + 1], [1])

    def reshape(self, x: KTensor, shape: Sequence[int | None], *, like: KTensor | None = None,
                allow_unknown_first: bool = False, keep_last: int | None = None) -> KTensor:
        """Reshape to `shape` (None = unknown).  One unknown dim becomes -1; several are taken from
        `like` (dims of a tensor with the same leading dims), via Shape on the host."""
        target = list(shape)
        unknown = [i for i, d in enumerate(target) if d is None]
        if len(unknown) <= 1:
            t = self.const(np.asarray([-1 if d is None else d for d in target], np.int32), "shape", "int32")
        else:
            if like is None:
                raise ValueError("reshape with several unknown dims needs `like`")
            parts = []
            for i, d in enumerate(target):
                if d is None:
                    parts.append(self.dim(like, i))
                else:
                    parts.append(self.const(np.asarray([d], np.int32), "dim", "int32"))
            t = self.concat(parts, 0)
        return self.b.op("Reshape", [x, t], {"T": self._t(x.dtype), "Tshape": I32}, name=self._n("Reshape"),
                         shape=tuple(target), dtype=x.dtype)

    def transpose(self, x: KTensor, perm: Sequence[int]) -> KTensor:
        p = self.const(np.asarray(perm, np.int32), "perm", "int32")
        return self.b.op("Transpose", [x, p], {"T": self._t(x.dtype), "Tperm": I32}, name=self._n("Transpose"),
                         shape=tuple(x.shape[i] for i in perm), dtype=x.dtype)

    def expand_dims(self, x: KTensor, axis: int) -> KTensor:
        a = norm_axis(axis, x.rank + 1)
        shape = x.shape[:a] + (1,) + x.shape[a:]
        return self.b.op("ExpandDims", [x, self.const(np.asarray(a, np.int32), "axis", "int32")],
                         {"T": self._t(x.dtype), "Tdim": I32}, name=self._n("ExpandDims"), shape=shape, dtype=x.dtype)

    def squeeze(self, x: KTensor, axes: Sequence[int]) -> KTensor:
        ax = sorted(norm_axis(a, x.rank) for a in axes)
        shape = tuple(d for i, d in enumerate(x.shape) if i not in ax)
        return self.b.op("Squeeze", [x], {"T": self._t(x.dtype), "squeeze_dims": ax}, name=self._n("Squeeze"),
                         shape=shape, dtype=x.dtype)

    def concat(self, xs: Sequence[KTensor], axis: int) -> KTensor:
        rank = xs[0].rank
        a = norm_axis(axis, rank)
        sizes = [t.shape[a] for t in xs]
        total = None if any(s is None for s in sizes) else sum(sizes)  # type: ignore[arg-type]
        shape = list(xs[0].shape)
        for t in xs[1:]:
            shape = list(broadcast_shape(tuple(shape), t.shape)) if len(t.shape) == len(shape) else shape
        shape[a] = total
        ax = self.const(np.asarray(a, np.int32), "axis", "int32")
        return self.b.op("ConcatV2", list(xs) + [ax], {"T": self._t(xs[0].dtype), "N": len(xs), "Tidx": I32},
                         name=self._n("concat"), shape=tuple(shape), dtype=xs[0].dtype)

    def strided_slice(self, x: KTensor, begin: Sequence[int], end: Sequence[int], strides: Sequence[int], *,
                      begin_mask: int = 0, end_mask: int = 0, shrink_axis_mask: int = 0) -> KTensor:
        shape: list[int | None] = []
        for i, d in enumerate(x.shape):
            if i >= len(begin):
                shape.append(d)
                continue
            if shrink_axis_mask >> i & 1:
                continue
            b0 = None if begin_mask >> i & 1 else begin[i]
            e0 = None if end_mask >> i & 1 else end[i]
            if d is None:
                if b0 is not None and e0 is not None and b0 >= 0 and e0 >= 0:
                    shape.append(max(0, math.ceil((e0 - b0) / strides[i])))
                else:
                    shape.append(None)
            else:
                shape.append(len(range(d)[slice(b0, e0, strides[i])]))
        c = lambda v, n: self.const(np.asarray(v, np.int32), n, "int32")  # noqa: E731
        return self.b.op("StridedSlice", [x, c(begin, "begin"), c(end, "end"), c(strides, "strides")],
                         {"T": self._t(x.dtype), "Index": I32, "begin_mask": begin_mask, "end_mask": end_mask,
                          "ellipsis_mask": 0, "new_axis_mask": 0, "shrink_axis_mask": shrink_axis_mask},
                         name=self._n("StridedSlice"), shape=tuple(shape), dtype=x.dtype)

    def slice_axis(self, x: KTensor, axis: int, start: int, stop: int | None, step: int = 1) -> KTensor:
        """x[..., start:stop:step, ...] along one axis."""
        a = norm_axis(axis, x.rank)
        begin = [0] * (a + 1)
        end = [0] * (a + 1)
        strides = [1] * (a + 1)
        begin[a], strides[a] = start, step
        end[a] = stop if stop is not None else 0
        mask = (1 << a) - 1
        return self.strided_slice(x, begin, end, strides, begin_mask=mask,
                                  end_mask=mask | ((1 << a) if stop is None else 0))

    def take(self, x: KTensor, axis: int, index: int) -> KTensor:
        """x[..., index, ...]: the axis is removed."""
        a = norm_axis(axis, x.rank)
        begin = [0] * (a + 1)
        end = [0] * (a + 1)
        begin[a], end[a] = index, index + 1
        mask = (1 << a) - 1
        return self.strided_slice(x, begin, end, [1] * (a + 1), begin_mask=mask, end_mask=mask,
                                  shrink_axis_mask=1 << a)

    def split(self, x: KTensor, axis: int, n: int) -> list[KTensor]:
        a = norm_axis(axis, x.rank)
        d = x.shape[a]
        part = None if d is None else d // n
        shape = x.shape[:a] + (part,) + x.shape[a + 1:]
        return self.b.op_n("Split", [self.const(np.asarray(a, np.int32), "axis", "int32"), x],
                           {"T": self._t(x.dtype), "num_split": n}, name=self._n("split"), shapes=[shape] * n,
                           dtypes=[x.dtype] * n)

    def stack(self, xs: Sequence[KTensor], axis: int) -> KTensor:
        a = norm_axis(axis, xs[0].rank + 1)
        shape = xs[0].shape[:a] + (len(xs),) + xs[0].shape[a:]
        return self.b.op("Pack", list(xs), {"T": self._t(xs[0].dtype), "N": len(xs), "axis": a},
                         name=self._n("stack"), shape=shape, dtype=xs[0].dtype)

    def unstack(self, x: KTensor, axis: int) -> list[KTensor]:
        a = norm_axis(axis, x.rank)
        n = x.shape[a]
        if n is None:
            raise ValueError("unstack needs a known dim")
        shape = x.shape[:a] + x.shape[a + 1:]
        return self.b.op_n("Unpack", [x], {"T": self._t(x.dtype), "num": n, "axis": a}, name=self._n("unstack"),
                           shapes=[shape] * n, dtypes=[x.dtype] * n)

    def pad(self, x: KTensor, pads: Sequence[tuple[int, int]], mode: str = "CONSTANT") -> KTensor:
        shape = tuple(None if d is None else d + lo + hi for d, (lo, hi) in zip(x.shape, pads))
        p = self.const(np.asarray(pads, np.int32), "paddings", "int32")
        if mode == "CONSTANT":
            return self.b.op("Pad", [x, p], {"T": self._t(x.dtype), "Tpaddings": I32}, name=self._n("Pad"),
                             shape=shape, dtype=x.dtype)
        return self.b.op("MirrorPad", [x, p], {"T": self._t(x.dtype), "Tpaddings": I32, "mode": mode},
                         name=self._n("MirrorPad"), shape=shape, dtype=x.dtype)

    def tile(self, x: KTensor, multiples: Sequence[int]) -> KTensor:
        shape = tuple(None if d is None else d * m for d, m in zip(x.shape, multiples))
        return self.b.op("Tile", [x, self.const(np.asarray(multiples, np.int32), "multiples", "int32")],
                         {"T": self._t(x.dtype), "Tmultiples": I32}, name=self._n("Tile"), shape=shape, dtype=x.dtype)

    def gather(self, params: KTensor, indices: KTensor, axis: int = 0) -> KTensor:
        a = norm_axis(axis, params.rank)
        shape = params.shape[:a] + indices.shape + params.shape[a + 1:]
        return self.b.op("GatherV2", [params, indices, self.const(np.asarray(a, np.int32), "axis", "int32")],
                         {"Tparams": self._t(params.dtype), "Tindices": I32, "Taxis": I32, "batch_dims": 0},
                         name=self._n("Gather"), shape=shape, dtype=params.dtype)

    # -- reductions --------------------------------------------------------------------------------
    def reduce(self, op: str, x: KTensor, axes: Sequence[int], keepdims: bool = False) -> KTensor:
        ax = sorted(norm_axis(a, x.rank) for a in axes)
        if keepdims:
            shape = tuple(1 if i in ax else d for i, d in enumerate(x.shape))
        else:
            shape = tuple(d for i, d in enumerate(x.shape) if i not in ax)
        return self.b.op(op, [x, self.const(np.asarray(ax, np.int32), "axes", "int32")],
                         {"T": self._t(x.dtype), "Tidx": I32, "keep_dims": keepdims}, name=self._n(op), shape=shape,
                         dtype=x.dtype)

    def mean(self, x: KTensor, axes: Sequence[int], keepdims: bool = False) -> KTensor:
        return self.reduce("Mean", x, axes, keepdims)

    def sum(self, x: KTensor, axes: Sequence[int], keepdims: bool = False) -> KTensor:
        return self.reduce("Sum", x, axes, keepdims)

    def softmax(self, x: KTensor, axis: int = -1, log: bool = False) -> KTensor:
        """Softmax over any axis: TF's op works on the last one, so other axes are moved there."""
        a = norm_axis(axis, x.rank)
        op = "LogSoftmax" if log else "Softmax"
        if a == x.rank - 1:
            return self.b.op(op, [x], {"T": F32}, name=self._n(op), shape=x.shape)
        perm = list(range(x.rank))
        perm[a], perm[-1] = perm[-1], perm[a]
        y = self.transpose(x, perm)
        y = self.b.op(op, [y], {"T": F32}, name=self._n(op), shape=y.shape)
        return self.transpose(y, perm)
