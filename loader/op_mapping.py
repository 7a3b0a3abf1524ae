"""TensorFlow op -> backend kernel call: the name, which node inputs are data, and the attributes.

Many TF ops take attribute-like values as input tensors (a Reshape's shape, a Sum's axes, a
ConcatV2's axis).  Each mapping declares those "param" inputs; the executor supplies their values as
numpy arrays (constants, or small tensors computed on the host from shapes), and the mapping turns
them into kernel attributes.  Mappings also validate what no kernel could run (NCHW data, fused op
lists we do not know) so the error names the node at load time.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gpu_backend.dtypes import normalize_dtype
from gpu_backend.errors import AttributeValueError
from gpu_backend.reference.ragged import partition_types
from gpu_backend.reference.random import PhiloxStream

from .graph import Node


class MappingError(Exception):
    """An attribute value no kernel supports; the loader reports it with the node's name."""


@dataclass
class KernelCall:
    kernel: str
    inputs: list[int]                 # indices of node.inputs passed to the kernel, in order
    attrs: dict[str, Any] = field(default_factory=dict)
    extra: list[np.ndarray] = field(default_factory=list)   # constant tensors appended after the inputs


class Params:
    """Host values of a node's inputs, by input index."""

    def __init__(self, node: Node, get: Callable[[int], np.ndarray]) -> None:
        self.node = node
        self._get = get

    def array(self, i: int) -> np.ndarray:
        return np.asarray(self._get(i))

    def ints(self, i: int) -> list[int]:
        return [int(v) for v in self.array(i).reshape(-1)]

    def int(self, i: int) -> int:
        a = self.array(i).reshape(-1)
        if a.size != 1:
            raise MappingError(f"input {i} must be a scalar, got shape {list(self.array(i).shape)}")
        return int(a[0])

    def scalar(self, i: int) -> Any:
        a = self.array(i).reshape(-1)
        if a.size != 1:
            raise MappingError(f"input {i} must be a scalar, got shape {list(self.array(i).shape)}")
        return a[0].item()

    def dtype(self, i: int) -> str:
        return normalize_dtype(self.array(i).dtype)


Mapper = Callable[[Node, Params], KernelCall]


@dataclass(frozen=True)
class OpSpec:
    mapper: Mapper
    params: tuple[int, ...] | Callable[[Node], tuple[int, ...]] = ()
    outputs: int | Callable[[Node], int] = 1

    def param_inputs(self, node: Node) -> tuple[int, ...]:
        p = self.params(node) if callable(self.params) else self.params
        return tuple(i % max(len(node.inputs), 1) for i in p)

    def num_outputs(self, node: Node) -> int:
        return self.outputs(node) if callable(self.outputs) else self.outputs


OPS: dict[str, OpSpec] = {}


def maps(*ops: str, params: tuple[int, ...] | Callable[[Node], tuple[int, ...]] = (),
         outputs: int | Callable[[Node], int] = 1) -> Callable[[Mapper], Mapper]:
    def deco(fn: Mapper) -> Mapper:
        for op in ops:
            OPS[op] = OpSpec(fn, params, outputs)
        return fn
    return deco


def data(node: Node) -> list[int]:
    return list(range(len(node.inputs)))


def _channels_last(node: Node, layout: str = "NHWC") -> None:
    fmt = node.attr("data_format", layout)
    if fmt not in (layout, None, ""):
        raise MappingError(f"data_format {fmt!r} is not supported (only {layout}); convert the model with "
                           "channels-last layout")


def _spatial(values: Any, name: str, n: int, default: int = 1) -> list[int]:
    """n spatial values from TF's (n + 2)-list [1, ..., 1], an n-list or one value."""
    if values is None or values == []:
        return [default] * n
    v = [int(x) for x in values]
    if len(v) == n + 2:
        if v[0] != 1 or v[-1] != 1:
            raise MappingError(f"{name} {v} over the batch or channel dimension is not supported")
        return v[1:-1]
    if len(v) == n:
        return v
    if len(v) == 1:
        return v * n
    raise MappingError(f"{name} {v} must have 1, {n} or {n + 2} entries")


def _hw(values: Any, name: str, default: int = 1) -> list[int]:
    return _spatial(values, name, 2, default)


def _pad(node: Node) -> Any:
    padding = node.attr_str("padding", "VALID")
    if padding.upper() == "EXPLICIT":
        p = [int(x) for x in node.attr("explicit_paddings", [])]
        if len(p) != 8:
            raise MappingError(f"explicit_paddings {p} must have 8 entries")
        if p[0] or p[1] or p[6] or p[7]:
            raise MappingError(f"explicit padding {p} of the batch or channel dimension is not supported")
        return [[p[2], p[3]], [p[4], p[5]]]
    if padding.upper() not in ("SAME", "VALID"):
        raise MappingError(f"padding {padding!r} is not SAME, VALID or EXPLICIT")
    return padding.lower()


# -- element-wise --------------------------------------------------------------------------
SAME_NAME_UNARY = ["Abs", "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Ceil", "Cos", "Cosh", "Elu", "Erf",
                   "Exp", "Expm1", "Floor", "IsFinite", "IsInf", "IsNan", "Log", "Log1p", "LogicalNot", "Neg",
                   "Reciprocal", "Relu", "Relu6", "Round", "Rsqrt", "Selu", "Sigmoid", "Sign", "Sin", "Sinh",
                   "Softplus", "Sqrt", "Square", "Tan", "Tanh", "ZerosLike", "OnesLike"]
