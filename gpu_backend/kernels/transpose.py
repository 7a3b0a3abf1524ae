"""Transpose: a strided view when the last axis stays, else a gather draw."""
from __future__ import annotations

import numpy as np

from ..layout import permute_view
from ..registry import gl_kernel
from ..runner import Arg, GLTensor, ProgramRunner
from ..shapes import check_perm


@gl_kernel("Transpose")
def transpose(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x = inputs[0]
    perm = check_perm(attrs.get("perm"), x.rank)
    out_shape = tuple(x.shape[p] for p in perm)
    if x.rank <= 1 or perm == list(range(x.rank)):
        return [gl.share(x, x.view)]
    if perm[-1] == x.rank - 1 and not x.view.splat:
        return [gl.share(x, permute_view(x.view, perm))]
    iperm = [0] * x.rank
    for i, p in enumerate(perm):
        iperm[p] = i
    return [gl.run("transpose.glsl", None, "element", {"X": Arg(x, elem=True)}, out_shape, x.dtype,
                   uniforms={"iperm": np.asarray(iperm, "i4")}, label=op)]
