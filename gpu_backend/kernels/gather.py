"""GatherV2, GatherNd, ScatterNd, TensorScatterUpdate and OneHot.

Out-of-range indices read 0 (gathers) or are dropped (scatters), as TF on GPU and the reference.
A fragment shader writes only its own output, so the scatters are gathers: a first draw turns
each index row into the output row number it targets (-1 when out of range), then every output
texel scans those row numbers (4 per fetch when packed) and combines the updates aimed at it, in
index order.  That scan costs (outputs x updates); above ``MAX_SCATTER_UPDATES`` update rows it
would be absurd for a shader, and the call falls back to the reference (GLFallback).

Like the slicing kernels, draws run at canonical ranks (``slicing.canon``): every operand is
lifted with leading size-1 dims, and the programs relate output dims to operand dims through 0/1
matrices given as uniforms, so one program serves every rank up to 4 and every axis.
"""
from __future__ import annotations

import math

import numpy as np

from ..dtypes import normalize_dtype
from ..errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from ..registry import GLFallback, gl_kernel
from ..runner import Arg, GLTensor, ProgramRunner
from ..slicing import int_list, resolve_gather
from .elementwise import MATH
from .slicing import REMAP_ELEM, REMAP_TEXEL, canon, lift, run_canonical, scalar_uniforms

MAX_SCATTER_UPDATES = 65536


def dim_map(out_rank: int, in_rank: int, pairs: list[tuple[int, int]]) -> np.ndarray:
    """The flattened 0/1 matrix [out_rank, in_rank] with a 1 at each (output dim, input dim)."""
    m = np.zeros((out_rank, in_rank), "i4")
    for o, i in pairs:
        m[o, i] = 1
    return m.reshape(-1)


def _check_indices(op: str, idx: GLTensor) -> None:
    if idx.dtype != "int32":
        raise UnsupportedDTypeError(f"{op}: indices must be int32, got {idx.dtype}")


