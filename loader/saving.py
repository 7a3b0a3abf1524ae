"""Saving a loaded model: model.json + weight shards to a folder, a file:// URL, an http(s):// endpoint
(multipart/form-data, as TF.js's ``tf.io.browserHTTPRequest``), or any object with ``save(artifacts)``.

The mirror of sources.py.  ``model.save(target)`` turns the model into a ``ModelArtifactsToSave``
(TF.js's ``ModelArtifacts``: the model.json as loaded, the weight manifest entries, and the weight bytes
concatenated in manifest order) and hands it to a ``SaveTarget``; a target decides how to store it.

File naming (FolderTarget): the converter's names, ``group1-shard{i}of{n}.bin``, shards of at most
``weight_shard_size_bytes`` (default 4 MiB, as ``tensorflowjs_converter``) cut at byte boundaries, so one
weight may span two shards.  ``weight_shard_size_bytes=None`` writes a single unsharded ``weights.bin``
instead (the name tfjs-node's ``file://`` save uses).  All weights go to one weight group, in the order
of the source manifest (several source groups are merged).  Over http the weights travel as one part,
``model.weights.bin``, and the model.json part names it: ``"paths": ["./model.weights.bin"]``.

Encoding: a weight is written exactly as it was loaded: float32 / int32 / bool / uint8 / string as
themselves; a weight quantized in the source keeps its stored bytes and its quantization entry (dtype,
scale, min) unchanged.  ``quantize="uint8" | "uint16" | "float16"`` re-quantizes float32 weights (all,
or those matching ``quantize_weights`` globs) the way ``tensorflowjs_converter --quantize_*`` does
(affine min/scale per tensor with the range nudged so 0 is exact; float16 a cast); a weight already
quantized to the requested dtype keeps its encoding; int32, bool and string weights are never touched.
So whatever is saved loads back bit-identical, and saving a loaded save again gives the same bytes.
"""
from __future__ import annotations

import copy
import datetime as _dt
import fnmatch
import json
import os
import uuid
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Protocol, runtime_checkable

import numpy as np

from .errors import SaveError
from .model_json import QUANT_DTYPES, ModelArtifacts, WeightSpec
from .sources import DEFAULT_TIMEOUT_S, MemorySource
from .weights import encoded_weight_bytes

if TYPE_CHECKING:
    from .model import GraphModel

DEFAULT_SHARD_SIZE_BYTES = 4 * 1024 * 1024
QUANTIZE_MODES = tuple(QUANT_DTYPES)           # uint8, uint16, float16
HTTP_WEIGHTS_PART = "model.weights.bin"         # TF.js browserHTTPRequest's part and file names
HTTP_JSON_PART = "model.json"
SINGLE_FILE_NAME = "weights.bin"


# -- what is saved -----------------------------------------------------------------------------------
@dataclass
class ModelArtifactsToSave:
    """A model ready to be stored (TF.js ``ModelArtifacts``).

    model_json: the model.json to write, every key as loaded, with ``weightsManifest`` holding one group
        whose ``paths`` are still empty (``model_json_for(paths)`` fills them in).
    weight_specs: the manifest entries (``name``, ``shape``, ``dtype``, optional ``quantization``), in
        the order their bytes appear in ``weight_data``.
    weight_data: every weight's bytes, concatenated.
    """

    model_json: dict[str, Any]
    weight_specs: list[dict[str, Any]]
    weight_data: bytes

    # the TF.js ModelArtifacts fields, read from model_json
    @property
    def model_topology(self) -> Any:
        return self.model_json.get("modelTopology")

    @property
    def format(self) -> str | None:
        return self.model_json.get("format")

    @property
    def generated_by(self) -> str | None:
        return self.model_json.get("generatedBy")

    @property
    def converted_by(self) -> str | None:
        return self.model_json.get("convertedBy")

    @property
    def signature(self) -> Any:
        return self.model_json.get("signature")

    @property
    def user_defined_metadata(self) -> Any:
        return self.model_json.get("userDefinedMetadata")

    @property
    def model_initializer(self) -> Any:
        return self.model_json.get("modelInitializer")

    def model_json_for(self, paths: list[str]) -> dict[str, Any]:
        """The model.json naming `paths` as the (single) weight group's files."""
        out = dict(self.model_json)
        out["weightsManifest"] = [{"paths": list(paths), "weights": self.weight_specs}]
        return out

    def model_json_bytes(self, paths: list[str]) -> bytes:
        """model.json serialised as the converter does (json.dumps, no indentation)."""
        return json.dumps(self.model_json_for(paths)).encode("utf-8")

    def shards(self, shard_size_bytes: int | None = DEFAULT_SHARD_SIZE_BYTES) -> list[bytes]:
        """weight_data cut into pieces of at most shard_size_bytes (None: one piece); none if empty."""
        data = self.weight_data
        if not data:
            return []
        if shard_size_bytes is None:
            return [data]
        return [data[i:i + shard_size_bytes] for i in range(0, len(data), shard_size_bytes)]

    def to_source(self, description: str = "<saved model>") -> MemorySource:
        """The saved model as a ModelSource (one unsharded file), e.g. to load it back in memory."""
        files = {SINGLE_FILE_NAME: self.weight_data} if self.weight_data else {}
        return MemorySource(self.model_json_for(list(files)), files, description)


