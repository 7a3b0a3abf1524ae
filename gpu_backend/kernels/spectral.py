"""Complex, Real, Imag, ComplexAbs, FFT, IFFT, RFFT, IRFFT on GL.

A complex64 tensor of shape S lives on the GL backend as a float32 tensor of shape S + [2] (real,
imaginary); the backend's handle reports S and complex64 (gl_backend.py), and only these kernels see
the pair layout: any other kernel given a complex input runs on the numpy reference.  The transforms
act on the innermost axis, so every call works on a 2-D [rows, N] (or [rows, N, 2]) view and one
program per op serves every rank.  They are direct sums (O(N^2) per row, one output element per
fragment) with exact integer twiddle angles, accumulated in float32: the error is about N * 2^-24 of
a row's magnitude, where the reference (numpy in float64, rounded once) is within an ulp.  Products
with an exactly-zero twiddle are skipped, as an FFT's butterflies never form them, so NaN and Inf
samples reach the outputs numpy's FFT sends them to (a subset of those at lengths past 8).  The
semantics (fft_length, cropping, refusals) are the reference's (gpu_backend/reference/spectral.py).
"""
from __future__ import annotations

import math

from ..errors import ShapeError
from ..op_checks import fft_length
from ..registry import GL_KERNELS, GLFallback, gl_kernel
from ..runner import Arg, GLTensor, ProgramRunner
from ..shapes import broadcast_shapes
from .elementwise import MATH

COMPLEX_INPUTS = {"Real": (0,), "Imag": (0,), "ComplexAbs": (0,), "FFT": (0,), "IFFT": (0,), "IRFFT": (0,)}
COMPLEX_OUTPUTS = {"Complex", "FFT", "IFFT", "RFFT"}
MAX_LENGTH = 46340                  # len * len stays below 2^31 for the shader's integer angles
MAX_STEPS = 1 << 28                 # output elements * taps of one draw (see scan.py)


def _float(op: str, t: GLTensor) -> None:
    if t.dtype != "float32":
        raise GLFallback(f"{op}: a {t.dtype} input (the reference names the dtype it wants)")


def _rows(gl: ProgramRunner, t: GLTensor, inner: tuple[int, ...]) -> GLTensor:
    return gl.reshape(t, (math.prod(t.shape[: t.rank - len(inner)]),) + inner)


def _fft_length(op: str, attrs: dict) -> int:
    n = fft_length(op, attrs)
    if n == 0:
        raise GLFallback(f"{op}: fft_length 0 (no samples: the reference answers)")
    return n


def _check_size(op: str, rows: int, outs: int, taps: int) -> None:
    if taps > MAX_LENGTH:
        raise GLFallback(f"{op}: a length of {taps} exceeds the shader's exact-angle range ({MAX_LENGTH})")
    if rows * outs * taps > MAX_STEPS:
        raise GLFallback(f"{op}: {rows * outs} outputs of {taps} taps are too long for one draw")


def _run(gl: ProgramRunner, op: str, section: str, x: GLTensor, out_shape: tuple[int, ...],
         uniforms: dict) -> GLTensor:
    return gl.run("spectral.glsl", section, "element", {"X": Arg(x, elem=True)}, out_shape, "float32",
                  uniforms=uniforms, libs=[MATH], label=op)


@gl_kernel("Complex")
def complex_(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    re, im = inputs[0], inputs[1]
    _float(op, re)
    _float(op, im)
    shape = broadcast_shapes(re.shape, im.shape)
    parts, temps = [], []
    for t in (re, im):
        if t.shape != shape:
            t = GL_KERNELS.get("BroadcastTo")(gl, "BroadcastTo", [t], {"shape": list(shape)})[0]  # type: ignore[misc]
            temps.append(t)
        col = gl.reshape(t, shape + (1,))
        temps.append(col)
        parts.append(col)
    out = GL_KERNELS.get("Concat")(gl, "Concat", parts, {"axis": len(shape)})  # type: ignore[misc]
    for t in temps:
        gl.release(t)
    return out


@gl_kernel("Real", "Imag")
def real_imag(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x = inputs[0]                                   # S + [2]
    begin = [0] * (x.rank - 1) + [0 if op == "Real" else 1]
    part = GL_KERNELS.get("Slice")(gl, "Slice", [x], {"begin": begin, "size": [-1] * (x.rank - 1) + [1]})[0]  # type: ignore[misc]
    out = gl.reshape(part, x.shape[:-1])
    gl.release(part)
    return [out]


@gl_kernel("ComplexAbs")
def complex_abs(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x = inputs[0]
    flat = _rows(gl, x, (2,))
    out = _run(gl, op, "abs", flat, (flat.shape[0],), {})
    gl.release(flat)
    res = gl.reshape(out, x.shape[:-1])
    gl.release(out)
    return [res]


def _innermost(op: str, logical_rank: int) -> None:
    if logical_rank < 1:
        raise ShapeError(f"{op} needs an input of rank >= 1, got a scalar")


@gl_kernel("FFT", "IFFT")
def fft(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x = inputs[0]                                   # S + [2]
    _innermost(op, x.rank - 1)
    n = x.shape[-2]
    rows = math.prod(x.shape[:-2])
    _check_size(op, rows, n, n)
    flat = _rows(gl, x, (n, 2))
    inverse = op == "IFFT"
    out = _run(gl, op, "dft", flat, (rows, n, 2),
               {"len": n, "sign": 1.0 if inverse else -1.0, "scale": 1.0 / n if inverse else 1.0})
    gl.release(flat)
    res = gl.reshape(out, x.shape)
    gl.release(out)
    return [res]


@gl_kernel("RFFT")
def rfft(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x = inputs[0]
    _float(op, x)
    _innermost(op, x.rank)
    n = _fft_length(op, attrs)
    if x.shape[-1] < n:
        raise GLFallback(f"{op}: input shorter than fft_length (the reference refuses it)")
    rows, bins = math.prod(x.shape[:-1]), n // 2 + 1
    _check_size(op, rows, bins, n)
    flat = _rows(gl, x, (x.shape[-1],))
    out = _run(gl, op, "rfft", flat, (rows, bins, 2), {"len": n})
    gl.release(flat)
    res = gl.reshape(out, x.shape[:-1] + (bins, 2))
    gl.release(out)
    return [res]


@gl_kernel("IRFFT")
def irfft(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x = inputs[0]                                   # S + [2]
    _innermost(op, x.rank - 1)
    n = _fft_length(op, attrs)
    if x.shape[-2] < n // 2 + 1:
        raise GLFallback(f"{op}: fewer bins than fft_length needs (the reference refuses it)")
    rows = math.prod(x.shape[:-2])
    _check_size(op, rows, n, n // 2 + 1)
    flat = _rows(gl, x, (x.shape[-2], 2))
    out = _run(gl, op, "irfft", flat, (rows, n), {"len": n})
    gl.release(flat)
    res = gl.reshape(out, x.shape[:-2] + (n,))
    gl.release(out)
    return [res]