BINARY = {"Add": "Add", "AddV2": "Add", "Sub": "Sub", "Mul": "Multiply", "RealDiv": "RealDiv", "Div": "RealDiv",
          "DivNoNan": "DivNoNan", "FloorDiv": "FloorDiv", "FloorMod": "FloorMod", "Mod": "TruncateMod",
          "TruncateMod": "TruncateMod", "TruncateDiv": "RealDiv", "Pow": "Pow", "Maximum": "Maximum",
          "Minimum": "Minimum", "SquaredDifference": "SquaredDifference", "Atan2": "Atan2", "Equal": "Equal",
          "NotEqual": "NotEqual", "Greater": "Greater", "GreaterEqual": "GreaterEqual", "Less": "Less",
          "LessEqual": "LessEqual", "LogicalAnd": "LogicalAnd", "LogicalOr": "LogicalOr",
          "BitwiseAnd": "BitwiseAnd", "Prelu": "Prelu"}


def _same(kernel: str) -> Mapper:
    return lambda node, p: KernelCall(kernel, data(node))


for _op in SAME_NAME_UNARY:
    maps(_op)(_same(_op))
for _op, _kernel in BINARY.items():
    maps(_op)(_same(_kernel))


@maps("Inv")
def _inv(node: Node, p: Params) -> KernelCall:
    return KernelCall("Reciprocal", [0])


@maps("BiasAdd", "BiasAddV1")
def _bias_add(node: Node, p: Params) -> KernelCall:
    _channels_last(node)
    return KernelCall("Add", [0, 1])


@maps("LeakyRelu")
def _leaky(node: Node, p: Params) -> KernelCall:
    return KernelCall("LeakyRelu", [0], {"alpha": float(node.attr("alpha", 0.2))})


@maps("Cast")
def _cast(node: Node, p: Params) -> KernelCall:
    dst = node.attr("DstT")
    try:
        return KernelCall("Cast", [0], {"dtype": normalize_dtype(dst)})
    except Exception:
        raise MappingError(f"Cast to {dst!r} is not supported (float32, int32 and bool are)") from None


@maps("Select", "SelectV2")
def _select(node: Node, p: Params) -> KernelCall:
    return KernelCall(node.op, [0, 1, 2])


@maps("AddN")
def _add_n(node: Node, p: Params) -> KernelCall:
    return KernelCall("AddN", data(node))


@maps("ClipByValue")
def _clip(node: Node, p: Params) -> KernelCall:
    return KernelCall("ClipByValue", [0, 1, 2])


# -- matrices -------------------------------------------------------------------------------
@maps("MatMul")
def _matmul(node: Node, p: Params) -> KernelCall:
    return KernelCall("BatchMatMul", [0, 1], {"transpose_a": bool(node.attr("transpose_a", False)),
                                              "transpose_b": bool(node.attr("transpose_b", False))})


@maps("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")
def _batch_matmul(node: Node, p: Params) -> KernelCall:
    return KernelCall("BatchMatMul", [0, 1], {"transpose_a": bool(node.attr("adj_x", False)),
                                              "transpose_b": bool(node.attr("adj_y", False))})


ACTIVATIONS = {"Relu": "relu", "Relu6": "relu6", "Elu": "elu", "LeakyRelu": "leakyrelu", "Prelu": "prelu",
               "Sigmoid": "sigmoid", "Tanh": "tanh",
               "_FusedHardSwish": "hardswish"}    # grappler's remapper on x * relu6(x + 3) / 6 (MobileNetV3)


def fused_epilogue(node: Node) -> tuple[str, list[str]]:
    """(activation, non-activation fused ops) of a _Fused* node's fused_ops list."""
    ops = [o.decode() if isinstance(o, bytes) else str(o) for o in node.attr("fused_ops", [])]
    act = "linear"
    rest = []
    for i, o in enumerate(ops):
        if o in ACTIVATIONS:
            if i != len(ops) - 1:
                raise MappingError(f"fused_ops {ops}: an activation must come last")
            act = ACTIVATIONS[o]
        elif o in ("BiasAdd", "FusedBatchNorm", "Add"):
            rest.append(o)
        else:
            raise MappingError(f"fused_ops {ops}: {o!r} is not a fused op this runtime knows "
                               f"(BiasAdd, FusedBatchNorm, {', '.join(ACTIVATIONS)})")
    if rest not in ([], ["BiasAdd"], ["FusedBatchNorm"], ["BiasAdd", "Add"]):
        raise MappingError(f"fused_ops {ops} is not supported (BiasAdd or FusedBatchNorm, optionally then Add, "
                           "then one activation)")
    if "Add" in rest and act == "prelu":
        raise MappingError(f"fused_ops {ops}: Add with a Prelu activation is not supported")
    return act, rest