@dataclass
class HttpResponse:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes


@dataclass
class SaveResult:
    """What a save wrote (TF.js ``SaveResult`` + ``ModelArtifactsInfo``)."""

    target: str
    model_topology_bytes: int
    weight_specs_bytes: int
    weight_data_bytes: int
    files: list[str] = field(default_factory=list)          # written paths, or the http part names
    responses: list[Any] = field(default_factory=list)       # HttpResponse for http targets
    date_saved: _dt.datetime = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc))
    model_topology_type: str = "JSON"

    @classmethod
    def for_artifacts(cls, artifacts: ModelArtifactsToSave, target: str, **kw: Any) -> "SaveResult":
        return cls(target=target, model_topology_bytes=len(json.dumps(artifacts.model_topology)),
                   weight_specs_bytes=len(json.dumps(artifacts.weight_specs)),
                   weight_data_bytes=len(artifacts.weight_data), **kw)


# -- where it goes ----------------------------------------------------------------------------------
@runtime_checkable
class SaveTarget(Protocol):
    """Where a model is saved (TF.js IOHandler.save; the mirror of ModelSource)."""

    def save(self, artifacts: ModelArtifactsToSave) -> SaveResult | Any:
        """Store the artifacts; return a SaveResult (anything else is wrapped in one)."""


class FolderTarget:
    """model.json + weight shards in a local folder (created if missing).

    path: the folder, or a file path ending in ``.json`` (then that is the model.json's name).
    weight_shard_size_bytes: the converter's ``group1-shard{i}of{n}.bin`` shards of at most this
        many bytes; None writes one ``weights.bin``.
    """

    def __init__(self, path: str | os.PathLike[str],
                 weight_shard_size_bytes: int | None = DEFAULT_SHARD_SIZE_BYTES) -> None:
        _check_shard_size(weight_shard_size_bytes)
        p = Path(path)
        if p.suffix.lower() == ".json":
            self.folder, self.json_name = p.parent, p.name
        else:
            self.folder, self.json_name = p, "model.json"
        self.weight_shard_size_bytes = weight_shard_size_bytes
        self.description = str(self.folder / self.json_name)

    def save(self, artifacts: ModelArtifactsToSave) -> SaveResult:
        shards = artifacts.shards(self.weight_shard_size_bytes)
        if self.weight_shard_size_bytes is None:
            names = [SINGLE_FILE_NAME] if shards else []
        else:
            names = [f"group1-shard{i + 1}of{len(shards)}.bin" for i in range(len(shards))]
        written: list[str] = []
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for name, blob in zip(names, shards):
                (self.folder / name).write_bytes(blob)
                written.append(str(self.folder / name))
            # model.json last: a save that fails half-way leaves no loadable model.json behind
            (self.folder / self.json_name).write_bytes(artifacts.model_json_bytes(names))
            written.append(str(self.folder / self.json_name))
        except OSError as exc:
            what = exc.filename or self.folder
            raise SaveError(f"cannot save the model to {self.folder}: {exc.strerror or exc} ({what})") from None
        return SaveResult.for_artifacts(artifacts, self.description, files=written)


