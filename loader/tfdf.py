"""TensorFlow Decision Forests' three ops, as a converted TF.js model uses them.

  SimpleMLCreateModelResource(container, shared_name) -> model_handle: a resource naming a model slot
  SimpleMLLoadModelFromPathWithHandle(model_handle, path; file_prefix) -> (): loads the YDF model
      whose files are {file_prefix}header.pb, ... into the slot (in model.json's modelInitializer)
  SimpleMLInferenceOpWithHandle(numerical_features, boolean_features, categorical_int_features,
      categorical_set_int_features_values, _row_splits_dim_1, _row_splits_dim_2, model_handle;
      dense_output_dim) -> dense_predictions float [batch, dim], dense_col_representation string [dim]

Like the hash tables (loader/tables.py) they are resources the executor runs itself; the slot lives
in the model's ResourceScope (loader/resources.py) and the main graph gets its handle through a
DT_RESOURCE signature input bound by resourceId, the way tables are bound.

Where the model comes from: tensorflowjs_converter zips a TF-DF SavedModel's assets/ folder into
assets.zip beside model.json (tf_saved_model_conversion_v2.py's _copy_assets, member names relative
to assets/, written as './NAME'), and TF.js's tfjs-tfdf ignores the `path` input and reads that zip.
So does this runtime: the zip is read through the model's source (folder or URL) at load, and the
member named {file_prefix}header.pb, wherever it is in the zip, locates the model's files.

The inference op's conventions are those of TF-DF's kernel.cc:
  * the input features are split by type into the matrices in the order of the model's input
    features (FeatureIndex); NaN is a missing numerical or boolean value, a boolean is true when
    >= 0.5; -1 is a missing category, and a category outside [0, dictionary size) is out of
    vocabulary (0);
  * categorical sets are a two-level ragged tensor [batch, n_sets, items]: row_splits_dim_2 [batch+1]
    must be i * n_sets, row_splits_dim_1 [batch * n_sets + 1] delimit each cell's items in `values`;
    a cell whose first item is negative is missing;
  * the batch size is that of every non-empty input, and they must agree;
  * dense_predictions: class probabilities (binary classification included: [1 - p, p]), the
    regression value or the ranking score; dense_col_representation: the class names, else "".
"""
from __future__ import annotations

import io
import posixpath
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import ModelLoadError, UnsafePathError
from .graph import Node
from .ydf_model import DISCRETIZED_NUMERICAL, Features, YdfFormatError, YdfModel, read_ydf_model

FOREST_CREATE_OPS = {"SimpleMLCreateModelResource"}
FOREST_LOAD_OPS = {"SimpleMLLoadModelFromPathWithHandle"}
FOREST_INFERENCE_OPS = {"SimpleMLInferenceOpWithHandle"}
FOREST_OPS = FOREST_CREATE_OPS | FOREST_LOAD_OPS | FOREST_INFERENCE_OPS
ASSETS_FILE = "assets.zip"
MAX_ASSET_BYTES = 1 << 30           # one uncompressed member


class ForestError(ValueError):
    """A TF-DF op given data TF-DF's kernel would refuse (the executor adds the node's name)."""


@dataclass
class ForestModel:
    """The model slot a SimpleMLCreateModelResource names; the load op fills it."""

    name: str
    model: YdfModel | None = None


