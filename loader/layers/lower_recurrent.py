"""Recurrent layers (SimpleRNN, LSTM, GRU, RNN over their cells and StackedRNNCells, Bidirectional),
TimeDistributed, Embedding and Masking.  (Keras 3 records the masks of the last two as NotEqual / Any op
layers: lower_ops.py.)

A recurrent layer with a known sequence length is unrolled statically: the input projection of every
timestep is one MatMul + BiasAdd over [batch * time, features] (the form the folding fuses), unpacked
per step; each step adds h @ recurrent_kernel and applies the gate math; sequences are Packed back.
The zero initial state is never materialised (a step with a known-zero state skips the recurrent
product), so no batch-sized zeros are needed.  Unknown sequence lengths are refused: the executor's
While loops run per-iteration host work, and an unrolled graph is what the GL programs fuse well.

Masks (Embedding mask_zero, Masking, or Keras 3's explicit `mask` call argument): at a masked step
every state keeps its previous value; with return_sequences the output there is the held state, or
zeros when the layer zeroes masked outputs (`zero_output_for_mask`, which Bidirectional switches on
for its inner layers when they return sequences) -- what Keras 2 and Keras 3 both compute.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .activations import apply_activation
from .builder import KTensor
from .ops import Ops
from .registry import NeedsKnownShape, LayerCall, LayerConfigError, WeightLookup, layer

RNN_LAYERS = ("SimpleRNN", "LSTM", "GRU")
CELL_CLASSES = {"SimpleRNNCell": "simple", "LSTMCell": "lstm", "GRUCell": "gru"}
LAYER_KIND = {"SimpleRNN": "simple", "LSTM": "lstm", "GRU": "gru"}


# -- cells ----------------------------------------------------------------------------------------
@dataclass
class Cell:
    """One recurrent cell: its kind, activations and host-side weights (gates in Keras' order:
    LSTM i, f, c, o; GRU z, r, h)."""

    kind: str                 # "simple" | "lstm" | "gru"
    units: int
    activation: Any
    recurrent_activation: Any
    kernel: np.ndarray        # [features, gates * units]
    recurrent: np.ndarray     # [units, gates * units]
    bias: np.ndarray | None   # [gates * units]; GRU reset_after: [2, 3 * units] (input, recurrent)
    reset_after: bool = False

    @property
    def n_states(self) -> int:
        return 2 if self.kind == "lstm" else 1

    @property
    def gates(self) -> int:
        return {"simple": 1, "lstm": 4, "gru": 3}[self.kind]


def _check_rnn_config(cfg: dict[str, Any], what: str) -> None:
    """The layer-level options that change inference results and are not handled."""
    if cfg.get("stateful"):
        raise LayerConfigError(f"{what}: stateful=True is not supported (the state would have to persist "
                               "between predict calls); convert with stateful=False")


def _cell_from_config(kind: str, cfg: dict[str, Any], weights: WeightLookup, prefix: str, index: int,
                      what: str) -> Cell:
    """A cell from the (flattened layer or cell) config; its weights are `prefix + 'kernel'`, ... by
    suffix, or when a stacked cell's name is not in the manifest, the index-th cell's weights."""
    if kind not in ("simple", "lstm", "gru"):
        raise LayerConfigError(f"{what}: cell kind {kind!r} is not supported")
    units = int(cfg.get("units"))
    gates = {"simple": 1, "lstm": 4, "gru": 3}[kind]
    use_bias = bool(cfg.get("use_bias", True))
    if prefix and not weights.has(prefix + "kernel"):
        parents = []
        for k in weights.by_short:
            if k.endswith("/kernel") and not k.endswith("recurrent_kernel"):
                parents.append(k[: -len("kernel")])
        if index < len(parents):
            prefix = parents[index]
    reset_after = False
    if kind == "gru":
        if "reset_after" in cfg:
            reset_after = bool(cfg["reset_after"])
        elif use_bias and weights.has(prefix + "bias"):
            # configs without the key (older writers): the bias layout says which GRU it is
            reset_after = weights.get(prefix + "bias").ndim == 2
        else:
            reset_after = True
    kernel = weights.get(prefix + "kernel")
    rec = weights.get(prefix + "recurrent_kernel")
    if kernel.ndim != 2 or kernel.shape[1] != gates * units:
        raise LayerConfigError(f"{what}: kernel has shape {tuple(kernel.shape)}, expected (features, {gates * units})")
    if rec.shape != (units, gates * units):
        raise LayerConfigError(f"{what}: recurrent_kernel has shape {tuple(rec.shape)}, expected "
                               f"({units}, {gates * units})")
    bias = None
    if use_bias:
        bias = weights.get(prefix + "bias")
        want = (2, gates * units) if reset_after else (gates * units,)
        if bias.shape != want:
            raise LayerConfigError(f"{what}: bias has shape {tuple(bias.shape)}, expected {want}")
    act = cfg.get("activation", "tanh")
    rec_act = cfg.get("recurrent_activation", "sigmoid")
    return Cell(kind, units, act, rec_act, np.asarray(kernel, np.float32), np.asarray(rec, np.float32),
                None if bias is None else np.asarray(bias, np.float32), reset_after)


def _cells(class_name: str, cfg: dict[str, Any], weights: WeightLookup, what: str) -> list[Cell]:
    """The cells a recurrent layer runs, first to last."""
    if class_name in LAYER_KIND:
        return [_cell_from_config(LAYER_KIND[class_name], cfg, weights, "", 0, what)]
    cell = cfg.get("cell")
    if not isinstance(cell, dict):
        raise LayerConfigError(f"{what}: RNN without a serialized cell")
    ccls = cell.get("class_name")
    ccfg = cell.get("config") or {}
    if ccls in CELL_CLASSES:
        return [_cell_from_config(CELL_CLASSES[ccls], ccfg, weights, "", 0, what)]
    if ccls == "StackedRNNCells":
        subs = ccfg.get("cells") or []
        if not subs:
            raise LayerConfigError(f"{what}: StackedRNNCells without cells")
        if ccfg.get("reverse_state_order"):
            raise LayerConfigError(f"{what}: StackedRNNCells(reverse_state_order=True) is not supported")
        out = []
        for i, sub in enumerate(subs):
            scls = sub.get("class_name") if isinstance(sub, dict) else None
            if scls not in CELL_CLASSES:
                raise LayerConfigError(f"{what}: cell class {scls!r} in StackedRNNCells is not supported "
                                       "(SimpleRNNCell, LSTMCell and GRUCell are)")
            scfg = sub.get("config") or {}
            name = str(scfg.get("name", ""))
            out.append(_cell_from_config(CELL_CLASSES[scls], scfg, weights, f"{name}/", i, what))
        return out
    raise LayerConfigError(f"{what}: cell class {ccls!r} is not supported (SimpleRNNCell, LSTMCell, GRUCell "
                           "and StackedRNNCells are)")


# -- running cells over a static sequence ------------------------------------------------------------
def _const(f: Ops, value: np.ndarray, name: str) -> KTensor:
    return f.b.const(np.ascontiguousarray(value, np.float32), name=f"{f.scope}/{name}")


def _project(f: Ops, x: KTensor, kernel: np.ndarray, bias: np.ndarray | None) -> list[KTensor]:
    """x [batch, time, features] @ kernel (+ bias) as one MatMul over batch * time, one [batch, gates]
    tensor per step."""
    feats = x.shape[2]
    flat = f.reshape(x, (None, feats))
    y = f.matmul(flat, _const(f, kernel, "kernel"))
    if bias is not None:
        y = f.bias_add(y, _const(f, bias, "bias"))
    y = f.reshape(y, (x.shape[0], x.shape[1], kernel.shape[1]))
    return f.unstack(y, 1)


def _blend(f: Ops, m: tuple[KTensor, KTensor] | None, new: KTensor, prev: KTensor | None) -> KTensor:
    """The state after a step: `new` where the step is not masked, else `prev` (None: zero)."""
    if m is None:
        return new
    if prev is None:
        return f.mul(new, m[1])
    return f.select(m[0], new, prev)


def _run_cell(f: Ops, cell: Cell, x: KTensor, init: list[KTensor | None], masks: list[Any],
              reverse: bool, keras3: bool) -> tuple[list[KTensor], list[KTensor | None]]:
    """Run one cell over x [batch, time, features] (in reversed time order when `reverse`); returns its
    per-step outputs (the held h, in processing order) and final states.  `masks[t]` is None or the
    step's (bool [batch, 1], float [batch, 1]) mask in processing order."""
    if x.shape[2] is not None and x.shape[2] != cell.kernel.shape[0]:
        raise LayerConfigError(f"the input has {x.shape[2]} features, the kernel expects {cell.kernel.shape[0]}")
    u = cell.units
    in_bias = None
    rec_bias = None
    if cell.bias is not None:
        if cell.reset_after:
            in_bias, rec_bias = cell.bias[0], cell.bias[1]
        else:
            in_bias = cell.bias
    steps = _project(f, x, cell.kernel, in_bias)
    if reverse:
        steps = steps[::-1]
    act = lambda t: apply_activation(f, t, cell.activation, keras3)  # noqa: E731
    ract = lambda t: apply_activation(f, t, cell.recurrent_activation, keras3)  # noqa: E731
    R = _const(f, cell.recurrent, "recurrent_kernel") if cell.kind != "gru" or cell.reset_after else None
    R_zr = R_h = None
    if cell.kind == "gru" and not cell.reset_after:     # the candidate multiplies r * h: its own matrix
        R_zr = _const(f, cell.recurrent[:, : 2 * u], "recurrent_kernel_zr")
        R_h = _const(f, cell.recurrent[:, 2 * u:], "recurrent_kernel_h")
    states = list(init)
    outs: list[KTensor] = []
    for t, xp in enumerate(steps):
        h = states[0]
        m = masks[t]
        if cell.kind == "simple":
            pre = xp if h is None else f.add(xp, f.matmul(h, R))
            new = [act(pre)]
        elif cell.kind == "lstm":
            z = xp if h is None else f.add(xp, f.matmul(h, R))
            zi, zf, zc, zo = f.split(z, 1, 4)
            i, g, o = ract(zi), act(zc), ract(zo)
            c_prev = states[1]
            c_new = f.mul(i, g) if c_prev is None else f.add(f.mul(ract(zf), c_prev), f.mul(i, g))
            new = [f.mul(o, act(c_new)), c_new]
        elif cell.reset_after:
            xz, xr, xh = f.split(xp, 1, 3)
            if h is None:
                rparts = [None] * 3 if rec_bias is None else \
                    [_const(f, rec_bias[k * u:(k + 1) * u], f"recurrent_bias_{k}") for k in range(3)]
            else:
                hr = f.matmul(h, R)
                if rec_bias is not None:
                    hr = f.bias_add(hr, _const(f, rec_bias, "recurrent_bias"))
                rparts = f.split(hr, 1, 3)
            addp = lambda a, b: a if b is None else f.add(a, b)  # noqa: E731
            zg = ract(addp(xz, rparts[0]))
            if rparts[2] is None:
                hh = act(xh)
            else:
                rg = ract(addp(xr, rparts[1]))
                hh = act(f.add(xh, f.mul(rg, rparts[2])))
            new = [f.sub(hh, f.mul(zg, hh)) if h is None else f.add(hh, f.mul(zg, f.sub(h, hh)))]
        else:
            xz, xr, xh = f.split(xp, 1, 3)
            if h is None:
                zg = ract(xz)
                hh = act(xh)
                new = [f.sub(hh, f.mul(zg, hh))]
            else:
                rz, rr = f.split(f.matmul(h, R_zr), 1, 2)
                zg = ract(f.add(xz, rz))
                rg = ract(f.add(xr, rr))
                hh = act(f.add(xh, f.matmul(f.mul(rg, h), R_h)))
                new = [f.add(hh, f.mul(zg, f.sub(h, hh)))]
        states = [_blend(f, m, n, p) for n, p in zip(new, states)]
        outs.append(states[0])  # type: ignore[arg-type]
    return outs, states


