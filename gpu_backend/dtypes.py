"""The dtypes a tensor may have, and how numpy input is mapped onto them.

The set matches TensorFlow.js graph models: float32, int32 and bool. Wider or
narrower numpy types are converted only when no value changes meaning
(int64 beyond the int32 range is refused rather than wrapped).
"""
from __future__ import annotations

import numpy as np

from .errors import UnsupportedDTypeError

FLOAT32 = "float32"
INT32 = "int32"
BOOL = "bool"
DTYPES = (FLOAT32, INT32, BOOL)

_NUMPY = {FLOAT32: np.dtype(np.float32), INT32: np.dtype(np.int32), BOOL: np.dtype(np.bool_)}

# TF dtype enum names as they appear in GraphDef JSON, mapped the way TF.js maps them.
TF_DTYPES = {
    "DT_FLOAT": FLOAT32, "DT_HALF": FLOAT32, "DT_DOUBLE": FLOAT32, "DT_BFLOAT16": FLOAT32,
    "DT_INT32": INT32, "DT_INT64": INT32, "DT_INT16": INT32, "DT_INT8": INT32,
    "DT_UINT8": INT32, "DT_UINT16": INT32, "DT_UINT32": INT32,
    "DT_BOOL": BOOL,
}


def numpy_dtype(dtype: str) -> np.dtype:
    """The numpy dtype that holds values of a backend dtype."""
    try:
        return _NUMPY[dtype]
    except KeyError:
        raise UnsupportedDTypeError(
            f"dtype {dtype!r} is not supported; use one of {', '.join(DTYPES)}") from None


def normalize_dtype(dtype: object) -> str:
    """Accept 'float32', np.float32, np.dtype('int32'), ... and return the backend name."""
    if isinstance(dtype, str) and dtype in _NUMPY:
        return dtype
    try:
        npd = np.dtype(dtype)  # type: ignore[arg-type]
    except TypeError:
        raise UnsupportedDTypeError(f"dtype {dtype!r} is not supported; use one of {', '.join(DTYPES)}") from None
    for name, candidate in _NUMPY.items():
        if npd == candidate:
            return name
    raise UnsupportedDTypeError(f"dtype {npd} is not supported; use one of {', '.join(DTYPES)}")


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
        raise UnsupportedDTypeError(f"{what} has complex dtype {arr.dtype}; complex tensors are not supported")
    elif kind in "SUO":
        raise UnsupportedDTypeError(
            f"{what} has dtype {arr.dtype} (strings/objects); only float32, int32 and bool tensors are supported")
    else:
        raise UnsupportedDTypeError(f"{what} has unsupported dtype {arr.dtype}")
    return np.asarray(out, order="C")
