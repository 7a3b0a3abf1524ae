// ImageProjectiveTransformV3, NHWC, one element per lane (see gpu_backend/reference/transform.py).
// Output pixel (x, y) samples the input at ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k),
// k = c0 x + c1 y + 1, after folding the coordinates back by the fill mode.
uniform ivec2 in_hw;
uniform int per_image;      // 1: one transform row per image, 0: one row for all
uniform int mode;           // 0 REFLECT, 1 WRAP, 2 CONSTANT, 3 NEAREST
uniform int bilinear;
uniform float fill;

float map_coordinate(float c, int len) {
    float n = float(len);
    if (mode == 2) return c;
    if (len <= 1) return 0.0;
    if (mode == 0) {
        float sz2 = 2.0 * n;
        if (c < 0.0) {
            c = sz2 * trunc(-c / sz2) + c;
            c = c < -n ? c + sz2 : -c - 1.0;
        } else if (c > n - 1.0) {
            c -= sz2 * trunc(c / sz2);
            if (c >= n) c = sz2 - c - 1.0;
        }
    } else if (mode == 1) {
        float sz = n - 1.0;
        if (c < 0.0) c += n * (trunc(-c / sz) + 1.0);
        else if (c > n - 1.0) c -= n * trunc(c / sz);
    }
    return clamp(c, 0.0, n - 1.0);
}

float tap(int b, float y, float x, int ch) {
    if (!(y >= 0.0 && y < float(in_hw.x) && x >= 0.0 && x < float(in_hw.y))) return fill;
    int xc[4] = int[4](b, int(y), int(x), ch);
    return float(X_elem(xc));
}

float round_half_away(float v) {
    float a = abs(v);
    float f = floor(a);
    return sign(v) * (f + (a - f >= 0.5 ? 1.0 : 0.0));
}

OUT_SCALAR value(int c[OUT_R]) {
    int row = per_image == 1 ? c[0] : 0;
    float t[8];
    for (int i = 0; i < 8; ++i) {
        int tc[2] = int[2](row, i);
        t[i] = T_elem(tc);
    }
    float ox = float(c[2]), oy = float(c[1]);
    float k = t[6] * ox + t[7] * oy + 1.0;
    float r = fill;
    if (k != 0.0) {
        float x = map_coordinate((t[0] * ox + t[1] * oy + t[2]) / k, in_hw.y);
        float y = map_coordinate((t[3] * ox + t[4] * oy + t[5]) / k, in_hw.x);
        if (bilinear == 0) {
            r = tap(c[0], round_half_away(y), round_half_away(x), c[3]);
        } else {
            float yf = floor(y), xf = floor(x);
            float top = (xf + 1.0 - x) * tap(c[0], yf, xf, c[3]) + (x - xf) * tap(c[0], yf, xf + 1.0, c[3]);
            float bot = (xf + 1.0 - x) * tap(c[0], yf + 1.0, xf, c[3]) + (x - xf) * tap(c[0], yf + 1.0, xf + 1.0, c[3]);
            r = (yf + 1.0 - y) * top + (y - yf) * bot;
        }
    }
#if OUT_INT
    return int(r);          // toward zero, as TF's cast
#else
    return r;
#endif
}
