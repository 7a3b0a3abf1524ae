"""Errors raised while loading or running a model; each names what was wrong and where."""
from __future__ import annotations

from gpu_backend.errors import GPUBackendError


class ModelLoadError(GPUBackendError):
    """Base of every error raised by load_graph_model."""


class ModelFormatError(ModelLoadError, ValueError):
    """model.json is not valid JSON, or a key is missing or has the wrong type (the message names the key)."""


class UnsupportedModelError(ModelLoadError):
    """A valid file of a kind this loader does not run (layers-model, weights-only manifest)."""


class WeightsError(ModelLoadError):
    """Weight shards are missing, short, too long, or declare an unknown dtype or insane shape."""


class UnsafePathError(ModelLoadError):
    """A weight path points outside the model's folder or URL base."""


class UnsupportedOpError(ModelLoadError):
    """Ops that no backend can run (all of them are listed, with the nodes using them)."""


class GraphError(ModelLoadError):
    """The graph refers to nodes that do not exist, or is not a DAG where it must be."""


class ModelInputError(GPUBackendError, ValueError):
    """Inputs passed to predict/execute do not match the model's signature (names, shapes, dtypes)."""


class SaveError(GPUBackendError):
    """model.save() could not write the model: an unwritable folder, an HTTP error status, a bad option
    (the message names the target and the reason)."""


class ModelDisposedError(GPUBackendError, RuntimeError):
    """The model was disposed (its weights and, if it made one, its GL context released)."""
