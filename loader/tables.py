"""TensorFlow's static hash tables (HashTable / HashTableV2 and the ops that fill and read them).

A table is a resource, not a tensor: HashTable(V2) returns a handle, InitializeTable(V2) and
LookupTableImport(V2) fill the table the handle names, LookupTableFind(V2) maps keys to values (a
default where a key is missing) and LookupTableSize(V2) counts the entries.  Tables live in a
TableScope owned by one loaded model (never module-global), so two models with a table of the same
name stay apart, while the model's initializer graph (model.json's `modelInitializer`, run once at
load) and its main graph share them:

  * a HashTable node names its table by (container, shared_name), or by its node name when
    shared_name is empty (TF's use_node_name_sharing, and what TF.js's resource manager does), so a
    main-graph HashTable with the initializer's name resolves to the filled table;
  * tensorflowjs_converter's TF2 path leaves no HashTable in the main graph at all: the table comes
    in as a DT_RESOURCE placeholder whose signature entry carries a `resourceId`, and the
    initializer signature's output with the same `resourceId` is the handle to bind to it
    (loader/model.py does the binding).

The executor runs these ops itself, as it runs Const and Placeholder (loader/executor.py): the ops
need the model's TableScope and pass a table object between nodes (Value.obj, as the dynamic
executor passes TensorArrays), which the kernel registry -- model-independent functions of arrays --
cannot express.

Semantics follow TensorFlow 2.19's kernels (checked with tf.raw_ops; tests/test_hash_tables.py):
  * keys and values of an initialisation must be non-empty and of equal size (InitializeTable also
    wants vectors); duplicate keys must map to the same value, else nothing is inserted;
  * a table initialised again (by either op) keeps its first contents; TF checks only that the new
    data has as many entries, and fails with "already initialized with different data" otherwise;
  * a lookup on a table nobody initialised fails ("Table not initialized"); its size is 0;
  * default_value is a scalar or has the keys' shape (a default per key);
  * key, value and default dtypes must be the table's.  TF's int64 is int32 here (gpu_backend/dtypes.py)
    and its strings are object arrays of bytes, so string keys match byte for byte.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gpu_backend.dtypes import array_dtype, normalize_dtype

from .graph import Node

CREATE_OPS = {"HashTable", "HashTableV2"}
INIT_OPS = {"InitializeTable", "InitializeTableV2", "LookupTableImport", "LookupTableImportV2"}
FIND_OPS = {"LookupTableFind", "LookupTableFindV2"}
SIZE_OPS = {"LookupTableSize", "LookupTableSizeV2"}
TABLE_OPS = CREATE_OPS | INIT_OPS | FIND_OPS | SIZE_OPS


class TableError(ValueError):
    """A table op given data TF would refuse (the executor adds the node's name)."""


@dataclass
class HashTable:
    """One table: its key and value dtypes (backend names: 'string', 'int32', 'float32', ...) and,
    once initialised, its entries (keys as Python values: bytes, int or float)."""

    name: str
    key_dtype: str
    value_dtype: str
    entries: dict[Any, Any] | None = field(default=None, repr=False)   # None: not initialised

    @property
    def initialized(self) -> bool:
        return self.entries is not None

    def size(self) -> int:
        return len(self.entries) if self.entries is not None else 0

    def insert(self, keys: np.ndarray, values: np.ndarray, vectors_only: bool) -> None:
        """Initialise from keys and values (InitializeTable: vectors; LookupTableImport: any equal
        shapes), with TF's checks; a table already initialised keeps its contents."""
        self._check_dtype(keys, self.key_dtype, "keys")
        self._check_dtype(values, self.value_dtype, "values")
        if vectors_only:
            for what, arr in (("Keys", keys), ("Values", values)):
                if arr.ndim != 1:
                    raise TableError(f"{what} must be a vector, but received shape {list(arr.shape)}")
        if keys.size != values.size:
            raise TableError(f"keys and values must have the same size ({keys.size} vs {values.size})")
        if keys.size == 0:
            raise TableError("keys and values cannot be empty tensors")
        if self.entries is not None:
            if keys.size != len(self.entries):
                raise TableError(f"table {self.name!r} was already initialized with different data "
                                 f"({len(self.entries)} entries, now given {keys.size})")
            if self._build(keys, values) != self.entries:
                warnings.warn(f"table {self.name!r} is initialized again with other entries; as in TensorFlow, "
                              "it keeps its first contents", RuntimeWarning, stacklevel=2)
            return
        self.entries = self._build(keys, values)

    def find(self, keys: np.ndarray, default: np.ndarray) -> np.ndarray:
        """Values of `keys` (same shape), `default` (a scalar, or one per key) where a key is missing."""
        if self.entries is None:
            raise TableError(f"table {self.name!r} is not initialized (TensorFlow: 'Table not initialized'): "
                             "nothing imported keys into it before this lookup")
        self._check_dtype(keys, self.key_dtype, "keys")
        self._check_dtype(default, self.value_dtype, "default_value")
        if default.ndim and default.shape != keys.shape:
            raise TableError(f"default_value must be a scalar or have the keys' shape {list(keys.shape)}, "
                             f"got {list(default.shape)}")
        get = self.entries.get
        flat = keys.reshape(-1).tolist()
        if default.ndim:
            found = [get(k, d) for k, d in zip(flat, default.reshape(-1).tolist())]
        else:
            d0 = default.reshape(-1).tolist()[0]
            found = [get(k, d0) for k in flat]
        out = np.empty(len(found), array_dtype(self.value_dtype))
        out[:] = found
        return out.reshape(keys.shape)

    def _build(self, keys: np.ndarray, values: np.ndarray) -> dict[Any, Any]:
        entries: dict[Any, Any] = {}
        for k, v in zip(keys.reshape(-1).tolist(), values.reshape(-1).tolist()):
            old = entries.setdefault(k, v)
            if old != v:
                raise TableError(f"HashTable has different values for the same key: key {k!r} has {old!r} and "
                                 f"then {v!r}")
        return entries

    def _check_dtype(self, arr: np.ndarray, want: str, what: str) -> None:
        got = normalize_dtype(arr.dtype)
        if got != want:
            raise TableError(f"{what} are {got} but table {self.name!r} maps {self.key_dtype} keys to "
                             f"{self.value_dtype} values")


class TableScope:
    """The tables of one loaded model, by (container, shared name or node name)."""

    def __init__(self) -> None:
        self.tables: dict[tuple[str, str], HashTable] = {}

    def handle(self, node: Node) -> HashTable:
        """The table a HashTable(V2) node names: created empty on first use, the same object after."""
        container = str(node.attr("container", "") or "")
        shared = str(node.attr("shared_name", "") or "")
        key = (container, shared or node.name)
        key_dtype, value_dtype = node.attr("key_dtype"), node.attr("value_dtype")
        if not isinstance(key_dtype, str) or not isinstance(value_dtype, str):
            raise TableError("the node has no key_dtype / value_dtype attribute")
        table = self.tables.get(key)
        if table is None:
            table = self.tables[key] = HashTable(key[1], key_dtype, value_dtype)
        elif (table.key_dtype, table.value_dtype) != (key_dtype, value_dtype):
            raise TableError(f"conflicting key/value dtypes {key_dtype}->{value_dtype} with "
                             f"{table.key_dtype}->{table.value_dtype} for table {table.name!r}")
        return table


def run_table_op(node: Node, table: HashTable, arrays: list[np.ndarray]) -> list[np.ndarray]:
    """One fill / find / size op on `table`; `arrays` are the node's other inputs, in order."""
    op = node.op
    if op in INIT_OPS:
        _check_attr(node, "Tin", table.key_dtype, table)
        _check_attr(node, "Tout", table.value_dtype, table)
        table.insert(arrays[0], arrays[1], vectors_only=op.startswith("InitializeTable"))
        return []
    if op in FIND_OPS:
        _check_attr(node, "Tin", table.key_dtype, table)
        _check_attr(node, "Tout", table.value_dtype, table)
        return [table.find(arrays[0], arrays[1])]
    if op in SIZE_OPS:
        return [np.asarray(table.size(), np.int32)]          # TF's int64, as every int64 here
    raise TableError(f"{op} is not a table op")                # pragma: no cover - callers dispatch on TABLE_OPS


def _check_attr(node: Node, attr: str, want: str, table: HashTable) -> None:
    """The node's declared Tin / Tout against the table (TF matches the kernel signature so)."""
    got = node.attr(attr)
    if isinstance(got, str) and got != want:
        raise TableError(f"the node declares {attr}={got} but table {table.name!r} maps {table.key_dtype} keys "
                         f"to {table.value_dtype} values")
