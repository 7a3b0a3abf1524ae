// Cumsum / Cumprod along one axis in TensorFlow's order: the accumulator starts at the
// identity (0 or 1) and takes one element after the other, from the scan's start (the axis'
// first element, or its last with `reverse`) up to the output's own position (excluded with
// `exclusive`).  Sequential float32 arithmetic in that order is what TF's CPU kernel does,
// so results agree to rounding; int32 wraps modulo 2^32 like TF's.
// PROD: 0 sum, 1 product (a define: it changes the arithmetic).  X has the output's shape.
uniform int axis;           // scanned axis (the last one in the element program)
uniform int axis_n;         // its length
uniform int exclusive;      // 1: leave the output's own element out
uniform int reverse;        // 1: scan from the end of the axis towards its start

#if OUT_INT
#define V ivec4
#define S int
#else
#define V vec4
#define S float
#endif

// The axis indices feeding output index i: `count` of them, from `from` by `step`.
void scan_range(int i, out int from, out int step, out int count) {
    if (reverse != 0) {
        from = axis_n - 1;
        step = -1;
        count = axis_n - i - exclusive;
    } else {
        from = 0;
        step = 1;
        count = i + 1 - exclusive;
    }
}

V combine(V acc, V v) {
#if PROD
    return acc * v;
#else
    return acc + v;
#endif
}
S combine1(S acc, S v) {
#if PROD
    return acc * v;
#else
    return acc + v;
#endif
}

// TF's sum starts from +0, and an IEEE sum that starts from +0 is never -0 (x + -x and
// +0 + -0 both round to +0).  The compiler may drop the `0.0 +` of the first step, which
// would let a leading -0 through; restore +0 by bits, which no float rewrite can undo.
V plus_zero(V acc) {
#if !OUT_INT && !PROD
    return select4(equal(floatBitsToInt(acc), ivec4(INT_MIN)), vec4(0.0), acc);
#else
    return acc;
#endif
}
S plus_zero1(S acc) { return plus_zero(V(acc)).x; }

//@section texel
// The scanned axis is not the last one: each fetched texel advances 4 independent scans.
OUT_VEC compute(int c[OUT_R]) {
    int from, step, count;
    scan_range(c[axis], from, step, count);
    int x[OUT_R] = c;
    x[axis] = from;
    V acc = V(PROD);            // the identity: 0 for a sum, 1 for a product
    for (int k = 0; k < count; ++k) {
        acc = combine(acc, X_texel(x));
        x[axis] += step;
    }
    return plus_zero(acc);
}

//@section element
// The scanned axis is the last one: one output value per call, taking the row's values one
// by one (a packed texel is fetched once per 4 values).
OUT_SCALAR value(int c[OUT_R]) {
    int from, step, count;
    scan_range(c[OUT_R - 1], from, step, count);
    int x[OUT_R] = c;
    S acc = S(PROD);
    int e = from;
#if X_PACKED
    int cached = -1;
    V t = V(0);
    for (int k = 0; k < count; ++k) {
        int ti = e >> 2;
        if (ti != cached) {
            x[OUT_R - 1] = ti;
            t = X_texel(x);
            cached = ti;
        }
        acc = combine1(acc, t[e & 3]);
        e += step;
    }
#else
    for (int k = 0; k < count; ++k) {
        x[OUT_R - 1] = e;
        acc = combine1(acc, X_texel(x).x);
        e += step;
    }
#endif
    return plus_zero1(acc);
}
