"""Parsing and validating model.json (TF.js graph-model format) into plain dataclasses.

Everything is checked here, before any weight is read or any texture allocated, and every error
names the key path (``weightsManifest[0].weights[3].shape``) so a user can find the problem.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from gpu_backend.dtypes import TF_DTYPES

from .errors import ModelFormatError, UnsupportedModelError, WeightsError

# dtypes a weight may have in the manifest, and their byte size (None: variable, strings)
WEIGHT_DTYPES: dict[str, int | None] = {"float32": 4, "int32": 4, "bool": 1, "uint8": 1, "string": None,
                                        "complex64": 8}
QUANT_DTYPES = {"uint8": 1, "uint16": 2, "float16": 2}
MAX_DIM = 2**31 - 1
MAX_WEIGHT_ELEMENTS = 2**31


@dataclass(frozen=True)
class Quantization:
    dtype: str                   # uint8 | uint16 | float16
    scale: float | None = None
    min: float | None = None
    original_dtype: str = "float32"


@dataclass(frozen=True)
class WeightSpec:
    name: str
    shape: tuple[int, ...]
    dtype: str
    quantization: Quantization | None = None

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def nbytes(self) -> int | None:
        """Bytes this weight takes in the shards (None for strings, whose size is in the data)."""
        if self.quantization is not None:
            return self.size * QUANT_DTYPES[self.quantization.dtype]
        per = WEIGHT_DTYPES[self.dtype]
        return None if per is None else self.size * per


@dataclass(frozen=True)
class WeightGroup:
    paths: tuple[str, ...]
    weights: tuple[WeightSpec, ...]


@dataclass(frozen=True)
class TensorInfo:
    """A signature entry: `name` is the graph tensor ('x:0'), `key` the signature key ('x')."""

    key: str
    name: str
    dtype: str
    shape: tuple[int, ...] | None   # None: unknown rank; -1: unknown dim


@dataclass
class ModelArtifacts:
    format: str
    topology: dict[str, Any]
    weight_groups: list[WeightGroup]
    inputs: list[TensorInfo] = field(default_factory=list)
    outputs: list[TensorInfo] = field(default_factory=list)
    generated_by: str = ""
    converted_by: str = ""
    user_metadata: dict[str, Any] = field(default_factory=dict)
    initializer: dict[str, Any] | None = None
    source: str = ""
    raw: dict[str, Any] | None = field(default=None, repr=False)   # the parsed model.json, for saving

    def weight_specs(self) -> list[WeightSpec]:
        return [w for g in self.weight_groups for w in g.weights]


def _need(obj: Any, key: str, kind: type | tuple[type, ...], path: str) -> Any:
    if not isinstance(obj, dict):
        raise ModelFormatError(f"{path or 'model.json'} must be a JSON object")
    if key not in obj:
        raise ModelFormatError(f"model.json: missing key '{path + '.' if path else ''}{key}'")
    value = obj[key]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ModelFormatError(f"model.json: '{path + '.' if path else ''}{key}' must be a {names}, "
                               f"got {type(value).__name__}")
    return value


def parse_shape_proto(proto: Any, path: str) -> tuple[int, ...] | None:
    """TensorShapeProto JSON -> tuple (-1 for unknown dims) or None for unknown rank."""
    if proto is None:
        return None
    if not isinstance(proto, dict):
        raise ModelFormatError(f"model.json: '{path}' must be a shape object")
    if proto.get("unknownRank"):
        return None
    dims = proto.get("dim", [])
    if not isinstance(dims, list):
        raise ModelFormatError(f"model.json: '{path}.dim' must be a list")
    out = []
    for i, d in enumerate(dims):
        try:
            size = int(d.get("size", -1)) if isinstance(d, dict) else int(d)
        except (TypeError, ValueError):
            raise ModelFormatError(f"model.json: '{path}.dim[{i}].size' is not an integer: {d!r}") from None
        if size < -1:
            raise ModelFormatError(f"model.json: '{path}.dim[{i}].size' is {size}; a dimension is -1 (unknown) or >= 0")
        out.append(size)
    return tuple(out)


def _parse_weight(w: Any, path: str) -> WeightSpec:
    name = _need(w, "name", str, path)
    shape_raw = _need(w, "shape", list, path)
    shape: list[int] = []
    for i, d in enumerate(shape_raw):
        if isinstance(d, bool) or not isinstance(d, int) or d < 0 or d > MAX_DIM:
            raise WeightsError(f"model.json: '{path}.shape[{i}]' of weight {name!r} must be an integer in "
                               f"[0, {MAX_DIM}], got {d!r}")
        shape.append(d)
    if math.prod(shape) > MAX_WEIGHT_ELEMENTS:
        raise WeightsError(f"weight {name!r} declares {math.prod(shape)} elements (shape {shape}), more than the "
                           f"{MAX_WEIGHT_ELEMENTS} this loader accepts")
    dtype = _need(w, "dtype", str, path)
    if dtype not in WEIGHT_DTYPES:
        raise WeightsError(f"weight {name!r} ('{path}.dtype') has unknown dtype {dtype!r}; "
                           f"known: {', '.join(WEIGHT_DTYPES)}")
    quant = None
    if "quantization" in w and w["quantization"] is not None:
        q = w["quantization"]
        qpath = path + ".quantization"
        qd = _need(q, "dtype", str, qpath)
        if qd not in QUANT_DTYPES:
            raise WeightsError(f"weight {name!r} uses quantization dtype {qd!r}; known: {', '.join(QUANT_DTYPES)}")
        scale = q.get("scale")
        qmin = q.get("min")
        if qd in ("uint8", "uint16"):
            if not isinstance(scale, (int, float)) or not isinstance(qmin, (int, float)):
                raise WeightsError(f"weight {name!r}: '{qpath}' needs numeric 'scale' and 'min' for {qd}")
        quant = Quantization(qd, None if scale is None else float(scale), None if qmin is None else float(qmin),
                             str(q.get("original_dtype", dtype)))
    return WeightSpec(name, tuple(shape), dtype, quant)


def _parse_signature(sig: Any, which: str) -> list[TensorInfo]:
    if sig is None:
        return []
    entries = sig.get(which, {}) if isinstance(sig, dict) else None
    if not isinstance(entries, dict):
        raise ModelFormatError(f"model.json: 'signature.{which}' must be an object")
    out = []
    for key, info in entries.items():
        path = f"signature.{which}.{key}"
        name = _need(info, "name", str, path)
        dtype_raw = info.get("dtype", "DT_FLOAT")
        if not isinstance(dtype_raw, str):
            raise ModelFormatError(f"model.json: {path}.dtype must be a string such as 'DT_FLOAT', got {dtype_raw!r}")
        dtype = TF_DTYPES.get(dtype_raw, dtype_raw)
        out.append(TensorInfo(key, name, dtype, parse_shape_proto(info.get("tensorShape"), path + ".tensorShape")))
    return out


def parse_model_json(data: bytes | str, where: str = "model.json") -> ModelArtifacts:
    """A graph model's model.json; a layers model is refused with a pointer to load_layers_model."""
    artifacts = parse_any_model_json(data, where)
    if artifacts.format == "layers-model":
        raise UnsupportedModelError(
            f"{where} is a Keras layers model (format 'layers-model', generated by "
            f"{artifacts.generated_by or '?'}); load it with loader.load_layers_model() "
            "(or loader.load_model(), which takes either kind)")
    return artifacts


