// 2-D convolutions, NHWC.  X: [N, H, W, Cin]; the output is [N, OH, OW, Cout] with
// oy * stride - pad_top + ky * dilation the input row of tap ky (taps outside the image are zero).
// Fused epilogue: + Bias (broadcast), + Residual (HAS_RESIDUAL: TF's fused "Add", a skip
// connection added before the activation), then activate() (lib/activation.glsl) with Prelu weights.
uniform ivec2 in_hw;        // input height, width
uniform ivec2 ksize;        // filter height, width
uniform ivec2 strides;
uniform ivec2 dilations;
uniform ivec2 pad;          // top, left
uniform int CIN;            // input channels
uniform int MULT;           // depthwise channel multiplier

vec4 epilogue(vec4 acc, int c[OUT_R]) {
#if HAS_BIAS && BIAS_TB
    acc += texelFetch(Bias, c[OUT_R - 1]);      // a constant [C] bias in a buffer texture
#elif HAS_BIAS
    acc += Bias_texel(c);
#endif
#if HAS_RESIDUAL
    acc += Residual_texel(c);
#endif
#if ACT == 6
    return activate(acc, Prelu_texel(c));
#else
    return activate(acc, vec4(0.0));
#endif
}

#if GENERIC
float epilogue1(float acc, int c[OUT_R]) {
    vec4 v = vec4(acc);
#if HAS_BIAS
    v += vec4(Bias_elem(c));
#endif
#if HAS_RESIDUAL
    v += vec4(Residual_elem(c));
#endif
#if ACT == 6
    return activate(v, vec4(Prelu_elem(c))).x;
#else
    return activate(v, vec4(0.0)).x;
#endif
}
#endif

//@section conv2d
// Packed: one output texel = 4 output channels; W is the filter viewed as [fh * fw * Cin, Cout],
// walked 4 input-channel rows per input texel (like matmul's inner loop).
vec4 compute(int c[OUT_R]) {
    int oy = c[1] * strides.x - pad.x;
    int ox = c[2] * strides.y - pad.y;
    int cin4 = CIN / 4;
    int rem = CIN - 4 * cin4;
    ivec2 dx = X_delta(3);
    ivec2 dw = W_delta(0);
    vec4 acc = vec4(0.0);
    for (int ky = 0; ky < ksize.x; ++ky) {
        int iy = oy + ky * dilations.x;
        if (iy < 0 || iy >= in_hw.x) continue;
        for (int kx = 0; kx < ksize.y; ++kx) {
            int ix = ox + kx * dilations.y;
            if (ix < 0 || ix >= in_hw.y) continue;
            int xc[4] = int[4](c[0], iy, ix, 0);
            int wc[2] = int[2]((ky * ksize.y + kx) * CIN, c[3]);
            ivec2 px = X_pos(xc);
            ivec2 pw = W_pos(wc);
            for (int i = 0; i < cin4; ++i) {
                vec4 a = texelFetch(X, px, 0);
                acc += a.x * texelFetch(W, pw, 0); pw = W_advance(pw, dw);
                acc += a.y * texelFetch(W, pw, 0); pw = W_advance(pw, dw);
                acc += a.z * texelFetch(W, pw, 0); pw = W_advance(pw, dw);
                acc += a.w * texelFetch(W, pw, 0); pw = W_advance(pw, dw);
                px = X_advance(px, dx);
            }
            if (rem > 0) {
                vec4 a = texelFetch(X, px, 0);
                acc += a.x * texelFetch(W, pw, 0);
                if (rem > 1) { pw = W_advance(pw, dw); acc += a.y * texelFetch(W, pw, 0); }
                if (rem > 2) { pw = W_advance(pw, dw); acc += a.z * texelFetch(W, pw, 0); }
            }
        }
    }
    return epilogue(acc, c);
}

//@section conv2d_tb
// As conv2d, the filter in a buffer texture: texel (row, n4) at row * COUT4 + n4 with
// row = (ky * fw + kx) * Cin + ci (llvmpipe fetches these about twice as fast as 2D texels).
uniform int COUT4;
vec4 compute(int c[OUT_R]) {
    int oy = c[1] * strides.x - pad.x;
    int ox = c[2] * strides.y - pad.y;
    int cin4 = CIN / 4;
    int rem = CIN - 4 * cin4;
    ivec2 dx = X_delta(3);
    vec4 acc = vec4(0.0);
    for (int ky = 0; ky < ksize.x; ++ky) {
        int iy = oy + ky * dilations.x;
        if (iy < 0 || iy >= in_hw.x) continue;
        for (int kx = 0; kx < ksize.y; ++kx) {
            int ix = ox + kx * dilations.y;
            if (ix < 0 || ix >= in_hw.y) continue;
            int xc[4] = int[4](c[0], iy, ix, 0);
            ivec2 px = X_pos(xc);
            int w = (ky * ksize.y + kx) * CIN * COUT4 + c[3];
            for (int i = 0; i < cin4; ++i) {
                vec4 a = texelFetch(X, px, 0);
                acc += a.x * texelFetch(W, w);
                acc += a.y * texelFetch(W, w + COUT4);
                acc += a.z * texelFetch(W, w + 2 * COUT4);
                acc += a.w * texelFetch(W, w + 3 * COUT4);
                w += 4 * COUT4;
                px = X_advance(px, dx);
            }
            if (rem > 0) {
                vec4 a = texelFetch(X, px, 0);
                acc += a.x * texelFetch(W, w);
                if (rem > 1) acc += a.y * texelFetch(W, w + COUT4);
                if (rem > 2) acc += a.z * texelFetch(W, w + 2 * COUT4);
            }
        }
    }
    return epilogue(acc, c);
}

