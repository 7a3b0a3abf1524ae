// Complex numbers and 1-D discrete Fourier transforms (gpu_backend/kernels/spectral.py).
// A complex tensor of shape S is a float32 tensor of shape S + [2] here: [..., 0] the real part,
// [..., 1] the imaginary part.  The transforms are direct sums over the innermost axis, with the
// twiddle angle taken from the integer (k * n) mod N, so it stays in [0, 2 pi) and exact before the
// one float32 rounding; each sum accumulates in float32 (error about N * 2^-24 of the row's size).

const float TWO_PI = 6.283185307179586;

// cos and sin of the twiddle 2 pi ((k * n) mod len) / len (the caller keeps len * len below 2^31),
// exact at the quarter turns (so a zero factor is exactly 0)
vec2 twiddle(int k, int n, int len) {
    int m = k * n;
    m -= udiv(m, len) * len;
    if (m == 0) return vec2(1.0, 0.0);
    if (2 * m == len) return vec2(-1.0, 0.0);
    if (4 * m == len) return vec2(0.0, 1.0);
    if (4 * m == 3 * len) return vec2(0.0, -1.0);
    float t = TWO_PI * float(m) / float(len);
    return vec2(cos(t), sin(t));
}

// a * w, skipped when w is exactly 0: the butterflies of an FFT never multiply there, so a NaN or
// Inf sample does not reach an output through a zero twiddle
float mulw(float a, float w) { return w == 0.0 ? 0.0 : a * w; }

//@section abs
// |x| of a complex [M, 2] input as [M]: hypot without overflow or underflow in the squares.
OUT_SCALAR value(int c[OUT_R]) {
    int p[2];
    p[0] = c[0];
    p[1] = 0;
    float re = X_elem(p);
    p[1] = 1;
    float im = X_elem(p);
    float a = abs(re);
    float b = abs(im);
    float hi = max(a, b);
    float lo = min(a, b);
    if (isnan(re) || isnan(im)) return (isinf(re) || isinf(im)) ? INF : NAN;
    if (isinf(hi)) return hi;
    if (hi == 0.0) return 0.0;
    float r = lo / hi;
    return hi * sqrt(1.0 + r * r);
}

//@section dft
// FFT (sign -1) / IFFT (sign +1, scale 1 / N) of X [rows, N, 2] into [rows, N, 2].
uniform int len;
uniform float sign;
uniform float scale;
OUT_SCALAR value(int c[OUT_R]) {
    int p[3];
    p[0] = c[0];
    float acc_re = 0.0;
    float acc_im = 0.0;
    for (int n = 0; n < len; ++n) {
        p[1] = n;
        p[2] = 0;
        float a = X_elem(p);
        p[2] = 1;
        float b = X_elem(p);
        vec2 w = twiddle(c[1], n, len);
        float cs = w.x;
        float sn = sign * w.y;
        acc_re += mulw(a, cs) - mulw(b, sn);
        acc_im += mulw(a, sn) + mulw(b, cs);
    }
    return (c[2] == 0 ? acc_re : acc_im) * scale;
}

//@section rfft
// RFFT of the first `len` samples of X [rows, L] into [rows, len / 2 + 1, 2].
uniform int len;
OUT_SCALAR value(int c[OUT_R]) {
    int p[2];
    p[0] = c[0];
    float acc_re = 0.0;
    float acc_im = 0.0;
    for (int n = 0; n < len; ++n) {
        p[1] = n;
        float a = X_elem(p);
        vec2 w = twiddle(c[1], n, len);
        acc_re += mulw(a, w.x);
        acc_im -= mulw(a, w.y);
    }
    return c[2] == 0 ? acc_re : acc_im;
}

//@section irfft
// IRFFT: `len` real samples from the first len / 2 + 1 bins of X [rows, M, 2] (the rest of the
// spectrum is their conjugate mirror); the imaginary parts of DC and, for even len, Nyquist are
// ignored, as in TF.
uniform int len;
OUT_SCALAR value(int c[OUT_R]) {
    int p[3];
    p[0] = c[0];
    int half_len = len / 2;
    p[1] = 0;
    p[2] = 0;
    float acc = X_elem(p);
    for (int k = 1; k <= half_len; ++k) {
        p[1] = k;
        p[2] = 0;
        float a = X_elem(p);
        if (2 * k == len) {
            acc += ((c[1] & 1) == 0) ? a : -a;     // cos(pi t); sin(pi t) = 0
            continue;
        }
        p[2] = 1;
        float b = X_elem(p);
        vec2 w = twiddle(k, c[1], len);
        acc += 2.0 * (mulw(a, w.x) - mulw(b, w.y));
    }
    return acc / float(len);
}