def _load_json(data: bytes | str, where: str) -> Any:
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise ModelFormatError(f"{where} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except UnicodeDecodeError as exc:
        raise ModelFormatError(f"{where} is not UTF-8 text ({exc.reason})") from None


def _parse_manifest(obj: dict[str, Any]) -> list[WeightGroup]:
    manifest = obj.get("weightsManifest", [])
    if not isinstance(manifest, list):
        raise ModelFormatError("model.json: 'weightsManifest' must be a list of weight groups")
    groups = []
    for gi, g in enumerate(manifest):
        path = f"weightsManifest[{gi}]"
        paths = _need(g, "paths", list, path)
        if not all(isinstance(p, str) for p in paths):
            raise ModelFormatError(f"model.json: '{path}.paths' must be a list of strings")
        weights = _need(g, "weights", list, path)
        groups.append(WeightGroup(tuple(paths), tuple(_parse_weight(w, f"{path}.weights[{wi}]")
                                                      for wi, w in enumerate(weights))))
    return groups


def parse_any_model_json(data: bytes | str, where: str = "model.json") -> ModelArtifacts:
    """model.json of a graph model or a layers model (artifacts.format says which)."""
    obj = _load_json(data, where)
    if isinstance(obj, list):
        raise UnsupportedModelError(
            f"{where} is a weights manifest only (a JSON list of weight groups, as TF.js writes next to a layers "
            "model's weights); it has no graph to run. Convert the model with "
            "`tensorflowjs_converter --output_format=tfjs_graph_model`.")
    if not isinstance(obj, dict):
        raise ModelFormatError(f"{where} must hold a JSON object, got {type(obj).__name__}")
    topo = obj.get("modelTopology")
    fmt = obj.get("format", "graph-model" if isinstance(topo, dict) and "node" in topo else None)
    if fmt is None and isinstance(topo, dict) and ("class_name" in topo or "model_config" in topo):
        fmt = "layers-model"          # TF.js model.save() before 'format' was written
    if fmt == "layers-model":
        topology = _need(obj, "modelTopology", dict, "")
        return ModelArtifacts(
            format=fmt, topology=topology, weight_groups=_parse_manifest(obj),
            generated_by=str(obj.get("generatedBy", "")), converted_by=str(obj.get("convertedBy", "")),
            user_metadata=obj.get("userDefinedMetadata") or {}, source=where, raw=obj)
    if fmt != "graph-model":
        raise UnsupportedModelError(f"{where}: 'format' is {fmt!r}; only 'graph-model' and 'layers-model' are supported")
    topology = _need(obj, "modelTopology", dict, "")
    nodes = _need(topology, "node", list, "modelTopology")
    for i, n in enumerate(nodes):
        _need(n, "name", str, f"modelTopology.node[{i}]")
        _need(n, "op", str, f"modelTopology.node[{i}]")
        if "input" in n and not (isinstance(n["input"], list) and all(isinstance(s, str) for s in n["input"])):
            raise ModelFormatError(f"model.json: 'modelTopology.node[{i}].input' ({n['name']}) must be a list of strings")
        if "attr" in n and not isinstance(n["attr"], dict):
            raise ModelFormatError(f"model.json: 'modelTopology.node[{i}].attr' ({n['name']}) must be an object")
    groups = _parse_manifest(obj)
    sig = obj.get("signature")
    return ModelArtifacts(
        format=fmt, topology=topology, weight_groups=groups,
        inputs=_parse_signature(sig, "inputs"), outputs=_parse_signature(sig, "outputs"),
        generated_by=str(obj.get("generatedBy", "")), converted_by=str(obj.get("convertedBy", "")),
        user_metadata=obj.get("userDefinedMetadata") or {}, initializer=obj.get("modelInitializer"), source=where,
        raw=obj)