class AssetsZip:
    """The members of assets.zip, by normalised path ('./x' -> 'x').  Member names that are absolute
    or climb out with '..' are refused when the zip is opened, whether or not they are read."""

    def __init__(self, data: bytes, where: str) -> None:
        self.where = where
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile as exc:
            raise ModelLoadError(f"{where} is not a valid zip file ({exc})") from None
        self.members: dict[str, zipfile.ZipInfo] = {}
        for info in self.zip.infolist():
            name = info.filename
            parts = name.replace("\\", "/").split("/")
            if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                raise UnsafePathError(f"{where}: member {name!r} leaves the assets folder; refused")
            if info.is_dir():
                continue
            self.members[posixpath.normpath(name.replace("\\", "/"))] = info

    def read(self, name: str) -> bytes:
        info = self.members.get(name)
        if info is None:
            raise YdfFormatError(f"{self.where} has no member {name!r}")
        if info.file_size > MAX_ASSET_BYTES:
            raise ModelLoadError(f"{self.where}: member {name!r} is {info.file_size} bytes, over the "
                                 f"{MAX_ASSET_BYTES}-byte cap")
        try:
            return self.zip.read(info)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise ModelLoadError(f"{self.where}: member {name!r} could not be read ({exc})") from None

    def load_model(self, file_prefix: str) -> YdfModel:
        """The YDF model whose header is the member {file_prefix}header.pb, in whichever folder of the
        zip (its other files are read from the same folder)."""
        header = f"{file_prefix}header.pb"
        found = sorted(n for n in self.members if posixpath.basename(n) == header)
        if not found:
            raise YdfFormatError(f"{self.where} has no {header!r} (the YDF model of file_prefix {file_prefix!r}); "
                                 f"members: {', '.join(sorted(self.members)) or 'none'}")
        if len(found) > 1:
            raise YdfFormatError(f"{self.where} has several {header!r}: {', '.join(found)}")
        folder = posixpath.dirname(found[0])
        return read_ydf_model(lambda name: self.read(posixpath.join(folder, name) if folder else name),
                              file_prefix, f"{self.where}:{folder or '.'}")


def run_forest_op(node: Node, slot: ForestModel, arrays: list[np.ndarray],
                  assets: Callable[[], AssetsZip]) -> list[np.ndarray]:
    """The load or inference op on `slot`; `arrays` are the node's other inputs, in order."""
    if node.op in FOREST_LOAD_OPS:
        prefix = node.attr_str("file_prefix", "")
        if slot.model is None:                       # TF-DF reloads; the model is the same file here
            slot.model = assets().load_model(prefix)
        return []
    if node.op in FOREST_INFERENCE_OPS:
        if slot.model is None:
            raise ForestError(f"the decision forest {slot.name!r} was not loaded (no "
                              "SimpleMLLoadModelFromPathWithHandle ran on it before this inference)")
        dim = node.attr("dense_output_dim")
        return infer(slot.model, arrays, int(dim) if isinstance(dim, int) else None)
    raise ForestError(f"{node.op} is not a decision forest op")     # pragma: no cover - callers dispatch


def infer(model: YdfModel, arrays: list[np.ndarray], dense_output_dim: int | None) -> list[np.ndarray]:
    """TF-DF's SimpleMLInferenceOpWithHandle on its six feature inputs."""
    if len(arrays) != 6:
        raise ForestError(f"the inference op takes 6 feature inputs, got {len(arrays)}")
    reps = model.dense_col_representation()
    if dense_output_dim is not None and dense_output_dim != len(reps):
        raise ForestError(f'the "dense_output_dim"={dense_output_dim} attribute does not match the model output '
                          f"dimension={len(reps)}")
    x = features(model, *arrays)
    predictions = model.predict(x)
    names = np.empty(len(reps), object)
    names[:] = [r.encode() for r in reps]
    return [predictions.astype(np.float32), names]