def _fused_inputs(node: Node, base: list[int], act: str, rest: list[str]) -> list[int]:
    args = list(range(len(base), len(node.inputs)))
    want = ("BiasAdd" in rest) + ("Add" in rest) + (act == "prelu")
    if rest == ["FusedBatchNorm"]:
        raise MappingError("FusedBatchNorm inside a fused op is folded by the loader; it cannot run directly")
    if len(args) != want:
        raise MappingError(f"{node.op} with fused_ops {node.attr('fused_ops')} expects {want} extra inputs, "
                           f"got {len(args)}")
    return base + args


@maps("_FusedMatMul")
def _fused_matmul(node: Node, p: Params) -> KernelCall:
    act, rest = fused_epilogue(node)
    if "Add" in rest:
        raise MappingError(f"fused_ops {node.attr('fused_ops')}: Add is supported for convolutions only")
    return KernelCall("_FusedMatMul", _fused_inputs(node, [0, 1], act, rest),
                      {"transpose_a": bool(node.attr("transpose_a", False)),
                       "transpose_b": bool(node.attr("transpose_b", False)), "activation": act,
                       "leakyrelu_alpha": float(node.attr("leakyrelu_alpha", 0.2))})


@maps("Transpose", params=(1,))
def _transpose(node: Node, p: Params) -> KernelCall:
    return KernelCall("Transpose", [0], {"perm": p.ints(1)})


@maps("Einsum")
def _einsum(node: Node, p: Params) -> KernelCall:
    return KernelCall("Einsum", data(node), {"equation": str(node.attr("equation"))})


@maps("MatrixBandPart", params=(1, 2))
def _band_part(node: Node, p: Params) -> KernelCall:
    return KernelCall("MatrixBandPart", [0], {"num_lower": p.int(1), "num_upper": p.int(2)})


# -- convolution ----------------------------------------------------------------------------
def _conv_attrs(node: Node) -> dict[str, Any]:
    _channels_last(node)
    return {"strides": _hw(node.attr("strides"), "strides"), "pad": _pad(node),
            "dilations": _hw(node.attr("dilations"), "dilations"), "data_format": "NHWC"}


@maps("Conv2D")
def _conv2d(node: Node, p: Params) -> KernelCall:
    return KernelCall("Conv2D", [0, 1], _conv_attrs(node))


@maps("_FusedConv2D")
def _fused_conv2d(node: Node, p: Params) -> KernelCall:
    act, rest = fused_epilogue(node)
    attrs = _conv_attrs(node) | {"activation": act, "leakyrelu_alpha": float(node.attr("leakyrelu_alpha", 0.2)),
                                 "residual": "Add" in rest}
    return KernelCall("FusedConv2D", _fused_inputs(node, [0, 1], act, rest), attrs)


@maps("DepthwiseConv2dNative", "DepthwiseConv2D", "DepthwiseConv2d")
def _depthwise(node: Node, p: Params) -> KernelCall:
    return KernelCall("DepthwiseConv2dNative", [0, 1], _conv_attrs(node))


@maps("FusedDepthwiseConv2dNative")
def _fused_depthwise(node: Node, p: Params) -> KernelCall:
    act, rest = fused_epilogue(node)
    attrs = _conv_attrs(node) | {"activation": act, "leakyrelu_alpha": float(node.attr("leakyrelu_alpha", 0.2)),
                                 "residual": "Add" in rest}
    return KernelCall("FusedDepthwiseConv2D", _fused_inputs(node, [0, 1], act, rest), attrs)


@maps("Conv2DBackpropInput", params=(0,))
def _conv_transpose(node: Node, p: Params) -> KernelCall:
    return KernelCall("Conv2DBackpropInput", [2, 1], _conv_attrs(node) | {"input_shape": p.ints(0)})


@maps("Dilation2D")
def _dilation2d(node: Node, p: Params) -> KernelCall:
    return KernelCall("Dilation2D", [0, 1], {"strides": _hw(node.attr("strides"), "strides"), "pad": _pad(node),
                                             "dilations": _hw(node.attr("rates"), "rates")})


@maps("MaxPool", "AvgPool")
def _pool(node: Node, p: Params) -> KernelCall:
    _channels_last(node)
    attrs = {"filter_size": _hw(node.attr("ksize"), "ksize"), "strides": _hw(node.attr("strides"), "strides"),
             "pad": _pad(node)}
    # set by the loader's folding (loader/folding.py), never by a converter
    if node.attr("_pad_zeros"):
        attrs["pad_zeros"] = True
    if node.attr("_activation"):
        attrs["activation"] = node.attr("_activation")
        attrs["leakyrelu_alpha"] = float(node.attr("_leakyrelu_alpha", 0.2))
    return KernelCall(node.op, [0], attrs)


@maps("MaxPoolV2", params=(1, 2))
def _pool_v2(node: Node, p: Params) -> KernelCall:
    _channels_last(node)
    return KernelCall("MaxPool", [0], {"filter_size": _hw(p.ints(1), "ksize"), "strides": _hw(p.ints(2), "strides"),
                                       "pad": _pad(node)})


# -- 3-D convolution and pooling (NDHWC) ---------------------------------------------------------
def _volume_attrs(node: Node) -> dict[str, Any]:
    _channels_last(node, "NDHWC")
    padding = node.attr_str("padding", "VALID")
    if padding.upper() not in ("SAME", "VALID"):
        raise MappingError(f"padding {padding!r} is not SAME or VALID")
    return {"strides": _spatial(node.attr("strides"), "strides", 3), "pad": padding.lower(), "data_format": "NDHWC"}


