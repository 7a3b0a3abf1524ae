"""TensorFlow's stateful random ops: RandomUniform, RandomStandardNormal, TruncatedNormal,
RandomUniformInt and Multinomial, on a vectorised numpy Philox4x32-10.

Why Philox and not numpy's generators: a converted graph carries TF's (seed, seed2) attributes, and a
user who fixed them expects TF's numbers, not merely numbers with TF's distribution.  TF's CPU kernels
draw from a counter-based Philox4x32-10 keyed by `seed` with `seed2` in the counter's upper 64 bits,
and every output element is a pure function of (key, counter), so the stream is reproduced here
block by block with array arithmetic.  What is reproduced, checked against TF 2.19's CPU kernels
(tests/fixtures/make_random_goldens.py):

  * RandomUniform (float32) and RandomUniformInt (int32 Tout): bit-exact, first and later calls.
  * RandomStandardNormal and TruncatedNormal (float32): the same samples to within 2 float32 ulps,
    about 98% of them bit-identical (Box-Muller's log/sin/cos are computed in float64 and rounded here,
    in float32 libm there), so a rare TruncatedNormal candidate right at +-2 could be kept on one side
    and redrawn on the other.
  * Multinomial: bit-exact while TF runs all rows in one shard (small batches: the goldens' 3 x 9
    samples are); for larger ones TF's thread pool splits the rows into shards whose size depends on
    its thread count (8-row shards for 64 x 100 samples on 2 cores), each shard starting its stream at
    first_row * (num_samples + 3) / 4 blocks.  Rows here always follow the one-shard order, so such
    batches match TF in their first shard only (same distribution elsewhere).
  * float16/float64/bfloat16 outputs and int64 Tout: the loader maps those dtypes to float32/int32
    before a kernel sees them (gpu_backend/dtypes.py), so they get the float32/int32 algorithms; TF's
    half/double/int64 variants pack the bits differently, so those values differ from TF's (same
    distributions).

State: like TF's kernels these ops are stateful.  Each node owns a `PhiloxStream` (made by its mapping
in loader/op_mapping.py and kept in the node's kernel attributes for the life of the loaded model) and
every execution reserves the same counter range TF's does (256 blocks per output element), so the n-th
predict() of a fresh load gives TF's n-th result, and repeated calls give new samples.  With
seed == seed2 == 0 TF asks for nondeterminism: the stream is keyed from OS entropy when it is made.
A direct kernel call without a stream (tests, run_reference) uses a fresh stream: a seeded op then
returns its first-call values every time.
"""
from __future__ import annotations

import math
import secrets
import threading

import numpy as np

from ..errors import AttributeValueError, ShapeError
from ..registry import host_kernel

_M32 = 0xFFFFFFFF
_M64 = (1 << 64) - 1
_M128 = (1 << 128) - 1
_MUL = (np.uint64(0xD2511F53), np.uint64(0xCD9E8D57))   # Philox4x32 round multipliers
_WEYL = (0x9E3779B9, 0xBB67AE85)                         # key increments between rounds
_ROUNDS = 10
_RESERVE_PER_OUTPUT = 256     # TF reserves this many 128-bit blocks per output element and call
_TRUNCATE = np.float32(2.0)   # TruncatedNormal keeps |x| < 2


def philox(key: tuple[int, int], base: int, offsets: np.ndarray) -> np.ndarray:
    """Philox4x32-10 of the 128-bit counters base + offsets: shape offsets.shape + (4,), uint32.

    Lane 0 of a counter is its least significant word; the four output words come in TF's order."""
    off = np.asarray(offsets, dtype=np.uint64)
    base_lo, base_hi = np.uint64(base & _M64), np.uint64((base >> 64) & _M64)
    lo = off + base_lo                                     # wraps mod 2**64; a wrap carries into hi
    hi = base_hi + (lo < base_lo).astype(np.uint64)
    mask = np.uint64(_M32)
    shift = np.uint64(32)
    c0, c1, c2, c3 = lo & mask, lo >> shift, hi & mask, hi >> shift
    k0, k1 = key
    for _ in range(_ROUNDS):
        p0 = _MUL[0] * c0                                  # 32 x 32 -> 64 bits: exact in uint64
        p1 = _MUL[1] * c2
        c0, c1, c2, c3 = ((p1 >> shift) ^ c1 ^ np.uint64(k0), p1 & mask,
                          (p0 >> shift) ^ c3 ^ np.uint64(k1), p0 & mask)
        k0, k1 = (k0 + _WEYL[0]) & _M32, (k1 + _WEYL[1]) & _M32
    return np.stack([c0, c1, c2, c3], axis=-1).astype(np.uint32)


