"""Load-time rewrites that turn converter output into what the kernels take.

_FusedConv2D / FusedDepthwiseConv2dNative may carry fused_ops [FusedBatchNorm, <activation>] with the
batch-norm statistics as extra inputs.  When those are constants (always, in inference graphs), the
normalisation folds into the filter and a bias, exactly: y = (conv(x, w) - mean) * s + offset with
s = scale / sqrt(var + eps) equals conv(x, w * s) + (offset - mean * s).
"""
from __future__ import annotations

import numpy as np

from .graph import Graph, Node


def _const(graph: Graph, consts: dict[str, np.ndarray], node: Node, i: int) -> np.ndarray | None:
    if i >= len(node.inputs):
        return None             # a malformed node; the executor's arity check reports it
    src, k = node.inputs[i]
    src_node = graph.nodes[src]
    while src_node.op in ("Identity", "StopGradient", "Snapshot") and src_node.inputs:
        src, k = src_node.inputs[0]
        src_node = graph.nodes[src]
    if src_node.op == "Const" and k == 0:
        return consts[src]
    return None


def _add_const(graph: Graph, consts: dict[str, np.ndarray], name: str, value: np.ndarray) -> str:
    base, n = name, 1
    while name in graph.nodes:
        name = f"{base}_{n}"
        n += 1
    graph.nodes[name] = Node(name, "Const", [], [], {"dtype": "float32"})
    graph.consumers[name] = []
    consts[name] = value.astype(np.float32)
    return name


def prepare_graph(graph: Graph, consts: dict[str, np.ndarray], keep: set[str], optimize: bool = True) -> set[str]:
    """All load-time rewrites, in order; returns the names of the nodes merged away.  Batch norms inside
    fused ops are always folded (no kernel runs them); the rest only with `optimize`."""
    before = set(graph.nodes)
    fold_fused_batch_norms(graph, consts)
    if optimize:
        fold_pads_into_convs(graph, consts)
        fuse_epilogues(graph, consts, keep)
    return before - set(graph.nodes)


def fold_fused_batch_norms(graph: Graph, consts: dict[str, np.ndarray]) -> int:
    folded = 0
    for node in list(graph.nodes.values()):
        if node.op not in ("_FusedConv2D", "FusedDepthwiseConv2dNative"):
            continue
        ops = [o.decode() if isinstance(o, bytes) else str(o) for o in node.attr("fused_ops", [])]
        if not ops or ops[0] != "FusedBatchNorm" or len(node.inputs) < 6:
            continue
        filt = _const(graph, consts, node, 1)
        stats = [_const(graph, consts, node, i) for i in range(2, 6)]
        if filt is None or any(s is None for s in stats):
            continue   # left as is: the mapping reports it, naming the node
        scale, offset, mean, var = (s.astype(np.float64) for s in stats)  # type: ignore[union-attr]
        s = scale / np.sqrt(var + float(node.attr("epsilon", 1e-3)))
        if node.op == "FusedDepthwiseConv2dNative":
            w = filt.astype(np.float64) * s.reshape(filt.shape[2], filt.shape[3])
        else:
            w = filt.astype(np.float64) * s
        bias = offset - mean * s
        wname = _add_const(graph, consts, f"{node.name}/folded_filter", w)
        bname = _add_const(graph, consts, f"{node.name}/folded_bias", bias)
        for src, _ in node.inputs[1:6]:
            graph.consumers[src].remove(node.name)
        node.inputs = [node.inputs[0], (wname, 0), (bname, 0)] + node.inputs[6:]
        graph.consumers[wname].append(node.name)
        graph.consumers[bname].append(node.name)
        node.attrs["fused_ops"] = ["BiasAdd"] + ops[1:]
        folded += 1
    return folded


CONV_OPS = {"Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative"}


