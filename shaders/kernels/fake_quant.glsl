// FakeQuantWithMinMaxVars: x -> (level - zero_point) * scale on TF's nudged num_bits grid.
// The nudge (scale, zero point, nudged range) is recomputed per fragment from the Lo/Hi tensors:
// a handful of scalar float ops, cheaper than a readback to do it on the host.
uniform float qmin;
uniform float qmax;

vec4 compute(int c[OUT_R]) {
    int z[1] = int[1](0);
    float lo = Lo_elem(z);
    float hi = Hi_elem(z);
    vec4 x = X_texel(c);
    if (lo == 0.0 && hi == 0.0) return vec4(0.0);           // TF: an empty range quantizes to 0
    float scale = (hi - lo) / (qmax - qmin);
    float zp_from_min = qmin - lo / scale;
    float zp = zp_from_min < qmin ? qmin : (zp_from_min > qmax ? qmax : floor(zp_from_min + 0.5));
    float nmin = (qmin - zp) * scale;
    float nmax = (qmax - zp) * scale;
    // min first, then max (TF's order, which decides the result when the range is reversed)
    vec4 v = mix(x, vec4(nmax), greaterThan(x, vec4(nmax)));
    v = mix(v, vec4(nmin), lessThan(v, vec4(nmin)));
    vec4 level = floor((v - nmin) / scale + 0.5) + qmin;
    return keep_nan((level - zp) * scale, x);
}
