"""The dtypes a tensor may have, and how numpy input is mapped onto them.

The device set matches TensorFlow.js graph models: float32, int32 and bool. Wider or
narrower numpy types are converted only when no value changes meaning
(int64 beyond the int32 range is refused rather than wrapped).

Two more dtypes live on the host: "string" (numpy object arrays of bytes, as TF returns them) and
"complex64". A backend lists the ones it cannot hold (Backend.host_only_dtypes); a node reading or
making one of those runs its numpy kernel on the host (loader/executor.py), so text graphs run end to
end with their numeric parts still on the device. The GL backend holds complex64 itself, as float32
(real, imaginary) pairs (gl_backend.py, kernels/spectral.py); the numpy backend's device side does not.
"""
from __future__ import annotations

import numpy as np

from .errors import UnsupportedDTypeError

FLOAT32 = "float32"
INT32 = "int32"
BOOL = "bool"
DTYPES = (FLOAT32, INT32, BOOL)
STRING = "string"
COMPLEX64 = "complex64"
HOST_DTYPES = (STRING, COMPLEX64)

_NUMPY = {FLOAT32: np.dtype(np.float32), INT32: np.dtype(np.int32), BOOL: np.dtype(np.bool_)}

# TF dtype enum names as they appear in GraphDef JSON, mapped the way TF.js maps them.
TF_DTYPES = {
    "DT_FLOAT": FLOAT32, "DT_HALF": FLOAT32, "DT_DOUBLE": FLOAT32, "DT_BFLOAT16": FLOAT32,
    "DT_INT32": INT32, "DT_INT64": INT32, "DT_INT16": INT32, "DT_INT8": INT32,
    "DT_UINT8": INT32, "DT_UINT16": INT32, "DT_UINT32": INT32,
    "DT_BOOL": BOOL,
    "DT_STRING": STRING, "DT_COMPLEX64": COMPLEX64, "DT_COMPLEX128": COMPLEX64,
}
_HOST_NUMPY = {STRING: np.dtype(object), COMPLEX64: np.dtype(np.complex64)}


def numpy_dtype(dtype: str) -> np.dtype:
    """The numpy dtype that holds values of a backend dtype."""
    try:
        return _NUMPY[dtype]
    except KeyError:
        raise UnsupportedDTypeError(
            f"dtype {dtype!r} is not supported; use one of {', '.join(DTYPES)}") from None


def normalize_dtype(dtype: object) -> str:
    """Accept 'float32', np.float32, np.dtype('int32'), ... and return the backend name (or one of
    the host-only names: 'string' for object/bytes/str arrays, 'complex64' for complex ones)."""
    if isinstance(dtype, str) and (dtype in _NUMPY or dtype in _HOST_NUMPY):
        return dtype
    try:
        npd = np.dtype(dtype)  # type: ignore[arg-type]
    except TypeError:
        raise UnsupportedDTypeError(f"dtype {dtype!r} is not supported; use one of {', '.join(DTYPES)}") from None
    for name, candidate in _NUMPY.items():
        if npd == candidate:
            return name
    if npd.kind in "OSU":
        return STRING
    if npd.kind == "c":
        return COMPLEX64
    raise UnsupportedDTypeError(f"dtype {npd} is not supported; use one of {', '.join(DTYPES)}")


def array_dtype(dtype: str) -> np.dtype:
    """The numpy dtype that holds values of any dtype name, host-only ones included."""
    return _HOST_NUMPY[dtype] if dtype in _HOST_NUMPY else numpy_dtype(dtype)


def to_host_array(value: object, dtype: str, what: str = "array") -> np.ndarray:
    """User data for a host-only dtype: strings become an object array of bytes (str is UTF-8
    encoded, as TF does), complex numbers complex64."""
    if dtype == STRING:
        arr = np.asarray(value, dtype=object)
        flat = arr.reshape(-1)
        out = np.empty(flat.shape, object)
        for i, v in enumerate(flat):
            if isinstance(v, (bytes, np.bytes_)):
                out[i] = bytes(v)
            elif isinstance(v, str):
                out[i] = v.encode("utf-8")
            else:
                raise UnsupportedDTypeError(f"{what} must hold strings or bytes, found {type(v).__name__} {v!r}")
        return out.reshape(arr.shape)
    if dtype == COMPLEX64:
        arr = np.asarray(value)
        if arr.dtype.kind not in "fiuc":
            raise UnsupportedDTypeError(f"{what} must be numeric to become complex64, got {arr.dtype}")
        return np.array(arr, dtype=np.complex64, order="C")      # a scalar stays rank 0
    raise UnsupportedDTypeError(f"{dtype!r} is not a host-only dtype ({', '.join(HOST_DTYPES)})")


def to_backend_array(value: object, what: str = "array") -> np.ndarray:
    """Convert user data to a C-contiguous float32/int32/bool array, refusing lossy or meaningless casts."""
    arr = np.asarray(value)
    kind = arr.dtype.kind
    if kind == "b":
        out = arr.astype(np.bool_, copy=False)
    elif kind == "f":
        out = arr.astype(np.float32, copy=False)
    elif kind in "iu":
        if arr.dtype.itemsize > 4 or arr.dtype == np.uint32:
            if arr.size and (arr.min() < np.iinfo(np.int32).min or arr.max() > np.iinfo(np.int32).max):
                raise UnsupportedDTypeError(
                    f"{what} has dtype {arr.dtype} with values outside the int32 range "
                    f"[{arr.min()}, {arr.max()}]; only int32 integers are supported")
        out = arr.astype(np.int32, copy=False)
    elif kind == "c":
        raise UnsupportedDTypeError(f"{what} has complex dtype {arr.dtype}; complex tensors live on the host "
                                    "here (ops on them run there; the GL backend holds complex64 itself)")
    elif kind in "SUO":
        raise UnsupportedDTypeError(
            f"{what} has dtype {arr.dtype} (strings/objects); string tensors live on the host (ops on them run "
            "there), a backend holds float32, int32 and bool only")
    else:
        raise UnsupportedDTypeError(f"{what} has unsupported dtype {arr.dtype}")
    return np.asarray(out, order="C")
