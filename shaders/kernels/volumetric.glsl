// 3-D convolution and pooling, NDHWC.  X: [N, D, H, W, C]; output [N, OD, OH, OW, C'] with
// o * stride - pad + k * dilation the input index of tap k along each of depth, height, width
// (all three as .x, .y, .z of the ivec3 uniforms).  Taps outside the input are padding.
uniform ivec3 in_dhw;       // input depth, height, width
uniform ivec3 ksize;        // filter / window depth, height, width
uniform ivec3 strides;
uniform ivec3 dilations;
uniform ivec3 pad;          // padding before depth, height, width
uniform int CIN;            // input channels

//@section conv3d
// Packed: one output texel = 4 output channels.  Per tap, the input channels 4 at a time: one X
// texel and the 4 filter rows ci..ci+3 of W [kd, kh, kw, Cin, Cout] (each row's texel holds 4 output
// channels); rows past Cin are never read (they belong to the next tap).
vec4 compute(int c[OUT_R]) {
    ivec3 o = ivec3(c[1], c[2], c[3]) * strides - pad;
    int cin4 = CIN / 4;
    int rem = CIN - 4 * cin4;
    ivec2 dx = X_delta(4);
    ivec2 dw = W_delta(3);
    vec4 acc = vec4(0.0);
    for (int kz = 0; kz < ksize.x; ++kz) {
        int iz = o.x + kz * dilations.x;
        if (iz < 0 || iz >= in_dhw.x) continue;
        for (int ky = 0; ky < ksize.y; ++ky) {
            int iy = o.y + ky * dilations.y;
            if (iy < 0 || iy >= in_dhw.y) continue;
            for (int kx = 0; kx < ksize.z; ++kx) {
                int ix = o.z + kx * dilations.z;
                if (ix < 0 || ix >= in_dhw.z) continue;
                int xc[5] = int[5](c[0], iz, iy, ix, 0);
                int wc[5] = int[5](kz, ky, kx, 0, c[4]);
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
    }
    return acc;
}

//@section conv3d_generic
// Any layout: one output value per call.
float value(int c[OUT_R]) {
    ivec3 o = ivec3(c[1], c[2], c[3]) * strides - pad;
    float acc = 0.0;
    for (int kz = 0; kz < ksize.x; ++kz) {
        int iz = o.x + kz * dilations.x;
        if (iz < 0 || iz >= in_dhw.x) continue;
        for (int ky = 0; ky < ksize.y; ++ky) {
            int iy = o.y + ky * dilations.y;
            if (iy < 0 || iy >= in_dhw.y) continue;
            for (int kx = 0; kx < ksize.z; ++kx) {
                int ix = o.z + kx * dilations.z;
                if (ix < 0 || ix >= in_dhw.z) continue;
                for (int ci = 0; ci < CIN; ++ci) {
                    int xc[5] = int[5](c[0], iz, iy, ix, ci);
                    int wc[5] = int[5](kz, ky, kx, ci, c[4]);
                    acc += X_elem(xc) * W_elem(wc);
                }
            }
        }
    }
    return acc;
}

//@section pool3d
// MaxPool3D / AvgPool3D per texel of channels (any layout).  Float max is TF's CPU MaxPool3D: a running
// max from -inf in which NaN never wins, padding taps counting as the lowest float (so a window that
// touches the padding never gives -inf).  int32 max: exact, over the real taps.  Average: the sum over
// the real taps divided by their number.
vec4 lowest_if(bool b) { return vec4(b ? -3.4028234663852886e38 : -INF); }

OUT_VEC compute(int c[OUT_R]) {
    ivec3 o = ivec3(c[1], c[2], c[3]) * strides - pad;
    ivec3 lo = max(o, ivec3(0));
    ivec3 hi = min(o + ksize, in_dhw);              // exclusive
#if IS_MAX && OUT_INT
    ivec4 acc = ivec4(INT_MIN);
#elif IS_MAX
    vec4 acc = lowest_if(any(notEqual(lo, o)) || any(notEqual(hi, o + ksize)));
#else
    vec4 acc = vec4(0.0);
#endif
    for (int iz = lo.x; iz < hi.x; ++iz) {
        for (int iy = lo.y; iy < hi.y; ++iy) {
            int xc[5] = int[5](c[0], iz, iy, lo.z, c[4]);
            ivec2 px = X_pos(xc);
            ivec2 dx = X_delta(3);
            for (int ix = lo.z; ix < hi.z; ++ix) {
                OUT_VEC v = X_texel_at(px);
                px = X_advance(px, dx);
#if IS_MAX && OUT_INT
                acc = max(acc, v);
#elif IS_MAX
                acc = mix(acc, v, greaterThan(v, acc));
#else
                acc += v;
#endif
            }
        }
    }
#if IS_MAX
    return acc;
#else
    ivec3 n = max(hi - lo, ivec3(0));
    return acc / float(n.x * n.y * n.z);            // no real tap: 0 / 0 = NaN
#endif
}
