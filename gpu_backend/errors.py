"""Exceptions raised by the backends.

Every error a user can cause has its own type and a message that says what was
wrong and what to do, so callers can catch precisely and users can act.
"""
from __future__ import annotations


class GPUBackendError(Exception):
    """Base class of every error raised by this package."""


class ContextCreationError(GPUBackendError):
    """No OpenGL context could be created (missing driver, display or library)."""


class ContextThreadError(GPUBackendError):
    """A backend was used from a thread other than the one owning its GL context."""


class UnsupportedDTypeError(GPUBackendError, TypeError):
    """The array's dtype has no representation on the backend (strings, complex, ...)."""


class ShapeError(GPUBackendError, ValueError):
    """Input shapes are incompatible with the kernel (broadcasting, ranks, axes)."""


class UnknownKernelError(GPUBackendError, KeyError):
    """No kernel of that name is registered on the backend."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""


class AttributeValueError(GPUBackendError, ValueError):
    """A kernel attribute is missing or has a value the kernel does not support."""


class TextureTooLargeError(GPUBackendError, ValueError):
    """A tensor does not fit in any texture allowed by GL_MAX_TEXTURE_SIZE."""


class DisposedTensorError(GPUBackendError):
    """A tensor handle was used after dispose()."""


class ForeignTensorError(GPUBackendError, TypeError):
    """A tensor handle created by another backend was passed to this one."""


class ShaderCompileError(GPUBackendError):
    """The GL driver rejected a generated shader (a bug in this package: please report)."""
