"""Attribute and shape checks shared by the GL kernels and the numpy reference.

Both backends must refuse the same calls with the same messages (the tests compare them), so each
check lives here once and both sides call it."""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .dtypes import TF_DTYPES, normalize_dtype
from .errors import AttributeValueError, ShapeError, UnsupportedDTypeError


def single_int(value: object, op: str, name: str) -> int:
    """TF.js sometimes hands a one-element list where TF has a scalar (ExpandDims' dim)."""
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise AttributeValueError(f"{op}: {name} must be a single int, got {value!r}")
        value = value[0]
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise AttributeValueError(f"{op}: {name} must be an int, got {value!r}") from None


def int_attr(op: str, attrs: dict, name: str, default: object = ...) -> int:
    """An integral attribute (a one-element list is accepted); a missing one without default raises."""
    value = attrs.get(name, default)
    if value is ...:
        raise AttributeValueError(f"{op} needs the attribute {name!r}")
    if isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float)) or int(value) != value:
        raise AttributeValueError(f"{op}: attribute {name!r} must be an integer, got {value!r}")
    return int(value)


def number_attr(op: str, attrs: dict, name: str) -> float | int | bool:
    """A required scalar attribute as a Python number (one-element arrays are unwrapped)."""
    if name not in attrs or attrs[name] is None:
        raise AttributeValueError(f"{op}: missing attribute {name!r}")
    value = attrs[name]
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    if not isinstance(value, (int, float, bool, np.generic)):
        raise AttributeValueError(f"{op}: {name} must be a number, got {value!r}")
    return value.item() if isinstance(value, np.generic) else value


def dtype_attr(attrs: dict, default: str) -> str:
    """The 'dtype' attribute (TF enum name or numpy-style name) as a backend dtype name."""
    value = attrs.get("dtype") or default
    if isinstance(value, str) and value in TF_DTYPES:
        value = TF_DTYPES[value]
    return normalize_dtype(value)


def scan_axis(op: str, attrs: dict, rank: int) -> int:
    """The normalised axis of Cumsum/Cumprod."""
    axis = attrs.get("axis", 0)
    if isinstance(axis, (list, tuple)):
        if len(axis) != 1:
            raise AttributeValueError(f"{op}: axis must be a single integer, got {axis!r}")
        axis = axis[0]
    try:
        axis = int(axis)
    except (TypeError, ValueError):
        raise AttributeValueError(f"{op}: axis must be an integer, got {axis!r}") from None
    if rank == 0:
        raise ShapeError(f"{op} needs an input of rank >= 1 (TF has no scan axis for a scalar)")
    if not -rank <= axis < rank:
        raise AttributeValueError(f"{op}: axis {axis} is out of range [{-rank}, {rank}) for an input of rank {rank}")
    return axis % rank


def top_k_count(op: str, attrs: dict, shape: Sequence[int]) -> int:
    """TopK's k, checked against the input's last dimension."""
    if len(shape) < 1:
        raise ShapeError(f"TopK needs an input of rank >= 1, got a scalar (shape {list(shape)})")
    k = int_attr(op, attrs, "k")
    n = shape[-1]
    if k < 0:
        raise AttributeValueError(f"TopK: k must be >= 0, got k={k}")
    if k > n:
        raise AttributeValueError(f"TopK: k={k} is larger than the last dimension ({n}) of the input "
                                  f"shaped {list(shape)}; use k <= {n}")
    return k


def band_bounds(lower: int, upper: int, shape: Sequence[int]) -> None:
    """MatrixBandPart's bounds: negative (the whole triangle) or within the matrix, as TF requires."""
    if len(shape) < 2:
        raise ShapeError(f"MatrixBandPart needs an input of rank >= 2, got shape {list(shape)}")
    rows, cols = shape[-2], shape[-1]
    if lower > rows:
        raise AttributeValueError(f"MatrixBandPart: num_lower must be negative or <= the number of rows "
                                  f"({rows}), got {lower}")
    if upper > cols:
        raise AttributeValueError(f"MatrixBandPart: num_upper must be negative or <= the number of columns "
                                  f"({cols}), got {upper}")


def fake_quant_bits(op: str, attrs: dict) -> tuple[float, float]:
    """(quant_min, quant_max) of the integer grid, after checking num_bits as TF does."""
    bits = int(attrs.get("num_bits", 8))
    if not 2 <= bits <= 16:
        raise AttributeValueError(f"{op}: num_bits must be between 2 and 16, inclusive (got {bits})")
    return (1.0 if attrs.get("narrow_range", False) else 0.0), float((1 << bits) - 1)


PROJECTIVE_INTERPOLATIONS = ("NEAREST", "BILINEAR")
PROJECTIVE_FILL_MODES = ("REFLECT", "WRAP", "CONSTANT", "NEAREST")


