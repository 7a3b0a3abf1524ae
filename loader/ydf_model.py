"""Yggdrasil Decision Forests (YDF) models: reading a model directory and running its trees with numpy.

TensorFlow Decision Forests (TF-DF) keeps its trained model as a YDF model directory among the
SavedModel's assets; tensorflowjs_converter zips those into assets.zip (loader/tfdf.py runs the ops
that load and apply it).  This module knows nothing of graphs: it turns the files of one model into
flat per-tree arrays and evaluates them for a batch.

Files (YDF's model/abstract_model.cc and the model classes), each `{file_prefix}NAME`:
  header.pb          AbstractModel: model type name, task, label column, input features
  data_spec.pb       DataSpecification: every column's type, dictionary, boundaries
  gradient_boosted_trees_header.pb / random_forest_header.pb: loss, initial predictions, tree count,
                     the node shard count and container format
  nodes-0000i-of-0000n  the trees' nodes, one serialized decision_tree.proto.Node per record, each
                     tree depth-first with the negative child (condition false) before the positive one
Node containers: "BLOB_SEQUENCE" (what YDF 0.16 writes: 'BS' header, uint32 length + bytes per
record; version 1 may gzip everything after the 8-byte header), "BLOB_SEQUENCE_GZIP" (the same,
compression declared by the header), and "TFE_RECORDIO" (TFRecord, what older TF-DF models hold;
the proto2 default of node_format).  Field numbers are those of YDF's .proto files (checked against
the descriptors shipped in the ydf 0.16.1 wheel).

Condition semantics follow YDF's EvalCondition (model/decision_tree/decision_tree.cc): a missing
input takes the node's na_value, except the NA condition (true exactly when missing); higher is
`value >= threshold`; contains / contains_bitmap test the category (for a categorical set: any
item); true_value the boolean; discretized_higher the bin index (upper_bound over the column's
boundaries) against the threshold; oblique `sum(w_i * x_i) >= threshold`, a missing x_i replaced by
its na_replacement, or, without replacements, the node's na_value.

Predictions follow the model classes' Predict: gradient boosted trees sum the leaves' values per
output (tree i feeds output i % num_trees_per_iter) on top of the initial predictions, then apply the
loss's link (sigmoid for the binomial and focal losses, softmax for the multinomial one, exp for
Poisson, none for squared / absolute error and ranking); random forests average the leaves' votes
(winner_take_all_inference) or normalised class distributions, or the regression values.  CART
models are random forests of one tree.  Anything else is refused at load by name.

Inference is vectorised over the batch: each tree walks every example one level at a time with
index arrays, evaluating all the nodes of one condition type together.
"""
from __future__ import annotations

import gzip
import io
import struct
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .errors import ModelFormatError, UnsupportedModelError
from .protowire import Message, ProtoError


class YdfFormatError(ModelFormatError):
    """A YDF model file that is missing, truncated or inconsistent (the message names the file)."""


class YdfUnsupportedError(UnsupportedModelError):
    """A valid YDF model using something this runtime does not implement (named in the message)."""


# dataset/data_spec.proto ColumnType
NUMERICAL, CATEGORICAL, CATEGORICAL_SET, BOOLEAN, DISCRETIZED_NUMERICAL = 1, 4, 5, 7, 9
COLUMN_TYPE_NAMES = {0: "UNKNOWN", 1: "NUMERICAL", 2: "NUMERICAL_SET", 3: "NUMERICAL_LIST", 4: "CATEGORICAL",
                     5: "CATEGORICAL_SET", 6: "CATEGORICAL_LIST", 7: "BOOLEAN", 8: "STRING",
                     9: "DISCRETIZED_NUMERICAL", 10: "HASH", 11: "NUMERICAL_VECTOR_SEQUENCE"}
# model/abstract_model.proto Task
CLASSIFICATION, REGRESSION, RANKING = 1, 2, 3
TASK_NAMES = {0: "UNDEFINED", 1: "CLASSIFICATION", 2: "REGRESSION", 3: "RANKING", 4: "CATEGORICAL_UPLIFT",
              5: "NUMERICAL_UPLIFT", 6: "ANOMALY_DETECTION", 7: "SURVIVAL_ANALYSIS"}
