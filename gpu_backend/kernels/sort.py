"""TopK and SearchSorted with the reference's tie and NaN rules (gpu_backend/reference/sort.py).

TopK has no sort network here: a fragment shader cannot scatter.  The order is a
strict total order on (integer key, index), NaN keyed below -inf, so every value
has a unique position and ties need no special case.  Two gather-only schemes:
- rank: each value's position = how many values come before it (a rank draw,
  O(n) per value), then output j = the index whose rank is j (a select draw);
  O(n^2) per row, whatever k.
- iterate: output j = j + 1 rounds of "the first value after the previous pick"
  (one draw, O(j n) per output, O(k^2 n) per row); cheaper when k^2 < 2n, which
  is the usual TopK over class scores, and the only scheme for long rows.
Values are then gathered by index.  Rows longer than MAX_RANK_ROW use iterate,
and run on the reference when k * n > MAX_ITERATE_WORK (the last output's loop
would be too long for one draw).

SearchSorted replays std::lower_bound / std::upper_bound probe for probe, as the
reference does, so unsorted or NaN rows give the same (TF's) answer.
"""
from __future__ import annotations


from ..errors import AttributeValueError, ShapeError, UnsupportedDTypeError
from ..op_checks import top_k_count
from ..registry import GLFallback, gl_kernel
from ..runner import Arg, GLTensor, ProgramRunner
from .elementwise import MATH

MAX_RANK_ROW = 4096
MAX_ITERATE_WORK = 1 << 24


@gl_kernel("TopK")
def top_k(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    x = inputs[0]
    if x.dtype not in ("float32", "int32"):
        raise UnsupportedDTypeError(f"TopK takes float32 or int32 input, got {x.dtype}")
    k = top_k_count(op, attrs, x.shape)
    n = x.shape[-1]
    out_shape = x.shape[:-1] + (k,)
    if k == 0:
        return [gl.alloc(out_shape, x.dtype), gl.alloc(out_shape, "int32")]
    if k * k < 2 * n or n > MAX_RANK_ROW:
        if k * n > MAX_ITERATE_WORK:
            raise GLFallback(f"TopK: k={k} of rows of {n} values is too much work for one GL draw "
                             f"(k * n > {MAX_ITERATE_WORK} with n > {MAX_RANK_ROW})")
        indices = gl.run("sort.glsl", "iterate", "element", {"X": Arg(x)}, out_shape, "int32", uniforms={"n": n},
                         libs=[MATH], label="TopK(iterate)")
    else:
        rank = gl.run("sort.glsl", "rank", "element", {"X": Arg(x)}, x.shape, "int32", uniforms={"n": n},
                      libs=[MATH], label="TopK(rank)")
        try:
            indices = gl.run("sort.glsl", "select", "element", {"Rank": Arg(rank)}, out_shape, "int32",
                             uniforms={"n": n}, libs=[MATH], label="TopK(select)")
        finally:
            gl.release(rank)
    values = gl.run("sort.glsl", "gather", "element", {"X": Arg(x, elem=True), "I": Arg(indices, elem=True)},
                    out_shape, x.dtype, libs=[MATH], label="TopK(gather)")
    return [values, indices]


@gl_kernel("SearchSorted")
def search_sorted(gl: ProgramRunner, op: str, inputs: list[GLTensor], attrs: dict) -> list[GLTensor]:
    if len(inputs) != 2:
        raise ShapeError(f"SearchSorted takes 2 inputs (sorted_sequence, values), got {len(inputs)}")
    seq, vals = inputs
    side = attrs.get("side", "left")
    if side not in ("left", "right"):
        raise AttributeValueError(f"SearchSorted: side must be 'left' or 'right', got {side!r}")
    for name, t in (("sorted_sequence", seq), ("values", vals)):
        if t.dtype not in ("float32", "int32"):
            raise UnsupportedDTypeError(f"SearchSorted: {name} must be float32 or int32, got {t.dtype}")
    if seq.dtype != vals.dtype:
        raise UnsupportedDTypeError(
            f"SearchSorted: sorted_sequence ({seq.dtype}) and values ({vals.dtype}) must have the same dtype")
    if seq.rank < 1 or seq.rank != vals.rank or seq.shape[:-1] != vals.shape[:-1]:
        raise ShapeError(
            f"SearchSorted: sorted_sequence {list(seq.shape)} and values {list(vals.shape)} must have the same "
            f"rank (>= 1) and the same leading dimensions, as in TF; for one sequence shared by many rows "
            f"reshape the values to [1, -1] and the sequence to [1, N], or tile the sequence")
    return [gl.run("sort.glsl", "search", "element", {"Seq": Arg(seq, elem=True), "Val": Arg(vals, elem=True)},
                   vals.shape, "int32", uniforms={"n": seq.shape[-1], "upper": int(side == "right")},
                   libs=[MATH], label=op)]