@maps("Conv3D")
def _conv3d(node: Node, p: Params) -> KernelCall:
    dilations = _spatial(node.attr("dilations"), "dilations", 3)
    return KernelCall("Conv3D", [0, 1], _volume_attrs(node) | {"dilations": dilations})


@maps("MaxPool3D", "AvgPool3D")
def _pool3d(node: Node, p: Params) -> KernelCall:
    return KernelCall(node.op, [0], _volume_attrs(node) | {"filter_size": _spatial(node.attr("ksize"), "ksize", 3)})


# -- normalization --------------------------------------------------------------------------
def _batch_norm_outputs(node: Node) -> int:
    return {"FusedBatchNorm": 5, "FusedBatchNormV2": 5, "FusedBatchNormV3": 6}.get(node.op, 1)


@maps("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", outputs=_batch_norm_outputs)
def _batch_norm(node: Node, p: Params) -> KernelCall:
    _channels_last(node)
    if node.attr("is_training", False):
        raise MappingError("is_training=true batch normalization is not supported (inference graphs only)")
    return KernelCall("FusedBatchNorm", [0, 3, 4, 2, 1], {"variance_epsilon": float(node.attr("epsilon", 1e-3))})


@maps("LRN")
def _lrn(node: Node, p: Params) -> KernelCall:
    return KernelCall("LRN", [0], {"depth_radius": int(node.attr("depth_radius", 5)),
                                   "bias": float(node.attr("bias", 1.0)), "alpha": float(node.attr("alpha", 1.0)),
                                   "beta": float(node.attr("beta", 0.5))})


@maps("Softmax", "LogSoftmax")
def _softmax(node: Node, p: Params) -> KernelCall:
    return KernelCall(node.op, [0])


@maps("EuclideanNorm", params=(1,))
def _euclidean_norm(node: Node, p: Params) -> KernelCall:
    return KernelCall("EuclideanNorm", [0], {"axis": p.ints(1), "keep_dims": bool(node.attr("keep_dims", False))})


# -- reductions and scans ---------------------------------------------------------------------
@maps("Sum", "Mean", "Max", "Min", "Prod", "All", "Any", params=(1,))
def _reduce(node: Node, p: Params) -> KernelCall:
    return KernelCall(node.op, [0], {"axis": p.ints(1), "keep_dims": bool(node.attr("keep_dims", False))})


@maps("ArgMax", "ArgMin", params=(1,))
def _arg_reduce(node: Node, p: Params) -> KernelCall:
    return KernelCall(node.op, [0], {"axis": p.int(1)})


@maps("Cumsum", "Cumprod", params=(1,))
def _scan(node: Node, p: Params) -> KernelCall:
    return KernelCall(node.op, [0], {"axis": p.int(1), "exclusive": bool(node.attr("exclusive", False)),
                                     "reverse": bool(node.attr("reverse", False))})


@maps("TopKV2", params=(1,), outputs=2)
def _top_k(node: Node, p: Params) -> KernelCall:
    return KernelCall("TopK", [0], {"k": p.int(1), "sorted": bool(node.attr("sorted", True))})


@maps("TopK", outputs=2)
def _top_k_v1(node: Node, p: Params) -> KernelCall:
    return KernelCall("TopK", [0], {"k": int(node.attr("k", 1)), "sorted": bool(node.attr("sorted", True))})


@maps("LowerBound", "UpperBound")
def _search_sorted(node: Node, p: Params) -> KernelCall:
    return KernelCall("SearchSorted", [0, 1], {"side": "left" if node.op == "LowerBound" else "right"})


# -- image ----------------------------------------------------------------------------------
@maps("ResizeBilinear", "ResizeNearestNeighbor", params=(1,))
def _resize(node: Node, p: Params) -> KernelCall:
    return KernelCall(node.op, [0], {"size": p.ints(1), "align_corners": bool(node.attr("align_corners", False)),
                                     "half_pixel_centers": bool(node.attr("half_pixel_centers", False))})


@maps("CropAndResize", params=(3,))
def _crop_and_resize(node: Node, p: Params) -> KernelCall:
    return KernelCall("CropAndResize", [0, 1, 2], {
        "crop_size": p.ints(3), "method": node.attr_str("method", "bilinear"),
        "extrapolation_value": float(node.attr("extrapolation_value", 0.0))})


# -- slicing, joining, shapes ---------------------------------------------------------------
@maps("ConcatV2", params=lambda node: (len(node.inputs) - 1,))
def _concat_v2(node: Node, p: Params) -> KernelCall:
    n = len(node.inputs) - 1
    return KernelCall("Concat", list(range(n)), {"axis": p.int(n)})


@maps("Concat", params=(0,))
def _concat_v1(node: Node, p: Params) -> KernelCall:
    return KernelCall("Concat", list(range(1, len(node.inputs))), {"axis": p.int(0)})


@maps("Pack")
def _pack(node: Node, p: Params) -> KernelCall:
    return KernelCall("Pack", data(node), {"axis": int(node.attr("axis", 0))})


