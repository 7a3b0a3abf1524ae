"""The segmentation-pattern fixture against TensorFlow's outputs: max|diff| relative to max|output|,
per backend and output (the README's figures).   .venv/bin/python bench/seg_drift.py"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from loader import load_graph_model

SEG = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "seg" / "seg_depthwise_bilinear"


def main() -> None:
    with np.load(SEG / "inputs.npz") as z, np.load(SEG / "expected.npz") as e:
        x, want = z["image"], {k: e[k] for k in e.files}
    for backend in ("numpy", "gl"):
        model = load_graph_model(SEG, backend=backend)
        out = list(model.predict({"image": x}).values())
        model.dispose()
        got = {"mask": next(v for v in out if v.min() >= 0 and v.max() <= 1)}
        got["logits"] = next(v for v in out if v is not got["mask"])
        for name in ("logits", "mask"):
            err = float(np.max(np.abs(got[name].astype(np.float64) - want[name])))
            scale = float(np.max(np.abs(want[name])))
            print(f"{backend:5s} {name:6s} max|diff| {err:.3g}  max|TF| {scale:.4g}  relative {err / scale:.3g}")


if __name__ == "__main__":
    main()