def _step_masks(f: Ops, mask: KTensor | None, steps: int, reverse: bool) -> list[Any]:
    """Per-step (bool [batch, 1], float [batch, 1]) masks in processing order, or Nones."""
    if mask is None:
        return [None] * steps
    if mask.dtype != "bool":
        mask = f.cast(mask, "bool")
    if mask.rank != 2 or (mask.shape[1] is not None and mask.shape[1] != steps):
        raise LayerConfigError(f"the mask has shape {mask.shape}, expected (batch, {steps})")
    m3 = f.expand_dims(mask, 2)
    bools = f.unstack(m3, 1)
    floats = f.unstack(f.cast(m3, "float32"), 1)
    pairs = list(zip(bools, floats))
    return pairs[::-1] if reverse else pairs


@dataclass
class RnnResult:
    steps: list[KTensor]            # per-step outputs in processing order (masked outputs applied)
    last: KTensor                   # the final output (the last cell's final h)
    states: list[KTensor]           # final states of every cell, in cell order


def _initial_states(c: LayerCall, cells: list[Cell], given: list[KTensor]) -> list[KTensor | None]:
    """The given initial states checked against the cells' (None each when none is given: zero)."""
    need = sum(cell.n_states for cell in cells)
    if not given:
        return [None] * need
    if len(given) != need:
        raise LayerConfigError(f"{len(given)} initial state tensor(s) given, the cells have {need} state(s)")
    out: list[KTensor | None] = []
    k = 0
    for cell in cells:
        for _ in range(cell.n_states):
            s = given[k]
            k += 1
            if s.rank != 2 or (s.shape[1] is not None and s.shape[1] != cell.units):
                raise LayerConfigError(f"initial state {k - 1} has shape {s.shape}, expected (batch, {cell.units})")
            out.append(s if s.dtype == "float32" else c.f.cast(s, "float32"))
    return out


