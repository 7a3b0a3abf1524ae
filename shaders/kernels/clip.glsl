// ClipByValue: x < lo ? lo : (x > hi ? hi : x), so NaN stays NaN and -0 stays -0 (as TF).
//@section scalar
// bounds as uniforms (the TF.js kernel's clip_value_min / clip_value_max attributes)
uniform float lo;
uniform float hi;
uniform int ilo;
uniform int ihi;
#if OUT_INT
ivec4 compute(int c[OUT_R]) { return clamp(X_texel(c), ivec4(ilo), ivec4(ihi)); }
#else
vec4 compute(int c[OUT_R]) {
    // keep_nan: the compiler may turn these selects into min/max, which drop NaN on x86
    vec4 x = X_texel(c);
    vec4 r = mix(x, vec4(hi), greaterThan(x, vec4(hi)));
    return keep_nan(mix(r, vec4(lo), lessThan(r, vec4(lo))), x);
}
#endif
//@section tensor
// bounds as tensors broadcast against x (TF's ClipByValue op inputs)
#if OUT_INT
ivec4 compute(int c[OUT_R]) { return min(max(X_texel(c), Lo_texel(c)), Hi_texel(c)); }
#else
vec4 compute(int c[OUT_R]) {
    vec4 x = X_texel(c);
    vec4 hi = Hi_texel(c);
    vec4 lo = Lo_texel(c);
    vec4 r = mix(x, hi, greaterThan(x, hi));
    return keep_nan(mix(r, lo, lessThan(r, lo)), x);
}
#endif
