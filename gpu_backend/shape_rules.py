"""Output shapes of kernels from their input shapes and attributes, without running them.

The loader infers every node's output shapes when a model loads (loader/shape_inference.py), so a
graph whose shapes cannot fit together fails at load naming the node, `gpu-backend inspect` can show
shapes, and each run can check what a kernel returned against what the graph implies (a mismatch is a
bug of ours, reported where it happens).  The rules are written over concrete shapes and call the same
geometry helpers the kernels use (window.py, slicing.py, shapes.py), so a convolution's output size or a
strided slice's extent is defined once.

Rules take concrete shapes only; unknown dimensions (a model's -1 batch) are the loader's business
(it probes them, see loader/shape_inference.py).  A kernel with no rule here has outputs whose
shapes are unknown until it runs (data-dependent ops: Where, Unique, NonMaxSuppression, ...), unless
the loader can run it on small constant inputs.  Data-dependent ops have rules that give -1 for the
sizes only their values decide (Where: [-1, rank]).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .einsum_equation import expand_labels, parse_equation
from .errors import AttributeValueError, ShapeError
from .op_checks import fft_length, number_attr, range_spec, top_k_count
from .op_tables import BINARY, UNARY
from .shapes import broadcast_shapes, check_perm, normalize_axes, normalize_axis, reduced_shape, resolve_reshape
from .slicing import (batch_to_space_shape, block_size_attr, concat_shape, depth_to_space_shape, int_list, pad_shape,
                      resolve_gather, resolve_slice, resolve_strided_slice, space_to_batch_shape,
                      space_to_depth_shape, split_sizes, tile_shape)
from .window import conv1d_as_2d, spatial_pair, spatial_triple, window_geometry, window_geometry_3d

Shape = tuple[int, ...]
Rule = Callable[[list[Shape], dict[str, Any]], list[Shape]]

SHAPE_RULES: dict[str, Rule] = {}


def shape_rule(*kernels: str) -> Callable[[Rule], Rule]:
    def deco(fn: Rule) -> Rule:
        for k in kernels:
            if k in SHAPE_RULES:
                raise RuntimeError(f"shape rule for {k!r} defined twice")
            SHAPE_RULES[k] = fn
        return fn
    return deco


def output_shapes(kernel: str, inputs: Sequence[Shape], attrs: dict[str, Any], num_outputs: int) -> list[Shape] | None:
    """The kernel's output shapes for these input shapes (None: no rule; a dim of -1: data-dependent,
    known only when the kernel runs).  Raises ShapeError or AttributeValueError where the kernel
    would refuse the inputs."""
    rule = SHAPE_RULES.get(kernel)
    if rule is None:
        return None
    out = [tuple(int(d) for d in s) for s in rule([tuple(s) for s in inputs], attrs)]
    if len(out) < num_outputs:
        raise ShapeError(f"{kernel}: its shape rule gave {len(out)} output(s), the node has {num_outputs}")
    return out[:num_outputs]


def _same(shapes: list[Shape], attrs: dict) -> list[Shape]:
    return [shapes[0]]


SAME_SHAPE = (set(UNARY) | {"Identity", "Softmax", "LogSoftmax", "LRN", "Cumsum", "Cumprod", "FakeQuantWithMinMaxVars",
                            "Reverse", "MatrixBandPart", "ClipByValue", "TensorScatterUpdate", "FusedBatchNorm"})
shape_rule(*sorted(SAME_SHAPE))(_same)


@shape_rule(*sorted(set(BINARY) | {"Select", "SelectV2", "AddN"}))
def _broadcast(shapes: list[Shape], attrs: dict) -> list[Shape]:
    return [broadcast_shapes(*shapes)]


@shape_rule("Sum", "Mean", "Prod", "Max", "Min", "All", "Any", "EuclideanNorm")
def _reduce(shapes: list[Shape], attrs: dict) -> list[Shape]:
    x = shapes[0]
    return [reduced_shape(x, normalize_axes(attrs.get("axis"), len(x)), bool(attrs.get("keep_dims", False)))]


@shape_rule("ArgMax", "ArgMin")
def _arg_reduce(shapes: list[Shape], attrs: dict) -> list[Shape]:
    x = shapes[0]
    axis = attrs.get("axis", 0)
    axis = normalize_axis(int(axis[0] if isinstance(axis, (list, tuple)) else axis), len(x))
    return [x[:axis] + x[axis + 1:]]


@shape_rule("MatMul", "BatchMatMul", "_FusedMatMul")
def _matmul(shapes: list[Shape], attrs: dict) -> list[Shape]:
    a, b = shapes[0], shapes[1]
    if len(a) < 2 or len(b) < 2:
        raise ShapeError(f"BatchMatMul needs inputs of rank >= 2, got {a} and {b}")
    m, k = (a[-1], a[-2]) if attrs.get("transpose_a", False) else (a[-2], a[-1])
    k2, n = (b[-1], b[-2]) if attrs.get("transpose_b", False) else (b[-2], b[-1])
    if k != k2:
        raise ShapeError(f"BatchMatMul: inner dimensions differ ({k} != {k2})")
    return [broadcast_shapes(a[:-2], b[:-2]) + (m, n)]


def _rank(op: str, what: str, shape: Shape, rank: int) -> None:
    if len(shape) != rank:
        raise ShapeError(f"{op}: {what} must have rank {rank}, got shape {list(shape)}")


@shape_rule("Conv2D", "FusedConv2D")
def _conv2d(shapes: list[Shape], attrs: dict) -> list[Shape]:
    x, f = shapes[0], shapes[1]
    _rank("Conv2D", "input", x, 4)
    _rank("Conv2D", "filter", f, 4)
    if x[3] != f[2]:
        raise ShapeError(f"input has {x[3]} channels but the filter expects {f[2]} (filter shape {list(f)})")
    win = window_geometry("Conv2D", attrs, x[1], x[2], f[0], f[1])
    return [(x[0], win.out_h, win.out_w, f[3])]


@shape_rule("DepthwiseConv2dNative", "FusedDepthwiseConv2D")
def _depthwise(shapes: list[Shape], attrs: dict) -> list[Shape]:
    (out,) = _conv2d(shapes, attrs)
    return [out[:3] + (shapes[1][2] * shapes[1][3],)]


@shape_rule("Conv1D")
def _conv1d(shapes: list[Shape], attrs: dict) -> list[Shape]:
    x, f = shapes[0], shapes[1]
    attrs2d, ncw = conv1d_as_2d("Conv1D", attrs, x, f)
    nwc = (x[0], x[2], x[1]) if ncw else x
    (out,) = _conv2d([(nwc[0], 1, nwc[1], nwc[2]), (1,) + f], attrs2d)
    return [(out[0], out[3], out[2]) if ncw else (out[0], out[2], out[3])]


@shape_rule("Dilation2D")
def _dilation2d(shapes: list[Shape], attrs: dict) -> list[Shape]:
    x, f = shapes[0], shapes[1]
    _rank("Dilation2D", "input", x, 4)
    _rank("Dilation2D", "filter", f, 3)
    win = window_geometry("Dilation2D", attrs, x[1], x[2], f[0], f[1])
    return [(x[0], win.out_h, win.out_w, x[3])]


@shape_rule("Conv2DBackpropInput")
def _conv2d_backprop_input(shapes: list[Shape], attrs: dict) -> list[Shape]:
    out = tuple(int_list(attrs.get("input_shape"), "Conv2DBackpropInput", "input_shape"))
    return [out]


@shape_rule("MaxPool", "AvgPool", "MaxPoolWithArgmax")
def _pool(shapes: list[Shape], attrs: dict) -> list[Shape]:
    x = shapes[0]
    _rank("MaxPool", "input", x, 4)
    k_h, k_w = spatial_pair("MaxPool", attrs, "filter_size")
    win = window_geometry("MaxPool", attrs, x[1], x[2], k_h, k_w, dilations=(1, 1))
    out = (x[0], win.out_h, win.out_w, x[3])
    return [out, out]


@shape_rule("Conv3D")
def _conv3d(shapes: list[Shape], attrs: dict) -> list[Shape]:
    x, f = shapes[0], shapes[1]
    _rank("Conv3D", "input", x, 5)
    _rank("Conv3D", "filter", f, 5)
    win = window_geometry_3d("Conv3D", attrs, x[1:4], f[0:3])
    return [(x[0],) + win.out + (f[4],)]


@shape_rule("MaxPool3D", "AvgPool3D")
def _pool3d(shapes: list[Shape], attrs: dict) -> list[Shape]:
    x = shapes[0]
    _rank("MaxPool3D", "input", x, 5)
    k = spatial_triple("MaxPool3D", attrs, "filter_size")
    win = window_geometry_3d("MaxPool3D", attrs, x[1:4], k, dilations=(1, 1, 1))
    return [(x[0],) + win.out + (x[4],)]


@shape_rule("Reshape")
def _reshape(shapes: list[Shape], attrs: dict) -> list[Shape]:
    return [resolve_reshape(shapes[0], attrs.get("shape"))]


@shape_rule("Squeeze")
def _squeeze(shapes: list[Shape], attrs: dict) -> list[Shape]:
    x = shapes[0]
    axis = attrs.get("axis")
    if axis is None or (isinstance(axis, (list, tuple)) and not axis):
        return [tuple(n for n in x if n != 1)]
    drop = {normalize_axis(a, len(x), "Squeeze axis") for a in int_list(axis, "Squeeze", "axis")}
    return [tuple(n for d, n in enumerate(x) if d not in drop)]


@shape_rule("ExpandDims")
def _expand_dims(shapes: list[Shape], attrs: dict) -> list[Shape]:
    x = shapes[0]
    dim = attrs.get("dim", attrs.get("axis", 0))
    dim = int(dim[0] if isinstance(dim, (list, tuple)) else dim)
    if not -(len(x) + 1) <= dim <= len(x):
        raise AttributeValueError(f"ExpandDims: dim {dim} is out of range for an input of rank {len(x)}")
    dim %= len(x) + 1
    return [x[:dim] + (1,) + x[dim:]]


@shape_rule("Transpose")
def _transpose(shapes: list[Shape], attrs: dict) -> list[Shape]:
    x = shapes[0]
    return [tuple(x[p] for p in check_perm(attrs.get("perm"), len(x)))]


@shape_rule("Concat")
def _concat(shapes: list[Shape], attrs: dict) -> list[Shape]:
    return [concat_shape(shapes, int(attrs.get("axis", 0)))[1]]


@shape_rule("Pack")
def _pack(shapes: list[Shape], attrs: dict) -> list[Shape]:
    s = shapes[0]
    if any(t != s for t in shapes):
        raise ShapeError(f"Pack: inputs have shapes {[list(t) for t in shapes]}; stacked tensors must share one shape")
    axis = normalize_axis(int(attrs.get("axis", 0)), len(s) + 1, "Pack axis")
    return [s[:axis] + (len(shapes),) + s[axis:]]


@shape_rule("Unpack")
def _unpack(shapes: list[Shape], attrs: dict) -> list[Shape]:
    x = shapes[0]
    axis = normalize_axis(int(attrs.get("axis", 0)), len(x), "Unpack axis")
    return [x[:axis] + x[axis + 1:]] * x[axis]


@shape_rule("SplitV")
def _split(shapes: list[Shape], attrs: dict) -> list[Shape]:
    x = shapes[0]
    axis = normalize_axis(int(attrs.get("axis", 0)), len(x), "SplitV axis")
    return [x[:axis] + (n,) + x[axis + 1:] for n in split_sizes(x[axis], attrs.get("num_or_size_splits"))]


@shape_rule("Tile")
def _tile(shapes: list[Shape], attrs: dict) -> list[Shape]:
    return [tile_shape(shapes[0], attrs.get("reps"))]


@shape_rule("Pad", "PadV2", "MirrorPad")
def _pad_rule(shapes: list[Shape], attrs: dict) -> list[Shape]:
    mode = str(attrs.get("mode", "constant")).lower() if "mode" in attrs else "constant"
    return [pad_shape(shapes[0], attrs.get("paddings"), "PadV2", mode)[1]]


@shape_rule("Slice")
def _slice(shapes: list[Shape], attrs: dict) -> list[Shape]:
    return [tuple(resolve_slice(shapes[0], attrs.get("begin"), attrs.get("size"))[1])]


@shape_rule("StridedSlice")
def _strided_slice(shapes: list[Shape], attrs: dict) -> list[Shape]:
    spec = resolve_strided_slice(
        shapes[0], attrs.get("begin"), attrs.get("end"), attrs.get("strides"),
        begin_mask=int(attrs.get("begin_mask", 0) or 0), end_mask=int(attrs.get("end_mask", 0) or 0),
        ellipsis_mask=int(attrs.get("ellipsis_mask", 0) or 0), new_axis_mask=int(attrs.get("new_axis_mask", 0) or 0),
        shrink_axis_mask=int(attrs.get("shrink_axis_mask", 0) or 0))
    return [tuple(spec.output_shape)]


@shape_rule("GatherV2")
def _gather(shapes: list[Shape], attrs: dict) -> list[Shape]:
    spec = resolve_gather(shapes[0], shapes[1], int(attrs.get("axis", 0)), int(attrs.get("batch_dims", 0)))
    return [tuple(spec.output_shape)]


@shape_rule("GatherNd")
def _gather_nd(shapes: list[Shape], attrs: dict) -> list[Shape]:
    params, idx = shapes[0], shapes[1]
    k = idx[-1] if idx else 0
    if not idx or k > len(params):
        raise ShapeError(f"GatherNd: indices {list(idx)} do not index params of shape {list(params)}")
    return [idx[:-1] + params[k:]]


@shape_rule("ScatterNd")
def _scatter_nd(shapes: list[Shape], attrs: dict) -> list[Shape]:
    return [tuple(int_list(attrs.get("shape"), "ScatterNd", "shape"))]


@shape_rule("OneHot")
def _one_hot(shapes: list[Shape], attrs: dict) -> list[Shape]:
    idx = shapes[0]
    depth = int(attrs.get("depth", 0))
    axis = int(attrs.get("axis", -1))
    axis = len(idx) if axis == -1 else axis
    return [idx[:axis] + (depth,) + idx[axis:]]


@shape_rule("ResizeBilinear", "ResizeNearestNeighbor")
def _resize(shapes: list[Shape], attrs: dict) -> list[Shape]:
    x = shapes[0]
    size = [int(v) for v in int_list(attrs.get("size"), "ResizeBilinear", "size")]
    if len(x) not in (3, 4) or len(size) != 2:
        raise ShapeError(f"ResizeBilinear: images must have rank 4 or 3 and size two ints, got {list(x)}, {size}")
    return [(x[0],) + tuple(size) + (x[3],) if len(x) == 4 else tuple(size) + (x[2],)]


@shape_rule("CropAndResize")
def _crop_and_resize(shapes: list[Shape], attrs: dict) -> list[Shape]:
    image, boxes = shapes[0], shapes[1]
    size = int_list(attrs.get("crop_size"), "CropAndResize", "crop_size")
    return [(boxes[0], size[0], size[1], image[3])]


@shape_rule("BroadcastTo")
def _broadcast_to(shapes: list[Shape], attrs: dict) -> list[Shape]:
    target = tuple(int_list(attrs.get("shape"), "BroadcastTo", "shape"))
    if broadcast_shapes(shapes[0], target) != target:
        raise ShapeError(f"BroadcastTo: shape {list(shapes[0])} cannot be broadcast to {list(target)}")
    return [target]


@shape_rule("TopK")
def _top_k(shapes: list[Shape], attrs: dict) -> list[Shape]:
    x = shapes[0]
    k = top_k_count("TopK", attrs, x)
    out = x[:-1] + (k,)
    return [out, out]


@shape_rule("DepthToSpace")
def _depth_to_space(shapes: list[Shape], attrs: dict) -> list[Shape]:
    return [depth_to_space_shape(shapes[0], block_size_attr(attrs.get("block_size"), "DepthToSpace"))]


@shape_rule("SpaceToDepth")
def _space_to_depth(shapes: list[Shape], attrs: dict) -> list[Shape]:
    return [space_to_depth_shape(shapes[0], block_size_attr(attrs.get("block_size"), "SpaceToDepth"))]


@shape_rule("SpaceToBatchND")
def _space_to_batch(shapes: list[Shape], attrs: dict) -> list[Shape]:
    return [space_to_batch_shape(shapes[0], attrs.get("block_shape"), attrs.get("paddings"))[2]]


@shape_rule("BatchToSpaceND")
def _batch_to_space(shapes: list[Shape], attrs: dict) -> list[Shape]:
    return [batch_to_space_shape(shapes[0], attrs.get("block_shape"), attrs.get("crops"))[2]]


@shape_rule("Fill")
def _fill(shapes: list[Shape], attrs: dict) -> list[Shape]:
    return [tuple(int_list(attrs.get("shape"), "Fill", "shape"))]


@shape_rule("SearchSorted")
def _search_sorted(shapes: list[Shape], attrs: dict) -> list[Shape]:
    return [shapes[1]]


@shape_rule("ImageProjectiveTransformV3")
def _projective(shapes: list[Shape], attrs: dict) -> list[Shape]:
    x = shapes[0]
    size = int_list(attrs.get("output_shape"), "ImageProjectiveTransformV3", "output_shape")
    return [(x[0], size[0], size[1], x[3])]


@shape_rule("Range")
def _range(shapes: list[Shape], attrs: dict) -> list[Shape]:
    return [(range_spec("Range", attrs)[3],)]


@shape_rule("LinSpace")
def _lin_space(shapes: list[Shape], attrs: dict) -> list[Shape]:
    num = int(number_attr("LinSpace", attrs, "num"))
    if num <= 0:
        raise AttributeValueError(f"LinSpace: num must be > 0, got {num}")
    return [(num,)]


@shape_rule("Einsum")
def _einsum(shapes: list[Shape], attrs: dict) -> list[Shape]:
    equation = attrs.get("equation")
    terms, out = parse_equation(equation, len(shapes))
    _, out_labels, sizes = expand_labels(terms, out, shapes, str(equation))
    return [tuple(sizes[label] for label in out_labels)]


@shape_rule("Complex")
def _complex(shapes: list[Shape], attrs: dict) -> list[Shape]:
    return [broadcast_shapes(*shapes)]


shape_rule("Real", "Imag", "ComplexAbs", "FFT", "IFFT")(_same)


@shape_rule("RFFT")
def _rfft(shapes: list[Shape], attrs: dict) -> list[Shape]:
    n = fft_length("RFFT", attrs)
    return [shapes[0][:-1] + ((n // 2 + 1) if n else 0,)]


@shape_rule("IRFFT")
def _irfft(shapes: list[Shape], attrs: dict) -> list[Shape]:
    return [shapes[0][:-1] + (fft_length("IRFFT", attrs),)]


# ---- data-dependent sizes (-1)
@shape_rule("Where")
def _where(shapes: list[Shape], attrs: dict) -> list[Shape]:
    return [(-1, len(shapes[0]))]


@shape_rule("Unique", "UniqueV2")
def _unique(shapes: list[Shape], attrs: dict) -> list[Shape]:
    x = shapes[0]
    if len(x) == 1:
        return [(-1,), x]
    axis = attrs.get("axis")
    axis = normalize_axis(int(axis[0] if isinstance(axis, (list, tuple)) else axis), len(x), "Unique axis")
    return [x[:axis] + (-1,) + x[axis + 1:], (x[axis],)]


@shape_rule("ListDiff")
def _list_diff(shapes: list[Shape], attrs: dict) -> list[Shape]:
    return [(-1,), (-1,)]


def _nms_count(attrs: dict) -> int:
    if not attrs.get("pad_to_max_output_size", False):
        return -1
    return int(number_attr("NonMaxSuppression", attrs, "max_output_size"))


@shape_rule("NonMaxSuppressionV3")
def _nms_v3(shapes: list[Shape], attrs: dict) -> list[Shape]:
    return [(-1,)]


@shape_rule("NonMaxSuppressionV4")
def _nms_v4(shapes: list[Shape], attrs: dict) -> list[Shape]:
    return [(_nms_count(attrs),), ()]


@shape_rule("NonMaxSuppressionV5")
def _nms_v5(shapes: list[Shape], attrs: dict) -> list[Shape]:
    n = _nms_count(attrs)
    return [(n,), (n,), ()]