def fold_pads_into_convs(graph: Graph, consts: dict[str, np.ndarray]) -> int:
    """Pad(x, [[0,0],[t,b],[l,r],[0,0]]) -> VALID convolution becomes one convolution with explicit
    padding (zeros either way), saving a full copy of the activation.  Only when the Pad feeds that
    convolution alone, pads with zeros and touches no batch or channel dimension."""
    folded = 0
    for node in list(graph.nodes.values()):
        if node.op not in CONV_OPS or not node.inputs:
            continue
        if node.attr_str("padding", "").upper() != "VALID":
            continue
        src_name, k = node.inputs[0]
        pad = graph.nodes[src_name]
        if pad.op not in ("Pad", "PadV2") or k != 0 or graph.consumers[src_name] != [node.name]:
            continue
        paddings = _const(graph, consts, pad, 1)
        if paddings is None or paddings.shape != (4, 2):
            continue
        if pad.op == "PadV2":
            value = _const(graph, consts, pad, 2)
            if value is None or value.size != 1 or float(value.reshape(-1)[0]) != 0.0:
                continue
        p = paddings.astype(np.int64)
        if p[0].any() or p[3].any() or (p < 0).any():
            continue
        graph.consumers[src_name].remove(node.name)
        node.inputs[0] = pad.inputs[0]
        graph.consumers[pad.inputs[0][0]].append(node.name)
        node.attrs["padding"] = "EXPLICIT"
        node.attrs["explicit_paddings"] = [0, 0, int(p[1, 0]), int(p[1, 1]), int(p[2, 0]), int(p[2, 1]), 0, 0]
        folded += 1
    return folded


AFFINE_PRODUCERS = {"Conv2D": "_FusedConv2D", "_FusedConv2D": "_FusedConv2D",
                    "DepthwiseConv2dNative": "FusedDepthwiseConv2dNative",
                    "FusedDepthwiseConv2dNative": "FusedDepthwiseConv2dNative",
                    "MatMul": "_FusedMatMul", "_FusedMatMul": "_FusedMatMul", "BatchMatMul": "_FusedMatMul",
                    "BatchMatMulV2": "_FusedMatMul", "BatchMatMulV3": "_FusedMatMul"}
MATMULS = {"MatMul", "_FusedMatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3"}


def fuse_epilogues(graph: Graph, consts: dict[str, np.ndarray], keep: set[str]) -> int:
    """Merge into convolutions and dense layers what follows them, until nothing more merges:

    * Mul / Add / Sub by a per-channel constant folds into the filter and bias:
      (conv(x, w) + b) * s + t = conv(x, w * s) + (b * s + t);
    * a residual Add(conv(x), skip) becomes the convolution's fused Add (_fold_residual);
    * an activation after a layer without one becomes its fused activation (_fold_activation);
    * a bias added after a Reshape of a dense layer's output, when the reshape only splits rows and
      columns (Keras Dense on 3-D input, EinsumDense), folds into the dense layer
      (_fold_bias_through_reshape);
    * a zero Pad before a VALID pool, and a relu / relu6 / leaky relu after one, become attributes of
      the pool (_fold_pad_into_pool, _fold_activation_into_pool).

    Batch normalisation exported as separate Mul and Add nodes (Keras 3 through TF 2.16+ often does)
    would otherwise cost two more programs to compile and two more passes over the activation.  Only
    when the producer feeds that node alone, is not a named output (`keep`), and the constant
    broadcasts along the output channels only.  Repeats until nothing folds (Mul then Add)."""
    folded = 0
    changed = True
    while changed:
        changed = False
        for node in list(graph.nodes.values()):
            if node.name not in graph.nodes:
                continue
            if (_fold_affine(graph, consts, node, keep) or _fold_residual(graph, consts, node, keep)
                    or _fold_bias_through_reshape(graph, consts, node, keep)
                    or _fold_activation(graph, node, keep) or _fold_pad_into_pool(graph, consts, node, keep)
                    or _fold_activation_into_pool(graph, node, keep)):
                folded += 1
                changed = True
    return folded


CONV_FAMILY = {"Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative"}
FUSED_ACTIVATIONS = {"Relu", "Relu6", "Elu", "LeakyRelu", "Sigmoid", "Tanh"}


def _foldable_producer(graph: Graph, node: Node, i: int, keep: set[str], ops: set[str]) -> Node | None:
    """The producer of node's input i when it can be merged into node: one of `ops`, read by node
    alone, not a named output, nobody's control dependency."""
    src, k = node.inputs[i]
    prod = graph.nodes[src]
    if k != 0 or prod.op not in ops or graph.consumers[src] != [node.name] or src in keep:
        return None
    if any(src in n.control for n in graph.nodes.values()):
        return None
    return prod


def _linear(prod: Node) -> bool:
    """A producer without activation (its output is filter-linear plus bias / residual)."""
    return _fused_ops(prod) in ([], ["BiasAdd"], ["BiasAdd", "Add"])