# model/gradient_boosted_trees/gradient_boosted_trees.proto Loss
LOSS_NAMES = {0: "DEFAULT", 1: "BINOMIAL_LOG_LIKELIHOOD", 2: "SQUARED_ERROR", 3: "MULTINOMIAL_LOG_LIKELIHOOD",
              4: "LAMBDA_MART_NDCG5", 5: "XE_NDCG_MART", 6: "BINARY_FOCAL_LOSS", 7: "POISSON",
              8: "MEAN_AVERAGE_ERROR", 9: "LAMBDA_MART_NDCG", 10: "COX_PROPORTIONAL_HAZARD"}
SIGMOID_LOSSES = {1, 6}
IDENTITY_LOSSES = {2, 8, 4, 5, 9}
POISSON_CLAMP = 19.0                                # GradientBoostedTreesModel::kPoissonLossClampBounds

# node kinds of the flat trees (Condition's oneof field number, 0 for a leaf)
LEAF, NA, HIGHER, TRUE_VALUE, CONTAINS, CONTAINS_BITMAP, DISCRETIZED_HIGHER, OBLIQUE = 0, 1, 2, 3, 4, 5, 6, 7
CONDITION_NAMES = {1: "na_condition", 2: "higher_condition", 3: "true_value_condition", 4: "contains_condition",
                   5: "contains_bitmap_condition", 6: "discretized_higher_condition", 7: "oblique_condition",
                   8: "numerical_vector_sequence"}
SUPPORTED_MODELS = ("GRADIENT_BOOSTED_TREES", "RANDOM_FOREST")


@dataclass
class Column:
    """One data_spec column: what inference needs of it."""

    name: str
    type: int
    num_unique: int = 0                             # categorical: dictionary size, OOV (index 0) included
    vocab: dict[int, str] = field(default_factory=dict)   # index -> item (empty when integerized)
    integerized: bool = False
    boundaries: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))   # discretized numerical

    @property
    def type_name(self) -> str:
        return COLUMN_TYPE_NAMES.get(self.type, str(self.type))

    def item(self, index: int) -> str:
        """The representation of a category (YDF's CategoricalIdxToRepresentation)."""
        return str(index) if self.integerized else self.vocab.get(index, str(index))


@dataclass
class Tree:
    """One tree as flat arrays, nodes in file (depth-first) order, node 0 the root."""

    kind: np.ndarray          # int8 [n]: LEAF or a condition kind
    attribute: np.ndarray     # int32 [n]: data_spec column the condition reads
    threshold: np.ndarray     # float32 [n]: higher / oblique threshold; discretized_higher's bin index
    na_value: np.ndarray      # bool [n]
    neg: np.ndarray           # int32 [n]: child when the condition is false (-1 for leaves)
    pos: np.ndarray           # int32 [n]: child when it is true
    value: np.ndarray         # float32 [n, k]: what a leaf adds to the accumulator
    mask_id: np.ndarray       # int32 [n]: row of `masks` for contains conditions, else -1
    masks: np.ndarray         # bool [m, width]: the categories each contains condition accepts
    oblique: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray | None]]  # node -> attributes, weights, NA replacements

    @property
    def num_nodes(self) -> int:
        return int(self.kind.size)


@dataclass
class Features:
    """A batch in the model's column space, after the TF-DF op's input conventions were applied."""

    batch: int
    num: np.ndarray                 # float32 [batch, ncols]: numerical and discretized values, booleans as 0/1; NaN missing
    cat: np.ndarray                 # int32 [batch, ncols]: categories, -1 missing
    disc: np.ndarray                # int32 [batch, ncols]: discretized bin index (valid where num is not NaN)
    sets: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)
    #                                 column -> (values int32, row_splits int64 [batch+1], missing bool [batch])


