"""BatchMatMul / MatMul / _FusedMatMul: one packed output texel (4 columns) per fragment."""
from __future__ import annotations

import numpy as np

from ..errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from ..layout import batch_view
from ..registry import gl_kernel
from ..runner import Arg, GLTensor, ProgramRunner
from ..shapes import broadcast_shapes
from .elementwise import MATH

# Split-K when the output has at most this many texels and K is at least this long (see matmul.glsl)
SPLIT_K_MAX_TEXELS = 1024
SPLIT_K_MIN_K = 512

ACTIVATIONS = {"linear": 0, "relu": 1, "relu6": 2, "elu": 3, "sigmoid": 4, "leakyrelu": 5, "prelu": 6, "tanh": 7,
               "hardswish": 9}


def matmul_shapes(a: tuple[int, ...], b: tuple[int, ...], ta: bool, tb: bool) -> tuple[tuple[int, ...], int, int, int]:
    """(output shape, M, K, N) of a batched product, checking ranks, inner sizes and batch broadcasting."""
    if len(a) < 2 or len(b) < 2:
        raise ShapeError(f"BatchMatMul needs inputs of rank >= 2, got shapes {list(a)} and {list(b)}")
    m, ka = (a[-1], a[-2]) if ta else (a[-2], a[-1])
    kb, n = (b[-1], b[-2]) if tb else (b[-2], b[-1])
    if ka != kb:
        raise ShapeError(f"BatchMatMul: inner dimensions differ: {list(a)}{'^T' if ta else ''} x "
                         f"{list(b)}{'^T' if tb else ''} ({ka} != {kb})")
    batch = broadcast_shapes(a[:-2], b[:-2])
    return batch + (m, n), m, ka, n


PIECEWISE_LINEAR = {"linear": 1.0, "relu": 0.0, "relu6": 0.0, "leakyrelu": None}


def activation_code(act: str, attrs: dict) -> tuple[int, dict[str, float]]:
    """The ACT define and its uniforms: the piecewise-linear activations share code 8 (one program)."""
    if act in PIECEWISE_LINEAR:
        neg = PIECEWISE_LINEAR[act]
        if neg is None:
            neg = float(attrs.get("leakyrelu_alpha", 0.2))
        return 8, {"act_neg": neg, "act_hi": 6.0 if act == "relu6" else float("inf")}
    return ACTIVATIONS[act], {"leaky_alpha": float(attrs.get("leakyrelu_alpha", 0.2))}


def parse_fused(op: str, n_inputs: int, attrs: dict) -> tuple[str, bool, bool]:
    """(activation, has_bias, has_prelu) from _FusedMatMul/_FusedConv2D attributes and input count."""
    act = str(attrs.get("activation", "linear")).lower()
    if act not in ACTIVATIONS:
        raise AttributeValueError(f"{op}: activation {act!r} is not supported (supported: {', '.join(ACTIVATIONS)})")
    has_prelu = act == "prelu"
    extra = n_inputs - 2 - int(has_prelu)
    if extra not in (0, 1):
        raise AttributeValueError(f"{op}: expected x, filter/b, optional bias{', prelu weights' if has_prelu else ''}; "
                                  f"got {n_inputs} inputs")
    return act, extra == 1, has_prelu