def _fold_residual(graph: Graph, consts: dict[str, np.ndarray], node: Node, keep: set[str]) -> bool:
    """Add(conv(x), skip) -> one convolution whose epilogue adds the skip connection (TF's fused_ops
    [BiasAdd, Add]): the residual sum of ResNet and MobileNetV2 blocks costs no draw of its own."""
    if node.op not in ("AddV2", "Add", "AddN") or len(node.inputs) != 2 or node.control:
        return False
    if str(node.attr("T", "float32")) != "float32":
        return False
    for side in (0, 1):
        prod = _foldable_producer(graph, node, side, keep, CONV_FAMILY)
        if prod is None or not _linear(prod) or "Add" in _fused_ops(prod):
            continue
        skip = node.inputs[1 - side]
        if skip[0] == prod.name or graph.nodes[skip[0]].op == "Const":
            continue
        w = _const(graph, consts, prod, 1)
        if w is None or w.ndim != 4:
            continue
        if _fused_ops(prod) == ["BiasAdd"]:
            bias = prod.inputs[2]
        else:
            channels = w.shape[2] * w.shape[3] if "Depthwise" in prod.op else w.shape[3]
            bias = (_add_const(graph, consts, f"{node.name}/zero_bias", np.zeros(channels)), 0)
        op = AFFINE_PRODUCERS[prod.op]
        _replace(graph, prod, node, op, prod.inputs[:2] + [bias, skip], ["BiasAdd", "Add"])
        return True
    return False


def _fold_activation(graph: Graph, node: Node, keep: set[str]) -> bool:
    """Relu & co. right after a convolution or dense layer without activation become its fused
    activation (grappler does this for conv + bias + relu, but not after a residual add)."""
    if node.op not in FUSED_ACTIVATIONS or len(node.inputs) != 1 or node.control:
        return False
    prod = _foldable_producer(graph, node, 0, keep, CONV_FAMILY | MATMULS)
    if prod is None or not _linear(prod):
        return False
    if prod.op in MATMULS and ("Add" in _fused_ops(prod) or _transposed(prod)):
        return False
    extra = {"leakyrelu_alpha": float(node.attr("alpha", 0.2))} if node.op == "LeakyRelu" else None
    _replace(graph, prod, node, AFFINE_PRODUCERS[prod.op], list(prod.inputs), _fused_ops(prod) + [node.op], extra)
    return True


def _fold_affine(graph: Graph, consts: dict[str, np.ndarray], node: Node, keep: set[str]) -> bool:
    if node.op not in ("Mul", "AddV2", "Add", "BiasAdd", "Sub") or len(node.inputs) != 2 or node.control:
        return False
    for side in ((0, 1) if node.op != "Sub" else (0,)):
        src, k = node.inputs[side]
        prod = graph.nodes[src]
        if k != 0 or prod.op not in AFFINE_PRODUCERS or graph.consumers[src] != [node.name] or src in keep:
            continue
        if any(src in n.control for n in graph.nodes.values()):
            return False
        c = _const(graph, consts, node, 1 - side)
        plan = _affine_plan(graph, consts, prod)
        if c is None or plan is None or c.dtype.kind != "f":
            continue
        if node.op == "Mul" and "Add" in _fused_ops(prod):
            continue            # a scale would apply to the residual too
        w, bias, channels, rank = plan
        if c.ndim > rank or (c.size != 1 and c.shape[-1] != channels) or c.size not in (1, channels):
            continue
        v = np.broadcast_to(c.reshape(-1).astype(np.float64), (channels,))
        if node.op == "Mul":
            w, bias = _scale_filter(prod, w, v), bias * v
        elif node.op == "Sub":
            bias = bias - v
        else:
            bias = bias + v
        _rewrite(graph, consts, prod, node, w, bias)
        return True
    return False


def _affine_plan(graph: Graph, consts: dict[str, np.ndarray], prod: Node) -> tuple[np.ndarray, np.ndarray, int, int] | None:
    """(filter, bias, output channels, output rank) of a producer whose output is filter-linear."""
    if prod.op.startswith("_Fused") or prod.op.startswith("Fused"):
        ops = _fused_ops(prod)
        if ops not in (["BiasAdd"], ["BiasAdd", "Add"]) or len(prod.inputs) != 2 + len(ops):
            return None
        bias = _const(graph, consts, prod, 2)
        if bias is None:
            return None
    else:
        if len(prod.inputs) != 2:
            return None
        bias = None
    w = _const(graph, consts, prod, 1)
    if w is None or w.dtype.kind != "f":
        return None
    if prod.op in MATMULS:
        if _transposed(prod) or w.ndim != 2:
            return None
        channels, rank = w.shape[1], 2      # batched products have rank >= 2: 2 is the safe bound
    elif w.ndim != 4:
        return None
    elif "Depthwise" in prod.op:
        channels, rank = w.shape[2] * w.shape[3], 4
    else:
        channels, rank = w.shape[3], 4
    b = np.zeros(channels) if bias is None else bias.astype(np.float64).reshape(-1)
    if b.shape != (channels,):
        return None
    return w.astype(np.float64), b, channels, rank


