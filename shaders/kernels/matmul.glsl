// Batched matrix product, one packed output texel (4 columns of one row) per fragment.
// A: [batch..., M, K] (or [..., K, M] with TA), B: [batch..., K, N] (or [..., N, K] with TB),
// both read with the output's batch coordinates (broadcast batch dims have stride 0).
// Fused epilogue: + Bias (broadcast), then activate() (lib/activation.glsl), Prelu weights broadcast.
uniform int K;          // inner dimension
uniform int N;          // output columns

#if HAS_BIAS || ACT == 6
vec4 epilogue(vec4 acc, int c[OUT_R]) {
#if HAS_BIAS && BIAS_TB
    acc += texelFetch(Bias, c[OUT_R - 1]);      // a constant [C] bias in a buffer texture
#elif HAS_BIAS
    acc += Bias_texel(c);
#endif
#if ACT == 6
    return activate(acc, Prelu_texel(c));
#else
    return activate(acc, vec4(0.0));
#endif
}
#else
vec4 epilogue(vec4 acc, int c[OUT_R]) { return activate(acc, vec4(0.0)); }
#endif

//@section packed
vec4 matmul(int c[OUT_R]) {
    int m = c[OUT_R - 2];
    int n4 = c[OUT_R - 1];
    int ac[OUT_R] = c;
    int bc[OUT_R] = c;
    vec4 acc = vec4(0.0);
#if !TA && !TB
    // A texels hold 4 consecutive k of row m; B texels hold 4 columns of row k.
    ac[OUT_R - 1] = 0;
    bc[OUT_R - 2] = 0;
    ivec2 pa = A_pos(ac), da = A_delta(OUT_R - 1);
    ivec2 pb = B_pos(bc), db = B_delta(OUT_R - 2);
    int k4n = K / 4;
    for (int k4 = 0; k4 < k4n; ++k4) {
        vec4 a = texelFetch(A, pa, 0);
        acc += a.x * texelFetch(B, pb, 0); pb = B_advance(pb, db);
        acc += a.y * texelFetch(B, pb, 0); pb = B_advance(pb, db);
        acc += a.z * texelFetch(B, pb, 0); pb = B_advance(pb, db);
        acc += a.w * texelFetch(B, pb, 0); pb = B_advance(pb, db);
        pa = A_advance(pa, da);
    }
    int rem = K - 4 * k4n;
    if (rem > 0) {
        vec4 a = texelFetch(A, pa, 0);
        acc += a.x * texelFetch(B, pb, 0);
        if (rem > 1) { pb = B_advance(pb, db); acc += a.y * texelFetch(B, pb, 0); }
        if (rem > 2) { pb = B_advance(pb, db); acc += a.z * texelFetch(B, pb, 0); }
    }
#elif !TA && TB
    // B^T rows are packed along k like A's: four dot products per k-texel; zero tails cancel.
    ac[OUT_R - 1] = 0;
    ivec2 pa = A_pos(ac), da = A_delta(OUT_R - 1);
    int n = 4 * n4;
    bc[OUT_R - 2] = n; bc[OUT_R - 1] = 0;
    ivec2 db = B_delta(OUT_R - 1);
    ivec2 dn = B_delta(OUT_R - 2);
    ivec2 p0 = B_pos(bc);
    ivec2 p1 = n + 1 < N ? B_advance(p0, dn) : p0;
    ivec2 p2 = n + 2 < N ? B_advance(p1, dn) : p1;
    ivec2 p3 = n + 3 < N ? B_advance(p2, dn) : p2;
    int k4n = (K + 3) / 4;
    for (int k4 = 0; k4 < k4n; ++k4) {
        vec4 a = texelFetch(A, pa, 0);
        acc += vec4(dot(a, texelFetch(B, p0, 0)), dot(a, texelFetch(B, p1, 0)),
                    dot(a, texelFetch(B, p2, 0)), dot(a, texelFetch(B, p3, 0)));
        pa = A_advance(pa, da);
        p0 = B_advance(p0, db); p1 = B_advance(p1, db); p2 = B_advance(p2, db); p3 = B_advance(p3, db);
    }
#else
    // A^T: one k at a time, A[k, m] from the lane m % 4 of texel (k, m / 4).
    int lane = m % 4;
    ac[OUT_R - 2] = 0; ac[OUT_R - 1] = m / 4;
    ivec2 pa = A_pos(ac), da = A_delta(OUT_R - 2);
#if !TB
    bc[OUT_R - 2] = 0;
    ivec2 pb = B_pos(bc), db = B_delta(OUT_R - 2);
    for (int k = 0; k < K; ++k) {
        acc += texelFetch(A, pa, 0)[lane] * texelFetch(B, pb, 0);
        pa = A_advance(pa, da);
        pb = B_advance(pb, db);
    }
#else
    int n = 4 * n4;
    bc[OUT_R - 2] = n; bc[OUT_R - 1] = 0;
    ivec2 db = B_delta(OUT_R - 1);
    ivec2 dn = B_delta(OUT_R - 2);
    ivec2 p0 = B_pos(bc);
    ivec2 p1 = n + 1 < N ? B_advance(p0, dn) : p0;
    ivec2 p2 = n + 2 < N ? B_advance(p1, dn) : p1;
    ivec2 p3 = n + 3 < N ? B_advance(p2, dn) : p2;
    int k4n = (K + 3) / 4;
    for (int k4 = 0; k4 < k4n; ++k4) {
        vec4 a = vec4(0.0);
        a.x = texelFetch(A, pa, 0)[lane];
        if (4 * k4 + 1 < K) { pa = A_advance(pa, da); a.y = texelFetch(A, pa, 0)[lane]; }
        if (4 * k4 + 2 < K) { pa = A_advance(pa, da); a.z = texelFetch(A, pa, 0)[lane]; }
        if (4 * k4 + 3 < K) { pa = A_advance(pa, da); a.w = texelFetch(A, pa, 0)[lane]; }
        pa = A_advance(pa, da);
        acc += vec4(dot(a, texelFetch(B, p0, 0)), dot(a, texelFetch(B, p1, 0)),
                    dot(a, texelFetch(B, p2, 0)), dot(a, texelFetch(B, p3, 0)));
        p0 = B_advance(p0, db); p1 = B_advance(p1, db); p2 = B_advance(p2, db); p3 = B_advance(p3, db);
    }
#endif
#endif
    return acc;
}