def run_rnn(c: LayerCall, cells: list[Cell], x: KTensor, mask: KTensor | None,
            init: list[KTensor], zero_output: bool, go_backwards: bool) -> RnnResult:
    """The cells (stacked) over x [batch, time, features]: layer by layer, each over the whole
    sequence, which equals Keras' step-by-step stacked cell (a step's states depend only on the
    earlier steps of the cells below)."""
    f = c.f
    if x.rank != 3:
        raise LayerConfigError(f"a recurrent layer needs a rank-3 input (batch, time, features), got {x.shape}")
    steps = x.shape[1]
    if steps == 0:
        raise LayerConfigError("a recurrent layer over an empty sequence (0 timesteps) is not supported")
    if steps is None:
        raise NeedsKnownShape("the sequence length is unknown (None); recurrent layers are unrolled at the "
                              "length each run gives")
    if x.shape[2] is None:
        raise LayerConfigError("recurrent layers need a known feature dimension")
    if x.dtype != "float32":
        x = f.cast(x, "float32")
    states0 = _initial_states(c, cells, init)
    masks = _step_masks(f, mask, steps, go_backwards)
    inp = x
    finals: list[KTensor] = []
    k = 0
    outs: list[KTensor] = []
    for i, cell in enumerate(cells):
        cf = Ops(c.b, c.scope if len(cells) == 1 else f"{c.scope}/cell_{i}")
        outs, st = _run_cell(cf, cell, inp, states0[k:k + cell.n_states], masks, go_backwards if i == 0 else False,
                             c.keras3)
        k += cell.n_states
        finals += st  # type: ignore[arg-type]
        if i + 1 < len(cells):
            inp = cf.stack(outs, 1)     # processing order: the next cell runs forward over it
    last = outs[-1]
    seq = outs
    if zero_output and mask is not None:
        seq = [o if m is None else f.mul(o, m[1]) for o, m in zip(outs, masks)]
    return RnnResult(seq, last, finals)


