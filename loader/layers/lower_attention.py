"""Attention layers: MultiHeadAttention, Attention (Luong, dot or concat scores), AdditiveAttention
(Bahdanau).

MultiHeadAttention's EinsumDense projections are lowered as what they compute: one MatMul over the
flattened last axis (kernel [dim, heads, key_dim] relaid out on the host as [dim, heads * key_dim]) and
a BiasAdd, which the folding fuses, then a Reshape to [..., heads, key_dim]; the 1 / sqrt(key_dim) query
scale is folded into the query kernel and bias on the host.  The score and combine products are the
Einsum ops Keras' own equations name (mapped: the GL Einsum plans them), the softmax is TF's.

Masks: the Keras masks travelling with query / value / key, an explicit attention_mask, the causal mask
(use_causal_mask) and Keras 3's sliding window are merged with a logical and, as Keras does.  How the
merged mask is applied follows each Keras version: Keras 2 adds (1 - mask) * -1e9 before the softmax;
Keras 3 either runs ops.dot_product_attention (rank-3 inputs, no dropout, no returned scores: masked
logits replaced by a large negative) or its Softmax layer (adds -1e9 and multiplies the probabilities
by the mask, so fully masked query rows are 0 rather than uniform).
"""
from __future__ import annotations

import math
import string
from typing import Any

import numpy as np

from .builder import KTensor
from .lower_activation_layers import masked_softmax, softmax_axes
from .ops import F32, Ops
from .registry import LayerCall, LayerConfigError, layer

_CHR = string.ascii_lowercase


def einsum(f: Ops, equation: str, a: KTensor, b: KTensor) -> KTensor:
    """A two-operand Einsum node, its output shape read off the equation."""
    ins, out = equation.split("->")
    ta, tb = ins.split(",")
    dims: dict[str, int | None] = {}
    for term, t in ((ta, a), (tb, b)):
        if len(term) != t.rank:
            raise LayerConfigError(f"einsum {equation!r}: operand of shape {t.shape} does not match {term!r}")
        for ch, d in zip(term, t.shape):
            if dims.get(ch) is None:
                dims[ch] = d
    shape = tuple(dims[ch] for ch in out)
    return f.b.op("Einsum", [a, b], {"T": F32, "N": 2, "equation": equation}, name=f._n("Einsum"), shape=shape)


def _attention_equations(rank: int, attn_axes: tuple[int, ...]) -> tuple[str, str, int]:
    """Keras' (dot product equation, combine equation, scores rank) for projected tensors of rank
    `rank` ([batch, <attention dims>, heads, dim]) attending over `attn_axes`."""
    target = _CHR[:rank]
    batch_dims = [i for i in range(rank) if i not in attn_axes and i != rank - 1]
    offset = rank
    source = ""
    for i in range(rank):
        if i in batch_dims or i == rank - 1:
            source += target[i]
        else:
            source += _CHR[offset]
            offset += 1
    product = "".join([target[i] for i in batch_dims] + [target[i] for i in attn_axes]
                      + [source[i] for i in attn_axes])
    return f"{source},{target}->{product}", f"{product},{source}->{target}", len(product)


def _positional(c: LayerCall, names: list[str]) -> dict[str, Any]:
    """Call arguments by name: the positional ones (Keras 3 'args'; Keras 2 packs several in one list)
    then the keyword ones."""
    args = list(c.args)
    if not c.keras3 and len(args) == 1 and isinstance(args[0], list):
        args = args[0]
    out = {n: v for n, v in zip(names, args)}
    out.update(c.kwargs)
    return out


def _bool(v: Any, what: str) -> bool:
    if v is None:
        return False
    if isinstance(v, KTensor):
        raise LayerConfigError(f"{what} given as a tensor is not supported (it must be a Python bool)")
    return bool(v)


def band_mask(c: LayerCall, q: KTensor, v: KTensor, lower: int, upper: int) -> KTensor:
    """A bool [1, T, S] mask of positions j with i - lower <= j <= i + upper (-1: unbounded) for query
    position i: a host constant when T and S are known, else MatrixBandPart of a Fill."""
    f = c.f
    t, s = q.shape[1], v.shape[1]
    if t is not None and s is not None:
        i = np.arange(t)[:, None]
        j = np.arange(s)[None, :]
        keep = np.ones((t, s), bool)
        if lower >= 0:
            keep &= j >= i - lower
        if upper >= 0:
            keep &= j <= i + upper
        return f.const(keep[None], "band_mask", "bool")
    dims = f.concat([f.const(np.asarray([1], np.int32), "one", "int32"), f.dim(q, 1), f.dim(v, 1)], 0)
    ones = c.b.op("Fill", [dims, f.scalar(1.0)], {"T": F32, "index_type": f._t("int32")}, name=c.n("Fill"),
                  shape=(1, t, s))
    band = c.b.op("MatrixBandPart", [ones, f.const(np.asarray(lower, np.int32), "num_lower", "int32"),
                                     f.const(np.asarray(upper, np.int32), "num_upper", "int32")],
                  {"T": F32, "Tindex": f._t("int32")}, name=c.n("MatrixBandPart"), shape=(1, t, s))
    return f.compare("NotEqual", band, 0.0)