def projective_modes(op: str, attrs: dict) -> tuple[int, int]:
    """(interpolation, fill mode) of ImageProjectiveTransformV3 as indices into the tuples above."""
    found = []
    for name, allowed, default in (("interpolation", PROJECTIVE_INTERPOLATIONS, None),
                                   ("fill_mode", PROJECTIVE_FILL_MODES, "CONSTANT")):
        value = attrs.get(name, default)
        value = value.decode() if isinstance(value, bytes) else value
        if value is None or str(value).upper() not in allowed:
            raise AttributeValueError(f"{op}: {name} must be one of {', '.join(allowed)}, got {value!r}")
        found.append(allowed.index(str(value).upper()))
    return found[0], found[1]


def projective_shapes(op: str, images: Sequence[int], transforms: Sequence[int], out_hw: object) -> tuple[int, int]:
    """Check ImageProjectiveTransformV3's operands as TF does; the output (height, width)."""
    if len(images) != 4:
        raise ShapeError(f"{op}: input images must be of rank 4 [batch, height, width, channels], got {list(images)}")
    if len(transforms) != 2 or transforms[1] != 8 or transforms[0] not in (1, images[0]):
        raise ShapeError(f"{op}: input transform should be num_images x 8 or 1 x 8, got {list(transforms)} "
                         f"for {images[0]} images")
    hw = [int(v) for v in np.asarray(out_hw).reshape(-1)]
    if len(hw) != 2:
        raise AttributeValueError(f"{op}: output_shape must have two elements [height, width], got {hw}")
    if min(hw) < 0:
        raise AttributeValueError(f"{op}: output dimensions must be non-negative, got {hw}")
    return hw[0], hw[1]


_I32 = np.iinfo(np.int32)


def int_tensor(op: str, name: str, a: np.ndarray, ndim: int | None = None) -> np.ndarray:
    """An integer input (of the given rank, when one is required) as int64, so that position arithmetic
    on it cannot wrap (the sparse and ragged host kernels' indices, splits and shapes)."""
    if a.dtype.kind not in "iu":
        raise UnsupportedDTypeError(f"{op}: {name} must be an integer tensor, got {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        what = {0: "a scalar", 1: "a vector", 2: "a matrix"}.get(ndim, f"of rank {ndim}")
        raise ShapeError(f"{op}: {name} must be {what} (rank {ndim}), got shape {list(a.shape)}")
    return a.astype(np.int64)


def index_int32(op: str, name: str, a: np.ndarray) -> np.ndarray:
    """TF's int64 indices / splits / shapes as this runtime's int32, refusing values that do not fit
    rather than wrapping them."""
    if a.size and (a.min() < _I32.min or a.max() > _I32.max):
        raise ShapeError(f"{op}: {name} has values in [{a.min()}, {a.max()}], outside the int32 range this "
                         "runtime uses for TF's int64 indices")
    return a.astype(np.int32)


def range_spec(op: str, attrs: dict) -> tuple[str, float | int, float | int, int]:
    """Range's (dtype, start, step, length): ceil((stop - start) / step) values, none when that is
    negative (TF raises there instead; TF.js returns an empty tensor); float32 lengths use TF's float32
    quotient.  Shared by the kernel and its shape rule."""
    dtype = dtype_attr(attrs, "float32")
    start, stop, step = (number_attr(op, attrs, n) for n in ("start", "stop", "step"))
    if step == 0:
        raise AttributeValueError(f"{op}: step must be non-zero (start={start}, stop={stop})")
    if dtype == "int32":
        vals = [start, stop, step]
        if any(float(v) != int(v) for v in vals):
            raise AttributeValueError(f"{op}: dtype int32 needs integer start/stop/step, got {vals}")
        a, b, d = (int(v) for v in vals)
        return dtype, a, d, (max(0, -((a - b) // d)) if (b - a) * d > 0 else 0)
    if dtype != "float32":
        raise AttributeValueError(f"{op}: dtype must be float32 or int32, got {attrs.get('dtype')!r}")
    a32, b32, d32 = (np.float32(v) for v in (start, stop, step))
    with np.errstate(all="ignore"):
        q = (b32 - a32) / d32                       # float32, as TF
    if not np.isfinite(q):
        raise AttributeValueError(f"{op}: start={start}, stop={stop}, step={step} do not give a finite length")
    return dtype, float(a32), float(d32), max(0, math.ceil(float(q)))


def fft_length(op: str, attrs: dict) -> int:
    """RFFT/IRFFT's one transform length, as TF reads it (exactly one value, >= 0); shared by the
    kernels and the shape rules."""
    raw = np.asarray(attrs.get("fft_length", []), dtype=np.int64).reshape(-1)
    if raw.size != 1:
        raise ShapeError(f"{op}: fft_length must hold exactly one length (a 1-D transform), got {raw.tolist()}")
    n = int(raw[0])
    if n < 0:
        raise AttributeValueError(f"{op}: fft_length must be >= 0, got {n}")
    return n
