"""ImageProjectiveTransformV3 on GL: one element program; the transforms are read from their tensor
(Keras augmentation layers compute them at run time)."""
from __future__ import annotations

import math

from ..errors import UnsupportedDTypeError
from ..op_checks import projective_modes, projective_shapes
from ..registry import gl_kernel
from ..runner import Arg, GLTensor, ProgramRunner


@gl_kernel("ImageProjectiveTransformV3")
def image_projective_transform(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    images, transforms = inputs[0], inputs[1]
    interp, mode = projective_modes(op, attrs)
    out_h, out_w = projective_shapes(op, images.shape, transforms.shape, attrs.get("output_shape", images.shape[1:3]))
    if images.dtype not in ("float32", "int32"):
        raise UnsupportedDTypeError(f"{op}: images must be float32 or int32, not {images.dtype}")
    if transforms.dtype != "float32":
        raise UnsupportedDTypeError(f"{op}: transforms must be float32, not {transforms.dtype}")
    fill = float(attrs.get("fill_value", 0.0))
    if images.dtype == "int32":
        fill = float(math.trunc(fill))
    n, h, w, c = images.shape
    uniforms = {"in_hw": (h, w), "per_image": int(transforms.shape[0] != 1 or n == 1), "mode": mode,
                "bilinear": interp, "fill": fill}
    return [gl.run("transform.glsl", None, "element",
                   {"X": Arg(images, elem=True), "T": Arg(transforms, elem=True)},
                   (n, out_h, out_w, c), images.dtype, uniforms=uniforms, label=op)]