@maps("Unpack", outputs=lambda node: int(node.attr("num", 1)))
def _unpack(node: Node, p: Params) -> KernelCall:
    return KernelCall("Unpack", [0], {"axis": int(node.attr("axis", 0))})


@maps("Split", params=(0,), outputs=lambda node: int(node.attr("num_split", 1)))
def _split(node: Node, p: Params) -> KernelCall:
    return KernelCall("SplitV", [1], {"num_or_size_splits": int(node.attr("num_split", 1)), "axis": p.int(0)})


@maps("SplitV", params=(1, 2), outputs=lambda node: int(node.attr("num_split", 1)))
def _split_v(node: Node, p: Params) -> KernelCall:
    return KernelCall("SplitV", [0], {"num_or_size_splits": p.ints(1), "axis": p.int(2)})


@maps("Slice", params=(1, 2))
def _slice(node: Node, p: Params) -> KernelCall:
    return KernelCall("Slice", [0], {"begin": p.ints(1), "size": p.ints(2)})


@maps("StridedSlice", params=(1, 2, 3))
def _strided_slice(node: Node, p: Params) -> KernelCall:
    attrs = {"begin": p.ints(1), "end": p.ints(2), "strides": p.ints(3)}
    for m in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask"):
        attrs[m] = int(node.attr(m, 0))
    return KernelCall("StridedSlice", [0], attrs)


@maps("Tile", params=(1,))
def _tile(node: Node, p: Params) -> KernelCall:
    return KernelCall("Tile", [0], {"reps": p.ints(1)})


def _paddings(p: Params, i: int) -> list[list[int]]:
    a = p.array(i).astype(np.int64)
    if a.ndim != 2 or a.shape[1] != 2:
        raise MappingError(f"paddings must have shape [rank, 2], got {list(a.shape)}")
    return a.tolist()


@maps("Pad", params=(1,))
def _pad_op(node: Node, p: Params) -> KernelCall:
    return KernelCall("PadV2", [0], {"paddings": _paddings(p, 1), "constant_value": 0})


@maps("PadV2", params=(1, 2))
def _pad_v2(node: Node, p: Params) -> KernelCall:
    return KernelCall("PadV2", [0], {"paddings": _paddings(p, 1), "constant_value": p.scalar(2)})


@maps("MirrorPad", params=(1,))
def _mirror_pad(node: Node, p: Params) -> KernelCall:
    mode = node.attr("mode", "REFLECT")
    return KernelCall("MirrorPad", [0], {"paddings": _paddings(p, 1),
                                         "mode": (mode.decode() if isinstance(mode, bytes) else str(mode)).lower()})


@maps("Reshape", params=(1,))
def _reshape(node: Node, p: Params) -> KernelCall:
    return KernelCall("Reshape", [0], {"shape": p.ints(1)})


@maps("ExpandDims", params=(1,))
def _expand_dims(node: Node, p: Params) -> KernelCall:
    return KernelCall("ExpandDims", [0], {"dim": p.int(1)})


@maps("Squeeze")
def _squeeze(node: Node, p: Params) -> KernelCall:
    return KernelCall("Squeeze", [0], {"axis": [int(a) for a in node.attr("squeeze_dims", []) or []]})


@maps("ReverseV2", params=(1,))
def _reverse(node: Node, p: Params) -> KernelCall:
    return KernelCall("Reverse", [0], {"dims": p.ints(1)})


@maps("Reverse", params=(1,))
def _reverse_v1(node: Node, p: Params) -> KernelCall:
    flags = p.array(1).reshape(-1)
    return KernelCall("Reverse", [0], {"dims": [i for i, f in enumerate(flags) if f]})


@maps("GatherV2", params=(2,))
def _gather_v2(node: Node, p: Params) -> KernelCall:
    return KernelCall("GatherV2", [0, 1], {"axis": p.int(2), "batch_dims": int(node.attr("batch_dims", 0))})


@maps("Gather")
def _gather_v1(node: Node, p: Params) -> KernelCall:
    return KernelCall("GatherV2", [0, 1], {"axis": 0, "batch_dims": 0})


@maps("GatherNd")
def _gather_nd(node: Node, p: Params) -> KernelCall:
    return KernelCall("GatherNd", [0, 1])


@maps("ScatterNd", params=(2,))
def _scatter_nd(node: Node, p: Params) -> KernelCall:
    return KernelCall("ScatterNd", [0, 1], {"shape": p.ints(2)})


@maps("TensorScatterUpdate")
def _tensor_scatter_update(node: Node, p: Params) -> KernelCall:
    return KernelCall("TensorScatterUpdate", [0, 1, 2])


@maps("DepthToSpace", "SpaceToDepth")
def _depth_to_space(node: Node, p: Params) -> KernelCall:
    _channels_last(node)
    return KernelCall(node.op, [0], {"block_size": int(node.attr("block_size", 2)), "data_format": "NHWC"})


@maps("SpaceToBatchND", params=(1, 2))
def _space_to_batch(node: Node, p: Params) -> KernelCall:
    return KernelCall("SpaceToBatchND", [0], {"block_shape": p.ints(1), "paddings": _paddings(p, 2)})


@maps("BatchToSpaceND", params=(1, 2))
def _batch_to_space(node: Node, p: Params) -> KernelCall:
    return KernelCall("BatchToSpaceND", [0], {"block_shape": p.ints(1), "crops": _paddings(p, 2)})


