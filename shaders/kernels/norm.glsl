// Normalisations (gpu_backend/kernels/norm.py).  Texel programs: 4 values of the last dim per
// fragment when packed, 1 when unpacked (LANES).

#if X_PACKED
#define LANES 4
#else
#define LANES 1
#endif

//@section batch_norm
// Inference FusedBatchNorm: (x - mean) / sqrt(variance + eps) * scale + offset, the parameters
// read broadcast at the output coordinates.  HAS_OFFSET / HAS_SCALE: the optional inputs exist.
uniform float eps;          // variance_epsilon as float32

vec4 compute(int c[OUT_R]) {
    vec4 v = Var_texel(c) + eps;
    vec4 r = (X_texel(c) - Mean_texel(c)) / sqrt(v);
    r = mix(r, vec4(NAN), lessThan(v, vec4(0.0)));      // GLSL leaves sqrt of a negative undefined
#if HAS_SCALE
    r = r * Scale_texel(c);
#endif
#if HAS_OFFSET
    r = r + Offset_texel(c);
#endif
    return r;
}

//@section lrn
// Local response normalisation across the last (channel) dim:
// x / (bias + alpha * sum of x^2 over channels [ch - radius, ch + radius]) ^ beta.
// Each fragment walks the channel texels its lanes' windows touch and adds every channel's square
// to the lanes whose window holds it (a select, so an Inf/NaN square only reaches those lanes).
uniform int radius;         // depth_radius, capped at the channel count
uniform int channels;       // size of the last dim
uniform float bias;
uniform float alpha;
uniform float beta;

vec4 compute(int c[OUT_R]) {
    int c0 = LANES * c[OUT_R - 1];                      // channel of lane 0
    int lo = max(c0 - radius, 0) / LANES;               // first and last texel any lane's window reaches
    int hi = min(c0 + LANES - 1 + radius, channels - 1) / LANES;
    int q[X_R] = c;
    q[X_R - 1] = lo;
    ivec2 p = X_pos(q), d = X_delta(X_R - 1);
    ivec4 lane_ch = ivec4(c0) + ivec4(0, 1, 2, 3);
    vec4 sum = vec4(0.0);
    for (int t = lo; t <= hi; ++t) {
        vec4 sq = texelFetch(X, p, 0);
        sq = sq * sq;                                   // channels past the end are 0 (packed tail)
        for (int j = 0; j < LANES; ++j) {
            bvec4 near = lessThanEqual(abs(lane_ch - (LANES * t + j)), ivec4(radius));
            sum += mix(vec4(0.0), vec4(sq[j]), near);
        }
        p = X_advance(p, d);
    }
    return X_texel(c) / tf_pow(bias + alpha * sum, vec4(beta));
}

//@section int_sqrt
// EuclideanNorm's int32 finish: the truncated square root of a (wrapped) int32 sum of squares;
// a sum that wrapped negative gives INT_MIN (TF's NaN converted to int on x86).
int isqrt1(int t) {
    if (t < 0) return INT_MIN;
    int s = int(sqrt(float(t)));
    // float(t) rounds above 2^24, so s may be one off: fix it with exact unsigned products (< 2^32)
    if (uint(s) * uint(s) > uint(t)) s -= 1;
    if (uint(s + 1) * uint(s + 1) <= uint(t)) s += 1;
    return s;
}

ivec4 compute(int c[OUT_R]) {
    ivec4 v = X_texel(c);
    return ivec4(isqrt1(v.x), isqrt1(v.y), isqrt1(v.z), isqrt1(v.w));
}
