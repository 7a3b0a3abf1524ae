"""Identity and Reshape: views of the input's texture, copied only when the packed layout forces it."""
from __future__ import annotations

from ..registry import gl_kernel
from ..runner import GLTensor, ProgramRunner
from ..shapes import resolve_reshape


@gl_kernel("Identity")
def identity(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x = inputs[0]
    return [gl.share(x, x.view)]


@gl_kernel("Reshape")
def reshape(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x = inputs[0]
    shape = resolve_reshape(x.shape, attrs.get("shape"))
    return [gl.reshape(x, shape)]
