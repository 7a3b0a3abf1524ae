"""Reading the recorded-TF golden files of the host-kernel ops (sparse, ragged, strings, ...): each case
is `<case>/op`, `<case>/in<i>`, `<case>/attrs` (JSON) and `<case>/out<k>` or `<case>/error`."""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from gpu_backend.dtypes import to_backend_array

Golden = tuple[str, list[np.ndarray], dict, "list[np.ndarray] | None", "str | None"]


def load_golden(path: Path, case: str) -> Golden:
    """(op, inputs narrowed as the loader narrows them, attrs, TF's outputs or None, TF's error or None)."""
    with np.load(path) as z:
        n_in = sum(1 for k in z.files if k.startswith(f"{case}/in"))
        n_out = sum(1 for k in z.files if k.startswith(f"{case}/out"))
        inputs = [to_backend_array(z[f"{case}/in{i}"]) for i in range(n_in)]
        outs = [z[f"{case}/out{k}"] for k in range(n_out)] if n_out else None
        error = str(z[f"{case}/error"]) if f"{case}/error" in z.files else None
        return str(z[f"{case}/op"]), inputs, json.loads(str(z[f"{case}/attrs"])), outs, error


def coverage(path: Path, cases: list[str], ops: Iterable[str]) -> dict[str, dict[str, int]]:
    """{op: {"ok": recorded results, "error": recorded refusals}} over `cases`."""
    by_op: dict[str, dict[str, int]] = {op: {"ok": 0, "error": 0} for op in ops}
    for case in cases:
        op, _, _, _, error = load_golden(path, case)
        by_op[op]["error" if error else "ok"] += 1
    return by_op
