"""Complex numbers and FFTs: Complex, Real, Imag, ComplexAbs, FFT, IFFT, RFFT, IRFFT.

These define the semantics; the GL backend runs the same ops in shaders (gpu_backend/kernels/spectral.py,
complex64 held as float32 pairs), and a backend that cannot hold complex64 runs them on the host. The transforms are numpy's,
computed in complex128 and rounded once to complex64: TF's own float32 FFT differs from the exact
transform by a few float32 ulps of the spectrum's magnitude, and this one by less.
All transforms act on the innermost dimension, as TF's 1-D ops do.
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError, UnsupportedDTypeError
from ..op_checks import fft_length
from ..registry import numpy_kernel
from ..shapes import broadcast_shapes


def _complex_input(op: str, x: np.ndarray) -> np.ndarray:
    if x.dtype.kind != "c":
        raise UnsupportedDTypeError(f"{op} takes a complex64 input, got {x.dtype}")
    return x


def _float_input(op: str, x: np.ndarray, what: str = "input") -> np.ndarray:
    if x.dtype != np.float32:
        raise UnsupportedDTypeError(f"{op}: the {what} must be float32, got {x.dtype}")
    return x


@numpy_kernel("Complex")
def complex_(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    re, im = (_float_input(op, np.asarray(a), w) for a, w in zip(inputs[:2], ("real part", "imaginary part")))
    shape = broadcast_shapes(re.shape, im.shape)
    out = np.empty(shape, np.complex64)
    out.real, out.imag = np.broadcast_to(re, shape), np.broadcast_to(im, shape)
    return [out]


@numpy_kernel("Real", "Imag")
def real_imag(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x = _complex_input(op, np.asarray(inputs[0]))
    return [np.array(x.real if op == "Real" else x.imag, dtype=np.float32)]


@numpy_kernel("ComplexAbs")
def complex_abs(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """|x| as hypot(re, im), which neither overflows nor underflows in the squares (TF's std::abs)."""
    x = _complex_input(op, np.asarray(inputs[0]))
    return [np.hypot(x.real, x.imag).astype(np.float32)]


def _innermost_axis(op: str, x: np.ndarray) -> None:
    """The transforms act on the innermost dimension, so a scalar has none to transform."""
    if x.ndim < 1:
        raise ShapeError(f"{op} needs an input of rank >= 1, got a scalar")


def _crop(op: str, x: np.ndarray, n: int) -> np.ndarray:
    """The innermost n values: TF crops a longer input and refuses a shorter one (no zero padding)."""
    if x.shape[-1] < n:
        raise ShapeError(f"{op}: input dimension {x.ndim - 1} must have length of at least {n} but got: "
                         f"{x.shape[-1]}")
    return x[..., :n]


@numpy_kernel("FFT", "IFFT")
def fft(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x = _complex_input(op, np.asarray(inputs[0]))
    _innermost_axis(op, x)
    if x.shape[-1] == 0:
        return [x.astype(np.complex64)]
    f = np.fft.fft if op == "FFT" else np.fft.ifft
    return [f(x.astype(np.complex128), axis=-1).astype(np.complex64)]


@numpy_kernel("RFFT")
def rfft(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x = _float_input(op, np.asarray(inputs[0]))
    _innermost_axis(op, x)
    n = fft_length(op, attrs)
    if n == 0:
        return [np.zeros(x.shape[:-1] + (0,), np.complex64)]
    return [np.fft.rfft(_crop(op, x, n).astype(np.float64), n=n, axis=-1).astype(np.complex64)]


@numpy_kernel("IRFFT")
def irfft(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """The inverse of RFFT: the innermost n // 2 + 1 bins (a longer input is cropped) give n real samples;
    the imaginary parts of the DC (and, for even n, Nyquist) bins are ignored, as in TF."""
    x = _complex_input(op, np.asarray(inputs[0]))
    _innermost_axis(op, x)
    n = fft_length(op, attrs)
    if n == 0:
        return [np.zeros(x.shape[:-1] + (0,), np.float32)]
    bins = _crop(op, x, n // 2 + 1).astype(np.complex128)
    return [np.fft.irfft(bins, n=n, axis=-1).astype(np.float32)]