def _given_states(c: LayerCall) -> list[KTensor]:
    """initial_state: Keras 3 and Keras 2 kwargs, or (Keras 2) the call's extra input tensors."""
    if c.kwargs.get("constants") is not None or c.cfg("num_constants"):
        raise LayerConfigError("RNN constants are not supported")
    st = c.kwargs.get("initial_state")
    if st is None:
        return list(c.inputs[1:])
    flat: list[KTensor] = []

    def collect(v: Any) -> None:
        if isinstance(v, KTensor):
            flat.append(v)
        elif isinstance(v, (list, tuple)):
            for e in v:
                collect(e)
        elif v is not None:
            raise LayerConfigError(f"initial_state {v!r} is not a tensor")
    collect(st)
    return flat


def _call_mask(c: LayerCall) -> KTensor | None:
    m = c.kwargs.get("mask")
    if isinstance(m, KTensor):
        return m
    if isinstance(m, (list, tuple)) and m and isinstance(m[0], KTensor):
        return m[0]
    return c.x.mask


def _lower_rnn(c: LayerCall, zero_output: bool | None = None) -> tuple[RnnResult, KTensor | None]:
    """Run the layer `c` describes: (its result, the mask it ran under)."""
    cfg = c.config
    _check_rnn_config(cfg, c.class_name)
    cells = _cells(c.class_name, cfg, c.weights, c.class_name)
    x = c.x
    mask = _call_mask(c)
    if cfg.get("time_major", False):
        if mask is not None:
            raise LayerConfigError("time_major=True with a mask is not supported")
        if x.rank == 3:
            x = c.f.transpose(x, [1, 0, 2])
    if zero_output is None:
        zero_output = bool(cfg.get("zero_output_for_mask", False))
    res = run_rnn(c, cells, x, mask, _given_states(c), zero_output, bool(cfg.get("go_backwards", False)))
    return res, mask


