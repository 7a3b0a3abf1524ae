"""Identity and Reshape."""
from __future__ import annotations

import numpy as np

from ..registry import numpy_kernel
from ..shapes import resolve_reshape


@numpy_kernel("Identity")
def identity(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    return [inputs[0].copy()]


@numpy_kernel("Reshape")
def reshape(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x = inputs[0]
    return [x.reshape(resolve_reshape(x.shape, attrs.get("shape")))]
