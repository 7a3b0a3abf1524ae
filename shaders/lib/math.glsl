// Math helpers with TensorFlow's results on edge values (NaN, +-Inf, -0) and accuracy
// close to float32 rounding; GLSL's builtins leave most of these undefined, and
// llvmpipe's versions differ from libm near 0 and for huge arguments.

#define PI 3.14159265358979
#define LN2 0.693147180559945

// Apply a scalar float function to each lane.
#define MAP4(f, v) vec4(f((v).x), f((v).y), f((v).z), f((v).w))
#define MAP4_2(f, a, b) vec4(f((a).x, (b).x), f((a).y, (b).y), f((a).z, (b).z), f((a).w, (b).w))

bvec4 or4(bvec4 a, bvec4 b) { return bvec4(ivec4(a) | ivec4(b)); }
bvec4 and4(bvec4 a, bvec4 b) { return bvec4(ivec4(a) & ivec4(b)); }
// true for negative values, -0 and negative NaNs
bvec4 signbit4(vec4 x) { return lessThan(floatBitsToInt(x), ivec4(0)); }
bool signbit1(float x) { return floatBitsToInt(x) < 0; }
// r, except NaN wherever x is NaN
vec4 keep_nan(vec4 r, vec4 x) { return mix(r, x, isnan(x)); }
ivec4 select4(bvec4 c, ivec4 a, ivec4 b) { return ivec4(c.x ? a.x : b.x, c.y ? a.y : b.y, c.z ? a.z : b.z, c.w ? a.w : b.w); }
vec4 select4(bvec4 c, vec4 a, vec4 b) { return mix(b, a, c); }

vec4 tf_exp(vec4 x) {
    vec4 r = exp(x);
    r = mix(r, vec4(0.0), equal(x, vec4(-INF)));
    r = mix(r, vec4(INF), equal(x, vec4(INF)));
    return keep_nan(r, x);
}

// log: NaN below 0, -inf at +-0, +inf at +inf
vec4 tf_log(vec4 x) {
    vec4 r = log(x);
    r = mix(r, vec4(-INF), equal(x, vec4(0.0)));
    r = mix(r, vec4(INF), equal(x, vec4(INF)));
    r = mix(r, vec4(NAN), lessThan(x, vec4(0.0)));
    return keep_nan(r, x);
}

vec4 tf_expm1(vec4 x) {
    vec4 a = abs(x);
    // Taylor series where exp(x) - 1 would cancel; error < 2e-7 relative for |x| < 0.5
    vec4 t = x * (1.0 + x * (1.0 / 2.0 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0 + x * (1.0 / 720.0 + x * (1.0 / 5040.0)))))));
    vec4 r = mix(tf_exp(x) - 1.0, t, lessThan(a, vec4(0.5)));
    return keep_nan(r, x);
}

vec4 tf_log1p(vec4 x) {
    vec4 u = 1.0 + x;
    // Kahan's correction: log(u) * x / (u - 1) is exact to rounding where u != 1
    vec4 d = u - 1.0;
    vec4 r = tf_log(u) * (x / mix(d, vec4(1.0), equal(d, vec4(0.0))));
    vec4 small = x * (1.0 - x * (0.5 - x * (1.0 / 3.0)));
    r = mix(r, small, lessThan(abs(x), vec4(1e-4)));
    r = mix(r, tf_log(u), or4(greaterThan(abs(x), vec4(1e30)), lessThanEqual(x, vec4(-1.0))));
    return keep_nan(r, x);
}

// erf: Taylor series near 0, Abramowitz & Stegun 7.1.26 elsewhere (|error| < 1.5e-7)
vec4 tf_erf(vec4 x) {
    vec4 a = abs(x);
    vec4 x2 = x * x;
    vec4 taylor = 1.1283791670955126 * x * (1.0 - x2 * (1.0 / 3.0 - x2 * (1.0 / 10.0 - x2 * (1.0 / 42.0 - x2 * (1.0 / 216.0 - x2 / 1320.0)))));
    vec4 t = 1.0 / (1.0 + 0.3275911 * a);
    vec4 poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    vec4 tail = 1.0 - poly * tf_exp(-x2);
    vec4 r = mix(sign(x) * tail, taylor, lessThan(a, vec4(0.5)));
    r = mix(r, sign(x), greaterThan(a, vec4(6.0)));
    return keep_nan(r, x);
}

