"""GLBackend: the Backend API over an OpenGL context.

Tensors live in pooled textures (gpu_backend/textures.py) in the packed
layout (gpu_backend/layout.py); kernels (gpu_backend/kernels) turn each call
into one or more fragment-shader draws through the ProgramRunner.  Calls the
GL kernels do not handle (no GL kernel for the op, empty tensors, attribute
values a kernel declines) run on the numpy reference and are counted in
``memory()['fallbacks']``, so nothing silently changes where work happens.
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import moderngl
import numpy as np

from . import kernels  # noqa: F401  (registers the GL kernels)
from .api import Backend, TensorHandle
from .buffers import GLFunctions
from .context import ContextInfo, GLContext
from .dtypes import to_backend_array
from .numpy_backend import run_reference, unknown_kernel
from .profiling import Profiler, TransferEvent
from .recording import Recording, Tape, finish_recording
from .registry import GL_KERNELS, HOST_KERNELS, NUMPY_KERNELS, GLFallback
from .kernels.spectral import COMPLEX_INPUTS, COMPLEX_OUTPUTS
from .runner import GLTensor, ProgramRunner


def _pairs(arr: np.ndarray) -> np.ndarray:
    """A complex array as the float32 [..., 2] (real, imaginary) layout the GL backend keeps it in."""
    c = arr.astype(np.complex64, copy=False)
    return np.ascontiguousarray(np.stack([c.real, c.imag], axis=-1).astype(np.float32))


class GLBackend(Backend):
    """Run kernels as GLSL fragment shaders.

    context: 'egl' (headless, default), 'glfw' (hidden window; needs a display),
    'auto' (EGL, then GLFW), or an existing moderngl.Context.
    layout: 'packed' (4 values per texel, default) or 'unpacked' (1 per texel).
    max_texture_size: lower the driver's GL_MAX_TEXTURE_SIZE (testing, memory caps).
    pool_limit_bytes: most bytes of released textures kept for reuse.
    """

    name = "gl"
    # complex64 tensors live here too (as float32 [..., 2] pairs, see kernels/spectral.py); strings never
    host_only_dtypes = ("string",)

    def __init__(self, context: str | moderngl.Context = "egl", *, layout: str = "packed",
                 max_texture_size: int | None = None, pool_limit_bytes: int = 256 << 20,
                 device_index: int = 0, libegl: str | None = None) -> None:
        if layout not in ("packed", "unpacked"):
            raise ValueError(f"layout must be 'packed' or 'unpacked', not {layout!r}")
        if isinstance(context, str):
            self._gl = GLContext(context, device_index=device_index, libegl=libegl)
        else:
            self._gl = GLContext(context=context)
        self.info: ContextInfo = self._gl.info
        limit = self.info.max_texture_size
        if max_texture_size is not None:
            limit = min(limit, int(max_texture_size))
        self.layout = layout
        try:
            # buffer textures share the per-program units with 2D inputs
            raw_gl = GLFunctions(self._gl.kind) if self.info.max_texture_units >= 16 else None
        except Exception:          # an external or unusual context: kernels use 2D textures only
            raw_gl = None
        self.runner = ProgramRunner(self._gl.ctx, limit, layout == "packed", pool_limit_bytes, raw_gl)
        self._live: dict[int, TensorHandle] = {}
        self.fallbacks: Counter[str] = Counter()
        self._closed = False

    # -- Backend API -----------------------------------------------------------------
    @property
    def profiler(self) -> Profiler | None:
        """Attach a gpu_backend.profiling.Profiler to time every draw, upload and readback."""
        return self.runner.profiler

    @profiler.setter
    def profiler(self, value: Profiler | None) -> None:
        self.runner.profiler = value

    def upload(self, array: Any, name: str = "tensor", constant: bool = False) -> TensorHandle:
        """constant=True: the values never change (model weights); kernels may then prepare a
        better-suited copy once, e.g. a filter in a buffer texture."""
        self._check()
        is_complex = np.asarray(array).dtype.kind == "c"
        arr = _pairs(np.asarray(array)) if is_complex else to_backend_array(array, name)
        if is_complex:
            self._no_replay("a complex64 upload")
        prof = self.runner.profiler
        t0 = time.perf_counter()
        t = self.runner.upload(arr, name=name, origin=array)
        t.constant = constant
        if constant:
            t.host = arr         # a reference, not a copy: prepared layouts of weights need no readback
        handle = self._wrap(t, is_complex)
        if prof is not None:
            self.finish()
            prof.transfer(TransferEvent("upload", arr.nbytes, (time.perf_counter() - t0) * 1e3,
                                        (t0 - prof.t0) * 1e3, name))
        return handle

    def run(self, kernel: str, inputs: Sequence[TensorHandle],
            attrs: Mapping[str, Any] | None = None) -> tuple[TensorHandle, ...]:
        self._check()
        tensors = [self._payload(h) for h in inputs]
        flags = [h.dtype == "complex64" for h in inputs]
        attrs = dict(attrs or {})
        fn = GL_KERNELS.get(kernel)
        if fn is None:
            if kernel not in NUMPY_KERNELS:
                raise unknown_kernel(kernel, sorted(set(GL_KERNELS.names()) | set(NUMPY_KERNELS.names())), "GL")
            return self._fallback(kernel, tensors, flags, attrs,
                                  "host kernel" if kernel in HOST_KERNELS else "no GL kernel")
        if any(t.size == 0 for t in tensors):
            return self._fallback(kernel, tensors, flags, attrs, "empty input")
        wanted = COMPLEX_INPUTS.get(kernel, ())
        if any(f != (i in wanted) for i, f in enumerate(flags)):
            # only the spectral kernels know the pair layout; a dtype they do not take: the reference says so
            return self._fallback(kernel, tensors, flags, attrs, "complex64 input" if any(flags) else "not complex")
        try:
            outs = fn(self.runner, kernel, tensors, attrs)
        except GLFallback as why:
            return self._fallback(kernel, tensors, flags, attrs, str(why))
        return tuple(self._wrap(o, kernel in COMPLEX_OUTPUTS) for o in outs)

    def read(self, handle: TensorHandle) -> np.ndarray:
        self._check()
        prof = self.runner.profiler
        if prof is None:
            return self._read(self._payload(handle), handle.dtype == "complex64")
        self.finish()        # pending draws are not readback time
        t0 = time.perf_counter()
        out = self._read(self._payload(handle), handle.dtype == "complex64")
        prof.transfer(TransferEvent("readback", out.nbytes, (time.perf_counter() - t0) * 1e3, (t0 - prof.t0) * 1e3,
                                    str(list(out.shape))))
        return out

    def dispose(self, handle: TensorHandle) -> None:
        self._check()
        t = self._payload(handle)
        self.runner.release(t)
        handle._disposed = True
        handle._payload = None
        self._live.pop(handle.id, None)

    def begin_recording(self) -> Tape:
        self._check()
        if self.runner.tape is not None:
            raise RuntimeError("a recording is already in progress on this backend")
        self.runner.tape = Tape()
        return self.runner.tape

    def end_recording(self, tape: Tape, feeds: Mapping[str, np.ndarray], n_outputs: int) -> tuple[Recording | None, str]:
        if self.runner.tape is not tape:
            raise RuntimeError("end_recording() got a tape this backend is not recording")
        self.runner.tape = None
        return finish_recording(self.runner, tape, feeds, n_outputs)

    def memory(self) -> dict[str, Any]:
        stats: dict[str, Any] = {"live_tensors": len(self._live)}
        stats.update(self.runner.pool.stats())
        stats.update(self.runner.programs.stats())
        stats["draws"] = self.runner.draws
        stats["fallbacks"] = dict(self.fallbacks)
        return stats

    def kernels(self) -> list[str]:
        return GL_KERNELS.names()

    def close(self) -> None:
        if self._closed:
            return
        self._gl.activate()
        for h in list(self._live.values()):
            h._disposed = True
            h._payload = None
        self._live.clear()
        self.runner.close()
        self._gl.release()
        self._closed = True

    # -- beyond the API --------------------------------------------------------------
    def tensor(self, handle: TensorHandle) -> GLTensor:
        """The GLTensor behind a handle (for kernels and tools in this package)."""
        return self._payload(handle)

    def trim(self, limit_bytes: int = 0) -> None:
        """Free pooled textures down to `limit_bytes`."""
        self._check()
        self.runner.pool.trim(limit_bytes)

    def finish(self) -> None:
        """Wait until the GPU has done all submitted work."""
        self._check()
        self._gl.ctx.finish()

    @property
    def ctx(self) -> moderngl.Context:
        return self._gl.ctx

    # -- internals -------------------------------------------------------------------
    def _check(self) -> None:
        if self._closed:
            raise RuntimeError("this GLBackend was closed")
        self._gl.check_thread()
        self._gl.activate()

    def _wrap(self, t: GLTensor, is_complex: bool = False) -> TensorHandle:
        """is_complex: t holds a complex64 tensor as float32 [..., 2] (real, imaginary) pairs."""
        h = (TensorHandle(self, t.shape[:-1], "complex64", t) if is_complex else TensorHandle(self, t.shape, t.dtype, t))
        self._live[h.id] = h
        return h

    def _read(self, t: GLTensor, is_complex: bool) -> np.ndarray:
        out = self.runner.read(t)
        if not is_complex:
            return out
        self._no_replay("a complex64 readback")
        c = np.empty(out.shape[:-1], np.complex64)     # parts set apart: 1j * inf would be nan + inf j
        c.real, c.imag = out[..., 0], out[..., 1]
        return c

    def _no_replay(self, what: str) -> None:
        tape = self.runner.tape
        if tape is not None:
            tape.invalid = tape.invalid or f"{what} (complex tensors are not replayed)"

    def _upload_result(self, arr: np.ndarray) -> TensorHandle:
        if arr.dtype.kind == "c":
            self._no_replay("a complex64 result")
            return self._wrap(self.runner.upload(_pairs(arr)), True)
        return self._wrap(self.runner.upload(arr))

    def _fallback(self, kernel: str, tensors: list[GLTensor], flags: list[bool], attrs: dict[str, Any],
                  why: str) -> tuple[TensorHandle, ...]:
        self.fallbacks[f"{kernel} ({why})"] += 1
        prof = self.runner.profiler
        if prof is not None:
            self.finish()
        t0 = time.perf_counter()
        arrays = [self._read(t, f) for t, f in zip(tensors, flags)]
        t1 = time.perf_counter()
        outs = run_reference(kernel, arrays, attrs)
        t2 = time.perf_counter()
        handles = tuple(self._upload_result(o) for o in outs)
        if prof is not None:
            self.finish()
            t3 = time.perf_counter()
            prof.transfer(TransferEvent("readback", sum(a.nbytes for a in arrays), (t1 - t0) * 1e3, (t0 - prof.t0) * 1e3,
                                        f"{kernel} fallback inputs"))
            prof.host((t2 - t1) * 1e3)
            prof.transfer(TransferEvent("upload", sum(o.nbytes for o in outs), (t3 - t2) * 1e3, (t2 - prof.t0) * 1e3,
                                        f"{kernel} fallback outputs"))
        return handles
