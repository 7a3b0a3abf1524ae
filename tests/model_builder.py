"""Build small TF.js graph models in tests: model.json + shard bytes from a node list and numpy weights.

This gives the loader tests their own fixtures (independent of ../shared), and lets them corrupt
any part of a model on purpose.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np

DT = {"float32": "DT_FLOAT", "int32": "DT_INT32", "bool": "DT_BOOL", "string": "DT_STRING", "complex64": "DT_COMPLEX64"}


def attr_list_i(values: list[int]) -> dict:
    return {"list": {"i": [str(v) for v in values]}}


def attr_s(text: str) -> dict:
    return {"s": base64.b64encode(text.encode()).decode()}


def const(name: str, dtype: str = "float32") -> dict:
    return {"name": name, "op": "Const", "attr": {"dtype": {"type": DT[dtype]}, "value": {"tensor": {"dtype": DT[dtype]}}}}


def placeholder(name: str, shape: list[int], dtype: str = "float32") -> dict:
    return {"name": name, "op": "Placeholder", "attr": {"dtype": {"type": DT[dtype]},
                                                          "shape": {"shape": {"dim": [{"size": str(d)} for d in shape]}}}}


def op(name: str, op_type: str, inputs: list[str], **attrs: Any) -> dict:
    return {"name": name, "op": op_type, "input": inputs, "attr": {"T": {"type": "DT_FLOAT"}, **attrs}}


def signature(inputs: dict[str, tuple[str, list[int], str]], outputs: dict[str, tuple[str, list[int], str]]) -> dict:
    def entry(name: str, shape: list[int], dtype: str) -> dict:
        return {"name": name, "dtype": DT[dtype], "tensorShape": {"dim": [{"size": str(d)} for d in shape]}}
    return {"inputs": {k: entry(*v) for k, v in inputs.items()}, "outputs": {k: entry(*v) for k, v in outputs.items()}}


def encode_weights(weights: dict[str, np.ndarray], quantize: dict[str, str] | None = None) -> tuple[list[dict], bytes]:
    """Manifest entries and the concatenated bytes; quantize: {name: 'uint8'|'uint16'|'float16'}."""
    specs, blobs = [], []
    for name, value in weights.items():
        value = np.asarray(value)
        dtype = {"f": "float32", "i": "int32", "b": "bool", "c": "complex64", "O": "string", "S": "string",
                 "U": "string"}[value.dtype.kind]
        spec: dict[str, Any] = {"name": name, "shape": list(value.shape), "dtype": dtype}
        if dtype == "string":          # the converter's layout: uint32 byte length + bytes, per string
            for v in value.reshape(-1):
                b = v.encode() if isinstance(v, str) else bytes(v)
                blobs.append(np.uint32(len(b)).astype("<u4").tobytes() + b)
            specs.append(spec)
            continue
        q = (quantize or {}).get(name)
        if q == "float16":
            blobs.append(value.astype("<f2").tobytes())
            spec["quantization"] = {"dtype": "float16", "original_dtype": dtype}
        elif q in ("uint8", "uint16"):
            levels = 255 if q == "uint8" else 65535
            lo, hi = float(value.min()), float(value.max())
            scale = (hi - lo) / levels if hi > lo else 1.0
            ints = np.round((value - lo) / scale).astype("u1" if q == "uint8" else "<u2")
            blobs.append(ints.tobytes())
            spec["quantization"] = {"dtype": q, "scale": scale, "min": lo, "original_dtype": dtype}
        else:
            blobs.append(value.astype({"float32": "<f4", "int32": "<i4", "bool": "u1", "complex64": "<c8"}[dtype]).tobytes())
        specs.append(spec)
    return specs, b"".join(blobs)


def model_json(nodes: list[dict], weights: dict[str, np.ndarray], sig: dict | None, shard_size: int = 0,
               quantize: dict[str, str] | None = None) -> tuple[dict, dict[str, bytes]]:
    specs, data = encode_weights(weights, quantize)
    if shard_size and len(data) > shard_size:
        shards = [data[i:i + shard_size] for i in range(0, len(data), shard_size)]
    else:
        shards = [data]
    paths = [f"group1-shard{i + 1}of{len(shards)}.bin" for i in range(len(shards))]
    doc = {"format": "graph-model", "generatedBy": "test", "convertedBy": "tests/model_builder.py",
           "modelTopology": {"node": nodes, "library": {}, "versions": {"producer": 1}},
           "weightsManifest": [{"paths": paths, "weights": specs}]}
    if sig is not None:
        doc["signature"] = sig
    return doc, dict(zip(paths, shards))


def write(folder: Path, doc: dict, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.json").write_text(json.dumps(doc))
    for path, data in files.items():
        (folder / path).write_bytes(data)
    return folder / "model.json"


def dense_model(rng: np.random.Generator, batch: int = -1, quantize: dict[str, str] | None = None,
                shard_size: int = 0) -> tuple[dict, dict[str, bytes], dict[str, np.ndarray]]:
    """x [batch, 5] -> relu(x @ w + b) -> softmax(. @ w2); returns (model.json, files, weights)."""
    weights = {"w": rng.standard_normal((5, 7)).astype(np.float32),
               "b": rng.standard_normal(7).astype(np.float32),
               "w2": rng.standard_normal((7, 3)).astype(np.float32),
               "axis": np.array(-1, np.int32)}
    nodes = [const("w"), const("b"), const("w2"), const("axis", "int32"), placeholder("x", [batch, 5]),
             op("mm", "_FusedMatMul", ["x", "w", "b"], fused_ops={"list": {"s": [base64.b64encode(b"BiasAdd").decode(),
                                                                              base64.b64encode(b"Relu").decode()]}},
                transpose_a={"b": False}, transpose_b={"b": False}),
             op("logits", "MatMul", ["mm", "w2"]),
             op("probs", "Softmax", ["logits"]),
             op("Identity", "Identity", ["probs"]),
             op("Identity_1", "Identity", ["logits"])]
    sig = signature({"x": ("x:0", [batch, 5], "float32")},
                    {"probs": ("Identity:0", [batch, 3], "float32"), "logits": ("Identity_1:0", [batch, 3], "float32")})
    doc, files = model_json(nodes, weights, sig, shard_size=shard_size, quantize=quantize)
    return doc, files, weights


def dense_reference(x: np.ndarray, w: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    h = np.maximum(x.astype(np.float64) @ w["w"] + w["b"], 0)
    logits = h @ w["w2"]
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return {"Identity:0": (e / e.sum(-1, keepdims=True)).astype(np.float32), "Identity_1:0": logits.astype(np.float32)}