@dataclass
class YdfModel:
    """A loaded YDF decision forest."""

    model_type: str
    task: int
    label_col: int
    input_features: list[int]
    columns: list[Column]
    trees: list[Tree]
    outputs_probabilities: bool = True
    loss: int = 0                         # gradient boosted trees
    initial_predictions: np.ndarray = field(default_factory=lambda: np.zeros(1, np.float32))
    trees_per_iter: int = 1
    output_logits: bool = False
    winner_take_all: bool = True          # random forests
    condition_counts: Counter = field(default_factory=Counter)   # condition type name -> nodes, as read

    # -- what the TF-DF inference op reads ---------------------------------------------------
    def feature_columns(self, column_type: str) -> list[int]:
        """The data_spec columns the op's input matrix `column_type` ('numerical', 'boolean',
        'categorical', 'categorical_set') holds, column j of the matrix being entry j.  As TF-DF's
        FeatureIndex: the model's input features in header order, split by their type."""
        want = {"numerical": (NUMERICAL, DISCRETIZED_NUMERICAL), "boolean": (BOOLEAN,),
                "categorical": (CATEGORICAL,), "categorical_set": (CATEGORICAL_SET,)}[column_type]
        return [c for c in self.input_features if self.columns[c].type in want]

    @property
    def num_classes(self) -> int:
        return self.columns[self.label_col].num_unique - 1

    def output_dim(self) -> int:
        """dense_output_dim the op must declare (TF-DF's _get_dense_output_dim)."""
        if self.task == CLASSIFICATION:
            return 1 if self.num_classes == 2 and not self.outputs_probabilities else self.num_classes
        return 1

    def dense_col_representation(self) -> list[str]:
        """The op's second output: class names for classification, else one empty string (TF-DF's
        ComputeDenseColRepresentation)."""
        if self.task != CLASSIFICATION:
            return [""]
        if self.num_classes == 2 and not self.outputs_probabilities:
            return ["logit"]
        label = self.columns[self.label_col]
        return [label.item(i + 1) for i in range(self.num_classes)]

    @property
    def feature_names(self) -> list[str]:
        return [self.columns[c].name for c in self.input_features]

    # -- inference ----------------------------------------------------------------------------
    def leaves(self, x: Features) -> list[np.ndarray]:
        """The leaf each example reaches in each tree."""
        return [_walk(tree, x, self.columns) for tree in self.trees]

    def predict(self, x: Features) -> np.ndarray:
        """float32 [batch, output_dim()], as TF-DF's inference op returns dense_predictions."""
        if self.model_type == "GRADIENT_BOOSTED_TREES":
            return self._predict_gbt(x)
        return self._predict_rf(x)

    def _predict_gbt(self, x: Features) -> np.ndarray:
        k = self.trees_per_iter
        acc = np.tile(self.initial_predictions.astype(np.float64), (x.batch, 1))
        for i, tree in enumerate(self.trees):
            acc[:, i % k] += tree.value[_walk(tree, x, self.columns), 0]
        if self.task == CLASSIFICATION:
            if self.loss in SIGMOID_LOSSES:
                if not self.outputs_probabilities or self.output_logits:
                    return acc.astype(np.float32)
                p = np.clip((1.0 / (1.0 + np.exp(-acc[:, 0]))).astype(np.float32), 0, 1)
                return np.stack([1 - p, p], axis=1).astype(np.float32)
            if not self.outputs_probabilities or self.output_logits:
                return acc.astype(np.float32)
            e = np.exp(acc.astype(np.float32))
            total = e.sum(axis=1, keepdims=True)
            return np.where(total > 0, e / np.where(total > 0, total, 1), 0).astype(np.float32)
        if self.loss == 7:
            return np.exp(np.clip(acc.astype(np.float32), -POISSON_CLAMP, POISSON_CLAMP)).astype(np.float32)
        return acc.astype(np.float32)

    def _predict_rf(self, x: Features) -> np.ndarray:
        width = self.trees[0].value.shape[1] if self.trees else self.output_dim()
        acc = np.zeros((x.batch, width), np.float64)
        for tree in self.trees:
            acc += tree.value[_walk(tree, x, self.columns)]
        acc /= max(len(self.trees), 1)
        out = acc.astype(np.float32)
        if self.task == CLASSIFICATION:
            out = np.clip(out, 0, 1)
            if self.num_classes == 2 and self.outputs_probabilities:
                out = np.stack([1 - out[:, 1], out[:, 1]], axis=1)  # TF-DF expands the positive class's probability
        return out


