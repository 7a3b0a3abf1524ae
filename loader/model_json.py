"""Parsing and validating model.json (TF.js graph-model format) into plain dataclasses.

Everything is checked here, before any weight is read or any texture allocated, and every error
names the key path (``weightsManifest[0].weights[3].shape``) so a user can find the problem.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gpu_backend.dtypes import TF_DTYPES

from .errors import ModelFormatError, UnsupportedModelError, WeightsError
from .sources import check_weight_path

# dtypes a weight may have in the manifest, and their byte size (None: variable, strings)
WEIGHT_DTYPES: dict[str, int | None] = {"float32": 4, "int32": 4, "bool": 1, "uint8": 1, "string": None,
                                        "complex64": 8}
QUANT_DTYPES = {"uint8": 1, "uint16": 2, "float16": 2}
MAX_DIM = 2**31 - 1
MAX_WEIGHT_ELEMENTS = 2**31
# model.json limits: real ones are a few MB (inline constants aside) and nest about 12 levels deep
MAX_MODEL_JSON_BYTES = 512 << 20
MAX_JSON_DEPTH = 100


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
    resource_id: int | None = None  # a DT_RESOURCE entry: which initializer output it is (a hash table)


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
    initializer: dict[str, Any] | None = None       # modelInitializer: a GraphDef run once at load (tables)
    initializer_outputs: list[TensorInfo] = field(default_factory=list)   # initializerSignature.outputs
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


def json_int(v: Any) -> int | None:
    """An integer as protobuf JSON writes it (a number or a decimal string), or None."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and len(v) <= 24:
        try:
            return int(v.strip())
        except ValueError:
            return None
    return None


def parse_shape_proto(proto: Any, path: str) -> tuple[int, ...] | None:
    """TensorShapeProto JSON -> tuple (-1 for unknown dims) or None for unknown rank."""
    if proto is None:
        return None
    if not isinstance(proto, dict):
        raise ModelFormatError(f"model.json: '{path}' must be a shape object, got {_kind(proto)}")
    if proto.get("unknownRank"):
        return None
    dims = proto.get("dim", [])
    if dims is None:
        dims = []
    if not isinstance(dims, list):
        raise ModelFormatError(f"model.json: '{path}.dim' must be a list, got {_kind(dims)}")
    if len(dims) > 64:
        raise ModelFormatError(f"model.json: '{path}' has {len(dims)} dimensions (at most 64 are supported)")
    out = []
    for i, d in enumerate(dims):
        size = json_int(d.get("size", -1)) if isinstance(d, dict) else json_int(d)
        if size is None or not -1 <= size <= MAX_DIM:
            raise ModelFormatError(f"model.json: '{path}.dim[{i}].size' must be an integer in [-1, {MAX_DIM}], "
                                   f"got {_short(d)}")
        out.append(size)
    return tuple(out)


def _kind(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(v), "a number" if isinstance(v, (int, float)) else type(v).__name__)


def _short(v: Any, n: int = 60) -> str:
    text = repr(v) if not isinstance(v, (dict, list)) else json.dumps(v)[:n + 1] if _depth(v) < 20 else f"<{_kind(v)}>"
    return text if len(text) <= n else text[:n] + "..."


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
        for key, v in (("scale", scale), ("min", qmin)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                                  or abs(v) > 3.4e38):
                raise WeightsError(f"weight {name!r}: '{qpath}.{key}' must be a finite number, got {_short(v)}")
        if qd in ("uint8", "uint16") and (scale is None or qmin is None):
            raise WeightsError(f"weight {name!r}: '{qpath}' needs numeric 'scale' and 'min' for {qd}")
        original = q.get("original_dtype", dtype)
        if original is not None and not isinstance(original, str):
            raise WeightsError(f"weight {name!r}: '{qpath}.original_dtype' must be a string, got {_short(original)}")
        quant = Quantization(qd, None if scale is None else float(scale), None if qmin is None else float(qmin),
                             str(original or dtype))
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
            raise ModelFormatError(f"model.json: '{path}.dtype' must be a string such as 'DT_FLOAT', "
                                   f"got {_short(dtype_raw)}")
        dtype = TF_DTYPES.get(dtype_raw, dtype_raw)
        rid = info.get("resourceId")
        if rid is not None and json_int(rid) is None:
            raise ModelFormatError(f"model.json: '{path}.resourceId' must be an integer, got {_short(rid)}")
        out.append(TensorInfo(key, name, dtype, parse_shape_proto(info.get("tensorShape"), path + ".tensorShape"),
                              json_int(rid) if rid is not None else None))
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


