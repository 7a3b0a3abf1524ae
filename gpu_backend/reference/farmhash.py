"""FarmHash's 64-bit fingerprint (the "na" variant), which TensorFlow's Fingerprint64 is.

Why it exists: StringToHashBucketFast maps a string to ``Fingerprint64(s) % num_buckets``, so a
model's embedding rows are chosen by this exact function; any other hash (Python's, CityHash, xxHash)
would look up the wrong rows.  FarmHash fixes its fingerprint functions for all time, so the values
recorded in tests/fixtures/string_goldens.npz stay valid.

Written here from the published algorithm, in plain Python integers masked to 64 bits (one string at
a time; strings are short, and a vectorised form would gain nothing for a host kernel).  Reads are
little-endian, as FarmHash's are on every platform TF supports.  The branches by length (0-16, 17-32,
33-64, longer) each have their own mixing, and each is checked against TF for every length 0..200.
"""
from __future__ import annotations

_MASK = (1 << 64) - 1
_K0 = 0xC3A5C85C97CB3127
_K1 = 0xB492B66FBE98F273
_K2 = 0x9AE16A3B2F90404F
_SEED = 81                      # the fixed seed of the long-string loop


def _u64(s: bytes, i: int) -> int:
    return int.from_bytes(s[i:i + 8], "little")


def _u32(s: bytes, i: int) -> int:
    return int.from_bytes(s[i:i + 4], "little")


def _rotr(v: int, r: int) -> int:
    """Rotate a 64-bit value right by r (0 < r < 64)."""
    return ((v >> r) | (v << (64 - r))) & _MASK


def _shift_mix(v: int) -> int:
    return v ^ (v >> 47)


def _mix16(u: int, v: int, mul: int) -> int:
    """Murmur-style combination of two 64-bit words with a length-dependent multiplier."""
    a = ((u ^ v) * mul) & _MASK
    a ^= a >> 47
    b = ((v ^ a) * mul) & _MASK
    b ^= b >> 47
    return (b * mul) & _MASK


def _short(s: bytes) -> int:
    """0..16 bytes: overlapping head and tail words (8+ bytes), two 32-bit reads (4..7), or three bytes."""
    n = len(s)
    if n >= 8:
        mul = (_K2 + 2 * n) & _MASK
        a = (_u64(s, 0) + _K2) & _MASK
        b = _u64(s, n - 8)
        c = (_rotr(b, 37) * mul + a) & _MASK
        d = ((_rotr(a, 25) + b) * mul) & _MASK
        return _mix16(c, d, mul)
    if n >= 4:
        mul = (_K2 + 2 * n) & _MASK
        return _mix16((n + (_u32(s, 0) << 3)) & _MASK, _u32(s, n - 4), mul)
    if n:
        y = (s[0] + (s[n >> 1] << 8)) & 0xFFFFFFFF
        z = (n + (s[n - 1] << 2)) & 0xFFFFFFFF
        return (_shift_mix(((y * _K2) ^ (z * _K0)) & _MASK) * _K2) & _MASK
    return _K2


def _medium(s: bytes) -> int:
    """17..32 bytes: the first and last 16 bytes, mixed once."""
    n = len(s)
    mul = (_K2 + 2 * n) & _MASK
    a = (_u64(s, 0) * _K1) & _MASK
    b = _u64(s, 8)
    c = (_u64(s, n - 8) * mul) & _MASK
    d = (_u64(s, n - 16) * _K2) & _MASK
    return _mix16((_rotr((a + b) & _MASK, 43) + _rotr(c, 30) + d) & _MASK,
                  (a + _rotr((b + _K2) & _MASK, 18) + c) & _MASK, mul)


