"""GPU-accelerated, WebGL-style execution of tensor kernels on OpenGL.

    from gpu_backend import GLBackend, NumpyBackend
    b = GLBackend()                     # headless EGL
    h = b.upload(array)
    (out,) = b.run("Add", [h, h])
    b.read(out)
"""
from .api import Backend, TensorHandle
from .errors import (
    AttributeValueError, ContextCreationError, ContextThreadError, DisposedTensorError, ForeignTensorError,
    GPUBackendError, ShaderCompileError, ShapeError, TextureTooLargeError, UnknownKernelError,
    UnsupportedDTypeError,
)
from .gl_backend import GLBackend
from .numpy_backend import NumpyBackend

__all__ = [
    "Backend", "TensorHandle", "GLBackend", "NumpyBackend",
    "GPUBackendError", "ContextCreationError", "ContextThreadError", "UnsupportedDTypeError", "ShapeError",
    "UnknownKernelError", "AttributeValueError", "TextureTooLargeError", "DisposedTensorError",
    "ForeignTensorError", "ShaderCompileError",
]