//@section depthwise_tb
// As depthwise, the filter in a buffer texture: tap t, channel texel c4 at t * C4 + c4.
uniform int C4;
vec4 compute(int c[OUT_R]) {
    int oy = c[1] * strides.x - pad.x;
    int ox = c[2] * strides.y - pad.y;
    vec4 acc = vec4(0.0);
    for (int ky = 0; ky < ksize.x; ++ky) {
        int iy = oy + ky * dilations.x;
        if (iy < 0 || iy >= in_hw.x) continue;
        for (int kx = 0; kx < ksize.y; ++kx) {
            int ix = ox + kx * dilations.y;
            if (ix < 0 || ix >= in_hw.y) continue;
            int xc[4] = int[4](c[0], iy, ix, c[3]);
            acc += texelFetch(X, X_pos(xc), 0) * texelFetch(W, (ky * ksize.y + kx) * C4 + c[3]);
        }
    }
    return epilogue(acc, c);
}

//@section depthwise
// Packed, multiplier 1: 4 channels per texel, one input and one filter texel per tap.
// W is the filter viewed as [fh * fw, C].
vec4 compute(int c[OUT_R]) {
    int oy = c[1] * strides.x - pad.x;
    int ox = c[2] * strides.y - pad.y;
    vec4 acc = vec4(0.0);
    for (int ky = 0; ky < ksize.x; ++ky) {
        int iy = oy + ky * dilations.x;
        if (iy < 0 || iy >= in_hw.x) continue;
        for (int kx = 0; kx < ksize.y; ++kx) {
            int ix = ox + kx * dilations.y;
            if (ix < 0 || ix >= in_hw.y) continue;
            int xc[4] = int[4](c[0], iy, ix, c[3]);
            int wc[2] = int[2](ky * ksize.y + kx, c[3]);
            acc += texelFetch(X, X_pos(xc), 0) * texelFetch(W, W_pos(wc), 0);
        }
    }
    return epilogue(acc, c);
}

//@section conv2d_generic
// Any layout: one output value per call.  W: [fh, fw, Cin, Cout].
float value(int c[OUT_R]) {
    int oy = c[1] * strides.x - pad.x;
    int ox = c[2] * strides.y - pad.y;
    float acc = 0.0;
    for (int ky = 0; ky < ksize.x; ++ky) {
        int iy = oy + ky * dilations.x;
        if (iy < 0 || iy >= in_hw.x) continue;
        for (int kx = 0; kx < ksize.y; ++kx) {
            int ix = ox + kx * dilations.y;
            if (ix < 0 || ix >= in_hw.y) continue;
            for (int ci = 0; ci < CIN; ++ci) {
                int xc[4] = int[4](c[0], iy, ix, ci);
                int wc[4] = int[4](ky, kx, ci, c[3]);
                acc += X_elem(xc) * W_elem(wc);
            }
        }
    }
    return epilogue1(acc, c);
}

//@section depthwise_generic
// Any layout and channel multiplier: output channel oc reads input channel oc / MULT.
float value(int c[OUT_R]) {
    int oy = c[1] * strides.x - pad.x;
    int ox = c[2] * strides.y - pad.y;
    int ci = c[3] / MULT;
    int m = c[3] - ci * MULT;
    float acc = 0.0;
    for (int ky = 0; ky < ksize.x; ++ky) {
        int iy = oy + ky * dilations.x;
        if (iy < 0 || iy >= in_hw.x) continue;
        for (int kx = 0; kx < ksize.y; ++kx) {
            int ix = ox + kx * dilations.y;
            if (ix < 0 || ix >= in_hw.y) continue;
            int xc[4] = int[4](c[0], iy, ix, ci);
            int wc[4] = int[4](ky, kx, ci, m);
            acc += X_elem(xc) * W_elem(wc);
        }
    }
    return epilogue1(acc, c);
}
