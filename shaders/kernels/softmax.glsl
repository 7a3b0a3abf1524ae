// Softmax and LogSoftmax over the last axis.  Short rows in one draw ("rowwise": each output
// texel computes its row's statistics itself, cheap when rows are short and few, and one program
// less for the driver to compile); otherwise in two:
//   stats: one texel per row, (max, sum(exp(x - max))) in lanes x and y;
//   apply: exp(x - max) / sum, or x - max - log(sum), with S (the stats) read once per row.
uniform int C;              // length of the last axis

#if X_PACKED
#define LANES 4
#else
#define LANES 1
#endif

#if ROW_STATS
// (max, sum(exp(x - max))) of the row holding coordinates c (its last coordinate is ignored);
// needs X read in its own layout (X_delta / X_advance), hence the define
vec2 row_stats(int c[X_R]) {
    int x[X_R] = c;
    x[X_R - 1] = 0;
    ivec2 p0 = X_pos(x), d = X_delta(X_R - 1);
    int c4 = (C + LANES - 1) / LANES;
    vec4 m = vec4(-INF);
    ivec2 p = p0;
    for (int q = 0; q < c4; ++q) {
        vec4 v = texelFetch(X, p, 0);
        v = mix(v, vec4(-INF), greaterThanEqual(ivec4(0, 1, 2, 3), ivec4(min(C - LANES * q, LANES))));
        m = mix(m, v, or4(isnan(v), greaterThan(v, m)));
        p = X_advance(p, d);
    }
    float mx = m.x;
    mx = (isnan(m.y) || m.y > mx) ? m.y : mx;
    mx = (isnan(m.z) || m.z > mx) ? m.z : mx;
    mx = (isnan(m.w) || m.w > mx) ? m.w : mx;
    vec4 s = vec4(0.0);
    p = p0;
    for (int q = 0; q < c4; ++q) {
        vec4 e = tf_exp(texelFetch(X, p, 0) - mx);
        s += mix(e, vec4(0.0), greaterThanEqual(ivec4(0, 1, 2, 3), ivec4(min(C - LANES * q, LANES))));
        p = X_advance(p, d);
    }
    return vec2(mx, s.x + s.y + s.z + s.w);
}
#endif

vec4 normalise(vec4 x, vec2 st) {
#if LOG
    return (x - st.x) - tf_log(vec4(st.y));
#else
    return tf_exp(x - st.x) / st.y;
#endif
}

//@section stats
vec4 compute(int c[OUT_R]) {
    return vec4(row_stats(c), 0.0, 0.0);
}

//@section apply
vec4 compute(int c[OUT_R]) {
    return normalise(X_texel(c), S_texel(c).xy);
}

//@section rowwise
vec4 compute(int c[OUT_R]) {
    return normalise(X_texel(c), row_stats(c));
}