def _depth(obj: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """Nesting depth of decoded JSON (iterative; stops counting past `limit`)."""
    deepest = 0
    stack = [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if isinstance(o, (dict, list)):
            deepest = max(deepest, d)
            if d > limit:
                return d
            stack.extend((v, d + 1) for v in (o.values() if isinstance(o, dict) else o))
    return deepest


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _scan_depth(data: bytes | str) -> int:
    """Bracket nesting of JSON text, ignoring brackets inside strings, before decoding it (the
    decoder itself would recurse): strings removed and the brackets counted in C / numpy."""
    raw = data.encode("utf-8", "replace") if isinstance(data, str) else data
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    arr = np.frombuffer(brackets, np.uint8)
    steps = np.where((arr == 0x5B) | (arr == 0x7B), 1, -1).astype(np.int64)
    return int(np.cumsum(steps).max())


def _load_json(data: bytes | str, where: str) -> Any:
    if not isinstance(data, (bytes, bytearray, memoryview, str)):
        raise ModelFormatError(f"{where}: the source returned {type(data).__name__}, not the bytes of model.json")
    if len(data) > MAX_MODEL_JSON_BYTES:
        raise ModelFormatError(f"{where} is {len(data)} bytes, over the {MAX_MODEL_JSON_BYTES}-byte limit for "
                               "model.json (weights belong in the shards)")
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if _scan_depth(data) > MAX_JSON_DEPTH:
        raise ModelFormatError(f"{where} nests JSON more than {MAX_JSON_DEPTH} levels deep; refused "
                               "(a graph model needs about 12)")
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise ModelFormatError(f"{where} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except UnicodeDecodeError as exc:
        raise ModelFormatError(f"{where} is not UTF-8 text ({exc.reason})") from None
    except RecursionError:
        raise ModelFormatError(f"{where} nests JSON too deeply to decode; refused") from None


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
        for pi, p in enumerate(paths):
            check_weight_path(p, f"model.json '{path}.paths[{pi}]'")
        weights = _need(g, "weights", list, path)
        groups.append(WeightGroup(tuple(paths), tuple(_parse_weight(w, f"{path}.weights[{wi}]")
                                                      for wi, w in enumerate(weights))))
    return groups


def _check_nodes(nodes: list[Any], path: str) -> None:
    for i, n in enumerate(nodes):
        _need(n, "name", str, f"{path}[{i}]")
        _need(n, "op", str, f"{path}[{i}]")
        if "input" in n and n["input"] is not None and not (
                isinstance(n["input"], list) and all(isinstance(s, str) for s in n["input"])):
            raise ModelFormatError(f"model.json: '{path}[{i}].input' ({n['name']}) must be a list of strings")
        if "attr" in n and n["attr"] is not None and not isinstance(n["attr"], dict):
            raise ModelFormatError(f"model.json: '{path}[{i}].attr' ({n['name']}) must be an object")
        if "device" in n and not isinstance(n["device"], str):
            raise ModelFormatError(f"model.json: '{path}[{i}].device' ({n['name']}) must be a string")


def _check_library(library: Any) -> None:
    """modelTopology.library: the FunctionDefs that If / While nodes call."""
    if library is None:
        return
    if not isinstance(library, dict):
        raise ModelFormatError(f"model.json: 'modelTopology.library' must be an object, got {_kind(library)}")
    functions = library.get("function") or []
    if not isinstance(functions, list):
        raise ModelFormatError("model.json: 'modelTopology.library.function' must be a list")
    for fi, f in enumerate(functions):
        path = f"modelTopology.library.function[{fi}]"
        sig = _need(f, "signature", dict, path)
        _need(sig, "name", str, path + ".signature")
        for key in ("inputArg", "outputArg"):
            args = sig.get(key) or []
            if not isinstance(args, list):
                raise ModelFormatError(f"model.json: '{path}.signature.{key}' must be a list")
            for ai, a in enumerate(args):
                _need(a, "name", str, f"{path}.signature.{key}[{ai}]")
                if "type" in a and not isinstance(a["type"], str):
                    raise ModelFormatError(f"model.json: '{path}.signature.{key}[{ai}].type' must be a string")
        body = f.get("nodeDef") or []
        if not isinstance(body, list):
            raise ModelFormatError(f"model.json: '{path}.nodeDef' must be a list")
        _check_nodes(body, path + ".nodeDef")
        ret = f.get("ret") or {}
        if not isinstance(ret, dict) or not all(isinstance(v, str) for v in ret.values()):
            raise ModelFormatError(f"model.json: '{path}.ret' must be an object of strings")
        for ai, a in enumerate(sig.get("outputArg") or []):
            if a["name"] not in ret:
                raise ModelFormatError(f"model.json: '{path}.ret' has no entry for output {a['name']!r} of function "
                                       f"{sig['name']!r}")


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
    _check_nodes(nodes, "modelTopology.node")
    _check_library(topology.get("library"))
    groups = _parse_manifest(obj)
    sig = obj.get("signature")
    init = obj.get("modelInitializer")
    if init is not None:
        if not isinstance(init, dict) or not isinstance(init.get("node", []), list):
            raise ModelFormatError("model.json: 'modelInitializer' must be a GraphDef object with a 'node' list")
        _check_nodes(init.get("node") or [], "modelInitializer.node")
    return ModelArtifacts(
        format=fmt, topology=topology, weight_groups=groups,
        inputs=_parse_signature(sig, "inputs"), outputs=_parse_signature(sig, "outputs"),
        generated_by=str(obj.get("generatedBy", "")), converted_by=str(obj.get("convertedBy", "")),
        user_metadata=obj.get("userDefinedMetadata") or {}, initializer=init,
        initializer_outputs=_parse_signature(obj.get("initializerSignature"), "outputs"), source=where, raw=obj)