def _sequence(f: Ops, cfg: dict[str, Any], steps: list[KTensor]) -> KTensor:
    """Per-step outputs as the layer's [batch, time, units] ([time, batch, units] when time_major)."""
    y = f.stack(steps, 1)
    return f.transpose(y, [1, 0, 2]) if cfg.get("time_major", False) else y


@layer("SimpleRNN", "LSTM", "GRU", "RNN", propagates_mask=False)
def recurrent(c: LayerCall) -> list[KTensor]:
    """A recurrent layer unrolled over its static sequence length.  dropout, recurrent_dropout,
    unroll, implementation, use_cudnn and unit_forget_bias (an initializer) do nothing at inference.
    Outputs: the sequence (with the input's mask) or the last output, then the final states."""
    res, mask = _lower_rnn(c)
    cfg = c.config
    if cfg.get("return_sequences", False):
        y = _sequence(c.f, cfg, res.steps)
        y = y if cfg.get("time_major", False) else y.with_mask(mask)
    else:
        y = res.last
    return [y] + (res.states if cfg.get("return_state", False) else [])


# -- Bidirectional -------------------------------------------------------------------------------------
def _sub_prefix(weights: WeightLookup, names: list[str]) -> str:
    for n in names:
        if n and any(k.startswith(n + "/") for k in weights.by_short):
            return n + "/"
    raise LayerConfigError(f"no weights under any of {names} (the manifest has: "
                           f"{', '.join(sorted(weights.by_short)) or 'none'})")


@layer("Bidirectional", propagates_mask=False)
def bidirectional(c: LayerCall) -> list[KTensor]:
    """The forward and the backward layer (backward_layer's config, else the layer's with go_backwards
    flipped) over the same input; the backward sequence is put back in forward time order before the
    merge.  With return_state the outputs are [merged (or forward, backward), forward states...,
    backward states...]."""
    inner = c.cfg("layer")
    if not isinstance(inner, dict) or inner.get("class_name") not in RNN_LAYERS + ("RNN",):
        cls = inner.get("class_name") if isinstance(inner, dict) else None
        raise LayerConfigError(f"Bidirectional over {cls!r} is not supported (SimpleRNN, LSTM, GRU and RNN are)")
    fcfg = dict(inner.get("config") or {})
    back = c.cfg("backward_layer")
    if isinstance(back, dict):
        if back.get("class_name") not in RNN_LAYERS + ("RNN",):
            raise LayerConfigError(f"backward_layer class {back.get('class_name')!r} is not supported")
        bcls, bcfg = back["class_name"], dict(back.get("config") or {})
    else:
        bcls, bcfg = inner["class_name"], dict(fcfg)
        bcfg["go_backwards"] = not bool(fcfg.get("go_backwards", False))
    merge = c.cfg("merge_mode", "concat")
    if merge not in ("concat", "sum", "mul", "ave", None):
        raise LayerConfigError(f"merge_mode {merge!r} is not supported")
    fname = str(fcfg.get("name", ""))
    bname = str(bcfg.get("name", ""))
    fpre = _sub_prefix(c.weights, [fname if fname.startswith("forward_") else "forward_" + fname, fname])
    bpre = _sub_prefix(c.weights, [bname if bname.startswith("backward_") else "backward_" + bname, bname])
    given = _given_states(c)
    half = len(given) // 2
    if len(given) % 2:
        raise LayerConfigError(f"Bidirectional got {len(given)} initial states; it needs as many for the "
                               "backward as for the forward layer")
    x = c.x
    kw_mask = _call_mask(c)
    results = []
    for cls, cfg, pre, states, tag in ((inner["class_name"], fcfg, fpre, given[:half], "forward"),
                                       (bcls, bcfg, bpre, given[half:], "backward")):
        sub = LayerCall(cls, str(cfg.get("name", tag)), cfg, [x] + states,
                        {"mask": kw_mask} if kw_mask is not None else {}, c.b,
                        WeightLookup(f"{c.name}/{pre}".rstrip("/"), c.weights.matching(pre)),
                        f"{c.scope}/{pre.rstrip('/')}", keras3=c.keras3, inner=c.inner)
        res, _ = _lower_rnn(sub, zero_output=bool(fcfg.get("return_sequences", False)))
        results.append(res)
    fres, bres = results
    f = c.f
    seq = bool(fcfg.get("return_sequences", False))
    if seq:
        # Keras reverses the backward layer's output sequence along time before merging
        y_f = _sequence(f, fcfg, fres.steps)
        y_b = _sequence(f, bcfg, bres.steps[::-1])
    else:
        y_f, y_b = fres.last, bres.last
    states = (fres.states + bres.states) if fcfg.get("return_state", False) else []
    mask = kw_mask if seq and not fcfg.get("time_major", False) else None
    if merge is None:
        return [y_f.with_mask(mask), y_b.with_mask(mask)] + states
    if merge == "concat":
        y = f.concat([y_f, y_b], -1)
    elif merge == "sum":
        y = f.add(y_f, y_b)
    elif merge == "mul":
        y = f.mul(y_f, y_b)
    else:
        y = f.mul(f.add(y_f, y_b), 0.5)
    return [y.with_mask(mask)] + states


