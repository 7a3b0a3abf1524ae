// Prelude of every program: constants and helpers with TensorFlow's semantics.
// Desktop GLSL 3.30 has no NaN/Inf literals; build them from their bit patterns.
#define NAN uintBitsToFloat(0x7fc00000u)
#define INF uintBitsToFloat(0x7f800000u)
#define INT_MIN (-2147483647 - 1)

// Texel position of the fragment being shaded; set first thing in main().
ivec2 frag_pos;

// Zero the lanes of a packed texel past the end of the last dimension (n = valid lanes),
// keeping the invariant that every texel's unused lanes hold 0.
vec4 mask_tail(vec4 r, int n) {
    return vec4(n > 0 ? r.x : 0.0, n > 1 ? r.y : 0.0, n > 2 ? r.z : 0.0, n > 3 ? r.w : 0.0);
}
ivec4 mask_tail(ivec4 r, int n) {
    return ivec4(n > 0 ? r.x : 0, n > 1 ? r.y : 0, n > 2 ? r.z : 0, n > 3 ? r.w : 0);
}

// Exact a / b for 0 <= a < 2^31, b >= 1, without an integer division: x86 has no vector one, so
// llvmpipe would run eight scalar divides per SIMD group.  A float estimate, refined once from the
// remainder, is then off by at most one.
int udiv(int a, int b, float rcp_b) {
    int q = int(float(a) * rcp_b);
    q += int(float(a - q * b) * rcp_b);
    int r = a - q * b;
    return q + (r >= b ? 1 : (r < 0 ? -1 : 0));
}
int udiv(int a, int b) { return udiv(a, b, 1.0 / float(b)); }
