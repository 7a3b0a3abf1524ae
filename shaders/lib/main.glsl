// The generated main(): kernels provide compute() (a whole output texel) or value() (one element).

//@section texel
void main() {
    frag_pos = ivec2(gl_FragCoord.xy);
    int c[OUT_R];
    if (!out_coords(c)) { result = $VEC(0); return; }
    $VEC r = compute(c);
#if OUT_PACKED
    r = mask_tail(r, out_shape[OUT_R - 1] - 4 * c[OUT_R - 1]);
#endif
    result = r;
}

//@section element
void main() {
    frag_pos = ivec2(gl_FragCoord.xy);
    int c[OUT_R];
    if (!out_coords(c)) { result = $VEC(0); return; }
#if OUT_PACKED
    int base = 4 * c[OUT_R - 1];
    int n = out_shape[OUT_R - 1] - base;
    $VEC r = $VEC(0);
    for (int k = 0; k < 4; ++k) {
        if (k < n) {
            c[OUT_R - 1] = base + k;
            r[k] = value(c);
        }
    }
    result = r;
#else
    result = $VEC(value(c), 0, 0, 0);
#endif
}