@maps("BroadcastTo", params=(1,))
def _broadcast_to(node: Node, p: Params) -> KernelCall:
    return KernelCall("BroadcastTo", [0], {"shape": p.ints(1)})


@maps("OneHot", params=(1, 2, 3))
def _one_hot(node: Node, p: Params) -> KernelCall:
    return KernelCall("OneHot", [0], {"depth": p.int(1), "on_value": p.scalar(2), "off_value": p.scalar(3),
                                      "dtype": p.dtype(2), "axis": int(node.attr("axis", -1))})


@maps("Range", params=(0, 1, 2))
def _range(node: Node, p: Params) -> KernelCall:
    dtype = "float32" if any(p.array(i).dtype.kind == "f" for i in range(3)) else "int32"
    return KernelCall("Range", [], {"start": p.scalar(0), "stop": p.scalar(1), "step": p.scalar(2), "dtype": dtype})


@maps("LinSpace", params=(0, 1, 2))
def _linspace(node: Node, p: Params) -> KernelCall:
    return KernelCall("LinSpace", [], {"start": p.scalar(0), "stop": p.scalar(1), "num": p.int(2)})


@maps("Fill", params=(0, 1))
def _fill(node: Node, p: Params) -> KernelCall:
    return KernelCall("Fill", [], {"shape": p.ints(0), "value": p.scalar(1), "dtype": p.dtype(1)})


@maps("BroadcastArgs")
def _broadcast_args(node: Node, p: Params) -> KernelCall:
    return KernelCall("BroadcastArgs", [0, 1])


@maps("Ones", "Zeros", params=(0,))
def _ones_zeros(node: Node, p: Params) -> KernelCall:
    """TF.js's own creation ops (its converter accepts them): a shape input and a dtype attribute T."""
    try:
        dtype = normalize_dtype(node.attr("T", "float32"))
    except Exception:
        raise MappingError(f"{node.op} of dtype {node.attr('T')!r} is not supported (float32, int32 and bool are)") from None
    value: Any = {"float32": 1.0, "int32": 1, "bool": True}[dtype] if node.op == "Ones" else (
        {"float32": 0.0, "int32": 0, "bool": False}[dtype])
    return KernelCall("Fill", [], {"shape": p.ints(0), "value": value, "dtype": dtype})


@maps("Diag")
def _diag(node: Node, p: Params) -> KernelCall:
    return KernelCall("Diag", [0])


# -- random ---------------------------------------------------------------------------------
def _random_call(node: Node, kernel: str, inputs: list[int], dtype_attr: str, want: str) -> KernelCall:
    """A stateful random op: every input is data (so the call, and with it the node's PhiloxStream, is
    made once at load and lives as long as the model), the seeds are attributes."""
    dtype = node.attr(dtype_attr, want)
    if dtype != want:
        raise MappingError(f"{node.op} with {dtype_attr}={dtype!r} is not supported (only {want}-valued types)")
    seed, seed2 = int(node.attr("seed", 0) or 0), int(node.attr("seed2", 0) or 0)
    return KernelCall(kernel, inputs, {"seed": seed, "seed2": seed2, "_stream": PhiloxStream(seed, seed2)})


@maps("RandomUniform", "RandomStandardNormal", "TruncatedNormal")
def _random_float(node: Node, p: Params) -> KernelCall:
    return _random_call(node, node.op, [0], "dtype", "float32")


@maps("RandomUniformInt")
def _random_uniform_int(node: Node, p: Params) -> KernelCall:
    return _random_call(node, "RandomUniformInt", [0, 1, 2], "Tout", "int32")


@maps("Multinomial")
def _multinomial(node: Node, p: Params) -> KernelCall:
    return _random_call(node, "Multinomial", [0, 1], "output_dtype", "int32")


# -- data-dependent -------------------------------------------------------------------------
@maps("NonMaxSuppressionV2", "NonMaxSuppressionV3", params=lambda node: tuple(range(2, len(node.inputs))))
def _nms_v3(node: Node, p: Params) -> KernelCall:
    attrs = {"max_output_size": p.int(2), "iou_threshold": float(p.scalar(3))}
    if len(node.inputs) > 4:
        attrs["score_threshold"] = float(p.scalar(4))
    return KernelCall("NonMaxSuppressionV3", [0, 1], attrs)


@maps("NonMaxSuppressionV4", params=(2, 3, 4), outputs=2)
def _nms_v4(node: Node, p: Params) -> KernelCall:
    return KernelCall("NonMaxSuppressionV4", [0, 1], {
        "max_output_size": p.int(2), "iou_threshold": float(p.scalar(3)), "score_threshold": float(p.scalar(4)),
        "pad_to_max_output_size": bool(node.attr("pad_to_max_output_size", False))})


@maps("NonMaxSuppressionV5", params=(2, 3, 4, 5), outputs=3)
def _nms_v5(node: Node, p: Params) -> KernelCall:
    return KernelCall("NonMaxSuppressionV5", [0, 1], {
        "max_output_size": p.int(2), "iou_threshold": float(p.scalar(3)), "score_threshold": float(p.scalar(4)),
        "soft_nms_sigma": float(p.scalar(5)), "pad_to_max_output_size": bool(node.attr("pad_to_max_output_size", False))})


