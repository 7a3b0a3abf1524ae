"""Loading converted TF.js graph models (model.json + weight shards) and running them on a Backend.

    from loader import load_graph_model
    model = load_graph_model("path/or/url/model.json")      # GL backend by default
    outputs = model.predict({"x:0": array})                 # {output tensor name: ndarray}
"""
from .errors import (GraphError, ModelDisposedError, SaveError, ModelFormatError, ModelInputError, ModelLoadError, UnsafePathError,
                     UnsupportedModelError, UnsupportedOpError, WeightsError)
from .model import GraphModel, load_graph_model
from .layers import LayersModel, load_layers_model, load_model, supported_layers
from .sources import FileSource, HttpSource, MemorySource, ModelSource

__all__ = ["load_graph_model", "GraphModel", "load_layers_model", "LayersModel", "load_model", "supported_layers", "ModelSource", "FileSource", "HttpSource", "MemorySource",
           "ModelLoadError", "ModelFormatError", "UnsupportedModelError", "WeightsError", "UnsafePathError",
           "UnsupportedOpError", "GraphError", "ModelInputError", "SaveError", "ModelDisposedError"]
