// Gather-style window kernels, NHWC, one output texel (4 channels; 1 when unpacked) per fragment:
// the transposed convolution (Conv2DBackpropInput) and grayscale dilation (Dilation2D).
// Geometry is the forward window's (gpu_backend/window.py): output row oy of the forward op reads
// input row oy * stride - pad + ky * dilation.
uniform ivec2 ksize;        // filter height, width
uniform ivec2 strides;
uniform ivec2 dilations;
uniform ivec2 pad;          // top, left
uniform ivec2 in_hw;        // height, width of the op's spatial input (dy, or the dilated image)

#if OUT_PACKED
#define LANES 4
#else
#define LANES 1
#endif

//@section backprop_input
// DY: [N, OH, OW, Cout]; F: [fh, fw, Cin, Cout]; output [N, H, W, Cin].
// Output pixel y (padded: y + top) receives tap ky from dy row oy when
// y + top - ky * dilation == oy * stride, 0 <= oy < OH.  Each fragment sums those taps over Cout:
// per dy texel (4 output channels of the forward op) one dot product with the filter texel of
// each of its 4 input channels.  Strides are >= 1 (validated); the divisions are guarded anyway.
uniform int cin;            // input channels (the output's last dim)
uniform int cout;           // dy channels

#if DY_INT
#define V ivec4
#define S int
S dot4(ivec4 a, ivec4 b) { return a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w; }   // wraps like TF's int32
#else
#define V vec4
#define S float
S dot4(vec4 a, vec4 b) { return a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w; }
#endif

OUT_VEC compute(int c[OUT_R]) {
    int sh = max(strides.x, 1), sw = max(strides.y, 1);
    int yp = c[1] + pad.x, xp = c[2] + pad.y;
    int ci = LANES * c[3];                              // first output channel of this texel
    int groups = (cout + LANES - 1) / LANES;            // dy texels along Cout
    ivec2 ddy = DY_delta(3), dfo = F_delta(3), dfi = F_delta(2);
    V acc = V(0);
    for (int ky = 0; ky < ksize.x; ++ky) {
        int ty = yp - ky * dilations.x;
        if (ty < 0) break;                              // later taps only go further up
        if (ty % sh != 0) continue;
        int oy = ty / sh;
        if (oy >= in_hw.x) continue;
        for (int kx = 0; kx < ksize.y; ++kx) {
            int tx = xp - kx * dilations.y;
            if (tx < 0) break;
            if (tx % sw != 0) continue;
            int ox = tx / sw;
            if (ox >= in_hw.y) continue;
            int dq[4] = int[4](c[0], oy, ox, 0);
            int fq[4] = int[4](ky, kx, ci, 0);
            ivec2 pd = DY_pos(dq);
            ivec2 p0 = F_pos(fq);
#if LANES == 4
            // filter rows of the 4 output channels (lanes past Cin repeat the last: masked by main)
            ivec2 p1 = ci + 1 < cin ? F_advance(p0, dfi) : p0;
            ivec2 p2 = ci + 2 < cin ? F_advance(p1, dfi) : p1;
            ivec2 p3 = ci + 3 < cin ? F_advance(p2, dfi) : p2;
            for (int g = 0; g < groups; ++g) {
                V d = texelFetch(DY, pd, 0);            // tail lanes are 0 in dy and the filter alike
                acc += V(dot4(d, texelFetch(F, p0, 0)), dot4(d, texelFetch(F, p1, 0)),
                         dot4(d, texelFetch(F, p2, 0)), dot4(d, texelFetch(F, p3, 0)));
                pd = DY_advance(pd, ddy);
                p0 = F_advance(p0, dfo); p1 = F_advance(p1, dfo); p2 = F_advance(p2, dfo); p3 = F_advance(p3, dfo);
            }
#else
            S s = S(0);
            for (int g = 0; g < groups; ++g) {
                s += texelFetch(DY, pd, 0).x * texelFetch(F, p0, 0).x;
                pd = DY_advance(pd, ddy);
                p0 = F_advance(p0, dfo);
            }
            acc.x += s;
#endif
        }
    }
    return acc;
}

//@section dilation2d
// X: [N, H, W, C]; F: [fh, fw, C]; output [N, OH, OW, C]: max over the window of x + filter.
// As TF's CPU kernel: the running max starts at the dtype's lowest value and only a strictly
// greater candidate replaces it, so NaN candidates and padding never win and an all -Inf/NaN
// window gives float32's lowest.  NaN candidates are mapped to -Inf before the compare, so the
// result stays right even if the compiler turns the select into a max().
#define F32_LOWEST uintBitsToFloat(0xff7fffffu)

OUT_VEC compute(int c[OUT_R]) {
    int y0 = c[1] * strides.x - pad.x, x0 = c[2] * strides.y - pad.y;
#if OUT_INT
    ivec4 acc = ivec4(INT_MIN);
#else
    vec4 acc = vec4(F32_LOWEST);
#endif
    for (int ky = 0; ky < ksize.x; ++ky) {
        int iy = y0 + ky * dilations.x;
        if (iy < 0) continue;
        if (iy >= in_hw.x) break;
        for (int kx = 0; kx < ksize.y; ++kx) {
            int ix = x0 + kx * dilations.y;
            if (ix < 0) continue;
            if (ix >= in_hw.y) break;
            int xq[4] = int[4](c[0], iy, ix, c[3]);
            int fq[3] = int[3](ky, kx, c[3]);
#if OUT_INT
            acc = max(acc, X_texel(xq) + F_texel(fq));          // int32 sums wrap like TF's
#else
            vec4 v = X_texel(xq) + F_texel(fq);
            v = mix(v, vec4(-INF), isnan(v));
            acc = mix(acc, v, greaterThan(v, acc));
#endif
        }
    }
    return acc;
}
