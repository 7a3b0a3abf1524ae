// Fused epilogue activations (matmul and convolution).  ACT selects one at compile time:
// 0 linear, 1 relu, 2 relu6, 3 elu, 4 sigmoid, 5 leakyrelu (uniform leaky_alpha),
// 6 prelu (per-channel weights read by the kernel), 7 tanh, and 8: any piecewise-linear one
// (linear, relu, relu6, leakyrelu) chosen by uniforms, 9 hard swish x * relu6(x + 3) / 6 (grappler's
// _FusedHardSwish, MobileNetV3), so those share one program per kernel
// (each program costs the driver ~100 ms to compile at its first draw).  Semantics match the
// unary kernels: NaN stays NaN, relu(-inf) = 0, relu(-0) = +0.
uniform float leaky_alpha;
uniform float act_neg;      // ACT 8: slope below zero (0 relu/relu6, alpha leakyrelu, 1 linear)
uniform float act_hi;       // ACT 8: upper clip (6 for relu6, +inf otherwise)
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
#elif ACT == 8
    vec4 below = act_neg == 0.0 ? vec4(0.0) : x * act_neg;
    return keep_nan(mix(below, min(x, vec4(act_hi)), greaterThan(x, vec4(0.0))), x);
#elif ACT == 9
    // as TF computes it: x * relu6(x + 3) * (1 / 6); -inf gives -inf * 0 = NaN there too
    return keep_nan(x * clamp(x + 3.0, vec4(0.0), vec4(6.0)) * (1.0 / 6.0), x);
#else
    return x;
#endif
}