def _and(f: Ops, a: KTensor | None, b: KTensor | None) -> KTensor | None:
    if a is None:
        return b
    if b is None:
        return a
    return f.binary("LogicalAnd", a, b, dtype="bool")


def _as_bool(f: Ops, m: KTensor) -> KTensor:
    return m if m.dtype == "bool" else f.compare("NotEqual", f.cast(m, "float32"), 0.0)


# -- MultiHeadAttention ----------------------------------------------------------------------------
def _project(c: LayerCall, x: KTensor, name: str, heads: int, size: int, use_bias: bool, scale: float = 1.0,
             activation: str | None = None) -> KTensor:
    """EinsumDense '...c,cde->...de' as MatMul + BiasAdd over the last axis, then Reshape to
    [..., heads, size]."""
    f = c.f
    dim = x.shape[-1]
    kernel = c.weight_value(f"{name}/kernel", (dim, heads, size)).reshape(dim, heads * size) * scale
    k = c.b.const(kernel.astype(np.float32), name=c.n(f"{name}/kernel"))
    b = None
    if use_bias:
        bias = c.weight_value(f"{name}/bias", (heads, size)).reshape(heads * size) * scale
        b = c.b.const(bias.astype(np.float32), name=c.n(f"{name}/bias"))
    y = Ops(c.b, c.n(name)).dense(x, k, b)
    if activation == "sigmoid":
        y = f.unary("Sigmoid", y)
    return Ops(c.b, c.n(name)).reshape(y, x.shape[:-1] + (heads, size), like=x)


def _mha_names(keras3: bool) -> list[str]:
    if keras3:
        return ["query", "value", "key", "query_mask", "value_mask", "key_mask", "attention_mask",
                "return_attention_scores", "training", "use_causal_mask"]
    return ["query", "value", "key", "attention_mask", "return_attention_scores", "training", "use_causal_mask"]


