"""The kernel-level contract every backend implements.

This is the whole surface another runtime needs to plug a backend in, and the
only one our own graph executor uses: upload numpy data, run a kernel by its
TensorFlow.js name, read a result back, dispose what is no longer needed, and
ask how much memory is held.  Kernel names are TF.js's (``Add``,
``BatchMatMul``, ``_FusedMatMul`` ...); attribute names are the snake_case form
of TF.js's attribute names (``transpose_a``, ``keep_dims``, ``axis``).
"""
from __future__ import annotations

import abc
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .dtypes import HOST_DTYPES
from .errors import DisposedTensorError, ForeignTensorError

_ids = itertools.count(1)


class TensorHandle:
    """An opaque reference to a tensor held by one backend.

    ``shape`` and ``dtype`` are always available without touching the device;
    the values are only reachable through the owning backend's ``read``.
    """

    __slots__ = ("shape", "dtype", "id", "_backend", "_payload", "_disposed")

    def __init__(self, backend: "Backend", shape: tuple[int, ...], dtype: str, payload: Any) -> None:
        self.shape = tuple(int(d) for d in shape)
        self.dtype = dtype
        self.id = next(_ids)
        self._backend = backend
        self._payload = payload
        self._disposed = False

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def disposed(self) -> bool:
        return self._disposed

    def __repr__(self) -> str:
        state = ", disposed" if self._disposed else ""
        return f"TensorHandle(id={self.id}, shape={list(self.shape)}, dtype={self.dtype}, backend={self._backend.name}{state})"


class Backend(abc.ABC):
    """upload / run / read / dispose / memory: see the module docstring."""

    name: str = "abstract"
    # dtypes this backend cannot hold: nodes reading or making them run on the host (gpu_backend/dtypes.py)
    host_only_dtypes: tuple[str, ...] = HOST_DTYPES

    @abc.abstractmethod
    def upload(self, array: Any, name: str = "tensor", constant: bool = False) -> TensorHandle:
        """Copy a numpy array (or anything np.asarray accepts) to the backend.  `name` appears in
        error messages; constant=True promises the values never change (model weights)."""

    @abc.abstractmethod
    def run(self, kernel: str, inputs: Sequence[TensorHandle],
            attrs: Mapping[str, Any] | None = None) -> tuple[TensorHandle, ...]:
        """Run a kernel; returns its outputs (always a tuple, even for one)."""

    @abc.abstractmethod
    def read(self, handle: TensorHandle) -> np.ndarray:
        """Copy a tensor's values back into a new numpy array."""

    @abc.abstractmethod
    def dispose(self, handle: TensorHandle) -> None:
        """Release a tensor; using the handle afterwards raises DisposedTensorError."""

    @abc.abstractmethod
    def memory(self) -> dict[str, Any]:
        """Counters: live tensors, bytes, pooled bytes, peak bytes, cache statistics."""

    @abc.abstractmethod
    def kernels(self) -> list[str]:
        """Names of every kernel this backend can run."""

    def has_kernel(self, name: str) -> bool:
        return name in self.kernels()

    def close(self) -> None:
        """Release every resource; the backend is unusable afterwards."""

    # -- optional: recording a run to replay it (see gpu_backend/recording.py) -----------------
    def begin_recording(self) -> Any:
        """Start recording what the following calls do; returns a tape, or None when this backend
        cannot replay (the default).  The caller may set ``tape.node`` to label the commands."""
        return None

    def end_recording(self, tape: Any, feeds: Mapping[str, np.ndarray], n_outputs: int) -> tuple[Any, str]:
        """Stop recording.  `feeds` are the arrays uploaded as inputs (matched by identity) and the
        last `n_outputs` reads are the outputs.  Returns (recording, "") where the run can be replayed
        with ``recording.replay(feeds)``, else (None, why not).  Release a recording with
        ``recording.release()``."""
        return None, "this backend does not record"

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers for implementations -------------------------------------------------
    def _payload(self, handle: TensorHandle) -> Any:
        if not isinstance(handle, TensorHandle):
            raise TypeError(f"expected a TensorHandle, got {type(handle).__name__}")
        if handle._backend is not self:
            raise ForeignTensorError(
                f"{handle!r} belongs to backend {handle._backend.name!r}, not to this {self.name!r} backend; "
                "read() it there and upload() the array here")
        if handle._disposed:
            raise DisposedTensorError(f"{handle!r} was disposed and cannot be used any more")
        return handle._payload
