"""Transpose."""
from __future__ import annotations

import numpy as np

from ..registry import numpy_kernel
from ..shapes import check_perm


@numpy_kernel("Transpose")
def transpose(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    x = inputs[0]
    return [np.transpose(x, check_perm(attrs.get("perm"), x.ndim)).copy()]
