// Reductions over any set of axes.  X has rank X_R; the output has the kept dims (or
// size-1 dims with keep_dims).  For each input dim: xmap[i] >= 0 is the output coordinate it
// takes, -1 marks a reduced dim, walked as an odometer over rsize[i].  No division in the loop.
// OP: 0 sum, 1 prod, 2 max, 3 min, 4 all, 5 any; MEAN divides by red_n at the end.
uniform int xmap[X_R];
uniform int rsize[X_R];
uniform int red_n;          // number of reduced positions visited per output (in texels when LAST_REDUCED)
uniform int count;          // number of reduced values (for MEAN)

#if OUT_INT
#define V ivec4
#define S int
#else
#define V vec4
#define S float
#endif

V identity4() {
#if OP == 0 || OP == 5
    return V(0);
#elif OP == 1 || OP == 4
    return V(1);
#elif OP == 2
#if OUT_INT
    return V(INT_MIN);
#else
    return V(-INF);
#endif
#else
#if OUT_INT
    return V(2147483647);
#else
    return V(INF);
#endif
#endif
}

V combine(V acc, V v) {
#if OP == 0
    return acc + v;
#elif OP == 1
    return acc * v;
#elif OP == 4
    return V(notEqual(acc, V(0))) & V(notEqual(v, V(0)));
#elif OP == 5
    return V(notEqual(acc, V(0))) | V(notEqual(v, V(0)));
#elif OUT_INT && OP == 2
    return max(acc, v);
#elif OUT_INT
    return min(acc, v);
#elif OP == 2
    return mix(acc, v, or4(isnan(v), greaterThan(v, acc)));     // NaN sticks
#else
    return mix(acc, v, or4(isnan(v), lessThan(v, acc)));
#endif
}

S combine1(S a, S b) { return combine(V(a), V(b)).x; }

#if MEAN && OUT_INT
// TF's integer mean is exact (no wrap): accumulate v / count and v % count separately,
// folding the remainder back into the quotient so neither overflows.
void mean_add(inout ivec4 q, inout ivec4 r, ivec4 v) {
    q += v / count;
    r += v - (v / count) * count;
    ivec4 carry = r / count;
    q += carry;
    r -= carry * count;
}
int mean_finish(int q, int r) {
    // q + r / count with |r| < count; truncate toward zero
    if (q > 0 && r < 0) return q - 1;
    if (q < 0 && r > 0) return q + 1;
    return q;
}
#endif

S finish(S acc) {
#if MEAN && OUT_INT
    return count == 0 ? 0 : acc / count;      // truncating integer mean, like TF
#elif MEAN
    return acc / float(count);
#else
    return acc;
#endif
}

// Start coordinates: kept dims from the output, reduced dims at 0.
void start(int c[OUT_R], out int x[X_R]) {
    for (int i = 0; i < X_R; ++i) x[i] = xmap[i] >= 0 ? c[xmap[i]] : 0;
}
// Next reduced position (innermost first); the caller counts steps.
void step(inout int x[X_R]) {
    bool carry = true;
    for (int i = X_R - 1; i >= 0; --i) {
        if (carry && xmap[i] < 0) {
            x[i] += 1;
            carry = x[i] >= rsize[i];
            if (carry) x[i] = 0;
        }
    }
}

//@section kept_last
// The last input dim is kept: each fetched texel feeds 4 outputs at once.
OUT_VEC compute(int c[OUT_R]) {
    int x[X_R];
    start(c, x);
#if MEAN && OUT_INT
    ivec4 q = ivec4(0), rem = ivec4(0);
    for (int r = 0; r < red_n; ++r) {
        mean_add(q, rem, X_texel(x));
        step(x);
    }
    return ivec4(mean_finish(q.x, rem.x), mean_finish(q.y, rem.y), mean_finish(q.z, rem.z), mean_finish(q.w, rem.w));
#else
    V acc = identity4();
    for (int r = 0; r < red_n; ++r) {
        acc = combine(acc, X_texel(x));
        step(x);
    }
    return V(finish(acc.x), finish(acc.y), finish(acc.z), finish(acc.w));
#endif
}

//@section reduced_last
// The last input dim is reduced: one output per element, walking its texels 4 values at a time.
uniform int last_n;         // size of the input's last dim
OUT_SCALAR value(int c[OUT_R]) {
    int x[X_R];
    start(c, x);
    V acc = identity4();
    V id = identity4();
#if MEAN && OUT_INT
    ivec4 q = ivec4(0), rem = ivec4(0);
#endif
    for (int r = 0; r < red_n; ++r) {
        V v = X_texel(x);
#if X_PACKED
        int valid = last_n - 4 * x[X_R - 1];
#else
        int valid = 1;
#endif
        v = select4(lessThan(ivec4(0, 1, 2, 3), ivec4(valid)), v, id);
#if MEAN && OUT_INT
        mean_add(q, rem, v);
#else
        acc = combine(acc, v);
#endif
        step(x);
    }
#if MEAN && OUT_INT
    int qs = q.x + q.y + q.z + q.w;
    int rs = rem.x + rem.y + rem.z + rem.w;      // |rs| < 4 * count
    qs += rs / count;
    return mean_finish(qs, rs - (rs / count) * count);
#else
    return finish(combine1(combine1(acc.x, acc.y), combine1(acc.z, acc.w)));
#endif
}

//@section arg
// ArgMax / ArgMin along one axis (uniform axis); NaN never wins, ties keep the first index.
uniform int axis;
uniform int axis_n;
int value(int c[OUT_R]) {
    int x[X_R];
    int j = 0;
    for (int i = 0; i < X_R; ++i) {
        if (i == axis) x[i] = 0;
        else { x[i] = c[j]; j += 1; }
    }
#if X_INT
#define XS int
    XS best = IS_MAX ? INT_MIN : 2147483647;
#else
#define XS float
    XS best = IS_MAX ? -INF : INF;
#endif
    int idx = 0;
    for (int k = 0; k < axis_n; ++k) {
        x[axis] = k;
        XS v = X_elem(x);
        if (IS_MAX ? v > best : v < best) { best = v; idx = k; }
    }
    return idx;
}