@layer("MultiHeadAttention")
def multi_head_attention(c: LayerCall) -> list[KTensor]:
    f = c.f
    a = _positional(c, _mha_names(c.keras3))
    q, v, k = a.get("query"), a.get("value"), a.get("key")
    if not isinstance(q, KTensor) or not isinstance(v, KTensor):
        raise LayerConfigError("MultiHeadAttention needs tensor query and value inputs")
    k_given = isinstance(k, KTensor)
    if not k_given:
        k = v
    assert isinstance(k, KTensor)
    if q.rank < 3 or v.rank != q.rank or k.rank != q.rank:
        raise LayerConfigError(f"query {q.shape}, value {v.shape} and key {k.shape} must have one rank >= 3")
    if any(d is None for d in (q.shape[-1], v.shape[-1], k.shape[-1])):
        raise LayerConfigError("the feature (last) dims of query, value and key must be known")
    heads = int(c.cfg("num_heads"))
    key_dim = int(c.cfg("key_dim"))
    value_dim = int(c.cfg("value_dim") or key_dim)
    use_bias = bool(c.cfg("use_bias", True))
    use_gate = bool(c.cfg("use_gate", False))
    window = c.cfg("sliding_window")
    out_cfg = c.cfg("output_shape")
    if out_cfg is None or out_cfg == [] or out_cfg == ():
        out_shape = [int(q.shape[-1])]   # type: ignore[arg-type]
    elif isinstance(out_cfg, int):
        out_shape = [out_cfg]
    elif isinstance(out_cfg, (list, tuple)) and all(isinstance(d, int) for d in out_cfg):
        out_shape = [int(d) for d in out_cfg]
    else:
        raise LayerConfigError(f"output_shape must be an int or a list of ints, got {out_cfg!r}")
    return_scores = _bool(a.get("return_attention_scores"), "return_attention_scores")
    causal = _bool(a.get("use_causal_mask"), "use_causal_mask")
    rank = q.rank + 1
    axes_cfg = c.cfg("attention_axes")
    if axes_cfg is None:
        attn_axes = tuple(range(1, rank - 2))
    else:
        items = axes_cfg if isinstance(axes_cfg, (list, tuple)) else [axes_cfg]
        attn_axes = tuple(int(x) if int(x) >= 0 else (rank - 1) + int(x) for x in items)
        if any(x <= 0 or x >= rank - 2 for x in attn_axes):
            raise LayerConfigError(f"attention_axes {axes_cfg!r} must name axes between the batch and the features")
    dot_eq, combine_eq, scores_rank = _attention_equations(rank, attn_axes)
    norm_axes = list(range(scores_rank - len(attn_axes), scores_rank))

    # -- the merged boolean mask ([B, T, S] or broadcastable) ----------------------------------------
    mask: KTensor | None = None
    qm = q.mask     # both Kerases read the query's mask off the tensor (Keras 3 ignores a passed query_mask)
    vm = a.get("value_mask") if isinstance(a.get("value_mask"), KTensor) else v.mask
    km = a.get("key_mask") if isinstance(a.get("key_mask"), KTensor) else (k.mask if k_given else None)
    if rank != 4 and (qm is not None or vm is not None or km is not None or causal or window is not None):
        raise LayerConfigError("Keras masks, use_causal_mask and sliding_window need rank-3 query / value / key")
    if qm is not None:
        mask = _and(f, mask, f.expand_dims(_as_bool(f, qm), -1))
    if vm is not None:
        mask = _and(f, mask, f.expand_dims(_as_bool(f, vm), -2))
    if km is not None:
        mask = _and(f, mask, f.expand_dims(_as_bool(f, km), -2))
    if causal:
        mask = _and(f, mask, band_mask(c, q, v, -1, 0))
    if window is not None:
        if not c.keras3 or not isinstance(window, int) or window <= 0:
            raise LayerConfigError(f"sliding_window must be a positive int, got {window!r}")
        mask = _and(f, mask, band_mask(c, q, v, window - 1, window - 1))
    am = a.get("attention_mask")
    if am is not None and not isinstance(am, KTensor):
        raise LayerConfigError(f"attention_mask must be a tensor, got {am!r}")
    if am is not None:
        mask = _and(f, _as_bool(f, am), mask)

    # -- projections -----------------------------------------------------------------------------------
    gate = _project(c, q, "gate", heads, value_dim, use_bias, activation="sigmoid") if use_gate else None
    qp = _project(c, q, "query", heads, key_dim, use_bias, scale=1.0 / math.sqrt(float(key_dim)))
    kp = _project(c, k, "key", heads, key_dim, use_bias)
    vp = _project(c, v, "value", heads, value_dim, use_bias)

    scores = einsum(f, dot_eq, kp, qp)
    if mask is not None:
        while mask.rank < scores.rank:
            mask = f.expand_dims(mask, -len(attn_axes) * 2 - 1)
        if any(p is not None and q_ is not None and p not in (1, q_) for p, q_ in zip(mask.shape, scores.shape)):
            raise LayerConfigError(f"the attention mask {mask.shape} does not broadcast with the scores {scores.shape}")
    dropout = float(c.cfg("dropout", 0.0) or 0.0)
    if mask is not None and c.keras3 and dropout == 0.0 and not return_scores and rank == 4:
        # ops.dot_product_attention: masked logits replaced by a large negative, no re-masking
        probs = softmax_axes(f, f.select(mask, scores, f.scalar(-1e9)), norm_axes)
    else:
        probs = masked_softmax(f, scores, norm_axes, mask, c.keras3)
    out = einsum(f, combine_eq, probs, vp)
    if gate is not None:
        out = f.mul(out, gate)

    # -- output projection: EinsumDense '...cd,cde->...e' as MatMul over [heads * value_dim] -----------
    lead = q.shape[:-1]
    flat = Ops(c.b, c.n("attention_output")).reshape(out, lead + (heads * value_dim,), like=q)
    units = int(np.prod(out_shape))
    kernel = c.weight_value("attention_output/kernel", (heads, value_dim, *out_shape)).reshape(heads * value_dim, units)
    kt = c.b.const(kernel.astype(np.float32), name=c.n("attention_output/kernel"))
    bt = None
    if use_bias:
        bt = c.b.const(c.weight_value("attention_output/bias", tuple(out_shape)).reshape(units).astype(np.float32),
                       name=c.n("attention_output/bias"))
    y = Ops(c.b, c.n("attention_output")).dense(flat, kt, bt)
    if len(out_shape) != 1:
        y = f.reshape(y, lead + tuple(out_shape), like=q)
    return [y, probs] if return_scores else [y]


