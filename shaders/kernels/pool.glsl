// MaxPool / AvgPool, NHWC, vectorised over the channels of a texel.
// MaxPool is TF's CPU kernel: a running max from the lowest finite value in which NaN never wins
// (all-NaN or all -inf windows give the lowest float).  AvgPool divides by the number of real
// (non-padding) taps; a window of padding only gives 0 / 0 = NaN.
// pad_zeros = 1: padding taps count as zeros instead (a zero Pad folded into the pool at load).
// Float results go through activate() (ACT 8, lib/activation.glsl): an activation folded at load.
uniform ivec2 in_hw;
uniform ivec2 ksize;
uniform ivec2 strides;
uniform ivec2 pad;          // top, left
uniform int pad_zeros;

OUT_VEC compute(int c[OUT_R]) {
    int oy = c[1] * strides.x - pad.x;
    int ox = c[2] * strides.y - pad.y;
#if IS_MAX
#if OUT_INT
    ivec4 acc = ivec4(INT_MIN);
#else
    vec4 acc = vec4(-3.4028234663852886e38);
#endif
#else
    vec4 acc = vec4(0.0);
    int count = 0;
#endif
    for (int ky = 0; ky < ksize.x; ++ky) {
        int iy = oy + ky;
        bool row_in = iy >= 0 && iy < in_hw.x;
        if (!row_in && pad_zeros == 0) continue;
        for (int kx = 0; kx < ksize.y; ++kx) {
            int ix = ox + kx;
            OUT_VEC v = OUT_VEC(0);
            if (row_in && ix >= 0 && ix < in_hw.y) {
                int xc[4] = int[4](c[0], iy, ix, c[3]);
                v = X_texel(xc);
            } else if (pad_zeros == 0) {
                continue;
            }
#if IS_MAX && OUT_INT
            acc = max(acc, v);
#elif IS_MAX
            acc = mix(acc, v, greaterThan(v, acc));
#else
            acc += v;
            count += 1;
#endif
        }
    }
#if OUT_INT
    return acc;
#elif IS_MAX
    return activate(acc, vec4(0.0));
#else
    return activate(acc / float(count), vec4(0.0));
#endif
}