vec4 compute(int c[OUT_R]) { return epilogue(matmul(c), c); }

//@section splitk
// Split-K, pass 1, for products with few output texels and a long K (a classifier's matrix-vector
// product would otherwise run on a handful of fragments, one raster thread): partial sums over
// k in [s * KS, s * KS + KS) into P[s, m, n].  A: [M, K], B: [K, N], no transposes.
uniform int KS;         // k per split, a multiple of 4
vec4 compute(int c[OUT_R]) {
    int k0 = c[0] * KS;
    int n = min(KS, K - k0);
    int ac[2] = int[2](c[1], k0 / 4);
    int bc[2] = int[2](k0, c[2]);
    ivec2 pa = A_pos(ac), da = A_delta(1);
    ivec2 pb = B_pos(bc), db = B_delta(0);
    vec4 acc = vec4(0.0);
    int k4n = n / 4;
    for (int k4 = 0; k4 < k4n; ++k4) {
        vec4 a = texelFetch(A, pa, 0);
        acc += a.x * texelFetch(B, pb, 0); pb = B_advance(pb, db);
        acc += a.y * texelFetch(B, pb, 0); pb = B_advance(pb, db);
        acc += a.z * texelFetch(B, pb, 0); pb = B_advance(pb, db);
        acc += a.w * texelFetch(B, pb, 0); pb = B_advance(pb, db);
        pa = A_advance(pa, da);
    }
    int rem = n - 4 * k4n;
    if (rem > 0) {
        vec4 a = texelFetch(A, pa, 0);
        acc += a.x * texelFetch(B, pb, 0);
        if (rem > 1) { pb = B_advance(pb, db); acc += a.y * texelFetch(B, pb, 0); }
        if (rem > 2) { pb = B_advance(pb, db); acc += a.z * texelFetch(B, pb, 0); }
    }
    return acc;
}