# -- tree walking ------------------------------------------------------------------------------

def _walk(tree: Tree, x: Features, columns: list[Column]) -> np.ndarray:
    """Leaf index per example: every example steps down one level per iteration."""
    node = np.zeros(x.batch, np.int32)
    active = np.arange(x.batch)
    while active.size:
        nd = node[active]
        kinds = tree.kind[nd]
        internal = kinds != LEAF
        active, nd, kinds = active[internal], nd[internal], kinds[internal]
        if not active.size:
            break
        go = np.zeros(active.size, bool)
        for k in np.unique(kinds):
            sel = kinds == k
            go[sel] = _evaluate(int(k), tree, x, columns, active[sel], nd[sel])
        node[active] = np.where(go, tree.pos[nd], tree.neg[nd])
    return node


def _missing(x: Features, columns: list[Column], ex: np.ndarray, attr: np.ndarray) -> np.ndarray:
    out = np.zeros(ex.size, bool)
    for c in np.unique(attr):
        sel = attr == c
        t = columns[c].type
        if t == CATEGORICAL:
            out[sel] = x.cat[ex[sel], c] < 0
        elif t == CATEGORICAL_SET:
            out[sel] = x.sets[int(c)][2][ex[sel]] if int(c) in x.sets else True
        else:
            out[sel] = np.isnan(x.num[ex[sel], c])
    return out


def _evaluate(kind: int, tree: Tree, x: Features, columns: list[Column], ex: np.ndarray,
              nd: np.ndarray) -> np.ndarray:
    """Whether each (example, node) pair goes to the positive child; all nodes share `kind`."""
    attr = tree.attribute[nd]
    if kind == OBLIQUE:
        return _evaluate_oblique(tree, x, ex, nd)
    missing = _missing(x, columns, ex, attr)
    if kind == NA:
        return missing
    if kind == HIGHER:
        with np.errstate(invalid="ignore"):
            res = x.num[ex, attr] >= tree.threshold[nd]
    elif kind == TRUE_VALUE:
        with np.errstate(invalid="ignore"):
            res = x.num[ex, attr] >= 0.5
    elif kind == DISCRETIZED_HIGHER:
        res = x.disc[ex, attr] >= tree.threshold[nd]
    else:                                   # CONTAINS, CONTAINS_BITMAP: both are masks by now
        res = _contains(tree, x, columns, ex, nd, attr, missing)
    return np.where(missing, tree.na_value[nd], res)


def _contains(tree: Tree, x: Features, columns: list[Column], ex: np.ndarray, nd: np.ndarray,
              attr: np.ndarray, missing: np.ndarray) -> np.ndarray:
    width = tree.masks.shape[1]
    res = np.zeros(ex.size, bool)
    mask_rows = tree.mask_id[nd]
    is_set = np.array([columns[c].type == CATEGORICAL_SET for c in attr], bool)
    single = ~is_set & ~missing
    if single.any():
        v = x.cat[ex[single], attr[single]]
        ok = v < width
        hit = np.zeros(v.size, bool)
        hit[ok] = tree.masks[mask_rows[single][ok], v[ok]]
        res[single] = hit
    multi = np.flatnonzero(is_set & ~missing)
    for c in np.unique(attr[multi]):
        rows = multi[attr[multi] == c]
        values, splits, _ = x.sets[int(c)]
        starts, ends = splits[ex[rows]], splits[ex[rows] + 1]
        lengths = (ends - starts).astype(np.int64)
        if not lengths.sum():
            continue
        owner = np.repeat(np.arange(rows.size), lengths)
        flat = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends)]).astype(np.int64)
        items = values[flat]
        ok = (items >= 0) & (items < width)
        hit = np.zeros(items.size, bool)
        hit[ok] = tree.masks[mask_rows[rows][owner[ok]], items[ok]]
        found = np.zeros(rows.size, bool)
        np.logical_or.at(found, owner, hit)
        res[rows] = found
    return res