@maps("Where")
def _where(node: Node, p: Params) -> KernelCall:
    return KernelCall("Where", [0])


@maps("Unique", outputs=2)
def _unique(node: Node, p: Params) -> KernelCall:
    return KernelCall("Unique", [0])


@maps("UniqueV2", params=(1,), outputs=2)
def _unique_v2(node: Node, p: Params) -> KernelCall:
    return KernelCall("UniqueV2", [0], {"axis": p.int(1)})


@maps("ListDiff", outputs=2)
def _list_diff(node: Node, p: Params) -> KernelCall:
    return KernelCall("ListDiff", [0, 1])


@maps("SparseToDense")
def _sparse_to_dense(node: Node, p: Params) -> KernelCall:
    return KernelCall("SparseToDense", [0, 1, 2, 3])


@maps("FakeQuantWithMinMaxVars")
def _fake_quant(node: Node, p: Params) -> KernelCall:
    return KernelCall("FakeQuantWithMinMaxVars", [0, 1, 2], {"num_bits": int(node.attr("num_bits", 8)),
                                                             "narrow_range": bool(node.attr("narrow_range", False))})


@maps("Bincount")
def _bincount(node: Node, p: Params) -> KernelCall:
    return KernelCall("Bincount", [0, 1, 2])


@maps("DenseBincount")
def _dense_bincount(node: Node, p: Params) -> KernelCall:
    return KernelCall("DenseBincount", [0, 1, 2], {"binary_output": bool(node.attr("binary_output", False))})


@maps("Conv1D")
def _conv1d(node: Node, p: Params) -> KernelCall:
    """TF.js's own Conv1D (its converter accepts it): single-int stride and dilation, NWC or NCW."""
    fmt = node.attr_str("data_format", "NWC")
    return KernelCall("Conv1D", [0, 1], {"stride": int(node.attr("stride", 1)), "pad": _pad(node),
                                         "dilation": int(node.attr("dilation", 1)), "data_format": fmt})


@maps("MaxPoolWithArgmax", outputs=2)
def _max_pool_with_argmax(node: Node, p: Params) -> KernelCall:
    """Targmax int64 comes back as int32 (this runtime's integer type), like every int64 of a graph."""
    return KernelCall("MaxPoolWithArgmax", [0], {
        "filter_size": _hw(node.attr("ksize"), "ksize"), "strides": _hw(node.attr("strides"), "strides"),
        "pad": _pad(node), "include_batch_in_index": bool(node.attr("include_batch_in_index", False))})


@maps("ImageProjectiveTransformV3", params=(2, 3))
def _image_projective_transform(node: Node, p: Params) -> KernelCall:
    return KernelCall("ImageProjectiveTransformV3", [0, 1], {
        "output_shape": p.ints(2), "fill_value": float(p.scalar(3)),
        "interpolation": node.attr_str("interpolation", "BILINEAR"),
        "fill_mode": node.attr_str("fill_mode", "CONSTANT")})


# -- sparse tensors: host kernels (gpu_backend/reference/sparse.py); every input is data, since the
# kernels size their outputs from the values.  TF's int64 indices/shapes are int32 here.
@maps("SparseFillEmptyRows", outputs=4)
def _sparse_fill_empty_rows(node: Node, p: Params) -> KernelCall:
    return KernelCall("SparseFillEmptyRows", [0, 1, 2, 3])


@maps("SparseReshape", outputs=2)
def _sparse_reshape(node: Node, p: Params) -> KernelCall:
    return KernelCall("SparseReshape", [0, 1, 2])


@maps("SparseSegmentSum", "SparseSegmentMean")
def _sparse_segment(node: Node, p: Params) -> KernelCall:
    """sparse_gradient (TF >= 2.15) only changes how TF differentiates the op; it is passed on so the
    kernel can check it is a bool, and does not change the forward result."""
    sparse_gradient = node.attr("sparse_gradient", False)
    if not isinstance(sparse_gradient, bool):
        raise MappingError(f"sparse_gradient must be a bool, got {sparse_gradient!r}")
    return KernelCall(node.op, [0, 1, 2], {"sparse_gradient": sparse_gradient})


# -- complex numbers and spectral transforms: host kernels (complex64 lives on the host) -------
@maps("Complex")
def _complex(node: Node, p: Params) -> KernelCall:
    return KernelCall("Complex", [0, 1])


@maps("Real", "Imag", "ComplexAbs", "FFT", "IFFT")
def _complex_unary(node: Node, p: Params) -> KernelCall:
    return KernelCall(node.op, [0])


@maps("RFFT", "IRFFT", params=(1,))
def _real_fft(node: Node, p: Params) -> KernelCall:
    return KernelCall(node.op, [0], {"fft_length": p.ints(1)})


# -- ragged tensors: host kernels (gpu_backend/reference/ragged.py); every input is data, since the kernels
# size their outputs from the partitions' values.  TF's int64 splits are int32 here.
@maps("RaggedRange", outputs=2)
def _ragged_range(node: Node, p: Params) -> KernelCall:
    return KernelCall("RaggedRange", [0, 1, 2])


