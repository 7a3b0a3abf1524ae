"""Reading weight shards: concatenate each group's shards, check the byte count against the manifest,
then cut and decode each weight (dequantizing uint8/uint16/float16).

The size check happens before any weight is decoded or uploaded, so a truncated or padded download
fails with a message that says by how much, instead of producing garbage or a numpy error.
"""
from __future__ import annotations

import numpy as np

from .errors import WeightsError
from .model_json import ModelArtifacts, WeightSpec
from .sources import ModelSource

_PLAIN = {"float32": "<f4", "int32": "<i4", "uint8": "u1", "bool": "u1", "complex64": "<c8"}   # complex: (re, im) pairs


def _decode(spec: WeightSpec, raw: memoryview) -> np.ndarray:
    q = spec.quantization
    if q is not None:
        if q.dtype == "float16":
            values = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        else:
            ints = np.frombuffer(raw, dtype="u1" if q.dtype == "uint8" else "<u2")
            values = (ints.astype(np.float32) * np.float32(q.scale) + np.float32(q.min)).astype(np.float32)
        if spec.dtype == "int32":
            values = np.round(values).astype(np.int32)
        elif spec.dtype == "bool":
            values = values != 0
        return values.reshape(spec.shape)
    if spec.dtype not in _PLAIN:
        raise WeightsError(f"weight {spec.name!r} has dtype {spec.dtype}, which this runtime cannot load yet "
                           f"(it loads {', '.join(sorted(_PLAIN))})")
    arr = np.frombuffer(raw, dtype=_PLAIN[spec.dtype])
    if spec.dtype == "bool":
        arr = arr != 0
    elif spec.dtype == "uint8":
        arr = arr.astype(np.int32)
    return np.array(arr, copy=True).reshape(spec.shape)


def _decode_strings(spec: WeightSpec, data: memoryview, offset: int) -> tuple[np.ndarray, int]:
    """Strings are stored as uint32 byte length + bytes, one after another."""
    values = []
    for _ in range(spec.size):
        if offset + 4 > len(data):
            raise WeightsError(f"string weight {spec.name!r} runs past the end of its shards")
        n = int(np.frombuffer(data[offset:offset + 4], "<u4")[0])
        offset += 4
        if offset + n > len(data):
            raise WeightsError(f"string weight {spec.name!r} runs past the end of its shards")
        values.append(bytes(data[offset:offset + n]))
        offset += n
    return np.array(values, dtype=object).reshape(spec.shape), offset


def encoded_weight_bytes(artifacts: ModelArtifacts) -> dict[str, bytes]:
    """{weight name: its bytes exactly as stored in the shards} for the quantized weights that
    load_weights() decoded from `artifacts` (empty if it never ran on them).  save() writes these back
    unchanged, so a quantized weight keeps its encoding instead of being re-quantized."""
    return getattr(artifacts, "_encoded_weight_bytes", {})


def load_weights(artifacts: ModelArtifacts, source: ModelSource) -> dict[str, np.ndarray]:
    """{weight name: decoded array}.  The raw bytes of quantized weights are kept on `artifacts`
    (see encoded_weight_bytes())."""
    out: dict[str, np.ndarray] = {}
    encoded: dict[str, bytes] = {}
    setattr(artifacts, "_encoded_weight_bytes", encoded)
    for gi, group in enumerate(artifacts.weight_groups):
        blobs = [source.read_weight_file(p) for p in group.paths]
        data = memoryview(b"".join(blobs))
        sizes = [w.nbytes() for w in group.weights]
        if all(s is not None for s in sizes):
            expected = sum(s for s in sizes if s is not None)
            if len(data) != expected:
                what = "short" if len(data) < expected else "too long"
                raise WeightsError(
                    f"weight group {gi} of {artifacts.source} is {what}: its shards ({', '.join(group.paths)}; "
                    f"{' + '.join(str(len(b)) for b in blobs)} = {len(data)} bytes) do not hold the {expected} bytes "
                    f"the manifest declares for its {len(group.weights)} weights "
                    f"({'missing' if len(data) < expected else 'extra'} {abs(expected - len(data))} bytes)")
        offset = 0
        for spec, size in zip(group.weights, sizes):
            if spec.dtype == "string":
                out[spec.name], offset = _decode_strings(spec, data, offset)
                continue
            assert size is not None
            if offset + size > len(data):
                raise WeightsError(f"weight {spec.name!r} of group {gi} runs past the end of its shards "
                                   f"(needs bytes {offset}..{offset + size}, shards hold {len(data)})")
            out[spec.name] = _decode(spec, data[offset:offset + size])
            if spec.quantization is not None:
                encoded[spec.name] = bytes(data[offset:offset + size])
            offset += size
        if offset != len(data):
            raise WeightsError(f"weight group {gi} of {artifacts.source} has {len(data) - offset} bytes after its "
                               "last weight; the shards do not match the manifest")
    return out