class HttpTarget:
    """POST (or `method`) the model as multipart/form-data, as TF.js's ``tf.io.browserHTTPRequest``:
    a part ``model.json`` (application/json, its manifest naming ``./model.weights.bin``) and a part
    ``model.weights.bin`` (application/octet-stream, every weight's bytes).  `fields` adds further
    form fields after them; `headers` are sent with the request (Content-Type is the multipart one).
    A response outside 2xx raises SaveError naming the status."""

    def __init__(self, url: str, method: str = "POST", headers: dict[str, str] | None = None,
                 fields: dict[str, str | bytes] | None = None, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
            raise SaveError(f"HttpTarget needs an http:// or https:// URL, got {url!r}")
        self.headers = dict(headers or {})
        if any(k.lower() == "content-type" for k in self.headers):
            raise SaveError("HttpTarget sets Content-Type itself (multipart/form-data with its boundary); "
                            "remove it from headers")
        self.url = url
        self.method = method.upper()
        self.fields = dict(fields or {})
        self.timeout_s = timeout_s
        self.description = url

    def body(self, artifacts: ModelArtifactsToSave, boundary: str) -> bytes:
        json_bytes = artifacts.model_json_bytes(["./" + HTTP_WEIGHTS_PART])
        parts: list[tuple[str, str | None, str | None, bytes]] = [
            (HTTP_JSON_PART, HTTP_JSON_PART, "application/json", json_bytes),
            (HTTP_WEIGHTS_PART, HTTP_WEIGHTS_PART, "application/octet-stream", artifacts.weight_data)]
        for name, value in self.fields.items():
            parts.append((name, None, None, value.encode("utf-8") if isinstance(value, str) else bytes(value)))
        out = bytearray()
        for name, filename, ctype, data in parts:
            out += f"--{boundary}\r\n".encode()
            disp = f'Content-Disposition: form-data; name="{_quote(name)}"'
            if filename is not None:
                disp += f'; filename="{_quote(filename)}"'
            out += disp.encode("utf-8") + b"\r\n"
            if ctype is not None:
                out += f"Content-Type: {ctype}\r\n".encode()
            out += b"\r\n" + data + b"\r\n"
        out += f"--{boundary}--\r\n".encode()
        return bytes(out)

    def save(self, artifacts: ModelArtifactsToSave) -> SaveResult:
        boundary = "----tfjsgl" + uuid.uuid4().hex
        body = self.body(artifacts, boundary)
        headers = {**self.headers, "Content-Type": f"multipart/form-data; boundary={boundary}",
                   "Content-Length": str(len(body))}
        req = urllib.request.Request(self.url, data=body, headers=headers, method=self.method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                info = HttpResponse(resp.status, resp.reason, dict(resp.headers.items()), resp.read())
        except urllib.error.HTTPError as exc:
            text = exc.read()[:300].decode("utf-8", "replace").strip() if exc.fp is not None else ""
            raise SaveError(f"saving the model to {self.url} failed: the server answered HTTP {exc.code} "
                            f"{exc.reason}" + (f": {text}" if text else "")) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SaveError(f"saving the model to {self.url} failed: {reason} (timeout {self.timeout_s}s)") from None
        if not 200 <= info.status < 300:
            raise SaveError(f"saving the model to {self.url} failed: the server answered HTTP {info.status} {info.reason}")
        return SaveResult.for_artifacts(artifacts, self.url, files=[HTTP_JSON_PART, HTTP_WEIGHTS_PART],
                                        responses=[info])


class MemoryTarget:
    """Keeps what was saved: ``.artifacts``, and ``.source()`` to load it back."""

    def __init__(self) -> None:
        self.artifacts: ModelArtifactsToSave | None = None
        self.description = "<memory>"

    def save(self, artifacts: ModelArtifactsToSave) -> SaveResult:
        self.artifacts = artifacts
        return SaveResult.for_artifacts(artifacts, self.description)

    def source(self) -> MemorySource:
        if self.artifacts is None:
            raise SaveError("nothing was saved to this MemoryTarget yet")
        return self.artifacts.to_source()


def resolve_target(spec: Any, *, weight_shard_size_bytes: int | None = DEFAULT_SHARD_SIZE_BYTES,
                   **http_options: Any) -> Any:
    """A folder path, file:// URL, http(s):// URL, or an object with save(artifacts) (returned as is)."""
    if not isinstance(spec, (str, os.PathLike)):
        if callable(getattr(spec, "save", None)):
            if http_options:
                raise SaveError(f"options {sorted(http_options)} only apply to http(s) targets, not {spec!r}")
            return spec
        raise SaveError(f"cannot save to {spec!r}: pass a folder path, a file:// or http(s):// URL, or an object "
                        "with a save(artifacts) method")
    text = os.fspath(spec)
    parsed = urllib.parse.urlsplit(text)
    scheme = parsed.scheme.lower()
    if scheme in ("http", "https"):
        unknown = set(http_options) - {"method", "headers", "fields", "timeout_s"}
        if unknown:
            raise SaveError(f"unknown http save option(s) {sorted(unknown)}; known: method, headers, fields, timeout_s")
        return HttpTarget(text, **http_options)
    if http_options:
        raise SaveError(f"options {sorted(http_options)} only apply to http(s) targets, not {text!r}")
    if scheme == "file":
        return FolderTarget(urllib.request.url2pathname(urllib.parse.unquote(parsed.path)), weight_shard_size_bytes)
    if scheme and len(scheme) > 1:
        raise SaveError(f"unsupported URL scheme {scheme!r} in {text!r}: save to a path, file://, http:// or "
                        "https://, or pass an object with save(artifacts)")
    return FolderTarget(text, weight_shard_size_bytes)


# -- encoding -----------------------------------------------------------------------------------------
def quantize_array(data: np.ndarray, dtype: str) -> tuple[np.ndarray, dict[str, Any]]:
    """tensorflowjs_converter's quantization of one float32 tensor: (stored values, manifest entry).

    uint8/uint16: affine over [min, max] of the tensor, scale = (max - min) / (2^bits - 1); when
    min <= 0 <= max, min is nudged to -round(-min / scale) * scale so that 0 is exactly representable;
    a constant tensor is stored as zeros with scale 1.  float16: a cast.  (Arithmetic in float64,
    as the converter does with NumPy 2.)"""
    if dtype == "float16":
        return data.astype("<f2"), {"dtype": "float16", "original_dtype": "float32"}
    np_dtype = np.dtype("u1" if dtype == "uint8" else "<u2")
    values = np.asarray(data, np.float64)
    min_val = float(values.min()) if values.size else 0.0
    max_val = float(values.max()) if values.size else 0.0
    if min_val == max_val:
        q = np.zeros(values.shape, np_dtype)
        scale = 1.0
    else:
        quant_max = float(np.iinfo(np_dtype).max)
        scale = (max_val - min_val) / quant_max
        if min_val <= 0 <= max_val:
            nudged_min = -float(np.round((0 - min_val) / scale)) * scale
            nudged_max = quant_max * scale + nudged_min
        else:
            nudged_min, nudged_max = min_val, max_val
        min_val = nudged_min
        q = np.round((np.clip(values, nudged_min, nudged_max) - nudged_min) / scale).astype(np_dtype)
    return q, {"dtype": dtype, "min": float(min_val), "scale": float(scale), "original_dtype": "float32"}


def _plain_bytes(spec: WeightSpec, value: np.ndarray) -> bytes:
    if spec.dtype == "string":
        out = bytearray()
        for s in np.asarray(value, dtype=object).reshape(-1):
            b = s if isinstance(s, bytes) else str(s).encode("utf-8")
            out += np.uint32(len(b)).astype("<u4").tobytes() + b
        return bytes(out)
    np_dtype = {"float32": "<f4", "int32": "<i4", "bool": "u1", "uint8": "u1", "complex64": "<c8"}.get(spec.dtype)
    if np_dtype is None:
        raise SaveError(f"weight {spec.name!r} has dtype {spec.dtype!r}, which save() cannot write")
    return np.ascontiguousarray(value, dtype=np_dtype).tobytes()


def _reencode_quantized(spec: WeightSpec, value: np.ndarray) -> bytes:
    """The stored values of a quantized weight, recovered from its decoded values (used only when the
    loader did not keep the raw bytes): every code's decoded value, then a lookup."""
    q = spec.quantization
    assert q is not None
    if q.dtype == "float16":
        return np.asarray(value, np.float32).astype("<f2").tobytes()
    from .weights import _decode
    codes = np.arange(256 if q.dtype == "uint8" else 65536, dtype="u1" if q.dtype == "uint8" else "<u2")
    table = _decode(WeightSpec(spec.name, (codes.size,), spec.dtype, q), memoryview(codes.tobytes()))
    uniq, first = np.unique(table, return_index=True)
    flat = np.asarray(value).reshape(-1)
    pos = np.clip(np.searchsorted(uniq, flat), 0, uniq.size - 1)
    if not np.array_equal(uniq[pos], flat):
        raise SaveError(f"weight {spec.name!r}: its values are not the decoded values of its {q.dtype} "
                        "quantization, so its encoding cannot be kept; pass quantize=... to re-quantize")
    return codes[first[pos]].tobytes()


def _matches(name: str, patterns: list[str] | None) -> bool:
    return patterns is None or any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _raw_entries(artifacts: ModelArtifacts) -> dict[str, dict[str, Any]]:
    raw = artifacts.raw or {}
    out: dict[str, dict[str, Any]] = {}
    for group in raw.get("weightsManifest") or []:
        for w in group.get("weights") or []:
            if isinstance(w, dict) and "name" in w:
                out.setdefault(w["name"], w)
    return out


def build_artifacts(artifacts: ModelArtifacts, weights: dict[str, np.ndarray], *, quantize: str | None = None,
                    quantize_weights: str | Iterable[str] | None = None) -> ModelArtifactsToSave:
    """The ModelArtifactsToSave of a loaded model (its source artifacts and decoded weights)."""
    if quantize is not None and quantize not in QUANTIZE_MODES:
        raise SaveError(f"quantize must be None or one of {', '.join(QUANTIZE_MODES)}, not {quantize!r}")
    if quantize_weights is not None and quantize is None:
        raise SaveError("quantize_weights names the weights to quantize; it needs quantize='uint8', 'uint16' "
                        "or 'float16' too")
    patterns = [quantize_weights] if isinstance(quantize_weights, str) else (
        None if quantize_weights is None else list(quantize_weights))
    raw_entries = _raw_entries(artifacts)
    kept = encoded_weight_bytes(artifacts)
    specs: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for spec in artifacts.weight_specs():
        if spec.name not in weights:
            raise SaveError(f"weight {spec.name!r} of the manifest has no value in the model; cannot save it")
        value = weights[spec.name]
        entry = copy.deepcopy(raw_entries.get(spec.name)) or _entry_for(spec)
        requant = (quantize is not None and spec.dtype == "float32" and _matches(spec.name, patterns)
                   and not (spec.quantization is not None and spec.quantization.dtype == quantize))
        if requant:
            assert quantize is not None
            data, qentry = quantize_array(np.asarray(value, np.float32), quantize)
            entry = {"name": spec.name, "shape": list(spec.shape), "dtype": "float32", "quantization": qentry}
            blob = data.tobytes()
        elif spec.quantization is not None:
            blob = kept.get(spec.name) or _reencode_quantized(spec, value)
        else:
            blob = _plain_bytes(spec, value)
        specs.append(entry)
        blobs.append(blob)
    raw = artifacts.raw
    if raw is None:
        model_json = _model_json_from_fields(artifacts)
    else:
        model_json = {k: v for k, v in raw.items()}
    model_json["weightsManifest"] = [{"paths": [], "weights": specs}]
    return ModelArtifactsToSave(model_json, specs, b"".join(blobs))


def _entry_for(spec: WeightSpec) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": spec.name, "shape": list(spec.shape), "dtype": spec.dtype}
    q = spec.quantization
    if q is not None:
        entry["quantization"] = {"dtype": q.dtype, **({"min": q.min, "scale": q.scale} if q.scale is not None else {}),
                                 "original_dtype": q.original_dtype}
    return entry


def _model_json_from_fields(a: ModelArtifacts) -> dict[str, Any]:
    out: dict[str, Any] = {"modelTopology": a.topology, "format": a.format, "generatedBy": a.generated_by,
                           "convertedBy": a.converted_by}
    if a.user_metadata:
        out["userDefinedMetadata"] = a.user_metadata
    if a.initializer is not None:
        out["modelInitializer"] = a.initializer
    return out


def save_model(model: "GraphModel", target: Any, *, weight_shard_size_bytes: int | None = DEFAULT_SHARD_SIZE_BYTES,
               quantize: str | None = None, quantize_weights: str | Iterable[str] | None = None,
               **http_options: Any) -> SaveResult:
    """GraphModel.save's body (see there)."""
    _check_shard_size(weight_shard_size_bytes)
    artifacts = build_artifacts(model.source_artifacts, model.source_weights, quantize=quantize,
                                quantize_weights=quantize_weights)
    tgt = resolve_target(target, weight_shard_size_bytes=weight_shard_size_bytes, **http_options)
    result = tgt.save(artifacts)
    if not isinstance(result, SaveResult):
        result = SaveResult.for_artifacts(artifacts, getattr(tgt, "description", repr(tgt)),
                                          responses=[result] if result is not None else [])
    return result


def _check_shard_size(size: int | None) -> None:
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size <= 0):
        raise SaveError(f"weight_shard_size_bytes must be a positive integer (or None: one file), not {size!r}")


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")


__all__ = ["ModelArtifactsToSave", "SaveResult", "SaveTarget", "FolderTarget", "HttpTarget", "MemoryTarget",
           "HttpResponse", "resolve_target", "build_artifacts", "save_model", "quantize_array",
           "DEFAULT_SHARD_SIZE_BYTES"]