def _evaluate_oblique(tree: Tree, x: Features, ex: np.ndarray, nd: np.ndarray) -> np.ndarray:
    res = np.zeros(ex.size, bool)
    for n in np.unique(nd):
        sel = nd == n
        attrs, weights, repl = tree.oblique[int(n)]
        vals = x.num[ex[sel]][:, attrs]
        miss = np.isnan(vals)
        if repl is not None:
            vals = np.where(miss, repl[None, :], vals)
            any_missing = np.zeros(vals.shape[0], bool)
        else:
            any_missing = miss.any(axis=1)
            vals = np.where(miss, 0, vals)
        total = np.zeros(vals.shape[0], np.float32)
        for j in range(attrs.size):                    # YDF sums in float32, attribute by attribute
            total = (total + vals[:, j].astype(np.float32) * weights[j]).astype(np.float32)
        out = total >= np.float32(tree.threshold[n])
        res[sel] = np.where(any_missing, tree.na_value[n], out)
    return res


# -- reading -----------------------------------------------------------------------------------

FileReader = Callable[[str], bytes]


def read_ydf_model(read: FileReader, prefix: str = "", where: str = "YDF model") -> YdfModel:
    """Load a YDF model from its files; `read(name)` returns the bytes of `{prefix}name`'s file (or
    raises YdfFormatError naming it).  Unsupported model types, tasks, losses, feature types and
    conditions are refused here, at load."""
    def msg(name: str) -> Message:
        try:
            return Message(read(prefix + name), f"{where}: {prefix}{name}")
        except ProtoError as exc:
            raise YdfFormatError(f"{exc} (not a valid {name})") from None

    header = msg("header.pb")
    model_type = header.string(1)
    if model_type not in SUPPORTED_MODELS:
        raise YdfUnsupportedError(f"{where}: model type {model_type or '(none)'!r} is not supported "
                                  f"(supported: {', '.join(SUPPORTED_MODELS)}; CART models are RANDOM_FOREST)")
    task = header.int(2)
    if task not in (CLASSIFICATION, REGRESSION, RANKING):
        raise YdfUnsupportedError(f"{where}: task {TASK_NAMES.get(task, task)} is not supported "
                                  "(supported: CLASSIFICATION, REGRESSION, RANKING)")
    label_col = header.int(3)
    input_features = header.ints(5)
    columns = [_column(c) for c in msg("data_spec.pb").messages(1)]
    for c in [label_col, *input_features]:
        if not 0 <= c < len(columns):
            raise YdfFormatError(f"{where}: header.pb names column {c}, but data_spec.pb has {len(columns)} columns")
    for c in input_features:
        if columns[c].type not in (NUMERICAL, DISCRETIZED_NUMERICAL, BOOLEAN, CATEGORICAL, CATEGORICAL_SET):
            raise YdfUnsupportedError(f"{where}: input feature {columns[c].name!r} has type {columns[c].type_name}, "
                                      "which TF-DF's inference op does not take")
    if task == CLASSIFICATION and (columns[label_col].type != CATEGORICAL or columns[label_col].num_unique < 3):
        raise YdfFormatError(f"{where}: the classification label {columns[label_col].name!r} is not a categorical "
                             "column with at least two classes")
    model = YdfModel(model_type, task, label_col, input_features, columns, [],
                     outputs_probabilities=header.bool(8, True))
    if model_type == "GRADIENT_BOOSTED_TREES":
        spec = msg("gradient_boosted_trees_header.pb")
        model.loss = spec.int(3)
        if model.loss not in SIGMOID_LOSSES | IDENTITY_LOSSES | {3, 7}:
            raise YdfUnsupportedError(f"{where}: gradient boosted trees loss {LOSS_NAMES.get(model.loss, model.loss)} "
                                      "is not supported")
        model.initial_predictions = np.asarray(spec.floats(4), np.float32)
        model.trees_per_iter = spec.int(5, 1)
        model.output_logits = spec.bool(9)
        if model.trees_per_iter < 1 or model.initial_predictions.size != model.trees_per_iter:
            raise YdfFormatError(f"{where}: gradient_boosted_trees_header.pb has {model.initial_predictions.size} "
                                 f"initial predictions for {model.trees_per_iter} trees per iteration")
        if task == CLASSIFICATION and model.loss == 3 and model.trees_per_iter != model.num_classes:
            raise YdfFormatError(f"{where}: {model.trees_per_iter} trees per iteration for {model.num_classes} classes")
        leaf = "gbt"
    else:
        spec = msg("random_forest_header.pb")
        model.winner_take_all = spec.bool(3, True)
        leaf = "rf"
    num_shards, num_trees, node_format = spec.int(1), spec.int(2), spec.string(7, "TFE_RECORDIO")
    if num_trees < 0 or num_shards < 1 and num_trees > 0:
        raise YdfFormatError(f"{where}: the model header declares {num_trees} trees in {num_shards} node shards")
    records = _node_records(read, prefix, num_shards, node_format, where)
    reader = _TreeReader(records, model, leaf, where)
    model.trees = [reader.tree(i) for i in range(num_trees)]
    if reader.left():
        raise YdfFormatError(f"{where}: the node shards hold more nodes than the {num_trees} trees the header declares")
    if model_type == "GRADIENT_BOOSTED_TREES" and num_trees % model.trees_per_iter:
        raise YdfFormatError(f"{where}: {num_trees} trees is not a multiple of {model.trees_per_iter} trees per iteration")
    return model


