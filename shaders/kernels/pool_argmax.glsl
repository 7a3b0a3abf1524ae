// MaxPoolWithArgmax, NHWC, one element per lane; WANT_INDEX picks the output (values or argmax).
// TF's CPU scan: take the window's first in-image tap, then any strictly greater one, so the first
// of tied maxima wins and a NaN first tap sticks; padding taps are skipped.
uniform ivec2 in_hw;
uniform ivec2 ksize;
uniform ivec2 strides;
uniform ivec2 pad;           // top, left
uniform int channels;
uniform int batch_stride;    // H * W * C with include_batch_in_index, else 0

OUT_SCALAR value(int c[OUT_R]) {
    int oy = c[1] * strides.x - pad.x;
    int ox = c[2] * strides.y - pad.y;
#if X_INT
    int best = 0;
#else
    float best = 0.0;
#endif
    int arg = -1;
    for (int ky = 0; ky < ksize.x; ++ky) {
        int iy = oy + ky;
        if (iy < 0 || iy >= in_hw.x) continue;
        for (int kx = 0; kx < ksize.y; ++kx) {
            int ix = ox + kx;
            if (ix < 0 || ix >= in_hw.y) continue;
            int xc[4] = int[4](c[0], iy, ix, c[3]);
            if (arg < 0 || best < X_elem(xc)) {
                best = X_elem(xc);
                arg = (iy * in_hw.y + ix) * channels + c[3] + c[0] * batch_stride;
            }
        }
    }
#if WANT_INDEX
    return arg;
#else
    return best;
#endif
}
