"""The numpy reference backend: every kernel, TensorFlow's semantics, no GPU.

It is the oracle of the GL kernels' tests and the fallback for calls the GL
backend does not run (an op with no GL kernel yet, empty tensors).  Its
kernels live in ``gpu_backend/reference`` and never share numeric code with
the GL kernels, so a test comparing the two compares two implementations.
"""
from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import reference  # noqa: F401  (registers the reference kernels)
from .api import Backend, TensorHandle
from .dtypes import array_dtype, normalize_dtype, to_backend_array
from .errors import UnknownKernelError
from .registry import NUMPY_KERNELS


def run_reference(kernel: str, arrays: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> list[np.ndarray]:
    """Run a reference kernel on numpy arrays (the GL backend's fallback path too)."""
    fn = NUMPY_KERNELS.get(kernel)
    if fn is None:
        raise unknown_kernel(kernel, NUMPY_KERNELS.names(), "numpy")
    outs = fn(kernel, list(arrays), dict(attrs))
    result = []
    for o in outs:
        o = np.asarray(o)
        result.append(np.asarray(o.astype(array_dtype(normalize_dtype(o.dtype)), copy=False), order="C"))
    return result


def unknown_kernel(kernel: str, known: list[str], backend: str) -> UnknownKernelError:
    close = difflib.get_close_matches(kernel, known, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return UnknownKernelError(f"no kernel named {kernel!r} on the {backend} backend{hint} "
                              f"(backend.kernels() lists the {len(known)} available)")


class NumpyBackend(Backend):
    name = "numpy"

    def __init__(self) -> None:
        self._live: dict[int, TensorHandle] = {}
        self.live_bytes = 0
        self.peak_bytes = 0
        self.runs = 0

    def _track(self, array: np.ndarray) -> TensorHandle:
        h = TensorHandle(self, array.shape, normalize_dtype(array.dtype), array)
        self._live[h.id] = h
        self.live_bytes += array.nbytes
        self.peak_bytes = max(self.peak_bytes, self.live_bytes)
        return h

    def upload(self, array: Any, name: str = "tensor", constant: bool = False) -> TensorHandle:
        return self._track(to_backend_array(array, name).copy())

    def run(self, kernel: str, inputs: Sequence[TensorHandle],
            attrs: Mapping[str, Any] | None = None) -> tuple[TensorHandle, ...]:
        arrays = [self._payload(h) for h in inputs]
        outs = run_reference(kernel, arrays, attrs or {})
        self.runs += 1
        return tuple(self._track(o) for o in outs)

    def read(self, handle: TensorHandle) -> np.ndarray:
        return np.array(self._payload(handle), copy=True)

    def dispose(self, handle: TensorHandle) -> None:
        arr = self._payload(handle)
        handle._disposed = True
        handle._payload = None
        self._live.pop(handle.id, None)
        self.live_bytes -= arr.nbytes

    def memory(self) -> dict[str, Any]:
        return {"live_tensors": len(self._live), "live_bytes": self.live_bytes, "peak_bytes": self.peak_bytes,
                "runs": self.runs}

    def kernels(self) -> list[str]:
        return NUMPY_KERNELS.names()

    def close(self) -> None:
        for h in list(self._live.values()):
            self.dispose(h)
