"""Name -> implementation tables for GL kernels and numpy reference kernels.

Each kernel module registers its functions with a decorator at import time, so
adding an op means adding one module (plus its GLSL file) and importing it in
the package's ``__init__``; nothing else in the tree changes.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any


class GLFallback(Exception):
    """Raised by a GL kernel for inputs/attributes it does not handle; the backend then
    runs the numpy reference for that call and counts it."""


class Registry:
    def __init__(self, what: str) -> None:
        self.what = what
        self._fns: dict[str, Callable[..., Any]] = {}

    def register(self, *names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
            for name in names:
                if name in self._fns:
                    raise RuntimeError(f"{self.what} kernel {name!r} registered twice")
                self._fns[name] = fn
            return fn
        return deco

    def get(self, name: str) -> Callable[..., Any] | None:
        return self._fns.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self._fns

    def names(self) -> list[str]:
        return sorted(self._fns)


GL_KERNELS = Registry("GL")
NUMPY_KERNELS = Registry("numpy")
gl_kernel = GL_KERNELS.register
numpy_kernel = NUMPY_KERNELS.register

# Kernels that run on the host by design, on every backend: sequential, data-dependent or
# string/hash work with no sensible fragment-shader form (TF.js runs these on its CPU side too).
# The executor places their nodes on the host instead of calling them a numpy fallback.
HOST_KERNELS = Registry("host")
# Host kernels whose output differs from call to call for the same inputs (random ops: each run draws
# new numbers).  A recorded GL run replays host results as recorded data, so the executor does not
# record a run that calls one of these.
STATEFUL_KERNELS = Registry("stateful")


def host_kernel(*names: str, stateful: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a numpy kernel that is the implementation on every backend (see HOST_KERNELS);
    stateful: its results change from one execution to the next (see STATEFUL_KERNELS)."""
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        HOST_KERNELS.register(*names)(fn)
        if stateful:
            STATEFUL_KERNELS.register(*names)(fn)
        return NUMPY_KERNELS.register(*names)(fn)
    return deco