def _transposed(prod: Node) -> bool:
    """The fused matmul takes transpose_a / transpose_b; BatchMatMul's adj_x / adj_y are not carried over."""
    return any(bool(prod.attr(k, False)) for k in ("transpose_a", "transpose_b", "adj_x", "adj_y"))


def _fold_bias_through_reshape(graph: Graph, consts: dict[str, np.ndarray], node: Node, keep: set[str]) -> bool:
    """Add(Reshape(x @ w), c) -> Reshape(x @ w + c'), when the trailing dimensions of the reshape's target
    shape split exactly the product's columns and c varies along those dimensions only.  Keras Dense on a
    3-D input (Tensordot: Reshape, MatMul, Reshape, BiasAdd) and EinsumDense (BatchMatMul, Reshape to
    heads, Add of a [heads, depth] bias) export this way: a pass over the activation per dense layer."""
    if node.op not in ("AddV2", "Add", "BiasAdd") or len(node.inputs) != 2 or node.control:
        return False
    if node.op == "BiasAdd" and node.attr_str("data_format", "NHWC").upper() != "NHWC":
        return False
    for side in ((0, 1) if node.op != "BiasAdd" else (0,)):
        rs = _foldable_producer(graph, node, side, keep, {"Reshape"})
        if rs is None or len(rs.inputs) != 2:
            continue
        mm = _foldable_producer(graph, rs, 0, keep, MATMULS)
        c = _const(graph, consts, node, 1 - side)
        shape = _const(graph, consts, rs, 1)
        plan = None if mm is None else _affine_plan(graph, consts, mm)
        if plan is None or c is None or shape is None or c.dtype.kind != "f":
            continue
        _, bias, columns, _ = plan
        dims = [int(d) for d in shape.reshape(-1)]
        j, size = 0, 1
        while size < columns and j < len(dims) and dims[-1 - j] > 0:
            size *= dims[-1 - j]
            j += 1
        if j == 0 or size != columns or c.ndim > len(dims) or any(d != 1 for d in c.shape[:max(0, c.ndim - j)]):
            continue
        try:
            v = np.broadcast_to(c.reshape(c.shape[max(0, c.ndim - j):]), dims[len(dims) - j:]).reshape(-1)
        except ValueError:
            continue
        bname = _add_const(graph, consts, f"{node.name}/folded_bias", bias + v.astype(np.float64))
        for src, _ in mm.inputs[2:]:
            graph.consumers[src].remove(mm.name)
        mm.attrs = {**mm.attrs, "fused_ops": ["BiasAdd"], "num_args": 1}
        mm.op = "_FusedMatMul"
        mm.inputs = mm.inputs[:2] + [(bname, 0)]
        graph.consumers[bname].append(mm.name)
        for src, _ in node.inputs:
            graph.consumers[src].remove(node.name)
        for src, _ in rs.inputs:
            graph.consumers[src].remove(rs.name)
        node.op, node.inputs, node.attrs = "Reshape", list(rs.inputs), dict(rs.attrs)
        for src, _ in node.inputs:
            graph.consumers[src].append(node.name)
        del graph.nodes[rs.name]
        del graph.consumers[rs.name]
        return True
    return False


def _scale_filter(prod: Node, w: np.ndarray, s: np.ndarray) -> np.ndarray:
    if "Depthwise" in prod.op:
        return w * s.reshape(w.shape[2], w.shape[3])
    return w * s            # conv [fh, fw, in, out] and matmul [k, n]: the last axis is the output


def _rewrite(graph: Graph, consts: dict[str, np.ndarray], prod: Node, node: Node, w: np.ndarray,
             bias: np.ndarray) -> None:
    """`node` (the Mul/Add) becomes the fused producer, keeping its name; the producer goes away."""
    wname = _add_const(graph, consts, f"{node.name}/folded_filter", w)
    bname = _add_const(graph, consts, f"{node.name}/folded_bias", bias)
    residual = prod.inputs[3:] if "Add" in _fused_ops(prod) else []
    _replace(graph, prod, node, AFFINE_PRODUCERS[prod.op], [prod.inputs[0], (wname, 0), (bname, 0)] + residual,
             ["BiasAdd"] + (["Add"] if residual else []))


