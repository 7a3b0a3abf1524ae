// Fused epilogue activations (matmul and convolution).  ACT selects one at compile time:
// 0 linear, 1 relu, 2 relu6, 3 elu, 4 sigmoid, 5 leakyrelu (uniform leaky_alpha),
// 6 prelu (per-channel weights read by the kernel), 7 tanh.  Semantics match the unary kernels.
uniform float leaky_alpha;
vec4 activate(vec4 x, vec4 prelu_w) {
#if ACT == 1
    return keep_nan(mix(vec4(0.0), x, greaterThan(x, vec4(0.0))), x);
#elif ACT == 2
    vec4 r = mix(vec4(0.0), x, greaterThan(x, vec4(0.0)));
    return keep_nan(mix(r, vec4(6.0), greaterThan(x, vec4(6.0))), x);
#elif ACT == 3
    return mix(tf_expm1(x), x, greaterThan(x, vec4(0.0)));
#elif ACT == 4
    return tf_sigmoid(x);
#elif ACT == 5
    return mix(x * leaky_alpha, x, greaterThan(x, vec4(0.0)));
#elif ACT == 6
    return mix(x, x * prelu_w, lessThan(x, vec4(0.0)));
#elif ACT == 7
    return tf_tanh(x);
#else
    return x;
#endif
}