@gl_kernel("BatchMatMul", "MatMul", "_FusedMatMul")
def batch_matmul(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    a, b = inputs[0], inputs[1]
    if op != "_FusedMatMul" and a.dtype == b.dtype == "int32":
        return [_int_matmul(gl, op, a, b, attrs, len(inputs))]
    if a.dtype != "float32" or b.dtype != "float32":
        raise UnsupportedDTypeError(f"{op} takes float32 inputs, got {a.dtype} and {b.dtype}")
    ta, tb = bool(attrs.get("transpose_a", False)), bool(attrs.get("transpose_b", False))
    act, has_bias, has_prelu = ("linear", False, False)
    if op == "_FusedMatMul":
        act, has_bias, has_prelu = parse_fused(op, len(inputs), attrs)
    elif len(inputs) != 2:
        raise AttributeValueError(f"{op} takes 2 inputs, got {len(inputs)}")
    out_shape, m, k, n = matmul_shapes(a.shape, b.shape, ta, tb)
    # the vectorised program needs packed operands; any other mix runs the generic one
    packed = a.view.packed and b.view.packed
    batch = out_shape[:-2]
    args: dict[str, Arg] = {
        "A": Arg(a, view=batch_view(a.view, batch), elem=not packed),
        "B": Arg(b, view=batch_view(b.view, batch), elem=not packed),
    }
    bias_tb = None
    if has_bias:
        args["Bias"] = Arg(inputs[2], "bcast", elem=not packed)
        bias_tb = constant_vector_buffer(gl, inputs[2], n) if packed else None
    if has_prelu:
        args["Prelu"] = Arg(inputs[-1], "bcast", elem=not packed)
    for name in ("Bias", "Prelu"):
        if name in args:
            broadcast_shapes(args[name].tensor.shape, out_shape)  # validates
    if bias_tb is not None:
        args["Bias"] = Arg(inputs[2], buffer=bias_tb)
    code, act_uniforms = activation_code(act, attrs)
    defines = [("TA", str(int(ta))), ("TB", str(int(tb))), ("HAS_BIAS", str(int(has_bias))),
               ("ACT", str(code)), ("BIAS_TB", str(int(bias_tb is not None)))]
    uniforms = {"K": k, "N": n, **act_uniforms}
    # a constant 2-D B (a dense layer's weights) is read from a buffer texture, prepared once
    bt = None
    if packed and not ta and not tb and b.rank == 2 and b.constant:
        bt = gl.buffer_texture(b, "matmul[K,N4]", lambda arr: _pad_last(arr).reshape(-1, 4))
        if bt is not None:
            args["B"] = Arg(b, buffer=bt)
            uniforms["N4"] = (n + 3) // 4
    if packed and not ta and not tb and a.rank == 2 and b.rank == 2 and m * ((n + 3) // 4) <= SPLIT_K_MAX_TEXELS \
            and k >= SPLIT_K_MIN_K:
        return [_split_k(gl, op, a, b, args, defines, uniforms, out_shape, bt)]
    if bt is not None:
        return [gl.run("matmul.glsl", "packed_tb", "texel", args, out_shape, "float32", defines=defines,
                       uniforms=uniforms, libs=[MATH, ("lib/activation.glsl", None)], packed=True, label=op)]
    section, style = ("packed", "texel") if packed else ("generic", "element")
    return [gl.run("matmul.glsl", section, style, args, out_shape, "float32", defines=defines, uniforms=uniforms,
                   libs=[MATH, ("lib/activation.glsl", None)], packed=packed if packed else None, label=op)]


def _int_matmul(gl: ProgramRunner, op: str, a: GLTensor, b: GLTensor, attrs: dict, n_inputs: int) -> GLTensor:
    """int32 x int32 in integer arithmetic, one output element per lane: exact for every int32 value
    (a float program would round products above 2^24) and wrapping mod 2^32 like TF."""
    if n_inputs != 2:
        raise AttributeValueError(f"{op} takes 2 inputs, got {n_inputs}")
    ta, tb = bool(attrs.get("transpose_a", False)), bool(attrs.get("transpose_b", False))
    out_shape, m, k, n = matmul_shapes(a.shape, b.shape, ta, tb)
    batch = out_shape[:-2]
    args = {"A": Arg(a, view=batch_view(a.view, batch), elem=True), "B": Arg(b, view=batch_view(b.view, batch), elem=True)}
    defines = [("TA", str(int(ta))), ("TB", str(int(tb))), ("HAS_BIAS", "0"), ("ACT", "0"), ("BIAS_TB", "0")]
    return gl.run("matmul.glsl", "generic", "element", args, out_shape, "int32", defines=defines,
                  uniforms={"K": k, "N": n}, libs=[MATH, ("lib/activation.glsl", None)], label=op)


def constant_vector_buffer(gl: ProgramRunner, t: GLTensor, n: int) -> object:
    """A constant 1-D [n] operand (a bias) as a buffer texture indexed by the output's channel texel."""
    if not t.constant or t.shape != (n,) or t.dtype != "float32":
        return None
    return gl.buffer_texture(t, "vector[N4]", lambda a: _pad_last(a.reshape(1, n)).reshape(-1, 4))


def _pad_last(a: np.ndarray) -> np.ndarray:
    pad = (-a.shape[-1]) % 4
    return np.pad(a, [(0, 0)] * (a.ndim - 1) + [(0, pad)]) if pad else a


def _split_k(gl: ProgramRunner, op: str, a: GLTensor, b: GLTensor, args: dict[str, Arg],
             defines: list[tuple[str, str]], uniforms: dict, out_shape: tuple[int, ...], bt: object = None) -> GLTensor:
    m, k = a.shape
    n = b.shape[1]
    splits = max(2, min(16, k // 256))
    ks = -(-k // splits)
    ks += (-ks) % 4
    splits = -(-k // ks)
    plain = [("TA", "0"), ("TB", "0"), ("HAS_BIAS", "0"), ("ACT", "0")]
    partial = gl.run("matmul.glsl", "splitk_tb" if bt is not None else "splitk", "texel",
                     {"A": Arg(a), "B": Arg(b, buffer=bt)}, (splits, m, n), "float32",
                     defines=plain, uniforms=dict(uniforms, KS=ks), libs=[MATH, ("lib/activation.glsl", None)],
                     packed=True, label=f"{op}(split-K)")
    try:
        rest = {name: arg for name, arg in args.items() if name in ("Bias", "Prelu")}
        return gl.run("matmul.glsl", "splitk_sum", "texel", {"P": Arg(partial), **rest}, out_shape, "float32",
                      defines=defines, uniforms=dict(uniforms, S=splits), libs=[MATH, ("lib/activation.glsl", None)],
                      packed=True, label=op)
    finally:
        gl.release(partial)
