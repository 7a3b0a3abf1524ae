"""Walking a Keras model config (Keras 2 / tf_keras, Keras 3, TF.js `model.save()`) and lowering each
layer call into TF ops.

The three writers differ in how a call's inputs are recorded:
  * Keras 2 and TF.js: `inbound_nodes` is a list of calls, each a list of [layer, node_index,
    tensor_index, kwargs]; kwargs may hold tensors as [layer, node_index, tensor_index];
  * Keras 3: each call is {"args": [...], "kwargs": {...}} with tensors as
    {"class_name": "__keras_tensor__", "config": {"keras_history": [layer, node_index, tensor_index]}}.
Keras 2 counts, in a nested model's node indices, the node the model got when it was built on its
own Input (so its first call in the outer model is node 1); Keras 3 and TF.js-built nested models
without such a node start at 0.  Nested models (Sequential or functional used as a layer) are lowered
inline, their weights looked up under the nested model's name.

Every problem found (unknown layer classes, unsupported config values, missing weights) is collected
for the whole model and raised once, naming each layer.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ModelFormatError, UnsupportedOpError, WeightsError
from .builder import GraphBuilder, KTensor
from .registry import LAYERS, LayerCall, LayerConfigError, NeedsKnownShape, WeightLookup

MODEL_CLASSES = {"Sequential", "Functional", "Model"}
INPUT_CLASSES = {"InputLayer"}


@dataclass
class LayerRecord:
    """One row of the summary: a layer of the outermost model (a nested model is one row)."""

    name: str
    class_name: str
    scopes: list[str] = field(default_factory=list)               # node-name prefixes of its calls
    output_shapes: list[tuple[int | None, ...]] = field(default_factory=list)
    connected_to: list[str] = field(default_factory=list)
    params: int = 0
    non_trainable_params: int = 0
    weight_names: list[str] = field(default_factory=list)


@dataclass
class _Failed:
    """The outputs of a layer that could not be lowered: later layers are still lowered on stand-ins
    (the shapes Keras 3 recorded, else the failed layer's input shape), so every problem of the model
    is reported at once."""

    shape: tuple[int | None, ...]
    dtype: str = "float32"


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, what: str) -> None:
        self.items.append(f"{where}: {what}")


def _as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def _norm_refs(refs: Any, path: str) -> list[list[Any]]:
    """input_layers / output_layers: [[name, node, tensor], ...]; Keras 3 writes a single one flat."""
    if not isinstance(refs, list):
        raise ModelFormatError(f"model.json: '{path}' must be a list")
    if len(refs) == 3 and isinstance(refs[0], str) and isinstance(refs[1], int):
        refs = [refs]

    def flat(items: list[Any]) -> list[Any]:      # Keras nests the states of stacked RNN cells
        res: list[Any] = []
        for r in items:
            if isinstance(r, list) and r and all(isinstance(x, list) for x in r):
                res += flat(r)
            else:
                res.append(r)
        return res
    refs = flat(refs)
    out = []
    for i, r in enumerate(refs):
        if not (isinstance(r, list) and len(r) >= 3 and isinstance(r[0], str) and isinstance(r[1], int)
                and isinstance(r[2], int)):
            raise ModelFormatError(f"model.json: '{path}[{i}]' must be [layer_name, node_index, tensor_index], got {r!r}")
        out.append(r[:3])
    return out


def layer_dtype(config: dict[str, Any]) -> str:
    d = config.get("dtype", "float32")
    if isinstance(d, dict):     # Keras 3 DTypePolicy
        d = (d.get("config") or {}).get("name", "float32")
    d = str(d)
    if d in ("int32", "int64", "int16", "int8", "uint8", "uint16"):
        return "int32"
    if d == "bool":
        return "bool"
    return "float32"          # float16 / bfloat16 / mixed policies compute in float32 here


def batch_shape(config: dict[str, Any]) -> tuple[int | None, ...] | None:
    for key in ("batch_shape", "batch_input_shape"):
        if config.get(key) is not None:
            return tuple(None if d is None else int(d) for d in config[key])
    if config.get("input_shape") is not None:
        return (None,) + tuple(None if d is None else int(d) for d in config["input_shape"])
    return None


class TopologyLowering:
    """Lowers one layers-model topology into a GraphBuilder.  After `build()`: `inputs` and `outputs`
    ([(key, KTensor)]), `records` (summary rows) and `keras3`."""

    def __init__(self, topology: dict[str, Any], weights: dict[str, np.ndarray], where: str = "model.json",
                 input_shapes: dict[str, tuple[int | None, ...]] | None = None) -> None:
        if not isinstance(topology, dict):
            raise ModelFormatError("model.json: 'modelTopology' must be an object")
        config = topology.get("model_config", topology if "class_name" in topology else None)
        if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
            raise ModelFormatError("model.json: 'modelTopology.model_config' must be an object with a 'class_name'")
        self.root = config
        version = str(topology.get("keras_version", "") or "")
        self.keras_version = version
        self.keras3 = version.split(".")[0].lstrip("v").isdigit() and int(version.split(".")[0].lstrip("v")) >= 3 \
            if version else False
        self.tfjs_saved = version.startswith("tfjs")
        self.weights = dict(weights)
        self.claimed: set[str] = set()
        self.b = GraphBuilder()
        self.problems = _Problems()
        self.inputs: list[tuple[str, KTensor]] = []
        self.outputs: list[tuple[str, KTensor]] = []
        self.records: list[LayerRecord] = []
        self.where = where
        self.input_shapes = dict(input_shapes or {})   # concrete shapes to lower at (specialization)
        self.needs_known_shape: list[str] = []         # layers that need dims known only at run time
        self._node_offset: dict[int, int] = {}           # id(nested model layer) -> 1 (Keras 2 numbering)

    # -- public --------------------------------------------------------------------------------------
    def build(self) -> None:
        cls = self.root["class_name"]
        cfg = self.root.get("config")
        if not isinstance(cfg, (dict, list)):
            raise ModelFormatError("model.json: 'modelTopology.model_config.config' must be an object")
        if cls not in MODEL_CLASSES:
            raise ModelFormatError(f"model.json: model_config.class_name is {cls!r}; expected Sequential, "
                                   "Functional or Model")
        self.unknown: dict[str, list[str]] = {}
        self._check_unknown_classes(self.root, "model_config")
        for cls_name, names in self.unknown.items():
            shown = ", ".join(repr(n) for n in names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
            self.problems.add(f"unknown layer class {cls_name!r}", f"{len(names)} layer(s): {shown} (custom layers "
                              "cannot be run; loader.layers.supported_layers() lists the known classes)")
        if self.problems.items:
            self._raise()
        outs = self._model(cls, cfg, None, [], "model_config", top=True)
        if outs is not None:
            names = self._output_names(cls, cfg)
            self.outputs = list(zip(names, outs))
        unclaimed = sorted(set(self.weights) - self.claimed)
        if unclaimed and not self.problems.items:
            self.problems.add("weightsManifest", f"{len(unclaimed)} weight(s) belong to no layer of the topology: "
                              + ", ".join(unclaimed[:10]) + (" ..." if len(unclaimed) > 10 else ""))
        if self.problems.items:
            self._raise()

    def _raise(self) -> None:
        items = self.problems.items
        unknown = [p for p in items if "unknown layer class" in p]
        if any("weight" in p and "manifest" in p for p in items) and not unknown and \
                all("weight" in p for p in items):
            raise WeightsError(f"{self.where}: the weights do not match the layers:\n  " + "\n  ".join(items))
        raise UnsupportedOpError(f"{self.where}: {len(items)} layer problem(s) this runtime cannot run:\n  "
                                 + "\n  ".join(items))

    # -- classes ---------------------------------------------------------------------------------------
    def _check_unknown_classes(self, layer: dict[str, Any], path: str) -> None:
        """Every unknown layer class anywhere in the topology, wrappers' inner layers included."""
        cls = layer.get("class_name")
        cfg = layer.get("config")
        if cls in MODEL_CLASSES:
            layers = cfg if isinstance(cfg, list) else (cfg or {}).get("layers")
            if not isinstance(layers, list):
                raise ModelFormatError(f"model.json: '{path}.config.layers' must be a list")
            for i, sub in enumerate(layers):
                if not isinstance(sub, dict) or not isinstance(sub.get("class_name"), str):
                    raise ModelFormatError(f"model.json: '{path}.config.layers[{i}]' must be an object with a "
                                           "'class_name'")
                if not isinstance(sub.get("config", {}), dict):
                    raise ModelFormatError(f"model.json: '{path}.config.layers[{i}].config' must be an object")
                self._check_unknown_classes(sub, f"{path}.config.layers[{i}]")
            return
        name = (cfg or {}).get("name", "?") if isinstance(cfg, dict) else "?"
        if cls not in LAYERS and cls not in INPUT_CLASSES:
            self.unknown.setdefault(str(cls), []).append(str(name))
            return
        if isinstance(cfg, dict):
            for key in ("layer", "cell", "backward_layer"):
                inner = cfg.get(key)
                if isinstance(inner, dict) and "class_name" in inner:
                    self._check_unknown_classes(inner, f"{path}.config.{key}")
            cells = cfg.get("cells")
            if isinstance(cells, list):
                for i, c in enumerate(cells):
                    if isinstance(c, dict) and "class_name" in c:
                        self._check_unknown_classes(c, f"{path}.config.cells[{i}]")

    # -- models ----------------------------------------------------------------------------------------
    def _model(self, cls: str, cfg: Any, given: list[KTensor] | None, scope_path: list[str], path: str,
               top: bool = False) -> list[KTensor] | None:
        if cls == "Sequential":
            return self._sequential(cfg, given, scope_path, path, top)
        return self._functional(cfg, given, scope_path, path, top)

    def _input(self, name: str, config: dict[str, Any], path: str) -> KTensor:
        shape = self.input_shapes.get(name) or batch_shape(config)
        if shape is None:
            raise ModelFormatError(f"model.json: '{path}' ({name}) has no batch_shape / batch_input_shape")
        dtype = layer_dtype(config)
        t = self.b.placeholder(name, shape, dtype)
        self.inputs.append((name, t))
        return t

    def _sequential(self, cfg: Any, given: list[KTensor] | None, scope_path: list[str], path: str,
                    top: bool) -> list[KTensor] | None:
        layers = cfg if isinstance(cfg, list) else cfg.get("layers", [])
        x: KTensor | None = given[0] if given else None
        record_rows = top
        failed = False
        for i, layer in enumerate(layers):
            lpath = f"{path}.config.layers[{i}]"
            lcls, lcfg = layer["class_name"], layer.get("config") or {}
            lname = str(lcfg.get("name", f"layer_{i}"))
            if lcls in INPUT_CLASSES:
                if x is None:
                    x = self._input(lname, lcfg, lpath)
                continue
            if x is None:
                shape = batch_shape(lcfg) or (batch_shape(cfg) if isinstance(cfg, dict) else None)
                if shape is None and isinstance(cfg, dict) and cfg.get("build_input_shape") is not None:
                    shape = tuple(None if d is None else int(d) for d in cfg["build_input_shape"])
                if shape is None:
                    raise ModelFormatError(f"model.json: '{lpath}' ({lname}) is the first layer of a Sequential "
                                           "model without an input shape (batch_input_shape)")
                x = self._input(f"{lname}_input", {"batch_shape": list(shape), "dtype": lcfg.get("dtype")}, lpath)
            prev = x
            outs = self._call(lcls, lname, lcfg, [x], {}, [x], scope_path, 0, lpath)
            if outs is None:       # later layers are lowered on the failed one's input, to report them too
                failed = True
                continue
            x = outs[0]
            if record_rows:
                self._record(lname, lcls, scope_path, 0, outs, [prev_ref for prev_ref in self._connected(prev)])
        return [x] if x is not None and not failed else None

    def _functional(self, cfg: dict[str, Any], given: list[KTensor] | None, scope_path: list[str], path: str,
                    top: bool) -> list[KTensor] | None:
        layers = cfg.get("layers")
        by_name: dict[str, dict[str, Any]] = {}
        lpaths: dict[int, str] = {}
        for i, layer in enumerate(layers):
            lname = str((layer.get("config") or {}).get("name", layer.get("name", f"layer_{i}")))
            lpaths[id(layer)] = f"{path}.config.layers[{i}]"
            by_name[str(layer.get("name", lname))] = layer
        output_offset = self._node_offsets(cfg, by_name)
        in_refs = _norm_refs(cfg.get("input_layers", []), f"{path}.config.input_layers")
        out_refs = _norm_refs(cfg.get("output_layers", []), f"{path}.config.output_layers")
        produced: dict[tuple[str, int], list[KTensor]] = {}
        for k, (lname, _, _) in enumerate(in_refs):
            layer = by_name.get(lname)
            if layer is None:
                raise ModelFormatError(f"model.json: '{path}.config.input_layers[{k}]' names layer {lname!r}, "
                                       "which is not in the model")
            if given is not None:
                if k >= len(given):
                    raise ModelFormatError(f"model.json: nested model at '{path}' has {len(in_refs)} inputs but "
                                           f"is called with {len(given)}")
                produced[(lname, 0)] = [given[k]]
            else:
                produced[(lname, 0)] = [self._input(lname, layer.get("config") or {}, lpaths[id(layer)])]
        pending: list[tuple[dict[str, Any], int, Any]] = []
        for layer in layers:
            if layer["class_name"] in INPUT_CLASSES:
                continue
            nodes = layer.get("inbound_nodes", [])
            if not isinstance(nodes, list):
                raise ModelFormatError(f"model.json: '{lpaths[id(layer)]}.inbound_nodes' must be a list")
            for j, node in enumerate(nodes):
                pending.append((layer, j, node))
        failed = False
        while pending:
            progress = False
            rest = []
            for layer, j, node in pending:
                resolved = self._resolve_node(node, produced, by_name, f"{lpaths[id(layer)]}.inbound_nodes[{j}]")
                if resolved is None:
                    rest.append((layer, j, node))
                    continue
                progress = True
                args, kwargs, flat, sources = resolved
                lcfg = layer.get("config") or {}
                lname = str(layer.get("name", lcfg.get("name")))
                outs = self._call(layer["class_name"], lname, lcfg, args, kwargs, flat, scope_path, j,
                                  lpaths[id(layer)])
                if outs is None or "__failed__" in sources:
                    failed = True
                    produced[(lname, j)] = _Failed(flat[0].shape if flat else (None,))  # type: ignore[assignment]
                    continue
                produced[(lname, j)] = outs
                if top and outs:
                    self._record(lname, layer["class_name"], scope_path, j, outs, sources)
            if not progress:
                names = sorted({str(l.get("name")) for l, _, _ in rest})
                raise ModelFormatError(f"model.json: '{path}': the inputs of layer(s) {', '.join(names)} are never "
                                       "produced (a reference to a missing layer or node, or a cycle)")
            pending = rest
        if failed:
            return None
        outs = []
        for k, (lname, node, tensor) in enumerate(out_refs):
            got = self._lookup(produced, by_name, lname, node - output_offset.get(lname, 0))
            if got is None or tensor >= len(got):
                raise ModelFormatError(f"model.json: '{path}.config.output_layers[{k}]' = [{lname!r}, {node}, "
                                       f"{tensor}] is not a tensor of the model")
            outs.append(got[tensor])
        return outs

    def _lookup(self, produced: dict[tuple[str, int], Any], by_name: dict[str, dict[str, Any]],
                lname: str, node: int) -> Any:
        layer = by_name.get(lname)
        offset = self._node_offset.get(id(layer), 0) if layer is not None else 0
        return produced.get((lname, node - offset))

    def _node_offsets(self, cfg: dict[str, Any], by_name: dict[str, dict[str, Any]]) -> dict[str, int]:
        """Keras 2 numbers a nested model's calls from 1 when the model has a node of its own (built on
        its Input): seen from the references, every index to it is then >= 1 and at most its call count."""
        refs: dict[str, list[int]] = {}

        def scan(v: Any) -> None:
            if isinstance(v, dict):
                hist = (v.get("config") or {}).get("keras_history") if v.get("class_name") == "__keras_tensor__" else None
                if isinstance(hist, list) and len(hist) >= 2 and isinstance(hist[0], str):
                    refs.setdefault(hist[0], []).append(hist[1] if isinstance(hist[1], int) else 0)
                for x in v.values():
                    scan(x)
            elif isinstance(v, list):
                if len(v) >= 3 and isinstance(v[0], str) and isinstance(v[1], int) and isinstance(v[2], int):
                    refs.setdefault(v[0], []).append(v[1])
                for x in v:
                    scan(x)
        for layer in cfg.get("layers", []):
            scan(layer.get("inbound_nodes", []))
        inbound = {k: list(v) for k, v in refs.items()}
        scan(cfg.get("output_layers", []))
        # Keras 3 numbers a nested functional model's calls from 1 in output_layers only (its inbound
        # references count from 0): shift the outputs when an output index only fits shifted
        output_offset: dict[str, int] = {}
        for name in refs:
            layer = by_name.get(name)
            out_idx = refs[name][len(inbound.get(name, [])):]
            if self.keras3 and layer is not None and layer.get("class_name") in MODEL_CLASSES and out_idx \
                    and min(out_idx) >= 1 and max(out_idx) == len(layer.get("inbound_nodes", []) or []):
                output_offset[name] = 1
        if self.keras3:
            refs = inbound
        for name, idx in refs.items():
            layer = by_name.get(name)
            if layer is None or layer.get("class_name") not in MODEL_CLASSES:
                continue
            calls = len(layer.get("inbound_nodes", []) or [])
            if not idx or min(idx) < 1 or max(idx) > calls:
                continue
            # Keras 3 does the same for a nested functional model; there an index that only fits shifted
            # decides (an index equal to the call count)
            if not self.keras3 or max(idx) == calls:
                self._node_offset[id(layer)] = 1
        return output_offset

    def _resolve_node(self, node: Any, produced: dict[tuple[str, int], list[KTensor]],
                      by_name: dict[str, dict[str, Any]], path: str
                      ) -> tuple[list[Any], dict[str, Any], list[KTensor], list[str]] | None:
        """(args, kwargs, flat tensor inputs, 'layer[node][tensor]' sources) or None when an input is
        not produced yet."""
        sources: list[str] = []
        missing = False
        poisoned = False
        recorded_shape: list[Any] | None = None

        def tensor(ref: list[Any], where: str) -> KTensor | None:
            nonlocal missing
            lname, ni, ti = ref[0], ref[1], ref[2]
            if not isinstance(lname, str) or not isinstance(ni, int) or not isinstance(ti, int):
                raise ModelFormatError(f"model.json: '{where}' must be [layer_name, node_index, tensor_index], got {ref!r}")
            if lname not in by_name:
                raise ModelFormatError(f"model.json: '{where}' refers to layer {lname!r}, which is not in the model")
            got = self._lookup(produced, by_name, lname, ni)
            if got is None:
                missing = True
                return None
            if isinstance(got, _Failed):
                nonlocal poisoned
                poisoned = True
                shape = got.shape if recorded_shape is None else tuple(recorded_shape)
                return KTensor("__failed__", tuple(shape), got.dtype)
            if ti >= len(got):
                raise ModelFormatError(f"model.json: '{where}' asks for output {ti} of layer {lname!r} "
                                       f"node {ni}, which has {len(got)}")
            sources.append(f"{lname}[{ni}][{ti}]")
            return got[ti]

        def conv(v: Any, where: str) -> Any:        # Keras 3 values: keras tensors anywhere inside
            if isinstance(v, dict) and v.get("class_name") == "__keras_tensor__":
                hist = (v.get("config") or {}).get("keras_history")
                if not isinstance(hist, list) or len(hist) < 3:
                    raise ModelFormatError(f"model.json: '{where}.config.keras_history' must be [layer, node, tensor]")
                nonlocal recorded_shape
                recorded_shape = (v.get("config") or {}).get("shape")
                return tensor(hist, f"{where}.config.keras_history")
            if isinstance(v, list):
                return [conv(x, f"{where}[{i}]") for i, x in enumerate(v)]
            if isinstance(v, dict):
                return {k: conv(x, f"{where}.{k}") for k, x in v.items()}
            return v

        if isinstance(node, dict):                   # Keras 3
            args = conv(node.get("args", []), f"{path}.args")
            kwargs = conv(node.get("kwargs", {}) or {}, f"{path}.kwargs")
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                raise ModelFormatError(f"model.json: '{path}' must have a list 'args' and an object 'kwargs'")
        elif isinstance(node, list):                 # Keras 2 / TF.js
            args_list: list[Any] = []
            kwargs = {}
            for i, entry in enumerate(node):
                if not (isinstance(entry, list) and len(entry) >= 3):
                    raise ModelFormatError(f"model.json: '{path}[{i}]' must be [layer, node_index, tensor_index, kwargs]")
                args_list.append(tensor(entry, f"{path}[{i}]"))
                if len(entry) > 3 and isinstance(entry[3], dict) and i == 0:
                    for k, v in entry[3].items():
                        if (isinstance(v, list) and len(v) >= 3 and isinstance(v[0], str) and v[0] in by_name
                                and isinstance(v[1], int)):
                            kwargs[k] = tensor(v, f"{path}[{i}][3].{k}")
                        else:
                            kwargs[k] = v
            args = [args_list[0]] if len(args_list) == 1 else [args_list]
        else:
            raise ModelFormatError(f"model.json: '{path}' must be a list (Keras 2) or an object (Keras 3)")
        if missing:
            return None
        flat: list[KTensor] = []

        def collect(v: Any) -> None:
            if isinstance(v, KTensor):
                flat.append(v)
            elif isinstance(v, list):
                for x in v:
                    collect(x)
        collect(args)
        if poisoned:
            sources.append("__failed__")
        return args, kwargs, flat, sources

    def _output_names(self, cls: str, cfg: Any) -> list[str]:
        if cls == "Sequential":
            layers = cfg if isinstance(cfg, list) else cfg.get("layers", [])
            last = [l for l in layers if l["class_name"] not in INPUT_CLASSES]
            return [str((last[-1].get("config") or {}).get("name", "output"))] if last else ["output"]
        names: list[str] = []
        for lname, _, _ in _norm_refs(cfg.get("output_layers", []), "output_layers"):
            name, n = lname, 1
            while name in names:
                name = f"{lname}_{n}"
                n += 1
            names.append(name)
        return names

    # -- layers ----------------------------------------------------------------------------------------
    def _weights_for(self, scope_path: list[str], lname: str) -> dict[str, np.ndarray]:
        """Manifest weights of one layer, by short name: 'outer/inner/layer/kernel' (Keras 3, nested)
        or 'layer/kernel' (Keras 2 and the top level)."""
        out: dict[str, np.ndarray] = {}
        # Keras 3 prefixes a nested layer's weights with the model it sits in (the outermost one too
        # when that is a Sequential), Keras 2 uses the layer's name alone: longest candidate first
        root = (self.root.get("config") or {}).get("name") if isinstance(self.root.get("config"), dict) else None
        full = ([str(root)] if root else []) + scope_path
        prefixes = ["/".join(full[i:] + [lname]) + "/" for i in range(len(full) + 1)]
        for prefix in prefixes:
            for key, value in self.weights.items():
                if key.startswith(prefix) and key not in self.claimed:
                    out.setdefault(key[len(prefix):], value)
                    self.claimed.add(key)
            if out:
                break
        return out

    def _call(self, cls: str, lname: str, lcfg: dict[str, Any], args: list[Any], kwargs: dict[str, Any],
              flat: list[KTensor], scope_path: list[str], node_index: int, path: str) -> list[KTensor] | None:
        if cls in MODEL_CLASSES:
            inner_cfg = lcfg
            return self._model(cls, inner_cfg, flat, scope_path + [lname], path)
        spec = LAYERS.get(cls)
        if spec is None:
            return None      # reported by _check_unknown_classes
        key = (tuple(scope_path), lname)
        cache = getattr(self, "_weight_cache", None)
        if cache is None:
            cache = self._weight_cache = {}
        if key not in cache:
            found = self._weights_for(scope_path, lname)
            if not found and cls == "Normalization" and not self.keras3:
                # tf_keras names the statistics of a Normalization adapted before the model was built
                # bare ('mean', 'variance', 'count'); the converter allows one such layer per model
                for short in ("mean", "variance", "count"):
                    if short in self.weights and short not in self.claimed:
                        found[short] = self.weights[short]
                        self.claimed.add(short)
            cache[key] = WeightLookup(lname, found)
        weights = cache[key]
        scope = "/".join(scope_path + [lname]) + (f"_{node_index}" if node_index else "")
        mask = kwargs.get("mask")
        if isinstance(mask, KTensor) and flat:
            # Keras 3 records the mask a layer receives as a call argument (not on the tensor)
            flat = [flat[0].with_mask(mask)] + flat[1:]
        call = LayerCall(cls, lname, lcfg, flat, kwargs, self.b, weights, scope, args=args,
                         keras3=self.keras3, inner=self._inner)
        try:
            outs = spec.lower(call)
        except LayerConfigError as exc:
            if isinstance(exc, NeedsKnownShape):
                self.needs_known_shape.append(lname)
            self.problems.add(f"layer {lname!r} ({cls})", str(exc))
            return None
        outs = list(outs)
        if flat and flat[0].mask is not None and spec.propagates_mask:
            src = flat[0]
            outs = [o.with_mask(src.mask) if o.mask is None and o.rank >= 2 and o.shape[:2] == src.shape[:2]
                    and (o.rank >= 3 or o.rank == src.rank) else o for o in outs]
        return outs

    def _inner(self, call: LayerCall, layer_cfg: dict[str, Any], inputs: list[KTensor], weight_prefix: str,
               scope: str, kwargs: dict[str, Any] | None = None) -> list[KTensor]:
        """Lower a layer nested in a wrapper's config (Bidirectional, TimeDistributed, RNN cells)."""
        cls = layer_cfg.get("class_name")
        cfg = layer_cfg.get("config") or {}
        spec = LAYERS.get(cls)  # type: ignore[arg-type]
        if spec is None:
            raise LayerConfigError(f"inner layer class {cls!r} is not supported")
        subset = call.weights.matching(weight_prefix) if weight_prefix else call.weights.by_short
        lookup = WeightLookup(f"{call.name}/{weight_prefix}".rstrip("/"), subset)
        inner = LayerCall(cls, str(cfg.get("name", cls)), cfg, inputs, kwargs or {}, call.b, lookup,
                          f"{call.scope}/{scope}", args=[inputs[0] if len(inputs) == 1 else inputs],
                          keras3=call.keras3, inner=self._inner)
        return list(spec.lower(inner))

    def _connected(self, t: KTensor) -> list[str]:
        return [t.ref.split(":")[0]]

    def _record(self, lname: str, cls: str, scope_path: list[str], node_index: int, outs: list[KTensor],
                sources: list[str]) -> None:
        rec = next((r for r in self.records if r.name == lname), None)
        if rec is None:
            rec = LayerRecord(lname, cls)
            self.records.append(rec)
        rec.scopes.append("/".join(scope_path + [lname]) + (f"_{node_index}" if node_index else ""))
        rec.output_shapes.extend(o.shape for o in outs)
        rec.connected_to.extend(sources)

    def finish_records(self, non_trainable: Callable[[str, str], bool]) -> None:
        """Param counts per summary row: the manifest weights under the row's layer (nested models:
        everything under them)."""
        for rec in self.records:
            prefix = rec.name + "/"
            names = [k for k in self.weights if k.startswith(prefix)]
            if rec.class_name in MODEL_CLASSES:
                names += self._nested_weight_names(rec.name)
            names = sorted(set(names))
            rec.weight_names = names
            rec.params = sum(int(math.prod(self.weights[k].shape)) for k in names)
            rec.non_trainable_params = sum(int(math.prod(self.weights[k].shape)) for k in names
                                           if non_trainable(rec.class_name, k))

    def _nested_weight_names(self, model_name: str) -> list[str]:
        """Keras 2 names a nested model's weights by the inner layers alone: find them by layer name."""
        def inner_layer_names(layer: dict[str, Any]) -> list[str]:
            cfg = layer.get("config")
            layers = cfg if isinstance(cfg, list) else (cfg or {}).get("layers", [])
            out = []
            for sub in layers:
                if sub.get("class_name") in MODEL_CLASSES:
                    out += inner_layer_names(sub)
                else:
                    out.append(str((sub.get("config") or {}).get("name")))
            return out

        def find(layer: dict[str, Any]) -> dict[str, Any] | None:
            cfg = layer.get("config")
            layers = cfg if isinstance(cfg, list) else (cfg or {}).get("layers", [])
            for sub in layers:
                if (sub.get("config") or {}).get("name") == model_name and sub.get("class_name") in MODEL_CLASSES:
                    return sub
                if sub.get("class_name") in MODEL_CLASSES:
                    hit = find(sub)
                    if hit is not None:
                        return hit
            return None

        nested = find(self.root)
        if nested is None:
            return []
        names = inner_layer_names(nested)
        return [k for k in self.weights if any(k.startswith(n + "/") for n in names)]
