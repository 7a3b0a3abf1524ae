"""The resources of one loaded model: hash tables (loader/tables.py) and TF-DF decision forests
(loader/tfdf.py), behind one mechanism.

Both are made by a "create" op that names a slot by (container, shared_name), or by the node's name
when shared_name is empty; both are passed between nodes as Value.obj; both reach the main graph of a
TF2 conversion as a DT_RESOURCE signature input whose resourceId matches an initializerSignature
output (loader/model.py binds them).  The scope is owned by one model, never module-global, and is
shared by the model's initializer graph and its main graph.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .graph import Node
from .tables import CREATE_OPS as TABLE_CREATE_OPS
from .tables import TABLE_OPS, HashTable, TableError, TableScope, run_table_op
from .tfdf import (ASSETS_FILE, FOREST_CREATE_OPS, FOREST_INFERENCE_OPS, FOREST_OPS, AssetsZip, ForestError,
                   ForestModel, run_forest_op)

RESOURCE_CREATE_OPS = TABLE_CREATE_OPS | FOREST_CREATE_OPS
RESOURCE_OPS = TABLE_OPS | FOREST_OPS
ResourceError = (TableError, ForestError)


class ResourceScope(TableScope):
    """Tables (`self.tables`, from TableScope) and decision-forest slots (`self.forests`) of one model.
    `read_assets` returns the bytes of the model's assets.zip; it is called once, when a forest is
    first loaded (GraphModel sets it from the model's source)."""

    def __init__(self, read_assets: Callable[[], bytes] | None = None) -> None:
        super().__init__()
        self.forests: dict[tuple[str, str], ForestModel] = {}
        self.read_assets = read_assets
        self._assets: AssetsZip | None = None

    def create(self, node: Node) -> HashTable | ForestModel:
        """The resource a create op names: made on first use, the same object after."""
        if node.op in TABLE_CREATE_OPS:
            return self.handle(node)
        key = (node.attr_str("container", ""), node.attr_str("shared_name", "") or node.name)
        slot = self.forests.get(key)
        if slot is None:
            slot = self.forests[key] = ForestModel(key[1])
        return slot

    def assets(self) -> AssetsZip:
        if self._assets is None:
            if self.read_assets is None:
                raise ForestError(f"no {ASSETS_FILE} is available to load the decision forest from")
            self._assets = AssetsZip(self.read_assets(), ASSETS_FILE)
        return self._assets


def handle_input(node: Node) -> int:
    """Which input of a resource op is the handle (the inference op takes it last)."""
    return 6 if node.op in FOREST_INFERENCE_OPS else 0


def run_resource_op(node: Node, resource: Any, arrays: list[np.ndarray], scope: ResourceScope) -> list[np.ndarray]:
    """One non-create resource op; `arrays`: the node's other inputs, in order, as host arrays."""
    if node.op in TABLE_OPS:
        if not isinstance(resource, HashTable):
            raise TableError(f"input {handle_input(node)} is not a hash table handle")
        return run_table_op(node, resource, arrays)
    if not isinstance(resource, ForestModel):
        raise ForestError(f"input {handle_input(node)} is not a decision forest handle")
    return run_forest_op(node, resource, arrays, scope.assets)