vec4 tf_tanh(vec4 x) {
    vec4 a = min(abs(x), vec4(10.0));           // tanh(10) rounds to 1.0 in float32
    vec4 e = tf_expm1(2.0 * a);
    vec4 r = e / (e + 2.0);
    r = mix(r, -r, signbit4(x));
    return keep_nan(r, x);
}

vec4 tf_sigmoid(vec4 x) {
    vec4 r = 1.0 / (1.0 + tf_exp(-x));
    return keep_nan(r, x);
}

float tf_pow1(float x, float y) {
    if (y == 0.0 || x == 1.0) return 1.0;
    if (isnan(x) || isnan(y)) return NAN;
    float ax = abs(x);
    if (isinf(y)) {
        if (ax == 1.0) return 1.0;
        return (ax > 1.0) == (y > 0.0) ? INF : 0.0;
    }
    float r;
    if (ax == 0.0) r = y > 0.0 ? 0.0 : INF;
    else if (isinf(ax)) r = y > 0.0 ? INF : 0.0;
    else if (floor(y) == y && abs(y) <= 64.0) {
        // small integer exponents by squaring: x^2, x^3 (GELU) stay within a few ulps
        int n = int(abs(y));
        float b = ax;
        r = 1.0;
        for (int i = 0; i < 7; ++i) {
            if ((n & 1) != 0) r *= b;
            n >>= 1;
            b *= b;
        }
        if (y < 0.0) r = 1.0 / r;
    }
    else r = exp2(y * log2(ax));
    if (signbit1(x)) {
        if (floor(y) != y) return (ax == 0.0 || isinf(ax)) ? r : NAN;  // negative base, fractional exponent
        if (abs(mod(y, 2.0)) == 1.0) r = -r;                           // odd exponent keeps the sign
    }
    return r;
}
vec4 tf_pow(vec4 x, vec4 y) { return MAP4_2(tf_pow1, x, y); }

vec4 tf_atan(vec4 x);
// C's atan2(y, x), including signed zeros and infinities
float tf_atan2_1(float y, float x) {
    if (isnan(x) || isnan(y)) return NAN;
    float s = signbit1(y) ? -1.0 : 1.0;
    if (y == 0.0) return signbit1(x) ? s * PI : s * 0.0;
    if (isinf(x)) {
        if (isinf(y)) return s * (x > 0.0 ? PI / 4.0 : 3.0 * PI / 4.0);
        return x > 0.0 ? s * 0.0 : s * PI;
    }
    if (isinf(y) || x == 0.0) return s * PI / 2.0;
    float r = tf_atan(vec4(abs(y) / abs(x))).x;   // in [0, pi/2]
    if (x < 0.0) r = PI - r;
    return s * r;
}
vec4 tf_atan2(vec4 y, vec4 x) { return MAP4_2(tf_atan2_1, y, x); }

// fmod with C semantics (exact, sign of x): subtract the largest |y| * 2^k <= r until r < |y|;
// each subtraction is exact (Sterbenz), and r at least halves per step.
float pow2i(int k) { return intBitsToFloat((clamp(k, -126, 127) + 127) << 23); }
float tf_fmod1(float x, float y) {
    float ax = abs(x), ay = abs(y);
    if (isnan(x) || isnan(y) || isinf(x) || ay == 0.0) return NAN;
    if (isinf(y) || ax < ay) return x;
    float r = ax;
    for (int i = 0; i < 300; ++i) {
        if (r < ay) break;
        int k = max(0, int(floor(log2(r) - log2(ay))));
        float t = ay * pow2i(min(k, 127)) * pow2i(max(k - 127, 0));
        if (t > r) t = ay * pow2i(min(k - 1, 127)) * pow2i(max(k - 128, 0));
        r -= t;
    }
    return signbit1(x) ? -r : r;
}
// TF's floor-mod: fmod, then moved to the sign of y
vec4 tf_floormod(vec4 x, vec4 y) {
    vec4 r = MAP4_2(tf_fmod1, x, y);
    bvec4 adjust = and4(notEqual(r, vec4(0.0)), notEqual(lessThan(r, vec4(0.0)), lessThan(y, vec4(0.0))));
    return mix(r, r + y, adjust);
}

