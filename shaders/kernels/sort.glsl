// TopK (rank + select draws, or one iterate draw, then a gather) and SearchSorted (one binary
// search per value).
// Comparisons are done on integer keys or with explicit NaN tests, never relying on how
// GLSL compares NaN: a compiler may turn !(a < b) into a >= b, which differs for NaN.

// Order-preserving integer key of a float: larger floats give larger keys, -0 ties with +0,
// and every NaN gets INT_MIN, below -inf (TopK's rule: NaN ranks below every number).
ivec4 float_key(vec4 v) {
    ivec4 b = floatBitsToInt(v);
    ivec4 mag = b & 0x7fffffff;
    ivec4 k = select4(lessThan(b, ivec4(0)), b ^ 0x7fffffff, b);   // negatives: larger magnitude, smaller key
    k = select4(equal(mag, ivec4(0)), ivec4(0), k);                 // -0 == +0
    return select4(greaterThan(mag, ivec4(0x7f800000)), ivec4(INT_MIN), k);
}
ivec4 key4(vec4 v) { return float_key(v); }
ivec4 key4(ivec4 v) { return v; }

// Element indices held by the lanes of texel t of a row of n values, n (invalid) for lanes
// that hold no value: packed tails, and the unused .yzw of an unpacked texel.
ivec4 lane_index(int t, int n, bool four) {
    ivec4 m = four ? 4 * t + ivec4(0, 1, 2, 3) : ivec4(t, n, n, n);
    return select4(lessThan(m, ivec4(n)), m, ivec4(n));
}

//@section rank
// rank[.., i] = how many values of i's row come before value i in TopK's order: larger
// first, ties (NaNs among themselves too) by lower index.  O(n) per value, 4 per fetch.
uniform int n;              // row length
int value(int c[OUT_R]) {
    int i = c[OUT_R - 1];
    int x[X_R] = c;
#if X_PACKED
    x[X_R - 1] = i >> 2;
    int ki = key4(X_texel(x))[i & 3];
    int texels = (n + 3) >> 2;
#else
    x[X_R - 1] = i;
    int ki = key4(X_texel(x)).x;
    int texels = n;
#endif
    x[X_R - 1] = 0;
    ivec2 p = X_pos(x);
    ivec2 d = X_delta(X_R - 1);
    ivec4 count = ivec4(0);
    for (int t = 0; t < texels; ++t) {
        ivec4 m = lane_index(t, n, bool(X_PACKED));
        ivec4 k = key4(texelFetch(X, p, 0));
        bvec4 before = or4(greaterThan(k, ivec4(ki)), and4(equal(k, ivec4(ki)), lessThan(m, ivec4(i))));
        count += ivec4(and4(before, lessThan(m, ivec4(n))));
        p = X_advance(p, d);
    }
    return count.x + count.y + count.z + count.w;
}

//@section select
// indices[.., j] = the index whose rank is j (ranks are a permutation of 0..n-1).
uniform int n;
int value(int c[OUT_R]) {
    int j = c[OUT_R - 1];
    int x[OUT_R] = c;
    x[OUT_R - 1] = 0;
    ivec2 p = Rank_pos(x);
    ivec2 d = Rank_delta(OUT_R - 1);
    int texels = Rank_PACKED != 0 ? (n + 3) >> 2 : n;
    for (int t = 0; t < texels; ++t) {
        ivec4 m = lane_index(t, n, bool(Rank_PACKED));
        bvec4 hit = and4(equal(texelFetch(Rank, p, 0), ivec4(j)), lessThan(m, ivec4(n)));
        if (any(hit)) return hit.x ? m.x : (hit.y ? m.y : (hit.z ? m.z : m.w));
        p = Rank_advance(p, d);
    }
    return 0;   // unreachable for a valid rank row
}

//@section iterate
// indices[.., j] by j + 1 rounds of "the value that comes first after the previous pick":
// O(j n) per output, cheaper than ranking the whole row when k is small (k^2 < 2n), and the
// only GL scheme for rows too long to rank.  Each lane keeps its own best; lanes merge per round.
uniform int n;
int value(int c[OUT_R]) {
    int j = c[OUT_R - 1];
    int x[X_R] = c;
    x[X_R - 1] = 0;
    ivec2 p0 = X_pos(x);
    ivec2 d = X_delta(X_R - 1);
    int texels = X_PACKED != 0 ? (n + 3) >> 2 : n;
    int pk = 0;                 // key and index of the previous pick; pi = -1: none yet
    int pi = -1;
    for (int r = 0; r <= j; ++r) {
        ivec4 bk = ivec4(0);
        ivec4 bi = ivec4(n);    // index n: this lane has no candidate yet
        ivec2 p = p0;
        for (int t = 0; t < texels; ++t) {
            ivec4 m = lane_index(t, n, bool(X_PACKED));
            ivec4 k = key4(texelFetch(X, p, 0));
            bvec4 after = pi < 0 ? bvec4(true)
                                 : or4(lessThan(k, ivec4(pk)), and4(equal(k, ivec4(pk)), greaterThan(m, ivec4(pi))));
            bvec4 better = or4(equal(bi, ivec4(n)), or4(greaterThan(k, bk), and4(equal(k, bk), lessThan(m, bi))));
            bvec4 take = and4(and4(lessThan(m, ivec4(n)), after), better);
            bk = select4(take, k, bk);
            bi = select4(take, m, bi);
            p = X_advance(p, d);
        }
        int ck = bk.x;
        int ci = bi.x;
        for (int l = 1; l < 4; ++l) {
            if (bi[l] < n && (ci >= n || bk[l] > ck || (bk[l] == ck && bi[l] < ci))) {
                ck = bk[l];
                ci = bi[l];
            }
        }
        pk = ck;
        pi = ci;
    }
    return pi;
}

//@section gather
// values[.., j] = X[.., indices[.., j]]
OUT_SCALAR value(int c[OUT_R]) {
    int x[OUT_R] = c;
    x[OUT_R - 1] = I_elem(c);
    return X_elem(x);
}

//@section search
// std::lower_bound (upper == 0) or std::upper_bound (upper == 1) of each value in its row of
// Seq, probe for probe, so unsorted rows and NaNs give the reference's (and TF's) answer.
// Seq and Val share every dim but the last; the output has Val's shape.
uniform int n;              // length of the sequences
uniform int upper;
#if Seq_INT
#define SV int
bool less(int a, int b) { return a < b; }
#else
#define SV float
bool is_nan(float a) { return (floatBitsToInt(a) & 0x7fffffff) > 0x7f800000; }
bool less(float a, float b) { return !is_nan(a) && !is_nan(b) && a < b; }  // IEEE a < b, false on NaN
#endif
int value(int c[OUT_R]) {
    int x[OUT_R] = c;
    int first = 0;
    int count = n;
    SV v = Val_elem(c);
    for (int it = 0; it < 33 && count > 0; ++it) {
        int halfn = count >> 1;
        int mid = first + halfn;
        x[OUT_R - 1] = mid;
        SV probe = Seq_elem(x);
        bool right = upper != 0 ? !less(v, probe) : less(probe, v);
        if (right) {
            first = mid + 1;
            count -= halfn + 1;
        } else {
            count = halfn;
        }
    }
    return first;
}