# -- TimeDistributed ---------------------------------------------------------------------------------------
@layer("TimeDistributed")
def time_distributed(c: LayerCall) -> list[KTensor]:
    """The inner layer on [batch * time, ...]: the input reshaped, the inner layer lowered on it and
    its output reshaped back to [batch, time, ...]."""
    inner = c.cfg("layer")
    if not isinstance(inner, dict) or "class_name" not in inner:
        raise LayerConfigError("TimeDistributed without a serialized inner layer")
    x = c.x
    if x.rank < 3:
        raise LayerConfigError(f"TimeDistributed needs an input of rank >= 3, got {x.shape}")
    rest = x.shape[2:]
    if any(d is None for d in rest):
        raise LayerConfigError("TimeDistributed needs known dims after the time axis")
    f = c.f
    b_, t_ = x.shape[0], x.shape[1]
    n = None if b_ is None or t_ is None else b_ * t_
    flat = f.reshape(x, (None,) + rest)
    if n is not None:
        flat = KTensor(flat.ref, (n,) + rest, flat.dtype)
    else:
        flat = KTensor(flat.ref, (None,) + rest, flat.dtype)
    icfg = inner.get("config") or {}
    iname = str(icfg.get("name", "inner"))
    # Keras 3 keeps the inner layer's name in its weight names (td/dense/kernel), Keras 2 does not
    keys = list(c.weights.by_short)
    prefix = f"{iname}/" if keys and all(k.startswith(f"{iname}/") for k in keys) else ""
    outs = c.lower_inner(inner, [flat], prefix, iname)
    if len(outs) != 1:
        raise LayerConfigError(f"TimeDistributed over a layer with {len(outs)} outputs is not supported")
    y = outs[0]
    orest = y.shape[1:]
    if any(d is None for d in orest):
        raise LayerConfigError("TimeDistributed: the inner layer's output has unknown dims")
    return [f.reshape(y, (b_, t_) + orest, like=x)]


# -- Embedding and masking ---------------------------------------------------------------------------------
@layer("Embedding")
def embedding(c: LayerCall) -> list[KTensor]:
    """GatherV2 of the embeddings by the ids (cast to int32, as Keras casts them); mask_zero puts the
    mask ids != 0 on the output."""
    if c.cfg("lora_rank"):
        raise LayerConfigError("Embedding with LoRA weights (lora_rank) is not supported")
    if c.cfg("quantization_config") is not None or c.cfg("quantization_mode"):
        raise LayerConfigError("quantized Embedding weights are not supported")
    ids = c.x
    dim = int(c.cfg("output_dim"))
    table = c.weight("embeddings", (int(c.cfg("input_dim")), dim))
    f = c.f
    y = f.gather(table, f.cast(ids, "int32"), 0)
    mask = f.compare("NotEqual", ids, 0) if c.cfg("mask_zero", False) else None
    return [y.with_mask(mask)]


@layer("Masking")
def masking(c: LayerCall) -> list[KTensor]:
    """x * any(x != mask_value, axis=-1); the mask (bool [batch, time]) travels with the output."""
    x = c.x
    f = c.f
    keep = f.reduce("Any", f.compare("NotEqual", x, float(c.cfg("mask_value", 0.0))), [-1], keepdims=True)
    y = f.mul(x, f.cast(keep, x.dtype))
    return [y.with_mask(f.squeeze(keep, [-1]))]


@layer("SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells", propagates_mask=False)
def bare_cell(c: LayerCall) -> list[KTensor]:
    """Cells are run by the RNN layer that holds them (registered so the topology check knows them)."""
    raise LayerConfigError(f"a {c.class_name} called on its own, outside an RNN layer, is not supported")
