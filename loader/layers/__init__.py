"""Keras layers models (format "layers-model"): the Keras topology lowered into the graph IR.

    from loader import load_layers_model
    model = load_layers_model("path/to/model.json")
    print(model.summary())                       # the Layers API's table, with where each layer runs
    outputs = model.predict({"input_1": x})      # {output layer name: ndarray}
"""
from .model import LayersModel, load_layers_model, load_model, supported_layers

__all__ = ["LayersModel", "load_layers_model", "load_model", "supported_layers"]