class PhiloxStream:
    """One node's generator: a Philox key and the counter where its next execution starts.

    Kept per node rather than per module so two nodes with the same seeds give the same numbers (as
    in TF) and a fresh load starts over; the lock makes a reservation atomic, as TF's mutex does."""

    def __init__(self, seed: int = 0, seed2: int = 0) -> None:
        seed, seed2 = int(seed) & _M64, int(seed2) & _M64
        if seed == 0 and seed2 == 0:
            seed, seed2 = secrets.randbits(64), secrets.randbits(64)
        self.key = (seed & _M32, seed >> 32)
        self.counter = seed2 << 64
        self._lock = threading.Lock()

    def reserve(self, blocks: int) -> int:
        """The counter this execution starts at; the next one starts `blocks` further on."""
        with self._lock:
            start = self.counter
            self.counter = (start + blocks) & _M128
            return start

    def __repr__(self) -> str:
        return f"PhiloxStream(key={self.key}, counter={self.counter:#x})"


def _stream(attrs: dict) -> PhiloxStream:
    stream = attrs.get("_stream")
    if isinstance(stream, PhiloxStream):
        return stream
    return PhiloxStream(int(attrs.get("seed", 0) or 0), int(attrs.get("seed2", 0) or 0))


def _shape(op: str, shape: np.ndarray) -> tuple[int, ...]:
    """TF's MakeShape: a vector of non-negative sizes (a scalar is refused, as in TF)."""
    shape = np.asarray(shape)
    if shape.ndim != 1 or shape.dtype.kind not in "iu":
        raise ShapeError(f"{op}: shape must be a vector of {{int32,int64}}, got shape {list(shape.shape)} "
                         f"({shape.dtype})")
    dims = tuple(int(d) for d in shape)
    for d in dims:
        if d < 0:
            raise ShapeError(f"{op}: dimension {d} of shape {list(dims)} must be >= 0")
    return dims