def _fused_ops(node: Node) -> list[str]:
    return [o.decode() if isinstance(o, bytes) else str(o) for o in node.attr("fused_ops", [])]


def _replace(graph: Graph, prod: Node, node: Node, op: str, inputs: list[tuple[str, int]], fused_ops: list[str],
             extra_attrs: dict | None = None) -> None:
    """`node` becomes `op` over `inputs` with the producer's attributes (keeping its own name, which
    outputs and consumers refer to); the producer, now unused, leaves the graph."""
    for src, _ in node.inputs:
        if node.name in graph.consumers.get(src, []):
            graph.consumers[src].remove(node.name)
    for src, _ in prod.inputs:
        if prod.name in graph.consumers.get(src, []):
            graph.consumers[src].remove(prod.name)
    attrs = dict(prod.attrs)
    attrs["fused_ops"] = fused_ops
    attrs["num_args"] = len(inputs) - 2 - ("Prelu" in fused_ops)
    attrs.update(extra_attrs or {})
    node.op = op
    node.inputs = list(inputs)
    node.attrs = attrs
    for src, _ in inputs:
        graph.consumers[src].append(node.name)
    del graph.nodes[prod.name]
    del graph.consumers[prod.name]


POOLS = {"MaxPool", "AvgPool"}
POOL_ACTIVATIONS = {"Relu": "relu", "Relu6": "relu6", "LeakyRelu": "leakyrelu"}


def _fold_pad_into_pool(graph: Graph, consts: dict[str, np.ndarray], node: Node, keep: set[str]) -> bool:
    """Pad(x, zeros around H and W) -> VALID pool: one pool with explicit padding whose padding taps
    count as zeros (`_pad_zeros`), exactly what the padded tensor gave (ResNet stems do this)."""
    if node.op not in POOLS or not node.inputs or node.attr("_pad_zeros"):
        return False
    if node.attr_str("padding", "").upper() != "VALID":
        return False
    pad = _foldable_producer(graph, node, 0, keep, {"Pad", "PadV2"})
    if pad is None or len(pad.inputs) < 2:
        return False
    paddings = _const(graph, consts, pad, 1)
    if paddings is None or paddings.shape != (4, 2):
        return False
    if pad.op == "PadV2":
        value = _const(graph, consts, pad, 2) if len(pad.inputs) > 2 else None
        if value is None or value.size != 1 or float(value.reshape(-1)[0]) != 0.0:
            return False
    q = paddings.astype(np.int64)
    if q[0].any() or q[3].any() or (q < 0).any():
        return False
    for src, _ in pad.inputs:
        if pad.name in graph.consumers.get(src, []):
            graph.consumers[src].remove(pad.name)
    graph.consumers[pad.name].remove(node.name)
    node.inputs[0] = pad.inputs[0]
    graph.consumers[pad.inputs[0][0]].append(node.name)
    del graph.nodes[pad.name]
    del graph.consumers[pad.name]
    node.attrs["padding"] = "EXPLICIT"
    node.attrs["explicit_paddings"] = [0, 0, int(q[1, 0]), int(q[1, 1]), int(q[2, 0]), int(q[2, 1]), 0, 0]
    node.attrs["_pad_zeros"] = True
    return True


def _fold_activation_into_pool(graph: Graph, node: Node, keep: set[str]) -> bool:
    """relu(pool(x)) -> one pool that applies the activation to its float result."""
    if node.op not in POOL_ACTIVATIONS or len(node.inputs) != 1 or node.control:
        return False
    if str(node.attr("T", "float32")) != "float32":
        return False
    prod = _foldable_producer(graph, node, 0, keep, POOLS)
    if prod is None or prod.attr("_activation"):
        return False
    for src, _ in node.inputs + prod.inputs:
        for owner in (node.name, prod.name):
            if owner in graph.consumers.get(src, []):
                graph.consumers[src].remove(owner)
    attrs = dict(prod.attrs)
    attrs["_activation"] = POOL_ACTIVATIONS[node.op]
    attrs["_leakyrelu_alpha"] = float(node.attr("alpha", 0.2))
    node.op, node.inputs, node.attrs = prod.op, list(prod.inputs), attrs
    for src, _ in node.inputs:
        graph.consumers[src].append(node.name)
    del graph.nodes[prod.name]
    del graph.consumers[prod.name]
    return True
