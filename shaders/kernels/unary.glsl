// Element-wise unary ops on whole texels.  Input X; X_INT is 1 for int32/bool inputs.
// Each section defines unary_op(); lanes past the end are zeroed by main().
#if X_INT
#define XV ivec4
#else
#define XV vec4
#endif
uniform float alpha;        // LeakyRelu, Step
OUT_VEC unary_op(XV x);
OUT_VEC compute(int c[OUT_R]) { return unary_op(X_texel(c)); }

//@section Abs
XV unary_op(XV x) { return abs(x); }
//@section Neg
XV unary_op(XV x) { return -x; }
//@section Square
XV unary_op(XV x) { return x * x; }
//@section Sign
#if X_INT
ivec4 unary_op(ivec4 x) { return sign(x); }
#else
vec4 unary_op(vec4 x) { return keep_nan(vec4(greaterThan(x, vec4(0.0))) - vec4(lessThan(x, vec4(0.0))), x); }
#endif
//@section Floor
#if X_INT
ivec4 unary_op(ivec4 x) { return x; }
#else
vec4 unary_op(vec4 x) { return floor(x); }
#endif
//@section Ceil
#if X_INT
ivec4 unary_op(ivec4 x) { return x; }
#else
vec4 unary_op(vec4 x) { return ceil(x); }
#endif
//@section Round
#if X_INT
ivec4 unary_op(ivec4 x) { return x; }
#else
vec4 unary_op(vec4 x) { return roundEven(x); }   // TF rounds half to even
#endif
//@section Relu
#if X_INT
ivec4 unary_op(ivec4 x) { return max(x, ivec4(0)); }
#else
vec4 unary_op(vec4 x) { return keep_nan(mix(vec4(0.0), x, greaterThan(x, vec4(0.0))), x); }
#endif
//@section Relu6
#if X_INT
ivec4 unary_op(ivec4 x) { return clamp(x, ivec4(0), ivec4(6)); }
#else
vec4 unary_op(vec4 x) {
    vec4 r = mix(vec4(0.0), x, greaterThan(x, vec4(0.0)));
    return keep_nan(mix(r, vec4(6.0), greaterThan(x, vec4(6.0))), x);
}
#endif
//@section Elu
vec4 unary_op(vec4 x) { return mix(tf_expm1(x), x, greaterThan(x, vec4(0.0))); }
//@section Selu
vec4 unary_op(vec4 x) {
    return 1.0507009873554805 * mix(1.6732632423543772 * tf_expm1(x), x, greaterThan(x, vec4(0.0)));
}
//@section LeakyRelu
vec4 unary_op(vec4 x) { return mix(x * alpha, x, greaterThan(x, vec4(0.0))); }
//@section Step
vec4 unary_op(vec4 x) { return keep_nan(mix(vec4(alpha), vec4(1.0), greaterThan(x, vec4(0.0))), x); }
//@section Sigmoid
vec4 unary_op(vec4 x) { return tf_sigmoid(x); }
//@section Softplus
vec4 unary_op(vec4 x) {
    // TF's thresholds: log(eps) + 2 on either side, where the answer is x or exp(x) in float32
    vec4 r = tf_log1p(tf_exp(x));
    r = mix(r, tf_exp(x), lessThan(x, vec4(-13.942385)));
    r = mix(r, x, greaterThan(x, vec4(13.942385)));
    return keep_nan(r, x);
}
//@section Tanh
vec4 unary_op(vec4 x) { return tf_tanh(x); }
//@section Exp
vec4 unary_op(vec4 x) { return tf_exp(x); }
//@section Expm1
vec4 unary_op(vec4 x) { return tf_expm1(x); }
//@section Log
vec4 unary_op(vec4 x) { return tf_log(x); }
//@section Log1p
vec4 unary_op(vec4 x) { return tf_log1p(x); }
//@section Sqrt
vec4 unary_op(vec4 x) { return keep_nan(mix(sqrt(x), vec4(NAN), lessThan(x, vec4(0.0))), x); }
//@section Rsqrt
vec4 unary_op(vec4 x) { return keep_nan(mix(1.0 / sqrt(x), vec4(NAN), lessThan(x, vec4(0.0))), x); }
//@section Reciprocal
vec4 unary_op(vec4 x) { return 1.0 / x; }
//@section Erf
vec4 unary_op(vec4 x) { return tf_erf(x); }
//@section Sin
vec4 unary_op(vec4 x) { return keep_nan(mix(sin(x), vec4(NAN), isinf(x)), x); }
//@section Cos
vec4 unary_op(vec4 x) { return keep_nan(mix(cos(x), vec4(NAN), isinf(x)), x); }
//@section Tan
vec4 unary_op(vec4 x) { return keep_nan(mix(sin(x) / cos(x), vec4(NAN), isinf(x)), x); }
//@section Asin
vec4 unary_op(vec4 x) { return tf_asin(x); }
//@section Acos
vec4 unary_op(vec4 x) { return tf_acos(x); }
//@section Atan
vec4 unary_op(vec4 x) { return tf_atan(x); }
//@section Sinh
vec4 unary_op(vec4 x) { return keep_nan(0.5 * (tf_expm1(x) - tf_expm1(-x)), x); }
//@section Cosh
vec4 unary_op(vec4 x) { return keep_nan(0.5 * (tf_exp(x) + tf_exp(-x)), x); }
//@section Asinh
vec4 unary_op(vec4 x) {
    vec4 a = abs(x);
    vec4 big = tf_log(a) + LN2;
    vec4 small = tf_log1p(a + a * a / (1.0 + sqrt(1.0 + a * a)));
    vec4 r = mix(small, big, greaterThan(a, vec4(67108864.0)));
    return keep_nan(mix(r, -r, signbit4(x)), x);
}
//@section Acosh
vec4 unary_op(vec4 x) {
    vec4 big = tf_log(x) + LN2;
    vec4 d = x - 1.0;
    vec4 near = tf_log1p(d + sqrt(d * (x + 1.0)));
    vec4 r = mix(near, big, greaterThan(x, vec4(67108864.0)));
    return keep_nan(mix(r, vec4(NAN), lessThan(x, vec4(1.0))), x);
}
//@section Atanh
vec4 unary_op(vec4 x) {
    vec4 a = abs(x);
    vec4 r = 0.5 * tf_log1p(2.0 * a / (1.0 - a));
    r = mix(r, vec4(INF), equal(a, vec4(1.0)));
    r = mix(r, vec4(NAN), greaterThan(a, vec4(1.0)));
    return keep_nan(mix(r, -r, signbit4(x)), x);
}
//@section IsNan
ivec4 unary_op(vec4 x) { return ivec4(isnan(x)); }
//@section IsInf
ivec4 unary_op(vec4 x) { return ivec4(isinf(x)); }
//@section IsFinite
ivec4 unary_op(vec4 x) { return ivec4(not(or4(isnan(x), isinf(x)))); }
//@section LogicalNot
ivec4 unary_op(ivec4 x) { return ivec4(equal(x, ivec4(0))); }
//@section ZerosLike
OUT_VEC unary_op(XV x) { return OUT_VEC(0); }
//@section OnesLike
OUT_VEC unary_op(XV x) { return OUT_VEC(1); }
//@section Cast
// OUT_BOOL: the output is bool (0/1); float -> int truncates, and NaN or out-of-range
// values give INT_MIN like TF on x86.
#if X_INT && OUT_INT
ivec4 unary_op(ivec4 x) {
#if OUT_BOOL
    return ivec4(notEqual(x, ivec4(0)));
#else
    return x;
#endif
}
#elif X_INT
vec4 unary_op(ivec4 x) { return vec4(x); }
#elif OUT_INT
ivec4 unary_op(vec4 x) {
#if OUT_BOOL
    return ivec4(notEqual(x, vec4(0.0)));
#else
    bvec4 bad = or4(isnan(x), or4(greaterThanEqual(x, vec4(2147483648.0)), lessThan(x, vec4(-2147483648.0))));
    return select4(bad, ivec4(INT_MIN), ivec4(x));
#endif
}
#else
vec4 unary_op(vec4 x) { return x; }
#endif