def _blocks_in_order(stream: PhiloxStream, n_words: int, reserve: int) -> np.ndarray:
    """n_words consecutive 32-bit words of one execution's stream (after reserving `reserve` blocks)."""
    base = stream.reserve(reserve)
    n_blocks = -(-n_words // 4)
    return philox(stream.key, base, np.arange(n_blocks, dtype=np.uint64)).reshape(-1)[:n_words]


def uniform_float(bits: np.ndarray) -> np.ndarray:
    """[0, 1) float32 from 23 random mantissa bits: 1.m - 1 (TF's Uint32ToFloat: the low 23 bits)."""
    return ((bits.astype(np.uint32) & np.uint32(0x7FFFFF)) | np.uint32(0x3F800000)).view(np.float32) - np.float32(1)


def uniform_double(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """[0, 1) float64 from 52 mantissa bits: 20 from `hi`, 32 from `lo` (TF's Uint64ToDouble)."""
    man = ((hi.astype(np.uint64) & np.uint64(0xFFFFF)) << np.uint64(32)) | lo.astype(np.uint64)
    return (man | np.uint64(0x3FF0000000000000)).view(np.float64) - 1.0


def box_muller(bits: np.ndarray) -> np.ndarray:
    """Normal float32 samples from consecutive word pairs (x0, x1): sin then cos, radius from x0.

    TF computes this in float32 libm; each step is rounded to float32 here so results agree with it
    to the last bit in almost every case."""
    pairs = bits.reshape(-1, 2)
    u1 = np.maximum(uniform_float(pairs[:, 0]), np.float32(1e-7))
    v1 = (2.0 * math.pi * uniform_float(pairs[:, 1]).astype(np.float64)).astype(np.float32)
    log_u1 = np.log(u1.astype(np.float64)).astype(np.float32)
    radius = np.sqrt((np.float32(-2) * log_u1).astype(np.float64)).astype(np.float32)
    v = v1.astype(np.float64)
    out = np.empty((pairs.shape[0], 2), np.float32)
    out[:, 0] = np.sin(v).astype(np.float32) * radius
    out[:, 1] = np.cos(v).astype(np.float32) * radius
    return out.reshape(-1)


@host_kernel("RandomUniform", stateful=True)
def random_uniform(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """[0, 1) float32 values; four per Philox block, in order."""
    shape = _shape(op, inputs[0])
    n = math.prod(shape)
    bits = _blocks_in_order(_stream(attrs), n, n * _RESERVE_PER_OUTPUT)
    return [uniform_float(bits).reshape(shape)]


@host_kernel("RandomStandardNormal", stateful=True)
def random_standard_normal(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """N(0, 1) float32 values: one Philox block gives two Box-Muller pairs, four values."""
    shape = _shape(op, inputs[0])
    n = math.prod(shape)
    bits = _blocks_in_order(_stream(attrs), -(-n // 4) * 4, n * _RESERVE_PER_OUTPUT)   # whole blocks: pairs
    return [box_muller(bits)[:n].reshape(shape)]


@host_kernel("TruncatedNormal", stateful=True)
def truncated_normal(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """N(0, 1) float32 values redrawn until |x| < 2 (std 0.8796).

    TF fills four values per group; group g draws Box-Muller candidates from the blocks starting
    256 * g past the execution's counter and keeps the first four inside the bounds.  Groups are
    computed together, with more blocks only for the rare groups the first try leaves short."""
    shape = _shape(op, inputs[0])
    n = math.prod(shape)
    stream = _stream(attrs)
    base = stream.reserve(n * _RESERVE_PER_OUTPUT)
    groups = -(-n // 4)
    out = np.empty((groups, 4), np.float32)
    todo = np.arange(groups, dtype=np.uint64)
    blocks = 2                                     # 8 candidates: P(fewer than 4 kept) ~ 1e-7
    while todo.size:
        offsets = todo[:, None] * np.uint64(_RESERVE_PER_OUTPUT) + np.arange(blocks, dtype=np.uint64)
        cand = box_muller(philox(stream.key, base, offsets).reshape(-1)).reshape(todo.size, -1)
        keep = np.abs(cand) < _TRUNCATE
        done = keep.sum(axis=1) >= 4
        rows = np.nonzero(done)[0]
        # the first four kept candidates of each finished row, in stream order
        first = np.argsort(~keep[rows], axis=1, kind="stable")[:, :4]
        out[todo[rows].astype(np.int64)] = np.take_along_axis(cand[rows], first, axis=1)
        todo = todo[~done]
        blocks *= 2
        if todo.size and blocks > _RESERVE_PER_OUTPUT:   # past the group's reservation (never in practice)
            raise RuntimeError(f"{op}: fewer than 4 of {blocks * 4} normal samples fell within +-2")
    return [out.reshape(-1)[:n].reshape(shape)]


def _scalar_int(op: str, name: str, value: np.ndarray) -> int:
    value = np.asarray(value)
    if value.size != 1 or value.ndim > 1:            # TF wants 0-D; TF.js may write a one-element list
        raise ShapeError(f"{op}: {name} must be 0-D, got shape {list(value.shape)}")
    if value.dtype.kind not in "iu":
        raise AttributeValueError(f"{op}: {name} must be an integer, got {value.dtype}")
    return int(value.reshape(-1)[0])


@host_kernel("RandomUniformInt", stateful=True)
def random_uniform_int(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """int32 values in [minval, maxval): minval + word % (maxval - minval), four per block (TF's
    modulo, so a range that does not divide 2**32 is very slightly biased, as in TF)."""
    shape = _shape(op, inputs[0])
    lo = _scalar_int(op, "minval", inputs[1])
    hi = _scalar_int(op, "maxval", inputs[2])
    n = math.prod(shape)
    if n == 0:
        return [np.zeros(shape, np.int32)]          # TF checks the bounds only for a non-empty output
    if lo >= hi:
        raise AttributeValueError(f"{op}: Need minval < maxval, got {lo} >= {hi}")
    bits = _blocks_in_order(_stream(attrs), n, n * _RESERVE_PER_OUTPUT)
    span = np.uint64((hi - lo) & _M32)
    return [(lo + (bits.astype(np.uint64) % span).astype(np.int64)).astype(np.int32).reshape(shape)]


@host_kernel("Multinomial", stateful=True)
def multinomial(op: str, inputs: list[np.ndarray], attrs: dict) -> list[np.ndarray]:
    """[batch, num_samples] int32 class indices drawn from softmax(logits) row by row.

    As TF: classes with a non-finite logit get no mass (-inf is never drawn), the cumulative sums are
    float64 over exp(logit - row max), and each sample is a float64 uniform (two words) times the row
    total, located with an upper-bound search.  A row with no finite logit gives num_classes."""
    logits = np.asarray(inputs[0])
    if logits.ndim != 2:
        raise ShapeError(f"{op}: logits should be a matrix, got shape {list(logits.shape)}")
    ns = np.asarray(inputs[1])
    if ns.size != 1 or ns.ndim > 1:
        raise ShapeError(f"{op}: num_samples should be a scalar, got shape {list(ns.shape)}")
    num_samples = int(ns.reshape(-1)[0])
    if num_samples < 0:
        raise AttributeValueError(f"{op}: num_samples should be non-negative, got {num_samples}")
    batch, classes = logits.shape
    if classes <= 0:
        raise ShapeError(f"{op}: num_classes should be positive, got {classes}")
    out = np.zeros((batch, num_samples), np.int32)
    if out.size == 0:
        return [out]
    per_row = -(-num_samples // 4) * 4 * 2           # TF's CPU reservation: two words per sample
    words = _blocks_in_order(_stream(attrs), batch * num_samples * 2, batch * per_row * _RESERVE_PER_OUTPUT)
    u = uniform_double(words[0::2], words[1::2]).reshape(batch, num_samples)
    x = logits.astype(np.float32)
    finite = np.isfinite(x)
    for b in range(batch):
        row_max = float(x[b][finite[b]].max()) if finite[b].any() else float(np.finfo(np.float32).min)
        with np.errstate(over="ignore", invalid="ignore"):
            mass = np.where(finite[b], np.exp(x[b].astype(np.float64) - row_max), 0.0)
        cdf = np.cumsum(mass)
        out[b] = np.searchsorted(cdf, u[b] * cdf[-1], side="right")
    return [out]