def _ragged_gather_outputs(node: Node) -> int:
    """OUTPUT_RAGGED_RANK splits + the values.  Without the attribute (a hand-made graph) the indices are
    taken to be a vector, whose output has as many splits as params; the kernel refuses other indices."""
    rank = node.attr("OUTPUT_RAGGED_RANK")
    return (rank if isinstance(rank, int) else len(node.inputs) - 2) + 1


@maps("RaggedGather", outputs=_ragged_gather_outputs)
def _ragged_gather(node: Node, p: Params) -> KernelCall:
    """The PARAMS_RAGGED_RANK splits come first, then the values and the indices; both ranks are passed on
    so the kernel can check them against the inputs it is given (TF aborts on a wrong OUTPUT_RAGGED_RANK)."""
    splits = len(node.inputs) - 2
    if splits < 1:
        raise MappingError(f"RaggedGather needs at least one params_nested_splits input, values and indices; got "
                           f"{len(node.inputs)} inputs")
    declared = node.attr("PARAMS_RAGGED_RANK", splits)
    if declared != splits:
        raise MappingError(f"PARAMS_RAGGED_RANK is {declared!r} but the node has {splits} splits inputs")
    return KernelCall("RaggedGather", data(node), {"PARAMS_RAGGED_RANK": splits,
                                                   "OUTPUT_RAGGED_RANK": _ragged_gather_outputs(node) - 1})


@maps("RaggedTensorToTensor")
def _ragged_tensor_to_tensor(node: Node, p: Params) -> KernelCall:
    """row_partition_types is checked here, so a graph using a partition type TF's kernel cannot handle
    either (ROW_LENGTHS, ...) fails at load time naming the node, not at its first run."""
    try:
        types = partition_types("RaggedTensorToTensor", node.attr("row_partition_types"), len(node.inputs) - 3)
    except AttributeValueError as exc:
        raise MappingError(str(exc).removeprefix("RaggedTensorToTensor: ")) from None
    return KernelCall("RaggedTensorToTensor", data(node), {"row_partition_types": types})


# -- strings: host kernels (gpu_backend/reference/strings.py).  String tensors never leave the host;
# int64 outputs (split indices/shapes, bucket ids, n-gram splits) are int32 here.  Attributes are
# checked at load so a bad one is reported with its node, before any input arrives.
def _text(node: Node, name: str, default: str | None = None) -> bytes:
    """A string attribute as bytes: the model.json decoder gives str for UTF-8 text, bytes otherwise."""
    v = node.attr(name, default)
    if isinstance(v, str):
        return v.encode("utf-8")
    if isinstance(v, bytes):
        return v
    raise MappingError(f"attribute {name} must be a string, got {v!r}")


def _flag(node: Node, name: str, default: bool) -> bool:
    v = node.attr(name, default)
    if not isinstance(v, bool):
        raise MappingError(f"attribute {name} must be a bool, got {v!r}")
    return v


@maps("StaticRegexReplace")
def _static_regex_replace(node: Node, p: Params) -> KernelCall:
    """The pattern is translated (RE2 -> Python re) here, so an unsupported one fails at load."""
    from gpu_backend.errors import AttributeValueError
    from gpu_backend.reference.strings import translate_re2
    pattern = _text(node, "pattern")
    try:
        translate_re2(pattern)
    except AttributeValueError as exc:
        raise MappingError(str(exc)) from None
    return KernelCall("StaticRegexReplace", [0], {"pattern": pattern, "rewrite": _text(node, "rewrite"),
                                                  "replace_global": _flag(node, "replace_global", True)})


@maps("StringToHashBucketFast")
def _string_to_hash_bucket_fast(node: Node, p: Params) -> KernelCall:
    buckets = node.attr("num_buckets")
    if not isinstance(buckets, int) or isinstance(buckets, bool) or buckets < 1:
        raise MappingError(f"num_buckets must be an int >= 1, got {buckets!r}")
    return KernelCall("StringToHashBucketFast", [0], {"num_buckets": buckets})


@maps("StringSplit", outputs=3)
def _string_split(node: Node, p: Params) -> KernelCall:
    """The delimiter is an input tensor (data, usually a constant); the kernel reads it per call."""
    return KernelCall("StringSplit", [0, 1], {"skip_empty": _flag(node, "skip_empty", True)})


@maps("StringNGrams", outputs=2)
def _string_ngrams(node: Node, p: Params) -> KernelCall:
    widths = node.attr("ngram_widths", [])
    if not isinstance(widths, list) or not all(isinstance(w, int) and not isinstance(w, bool) for w in widths):
        raise MappingError(f"ngram_widths must be a list of ints, got {widths!r}")
    if any(w <= 0 for w in widths):
        raise MappingError(f"ngram_widths must contain positive values, got {widths}")
    pad_width = node.attr("pad_width")
    if not isinstance(pad_width, int) or isinstance(pad_width, bool):
        raise MappingError(f"pad_width must be an int, got {pad_width!r}")
    return KernelCall("StringNGrams", [0, 1], {
        "separator": _text(node, "separator", " "), "ngram_widths": widths, "left_pad": _text(node, "left_pad"),
        "right_pad": _text(node, "right_pad"), "pad_width": pad_width,
        "preserve_short_sequences": _flag(node, "preserve_short_sequences", False)})
