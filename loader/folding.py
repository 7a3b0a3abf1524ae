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
        padding = node.attr("padding", "")
        padding = padding.decode() if isinstance(padding, bytes) else str(padding)
        if padding.upper() != "VALID":
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