def features(model: YdfModel, numerical: np.ndarray, boolean: np.ndarray, categorical: np.ndarray,
             set_values: np.ndarray, set_splits_1: np.ndarray, set_splits_2: np.ndarray) -> Features:
    """The op's inputs in the model's column space, with kernel.cc's checks and conventions."""
    mats = {"numerical_features": numerical, "boolean_features": boolean, "categorical_int_features": categorical}
    for name, m in mats.items():
        if m.ndim != 2:
            raise ForestError(f"{name} must be a matrix [batch, features], got shape {list(m.shape)}")
    for name, v in (("categorical_set_int_features_values", set_values),
                    ("categorical_set_int_features_row_splits_dim_1", set_splits_1),
                    ("categorical_set_int_features_row_splits_dim_2", set_splits_2)):
        if v.ndim != 1:
            raise ForestError(f"{name} must be a vector, got shape {list(v.shape)}")
    sizes = [("numerical_features", numerical.shape[0]), ("boolean_features", boolean.shape[0]),
             ("categorical_int_features", categorical.shape[0]),
             ("categorical_set_int_features_row_splits_dim_2", set_splits_2.shape[0] - 1)]
    batch = 0
    for name, size in sizes:
        if size > 0:
            if batch and size != batch:
                raise ForestError("the batch size of the input features are inconsistent: " +
                                  ", ".join(f"{n} has {s}" for n, s in sizes if s > 0))
            batch = size
    groups = {"numerical_features": model.feature_columns("numerical"),
              "boolean_features": model.feature_columns("boolean"),
              "categorical_int_features": model.feature_columns("categorical")}
    for name, cols in groups.items():
        if mats[name].shape[1] != len(cols):
            raise ForestError(f"unexpected dimension of {name}: {mats[name].shape[1]} columns, the model has "
                              f"{len(cols)} such features ({', '.join(model.columns[c].name for c in cols) or 'none'})")
    ncols = len(model.columns)
    num = np.full((batch, ncols), np.nan, np.float32)
    cat = np.full((batch, ncols), -1, np.int32)
    disc = np.zeros((batch, ncols), np.int32)
    for j, c in enumerate(groups["numerical_features"]):
        num[:, c] = numerical[:, j]
        col = model.columns[c]
        if col.type == DISCRETIZED_NUMERICAL:   # YDF's NumericalToDiscretizedNumerical: upper_bound
            disc[:, c] = np.searchsorted(col.boundaries, num[:, c], side="right")
    for j, c in enumerate(groups["boolean_features"]):
        v = boolean[:, j].astype(np.float32)
        num[:, c] = np.where(np.isnan(v), np.nan, (v >= 0.5).astype(np.float32))
    for j, c in enumerate(groups["categorical_int_features"]):
        v = categorical[:, j].astype(np.int64)
        cat[:, c] = np.where(v == -1, -1, np.where((v < -1) | (v >= model.columns[c].num_unique), 0, v))
    sets = _categorical_sets(model, set_values, set_splits_1, set_splits_2, batch)
    return Features(batch, num, cat, disc, sets)


def _categorical_sets(model: YdfModel, values: np.ndarray, splits_1: np.ndarray, splits_2: np.ndarray,
                      batch: int) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    cols = model.feature_columns("categorical_set")
    if not cols:
        return {}
    n = len(cols)
    if splits_2.shape[0] != batch + 1 or np.any(splits_2.astype(np.int64) != np.arange(batch + 1) * n):
        raise ForestError(f"unexpected categorical_set_int_features_row_splits_dim_2: expected "
                          f"{[i * n for i in range(min(batch + 1, 4))]}... ({batch + 1} entries, {n} set features)")
    s1 = splits_1.astype(np.int64)
    if s1.shape[0] != batch * n + 1 or (s1.size and (s1[0] != 0 or np.any(np.diff(s1) < 0) or s1[-1] > values.size)):
        raise ForestError(f"unexpected categorical_set_int_features_row_splits_dim_1: {s1.shape[0]} non-decreasing "
                          f"offsets into {values.size} values expected {batch * n + 1}")
    out = {}
    v = values.astype(np.int64)
    for j, c in enumerate(cols):
        cell = np.arange(batch) * n + j
        starts, ends = s1[cell], s1[cell + 1]
        size = model.columns[c].num_unique
        items = np.where((v < -1) | (v >= size), 0, v).astype(np.int32)
        nonempty = ends > starts
        first = np.zeros(batch, np.int64)
        first[nonempty] = items[starts[nonempty]]
        missing = nonempty & (first < 0)              # kernel.cc: a set whose first item is -1 is missing
        # one compact (values, row_splits) per feature, as the evaluator reads them
        idx = (np.concatenate([np.arange(s, e) for s, e in zip(starts, ends)]) if batch else np.zeros(0)).astype(np.int64)
        own = np.concatenate([[0], np.cumsum(ends - starts)]).astype(np.int64)
        out[c] = (items[idx], own, missing)
    return out