# -- Attention / AdditiveAttention ------------------------------------------------------------------
def _qvk_masks(c: LayerCall) -> tuple[KTensor, KTensor, KTensor, KTensor | None, KTensor | None, dict[str, Any]]:
    """(query, value, key, query mask, value mask, other call args) of an Attention call on
    [query, value(, key)]; masks from the `mask` argument or the inputs' Keras masks."""
    xs = c.inputs
    if len(xs) not in (2, 3):
        raise LayerConfigError(f"{c.class_name} takes [query, value] or [query, value, key], got {len(xs)} tensors")
    q, v = xs[0], xs[1]
    k = xs[2] if len(xs) == 3 else v
    for t in (q, v, k):
        if t.rank != 3:
            raise LayerConfigError(f"{c.class_name} inputs must be rank 3 [batch, steps, dim], got {t.shape}")
    opts = dict(c.kwargs)
    mask = opts.get("mask")
    if isinstance(mask, (list, tuple)):
        qm = mask[0] if len(mask) > 0 and isinstance(mask[0], KTensor) else None
        vm = mask[1] if len(mask) > 1 and isinstance(mask[1], KTensor) else None
    elif mask is None:
        qm, vm = q.mask, v.mask
    else:
        raise LayerConfigError(f"mask must be a list [query_mask, value_mask], got {mask!r}")
    return q, v, k, qm, vm, opts


def _apply_scores(c: LayerCall, scores: KTensor, v: KTensor, q: KTensor, qm: KTensor | None, vm: KTensor | None,
                  causal: bool) -> tuple[KTensor, KTensor]:
    """Keras' _apply_scores and the query mask: masked scores lowered by 1e9 (Keras 2 subtracts
    1e9 * padding; Keras 3 selects scores - 1e9), softmax, product with value, masked query rows 0."""
    f = c.f
    smask: KTensor | None = f.expand_dims(_as_bool(f, vm), -2) if vm is not None else None
    if causal:
        smask = _and(f, smask, band_mask(c, q, v, -1, 0))
    if smask is not None:
        pad = f.unary("LogicalNot", smask, dtype="bool")
        if c.keras3:
            scores = f.select(pad, f.sub(scores, 1e9), scores)
        else:
            scores = f.sub(scores, f.mul(f.cast(pad, "float32"), 1e9))
    weights = f.softmax(scores, -1)
    out = f.matmul(weights, v)
    if qm is not None:
        qmb = f.expand_dims(_as_bool(f, qm), -1)
        if c.keras3:
            out = f.select(qmb, out, f.mul(out, 0.0))
        else:
            out = f.mul(out, f.cast(qmb, "float32"))
    return out, weights


def _finish(c: LayerCall, opts: dict[str, Any], out: KTensor, weights: KTensor) -> list[KTensor]:
    return [out, weights] if _bool(opts.get("return_attention_scores"), "return_attention_scores") else [out]


def _causal(c: LayerCall, opts: dict[str, Any]) -> bool:
    return _bool(opts.get("use_causal_mask"), "use_causal_mask") or bool(c.cfg("causal", False))


@layer("Attention")
def attention(c: LayerCall) -> list[KTensor]:
    f = c.f
    q, v, k, qm, vm, opts = _qvk_masks(c)
    mode = c.cfg("score_mode", "dot")
    scale = float(np.asarray(c.weight_value("scale")).reshape(())) if c.cfg("use_scale", False) else None
    if mode == "dot":
        scores = f.matmul(q, k, transpose_b=True)
        if scale is not None:
            scores = f.mul(scores, scale)
    elif mode == "concat":
        w = float(np.asarray(c.weight_value("concat_score_weight")).reshape(()))
        s = f.add(f.expand_dims(q, -2), f.expand_dims(k, -3))
        if scale is not None:
            s = f.mul(s, scale)
        scores = f.mul(f.sum(f.unary("Tanh", s), [-1]), w)
    else:
        raise LayerConfigError(f"score_mode {mode!r} is not 'dot' or 'concat'")
    out, weights = _apply_scores(c, scores, v, q, qm, vm, _causal(c, opts))
    return _finish(c, opts, out, weights)


@layer("AdditiveAttention")
def additive_attention(c: LayerCall) -> list[KTensor]:
    """scores = sum(scale * tanh(q[:, :, None] + k[:, None]), -1), scale a [dim] weight (or 1)."""
    f = c.f
    q, v, k, qm, vm, opts = _qvk_masks(c)
    s = f.unary("Tanh", f.add(f.expand_dims(q, -2), f.expand_dims(k, -3)))
    if c.cfg("use_scale", True):
        s = f.mul(s, c.weight("scale", (q.shape[-1],)))
    scores = f.sum(s, [-1])
    out, weights = _apply_scores(c, scores, v, q, qm, vm, _causal(c, opts))
    return _finish(c, opts, out, weights)