def _long_medium(s: bytes) -> int:
    """33..64 bytes: the 17..32 mix of the outer 16-byte pairs, chained into a mix of the inner ones."""
    n = len(s)
    mul = (_K2 + 2 * n) & _MASK
    a = (_u64(s, 0) * _K2) & _MASK
    b = _u64(s, 8)
    c = (_u64(s, n - 8) * mul) & _MASK
    d = (_u64(s, n - 16) * _K2) & _MASK
    y = (_rotr((a + b) & _MASK, 43) + _rotr(c, 30) + d) & _MASK
    z = _mix16(y, (a + _rotr((b + _K2) & _MASK, 18) + c) & _MASK, mul)
    e = (_u64(s, 16) * mul) & _MASK
    f = _u64(s, 24)
    g = ((y + _u64(s, n - 32)) * mul) & _MASK
    h = ((z + _u64(s, n - 24)) * mul) & _MASK
    return _mix16((_rotr((e + f) & _MASK, 43) + _rotr(g, 30) + h) & _MASK,
                  (e + _rotr((f + a) & _MASK, 18) + g) & _MASK, mul)


def _weak32(s: bytes, i: int, a: int, b: int) -> tuple[int, int]:
    """Hash 32 bytes at s[i:] with two seeds into a pair of 64-bit words (weak on its own; the
    long loop chains it)."""
    w, x, y, z = _u64(s, i), _u64(s, i + 8), _u64(s, i + 16), _u64(s, i + 24)
    a = (a + w) & _MASK
    b = _rotr((b + a + z) & _MASK, 21)
    c = a
    a = (a + x + y) & _MASK
    b = (b + _rotr(a, 44)) & _MASK
    return (a + z) & _MASK, (b + c) & _MASK


def fingerprint64(s: bytes) -> int:
    """FarmHash Fingerprint64 of a byte string, as an unsigned 64-bit Python int."""
    n = len(s)
    if n <= 16:
        return _short(s)
    if n <= 32:
        return _medium(s)
    if n <= 64:
        return _long_medium(s)
    # > 64 bytes: a state of seven words (x, y, z and the pairs v, w) absorbs 64-byte blocks; the
    # last 64 bytes (overlapping the previous block when n is not a multiple of 64) are mixed with a
    # state-dependent multiplier.
    x = _SEED
    y = (_SEED * _K1 + 113) & _MASK
    z = (_shift_mix((y * _K2 + 113) & _MASK) * _K2) & _MASK
    v0 = v1 = w0 = w1 = 0
    x = (x * _K2 + _u64(s, 0)) & _MASK
    end = ((n - 1) // 64) * 64
    last64 = end + ((n - 1) & 63) - 63
    p = 0
    while True:
        x = (_rotr((x + y + v0 + _u64(s, p + 8)) & _MASK, 37) * _K1) & _MASK
        y = (_rotr((y + v1 + _u64(s, p + 48)) & _MASK, 42) * _K1) & _MASK
        x ^= w1
        y = (y + v0 + _u64(s, p + 40)) & _MASK
        z = (_rotr((z + w0) & _MASK, 33) * _K1) & _MASK
        v0, v1 = _weak32(s, p, (v1 * _K1) & _MASK, (x + w0) & _MASK)
        w0, w1 = _weak32(s, p + 32, (z + w1) & _MASK, (y + _u64(s, p + 16)) & _MASK)
        z, x = x, z
        p += 64
        if p == end:
            break
    mul = (_K1 + ((z & 0xFF) << 1)) & _MASK
    p = last64
    w0 = (w0 + ((n - 1) & 63)) & _MASK
    v0 = (v0 + w0) & _MASK
    w0 = (w0 + v0) & _MASK
    x = (_rotr((x + y + v0 + _u64(s, p + 8)) & _MASK, 37) * mul) & _MASK
    y = (_rotr((y + v1 + _u64(s, p + 48)) & _MASK, 42) * mul) & _MASK
    x ^= (w1 * 9) & _MASK
    y = (y + v0 * 9 + _u64(s, p + 40)) & _MASK
    z = (_rotr((z + w0) & _MASK, 33) * mul) & _MASK
    v0, v1 = _weak32(s, p, (v1 * mul) & _MASK, (x + w0) & _MASK)
    w0, w1 = _weak32(s, p + 32, (z + w1) & _MASK, (y + _u64(s, p + 16)) & _MASK)
    z, x = x, z
    return _mix16((_mix16(v0, w0, mul) + _shift_mix(y) * _K0 + z) & _MASK,
                  (_mix16(v1, w1, mul) + x) & _MASK, mul)