// Integer floor division and modulo; division by zero gives 0 (TF raises an error there),
// INT_MIN / -1 wraps like two's complement, and no lane ever traps.
ivec4 int_floordiv(ivec4 a, ivec4 b) {
    bvec4 zero = equal(b, ivec4(0));
    bvec4 minus1 = equal(b, ivec4(-1));
    ivec4 safe = select4(or4(zero, minus1), ivec4(1), b);
    ivec4 q = a / safe;
    ivec4 r = a - q * safe;
    q -= ivec4(and4(notEqual(r, ivec4(0)), notEqual(lessThan(r, ivec4(0)), lessThan(safe, ivec4(0)))));
    q = select4(minus1, -a, q);
    return select4(zero, ivec4(0), q);
}
ivec4 int_floormod(ivec4 a, ivec4 b) {
    ivec4 r = a - int_floordiv(a, b) * b;
    return select4(equal(b, ivec4(0)), ivec4(0), r);
}

int int_pow1(int x, int y) {
    if (y < 0) return x == 1 ? 1 : (x == -1 ? ((y & 1) != 0 ? -1 : 1) : 0);
    int r = 1;
    int b = x;
    for (int i = 0; i < 31; ++i) {
        if ((y & 1) != 0) r *= b;
        y >>= 1;
        if (y == 0) break;
        b *= b;
    }
    return r;
}
ivec4 int_pow(ivec4 x, ivec4 y) { return ivec4(int_pow1(x.x, y.x), int_pow1(x.y, y.y), int_pow1(x.z, y.z), int_pow1(x.w, y.w)); }

// atan with Cephes' float polynomial (relative error ~1e-7; llvmpipe's builtin is off by ~1e-5)
vec4 tf_atan(vec4 x) {
    vec4 a = abs(x);
    bvec4 big = greaterThan(a, vec4(2.414213562373095));
    bvec4 mid = and4(greaterThan(a, vec4(0.4142135623730950)), not(big));
    vec4 base = mix(mix(vec4(0.0), vec4(PI / 4.0), mid), vec4(PI / 2.0), big);
    vec4 t = mix(mix(a, (a - 1.0) / (a + 1.0), mid), -1.0 / a, big);
    vec4 z = t * t;
    vec4 r = base + ((((8.05374449538e-2 * z - 1.38776856032e-1) * z + 1.99777106478e-1) * z
                      - 3.33329491539e-1) * z * t + t);
    r = mix(r, vec4(PI / 2.0), isinf(x));
    r = mix(r, -r, signbit4(x));
    return keep_nan(r, x);
}
// asin and acos through atan of a ratio that keeps precision near |x| = 1
vec4 tf_asin(vec4 x) {
    vec4 c = sqrt((1.0 - x) * (1.0 + x));
    vec4 a = abs(x);
    vec4 r = tf_atan(a / c);
    r = mix(r, vec4(PI / 2.0), equal(a, vec4(1.0)));
    r = mix(r, -r, signbit4(x));
    return keep_nan(mix(r, vec4(NAN), greaterThan(a, vec4(1.0))), x);
}
vec4 tf_acos(vec4 x) {
    // acos(x) = 2 * atan(sqrt((1 - x) / (1 + x)))
    vec4 r = 2.0 * tf_atan(sqrt((1.0 - x) / (1.0 + x)));
    r = mix(r, vec4(PI), equal(x, vec4(-1.0)));
    return keep_nan(mix(r, vec4(NAN), greaterThan(abs(x), vec4(1.0))), x);
}