@gl_kernel("GatherV2")
def gather_v2(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    """Texel program when the output's last dim is the params' last dim (axis not last)."""
    params, idx = inputs[0], inputs[1]
    _check_indices(op, idx)
    spec = resolve_gather(params.shape, idx.shape, int(attrs.get("axis", 0)), int(attrs.get("batch_dims", 0)))
    if math.prod(spec.output_shape) == 0:
        return [gl.alloc(spec.output_shape, params.dtype)]
    packed = params.view.packed
    texel = not packed or spec.axis < params.rank - 1
    axis, bd, n_idx = spec.axis, spec.batch_dims, idx.rank - spec.batch_dims
    o_rank, p_rank, i_rank = canon(len(spec.output_shape)), canon(params.rank), canon(idx.rank)
    po, pp, pi = o_rank - len(spec.output_shape), p_rank - params.rank, i_rank - idx.rank
    # output = params[:axis] + indices[bd:] + params[axis + 1:]; the batch dims are shared
    imap = [(po + k, pi + k) for k in range(bd)] + [(po + axis + k - bd, pi + k) for k in range(bd, idx.rank)]
    pmap = [(po + i, pp + i) for i in range(axis)] + [(po + i - 1 + n_idx, pp + i)
                                                      for i in range(axis + 1, params.rank)]
    uniforms = {"imap": dim_map(o_rank, i_rank, imap), "pmap": dim_map(o_rank, p_rank, pmap), "axis": pp + axis,
                "adim": spec.axis_dim}
    args = {"X": Arg(params, elem=not texel, view=lift(params.view, p_rank)),
            "I": Arg(idx, elem=True, view=lift(idx.view, i_rank))}
    return [run_canonical(gl, "gather.glsl", "gather", "texel" if texel else "element", args, spec.output_shape,
                          params.dtype, uniforms=uniforms, libs=[REMAP_TEXEL if texel else REMAP_ELEM], packed=packed,
                          label=op)]


def _nd_depth(op: str, idx: GLTensor, shape: tuple[int, ...]) -> int:
    if idx.rank == 0:
        raise ShapeError(f"{op}: indices must have rank >= 1 (the last dim holds coordinates), got a scalar")
    k = idx.shape[-1]
    if k > len(shape):
        raise ShapeError(f"{op}: indices have {k} coordinates per row but the tensor has only rank {len(shape)}")
    return k


@gl_kernel("GatherNd")
def gather_nd(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    """Texel program when the gathered slices are non-empty (they hold the packed last dim)."""
    params, idx = inputs[0], inputs[1]
    _check_indices(op, idx)
    k = _nd_depth(op, idx, params.shape)
    out_shape = idx.shape[:-1] + params.shape[k:]
    if math.prod(out_shape) == 0:
        return [gl.alloc(out_shape, params.dtype)]
    packed = params.view.packed
    texel = not packed or k < params.rank
    lead = idx.rank - 1
    o_rank, p_rank, i_rank = canon(len(out_shape)), canon(params.rank), canon(idx.rank)
    po, pp, pi = o_rank - len(out_shape), p_rank - params.rank, i_rank - idx.rank
    imap = [(po + j, pi + j) for j in range(lead)]
    pmap = [(po + lead + i - k, pp + i) for i in range(k, params.rank)]
    uniforms = {"imap": dim_map(o_rank, i_rank, imap), "pmap": dim_map(o_rank, p_rank, pmap), "K": k, "kofs": pp}
    args = {"X": Arg(params, elem=not texel, view=lift(params.view, p_rank)),
            "I": Arg(idx, elem=True, view=lift(idx.view, i_rank))}
    return [run_canonical(gl, "gather.glsl", "gather_nd", "texel" if texel else "element", args, out_shape,
                          params.dtype, uniforms=uniforms, libs=[REMAP_TEXEL if texel else REMAP_ELEM],
                          packed=packed, label=op)]


def _scatter(gl: ProgramRunner, op: str, idx: GLTensor, updates: GLTensor, shape: tuple[int, ...],
             tensor: GLTensor | None) -> GLTensor:
    """Both scatters: validate, resolve the index rows (draw 1), gather the updates (draw 2)."""
    _check_indices(op, idx)
    k = _nd_depth(op, idx, shape)
    if k == 0:
        raise ShapeError(f"{op}: indices of shape {list(idx.shape)} have no coordinates (last dim 0); "
                         "each index row needs at least one coordinate")
    want = tuple(idx.shape[:-1]) + tuple(shape[k:])
    if updates.shape != want:
        raise ShapeError(f"{op}: updates have shape {list(updates.shape)} but indices {list(idx.shape)} and "
                         f"shape {list(shape)} need {list(want)}")
    dtype = updates.dtype
    if math.prod(shape) == 0:
        return gl.alloc(shape, dtype)
    n_upd = math.prod(idx.shape[:-1])
    if n_upd > MAX_SCATTER_UPDATES:
        raise GLFallback(f"{n_upd} update rows: a per-output scan over more than {MAX_SCATTER_UPDATES} "
                         "is not worth a shader")
    rank = len(shape)
    packed = updates.view.packed
    idx2 = gl.reshape(idx, (n_upd, k))
    upd2 = gl.reshape(updates, (n_upd,) + tuple(shape[k:]))
    rows = None
    try:
        sr = canon(rank)
        sdims = np.asarray(list(shape) + [1] * (sr - rank), "i4")
        rows = gl.run("gather.glsl", "scatter_rows", "element", {"I": Arg(idx2, elem=True)}, (n_upd,), "int32",
                      uniforms={"K": k, "sdims": sdims}, defines=[("SR", str(sr))], packed=packed,
                      label=f"{op}(rows)")
        # the gather runs at canonical ranks: the output and T lifted by po leading dims, the
        # updates [U, slice...] by size-1 dims after the row dim (when the slice is empty, the
        # row dim is the packed last dim and stays alone)
        po = sr - rank
        u_rank = canon(upd2.rank) if upd2.rank > 1 else 1
        pu = u_rank - upd2.rank
        rowstr = np.zeros(sr, "i4")
        acc = 1
        for j in range(k - 1, -1, -1):
            rowstr[po + j] = acc
            acc *= shape[j]
        umap = [(po + k + s, 1 + pu + s) for s in range(rank - k)]
        # texel style when every lane of an output texel lies in one row: the packed last dim is
        # a slice dim (k < rank); unpacked, texels are elements
        texel = not packed or k < rank
        args = {"Rows": Arg(rows), "Upd": Arg(upd2, elem=not texel, view=lift(upd2.view, u_rank, at=1))}
        if tensor is not None:
            args["T"] = Arg(tensor, elem=not texel, view=lift(tensor.view, sr))
        defines = [("UPDATE", str(int(tensor is not None))), ("STYLE_TEXEL", str(int(texel))),
                   ("OUT_BOOL", str(int(dtype == "bool")))]
        return run_canonical(gl, "gather.glsl", "scatter", "texel" if texel else "element", args, shape, dtype,
                             uniforms={"rowstr": rowstr, "umap": dim_map(sr, u_rank, umap), "nupd": n_upd},
                             defines=defines, packed=packed, label=op)
    finally:
        for t in (idx2, upd2, rows):
            if t is not None:
                gl.release(t)


@gl_kernel("ScatterNd")
def scatter_nd(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    """Zeros plus every update at its row; duplicates add in index order (float32 like TF's CPU loop,
    int32 wrapping, bool or)."""
    idx, updates = inputs[0], inputs[1]
    shape = tuple(int_list(attrs.get("shape"), op, "shape"))
    if any(d < 0 for d in shape):
        raise AttributeValueError(f"{op}: shape {list(shape)} has a negative dim")
    return [_scatter(gl, op, idx, updates, shape, None)]


@gl_kernel("TensorScatterUpdate")
def tensor_scatter_update(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    """A new tensor: the input where no update row targets, else the last update aimed there."""
    tensor, idx, updates = inputs
    if updates.dtype != tensor.dtype:
        raise UnsupportedDTypeError(f"{op}: updates ({updates.dtype}) must have the tensor's dtype ({tensor.dtype})")
    return [_scatter(gl, op, idx, updates, tensor.shape, tensor)]


@gl_kernel("OneHot")
def one_hot(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    """One texel program: along the last axis the 4 lanes are 4 depths of one index; elsewhere
    they are 4 indices compared with one depth."""
    idx = inputs[0]
    _check_indices(op, idx)
    depth = int(attrs.get("depth", 0))
    if depth < 0:
        raise AttributeValueError(f"{op}: depth must be >= 0, got {depth}")
    axis = int(attrs.get("axis", -1))
    if not -1 <= axis <= idx.rank:
        raise AttributeValueError(f"{op}: axis must be -1 or in [0, {idx.rank}] for indices of rank {idx.rank}, "
                                  f"got {axis}")
    if axis == -1:
        axis = idx.rank
    dtype = normalize_dtype(attrs.get("dtype", "float32"))
    out_shape = idx.shape[:axis] + (depth,) + idx.shape[axis:]
    if math.prod(out_shape) == 0:
        return [gl.alloc(out_shape, dtype)]
    on = scalar_uniforms(attrs.get("on_value", 1), dtype, op, "on_value")
    off = scalar_uniforms(attrs.get("off_value", 0), dtype, op, "off_value")
    o_rank, i_rank = canon(len(out_shape)), canon(idx.rank)
    po, pi = o_rank - len(out_shape), i_rank - idx.rank
    imap = [(po + (d if d < axis else d + 1), pi + d) for d in range(idx.rank)]
    amask = np.zeros(o_rank, "i4")
    amask[po + axis] = 1
    uniforms = {"imap": dim_map(o_rank, i_rank, imap), "amask": amask, "fon": on["f"], "foff": off["f"],
                "ion": on["i"], "ioff": off["i"]}
    args = {"I": Arg(idx, elem=True, view=lift(idx.view, i_rank))}
    return [run_canonical(gl, "gather.glsl", "one_hot", "texel", args, out_shape, dtype, uniforms=uniforms,
                          defines=[("AXIS_LAST", str(int(axis == idx.rank)))], libs=[MATH],
                          packed=idx.view.packed, label=op)]