//@section splitk_sum
// Split-K, pass 2: the S partial sums, then the fused epilogue.  P: [S, M, N].
uniform int S;
vec4 compute(int c[OUT_R]) {
    int pc[3] = int[3](0, c[0], c[1]);
    ivec2 p = P_pos(pc), d = P_delta(0);
    vec4 acc = vec4(0.0);
    for (int s = 0; s < S; ++s) {
        acc += texelFetch(P, p, 0);
        p = P_advance(p, d);
    }
    return epilogue(acc, c);
}

//@section packed_tb
// No transposes, B (a constant) in a buffer texture: texel (k, n4) at k * N4 + n4.
uniform int N4;
vec4 compute(int c[OUT_R]) {
    int ac[OUT_R] = c;
    ac[OUT_R - 1] = 0;
    ivec2 pa = A_pos(ac), da = A_delta(OUT_R - 1);
    int b = c[OUT_R - 1];
    vec4 acc = vec4(0.0);
    int k4n = K / 4;
    for (int k4 = 0; k4 < k4n; ++k4) {
        vec4 a = texelFetch(A, pa, 0);
        acc += a.x * texelFetch(B, b);
        acc += a.y * texelFetch(B, b + N4);
        acc += a.z * texelFetch(B, b + 2 * N4);
        acc += a.w * texelFetch(B, b + 3 * N4);
        b += 4 * N4;
        pa = A_advance(pa, da);
    }
    int rem = K - 4 * k4n;
    if (rem > 0) {
        vec4 a = texelFetch(A, pa, 0);
        acc += a.x * texelFetch(B, b);
        if (rem > 1) acc += a.y * texelFetch(B, b + N4);
        if (rem > 2) acc += a.z * texelFetch(B, b + 2 * N4);
    }
    return epilogue(acc, c);
}

//@section splitk_tb
// Split-K pass 1 with B (a constant) in a buffer texture.
uniform int KS;
uniform int N4;
vec4 compute(int c[OUT_R]) {
    int k0 = c[0] * KS;
    int n = min(KS, K - k0);
    int ac[2] = int[2](c[1], k0 / 4);
    ivec2 pa = A_pos(ac), da = A_delta(1);
    int b = k0 * N4 + c[2];
    vec4 acc = vec4(0.0);
    int k4n = n / 4;
    for (int k4 = 0; k4 < k4n; ++k4) {
        vec4 a = texelFetch(A, pa, 0);
        acc += a.x * texelFetch(B, b);
        acc += a.y * texelFetch(B, b + N4);
        acc += a.z * texelFetch(B, b + 2 * N4);
        acc += a.w * texelFetch(B, b + 3 * N4);
        b += 4 * N4;
        pa = A_advance(pa, da);
    }
    int rem = n - 4 * k4n;
    if (rem > 0) {
        vec4 a = texelFetch(A, pa, 0);
        acc += a.x * texelFetch(B, b);
        if (rem > 1) acc += a.y * texelFetch(B, b + N4);
        if (rem > 2) acc += a.z * texelFetch(B, b + 2 * N4);
    }
    return acc;
}

//@section generic
// Any layout (the unpacked fallback): one output value per call, one k at a time. With int32 operands
// (index arithmetic: Range/Shape products) the sum is exact int arithmetic, whose overflow keeps the low
// 32 bits (GLSL's rule), so it wraps mod 2^32 as TF's int32 MatMul does; no epilogue then.
OUT_SCALAR value(int c[OUT_R]) {
    int ac[OUT_R] = c;
    int bc[OUT_R] = c;
    int m = c[OUT_R - 2];
    int n = c[OUT_R - 1];
    OUT_SCALAR acc = OUT_SCALAR(0);
    for (int k = 0; k < K; ++k) {
        ac[OUT_R - 2] = TA != 0 ? k : m;
        ac[OUT_R - 1] = TA != 0 ? m : k;
        bc[OUT_R - 2] = TB != 0 ? n : k;
        bc[OUT_R - 1] = TB != 0 ? k : n;
        acc += A_elem(ac) * B_elem(bc);
    }
#if OUT_INT
    return acc;
#else
    vec4 v = vec4(acc);
#if HAS_BIAS
    v += vec4(Bias_elem(c));
#endif
#if ACT == 6
    return activate(v, vec4(Prelu_elem(c))).x;
#else
    return activate(v, vec4(0.0)).x;
#endif
#endif
}