def _column(m: Message) -> Column:
    col = Column(m.string(2), m.int(1))
    cat = m.message(6)
    if cat is not None:
        col.num_unique = cat.int(2)
        col.integerized = cat.bool(5)
        for item in cat.messages(7):
            vocab_value = item.message(2)
            col.vocab[vocab_value.int(1) if vocab_value is not None else 0] = item.string(1)
    disc = m.message(8)
    if disc is not None:
        col.boundaries = np.asarray(disc.floats(1), np.float32)
    return col


def _node_records(read: FileReader, prefix: str, num_shards: int, node_format: str, where: str) -> list[bytes]:
    records: list[bytes] = []
    for i in range(num_shards):
        name = f"nodes-{i:05d}-of-{num_shards:05d}"
        data = read(prefix + name)
        what = f"{where}: {prefix}{name}"
        if node_format in ("BLOB_SEQUENCE", "BLOB_SEQUENCE_GZIP"):
            records += _blob_sequence(data, what)
        elif node_format == "TFE_RECORDIO":
            records += _tfrecord(data, what)
        else:
            raise YdfUnsupportedError(f"{what}: node container format {node_format!r} is not supported "
                                      "(supported: BLOB_SEQUENCE, BLOB_SEQUENCE_GZIP, TFE_RECORDIO)")
    return records


def _blob_sequence(data: bytes, what: str) -> list[bytes]:
    """YDF's blob sequence: 'BS', uint16 version, uint8 compression (version >= 1; 1 = gzip), 3
    reserved bytes, then uint32 length + bytes per record, all little-endian."""
    if len(data) < 8 or data[:2] != b"BS":
        raise YdfFormatError(f"{what}: not a blob sequence (no 'BS' header)")
    version, compression = struct.unpack_from("<HB", data, 2)
    if version > 1:
        raise YdfUnsupportedError(f"{what}: blob sequence version {version} is newer than this reader (1)")
    body = data[8:]
    if version >= 1 and compression == 1:
        try:
            body = gzip.GzipFile(fileobj=io.BytesIO(body)).read()
        except (OSError, EOFError) as exc:
            raise YdfFormatError(f"{what}: the gzip-compressed blob sequence is corrupt ({exc})") from None
    elif version >= 1 and compression != 0:
        raise YdfUnsupportedError(f"{what}: blob sequence compression {compression} is not supported")
    out, pos = [], 0
    while pos < len(body):
        if pos + 4 > len(body):
            raise YdfFormatError(f"{what}: truncated record header at byte {pos}")
        (length,) = struct.unpack_from("<I", body, pos)
        pos += 4
        if pos + length > len(body):
            raise YdfFormatError(f"{what}: a record of {length} bytes is truncated")
        out.append(body[pos:pos + length])
        pos += length
    return out


