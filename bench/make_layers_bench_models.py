"""Benchmark models for layers vs graph: the same Keras network converted both ways by the real
tensorflowjs_converter 4.22 (the layers model is its default output).  Not committed (a few MB):

    /path/to/converter-env/python bench/make_layers_bench_models.py     # env: ../shared/models/CATALOG.md

Writes bench/models/<name>/{layers,graph}/ and inputs.npz (keyed by the Keras input name):
  mobilenet_v2   keras.applications.MobileNetV2(alpha=0.5, 128x128, random weights), Keras 3 (graph via
                 SavedModel: the converter's Keras-to-graph path reads .h5 with tf_keras only)
  cnn_k2         a small Keras 2 CNN (conv / batch norm / relu / pool x3, dense head) on 64x64x3
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402

OUT = Path(__file__).resolve().parent / "models"
CONVERTER = str(Path(sys.executable).with_name("tensorflowjs_converter"))


def convert(model, folder: Path, keras3: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        h5 = Path(tmp) / "m.h5"
        model.save(h5)
        subprocess.run([CONVERTER, "--input_format=keras", str(h5), str(folder / "layers")], check=True)
        if keras3:
            model.export(str(Path(tmp) / "saved"))
            subprocess.run([CONVERTER, "--input_format=tf_saved_model", "--output_format=tfjs_graph_model",
                            str(Path(tmp) / "saved"), str(folder / "graph")], check=True)
        else:
            subprocess.run([CONVERTER, "--input_format=keras", "--output_format=tfjs_graph_model", str(h5),
                            str(folder / "graph")], check=True)


def main() -> None:
    rng = np.random.default_rng(0)
    import keras
    m = keras.applications.MobileNetV2(input_shape=(128, 128, 3), alpha=0.5, weights=None, classes=100)
    folder = OUT / "mobilenet_v2"
    convert(m, folder, keras3=True)
    np.savez(folder / "inputs.npz", **{m.input_names[0] if hasattr(m, "input_names") else m.inputs[0].name:
                                       rng.random((1, 128, 128, 3), np.float32)})
    import tf_keras as k2
    L = k2.layers
    inp = k2.Input((64, 64, 3), name="image")
    x = inp
    for f in (16, 32, 64):
        x = L.Conv2D(f, 3, padding="same", use_bias=False)(x)
        x = L.BatchNormalization()(x)
        x = L.ReLU()(x)
        x = L.MaxPooling2D()(x)
    x = L.GlobalAveragePooling2D()(x)
    out = L.Dense(10, activation="softmax")(L.Dense(64, activation="relu")(x))
    cnn = k2.Model(inp, out)
    folder = OUT / "cnn_k2"
    convert(cnn, folder, keras3=False)
    np.savez(folder / "inputs.npz", image=rng.random((1, 64, 64, 3), np.float32))


if __name__ == "__main__":
    main()
