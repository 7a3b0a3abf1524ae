"""TensorFlow itself as the reference of `gpu-backend compare --tf`: the model.json graph run by TF.

A converted model's ``modelTopology`` is a GraphDef written as protobuf JSON, so TF can import it
as it is once the weights are put back into the Const nodes (decoded by our own loader, so a
quantized weight has exactly the values our backends see). TF then computes every node with its
own kernels, and `compare` can name the first node where we and TF part.

TensorFlow is an optional extra: this module imports it only when used, and says how to get it.
The converter renames a few ops to TF.js names; they are mapped back to TF's (FusedDepthwiseConv2dNative
-> _FusedDepthwiseConv2dNative), and ops that exist only in TF.js (Conv1D, Ones, Zeros,
DepthwiseConv2d) make the import fail with a message naming them.
"""
from __future__ import annotations

import copy
from typing import Any

import numpy as np

from .errors import ModelLoadError
from .graph import parse_input
from .model import GraphModel

TFJS_TO_TF = {"FusedDepthwiseConv2dNative": "_FusedDepthwiseConv2dNative"}
TFJS_ONLY = {"Conv1D", "Ones", "Zeros", "DepthwiseConv2d"}
FUSED_WITH_BIAS = {"_FusedConv2D", "_FusedMatMul", "_FusedDepthwiseConv2dNative"}


def _tf() -> Any:
    try:
        import tensorflow as tf  # type: ignore[import-not-found]
    except ImportError:
        raise ModelLoadError("compare --tf needs TensorFlow in this environment: pip install 'tensorflow-cpu==2.19.*' "
                             "(or compare against --reference numpy)") from None
    return tf


class TFReference:
    """The `execute(inputs, names)` half of a GraphModel, computed by TensorFlow."""

    def __init__(self, model: GraphModel) -> None:
        tf = self.tf = _tf()
        from google.protobuf import json_format  # TF's own dependency
        topology = copy.deepcopy(model.artifacts.topology)
        nodes = topology.get("node", [])
        only_js = sorted({n.get("op") for n in nodes if n.get("op") in TFJS_ONLY})
        if only_js:
            raise ModelLoadError(f"compare --tf: the graph uses TF.js-only ops TensorFlow cannot run: {', '.join(only_js)}")
        for n in nodes:
            n["op"] = TFJS_TO_TF.get(n.get("op"), n.get("op"))
        graph_def = json_format.ParseDict(topology, tf.compat.v1.GraphDef(), ignore_unknown_fields=True)
        consts = model.executor.consts
        # the converter folds a broadcast bias ([1, 1, 1, C]) into fused convolutions and matmuls, which
        # TF.js accepts and TF's own kernels refuse ("bias must be 1-dimensional"): give TF the [C] vector
        flat_bias = {n.input[2].split(":")[0] for n in graph_def.node
                     if n.op in FUSED_WITH_BIAS and len(n.input) > 2 and not n.input[2].startswith("^")}
        for node in graph_def.node:
            if node.op == "Const" and node.name in consts:
                value = consts[node.name]
                if node.name in flat_bias and value.ndim > 1 and all(d == 1 for d in value.shape[:-1]):
                    value = value.reshape(-1)
                dtype = tf.as_dtype(node.attr["dtype"].type)
                node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(np.asarray(value).astype(dtype.as_numpy_dtype)
                                                                        if value.dtype != object else value,
                                                                        dtype=dtype))
        self.graph = tf.Graph()
        with self.graph.as_default():
            try:
                tf.compat.v1.import_graph_def(graph_def, name="")
            except Exception as exc:
                raise ModelLoadError(f"compare --tf: TensorFlow could not import the graph: {exc}") from exc
        self.session = tf.compat.v1.Session(graph=self.graph)
        self.model = model

    def execute(self, inputs: Any, outputs: list[str]) -> dict[str, np.ndarray]:
        feeds = self.model._feeds(inputs)
        feed_dict = {self.graph.get_tensor_by_name(f"{name}:0"): value for name, value in feeds.items()}
        fetch = {}
        for name in outputs:
            ref = parse_input(name)[0]
            if ref is None:
                continue
            fetch[name] = self.graph.get_tensor_by_name(f"{ref[0]}:{ref[1]}")
        values = self.session.run(fetch, feed_dict=feed_dict)
        return {k: _as_ours(v) for k, v in values.items()}

    def dispose(self) -> None:
        self.session.close()


def _as_ours(v: Any) -> np.ndarray:
    """TF's value in this runtime's dtypes: int64 -> int32, float64/half -> float32, strings as bytes."""
    a = np.asarray(v)
    if a.dtype.kind in "iu" and a.dtype != np.int32:
        return a.astype(np.int32)
    if a.dtype.kind == "f" and a.dtype != np.float32:
        return a.astype(np.float32)
    if a.dtype == np.complex128:
        return a.astype(np.complex64)
    return a