def _tfrecord(data: bytes, what: str) -> list[bytes]:
    """TFRecord: uint64 length, uint32 length CRC, data, uint32 data CRC per record (CRCs not checked:
    the protobuf decoder catches damaged records)."""
    out, pos = [], 0
    while pos < len(data):
        if pos + 12 > len(data):
            raise YdfFormatError(f"{what}: truncated TFRecord header at byte {pos}")
        (length,) = struct.unpack_from("<Q", data, pos)
        pos += 12
        if pos + length + 4 > len(data):
            raise YdfFormatError(f"{what}: a TFRecord of {length} bytes is truncated")
        out.append(data[pos:pos + length])
        pos += length + 4
    return out


class _TreeReader:
    """Rebuilds trees from the node records: depth-first, negative child first (YDF's ReadNodes)."""

    def __init__(self, records: list[bytes], model: YdfModel, leaf: str, where: str) -> None:
        self.records, self.pos, self.model, self.leaf, self.where = records, 0, model, leaf, where
        self.columns = model.columns

    def left(self) -> int:
        return len(self.records) - self.pos

    def tree(self, index: int) -> Tree:
        kind: list[int] = []
        attribute: list[int] = []
        threshold: list[float] = []
        na_value: list[bool] = []
        neg: list[int] = []
        pos: list[int] = []
        values: list[np.ndarray] = []
        mask_id: list[int] = []
        masks: list[np.ndarray] = []
        oblique: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray | None]] = {}
        stack = [(-1, 0)]
        while stack:
            parent, slot = stack.pop()
            if self.pos >= len(self.records):
                raise YdfFormatError(f"{self.where}: the node shards end inside tree {index} (the header declares more)")
            node = Message(self.records[self.pos], f"{self.where}: tree {index} node {len(kind)}")
            self.pos += 1
            idx = len(kind)
            if parent >= 0:
                (neg if slot == 0 else pos)[parent] = idx
            neg.append(-1)
            pos.append(-1)
            cond = node.message(3)
            if cond is None:
                kind.append(LEAF)
                attribute.append(0)
                threshold.append(0.0)
                na_value.append(False)
                mask_id.append(-1)
                values.append(self._leaf_value(node, index, idx))
                continue
            values.append(np.zeros(self._width(), np.float32))
            k, thr, mask, obl = self._condition(cond, index, idx)
            kind.append(k)
            attribute.append(cond.int(2))
            threshold.append(thr)
            na_value.append(cond.bool(1))
            if mask is not None:
                mask_id.append(len(masks))
                masks.append(mask)
            else:
                mask_id.append(-1)
            if obl is not None:
                oblique[idx] = obl
            stack.append((idx, 1))
            stack.append((idx, 0))                  # popped first: the negative subtree comes next in the file
        width = max([m.size for m in masks], default=1)
        mask_arr = np.zeros((max(len(masks), 1), width), bool)
        for i, m in enumerate(masks):
            mask_arr[i, :m.size] = m
        return Tree(np.asarray(kind, np.int8), np.asarray(attribute, np.int32), np.asarray(threshold, np.float32),
                    np.asarray(na_value, bool), np.asarray(neg, np.int32), np.asarray(pos, np.int32),
                    np.stack(values).astype(np.float32), np.asarray(mask_id, np.int32), mask_arr, oblique)

    def _width(self) -> int:
        m = self.model
        return m.num_classes if self.leaf == "rf" and m.task == CLASSIFICATION else 1

    def _leaf_value(self, node: Message, tree: int, idx: int) -> np.ndarray:
        m = self.model
        where = f"{self.where}: tree {tree} leaf {idx}"
        if self.leaf == "rf" and m.task == CLASSIFICATION:
            out = node.message(1)
            if out is None:
                raise YdfFormatError(f"{where} has no classifier output")
            value = np.zeros(m.num_classes, np.float32)
            if m.winner_take_all:
                top = out.int(1)
                if not 1 <= top <= m.num_classes:
                    raise YdfFormatError(f"{where} votes for class {top} of {m.num_classes}")
                value[top - 1] = 1
                return value
            dist = out.message(2)
            counts = np.asarray(dist.doubles(1) if dist is not None else [], np.float64)
            total = dist.double(2) if dist is not None else 0.0
            if counts.size != m.num_classes + 1 or total <= 0:
                raise YdfFormatError(f"{where} has no class distribution (winner_take_all_inference is false)")
            return (counts[1:] / total).astype(np.float32)
        out = node.message(2)
        if out is None:
            raise YdfFormatError(f"{where} has no regressor output")
        return np.asarray([out.float(1)], np.float32)

    def _condition(self, cond: Message, tree: int, idx: int
                   ) -> tuple[int, float, np.ndarray | None, tuple[np.ndarray, np.ndarray, np.ndarray | None] | None]:
        where = f"{self.where}: tree {tree} node {idx}"
        attr = cond.int(2)
        if not 0 <= attr < len(self.columns):
            raise YdfFormatError(f"{where} tests column {attr}, outside the data spec's {len(self.columns)} columns")
        body = cond.message(3)
        if body is None or not body.fields:
            raise YdfFormatError(f"{where} has a condition without a type")
        (number,) = list(body.fields)[-1:]
        c = body.message(number)
        assert c is not None
        col = self.columns[attr]
        self.model.condition_counts[CONDITION_NAMES.get(number, f"#{number}")] += 1
        if number == NA:
            return NA, 0.0, None, None
        if number == HIGHER:
            return HIGHER, c.float(1), None, None
        if number == TRUE_VALUE:
            return TRUE_VALUE, 0.0, None, None
        if number == DISCRETIZED_HIGHER:
            return DISCRETIZED_HIGHER, float(c.int(1)), None, None
        if number in (CONTAINS, CONTAINS_BITMAP):
            if col.type not in (CATEGORICAL, CATEGORICAL_SET):
                raise YdfFormatError(f"{where}: {CONDITION_NAMES[number]} on {col.type_name} column {col.name!r}")
            mask = np.zeros(max(col.num_unique, 1), bool)
            if number == CONTAINS:
                elements = np.asarray(c.ints(1), np.int64)
                mask[elements[(elements >= 0) & (elements < mask.size)]] = True
            else:
                bits = np.unpackbits(np.frombuffer(c.bytes(1), np.uint8), bitorder="little").astype(bool)
                n = min(bits.size, mask.size)
                mask[:n] = bits[:n]
            return CONTAINS, 0.0, mask, None
        if number == OBLIQUE:
            attrs = np.asarray(c.ints(1), np.int64)
            weights = np.asarray(c.floats(2), np.float32)
            repl = np.asarray(c.floats(4), np.float32)
            if attrs.size != weights.size or (repl.size and repl.size != attrs.size):
                raise YdfFormatError(f"{where}: oblique condition with {attrs.size} attributes, {weights.size} weights "
                                     f"and {repl.size} NA replacements")
            if attrs.size and (attrs.min() < 0 or attrs.max() >= len(self.columns)):
                raise YdfFormatError(f"{where}: oblique condition on a column outside the data spec")
            return OBLIQUE, c.float(3), None, (attrs, weights, repl if repl.size else None)
        raise YdfUnsupportedError(f"{where}: condition {CONDITION_NAMES.get(number, f'#{number}')} is not supported "
                                  "(supported: " + ", ".join(CONDITION_NAMES[k] for k in range(1, 8)) + ")")
