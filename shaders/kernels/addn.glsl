// AddN over up to 8 same-shaped inputs X0..X7 per draw (N inputs); longer lists take several draws.
OUT_VEC compute(int c[OUT_R]) {
    OUT_VEC s = X0_texel(c);
#if N > 1
    s += X1_texel(c);
#endif
#if N > 2
    s += X2_texel(c);
#endif
#if N > 3
    s += X3_texel(c);
#endif
#if N > 4
    s += X4_texel(c);
#endif
#if N > 5
    s += X5_texel(c);
#endif
#if N > 6
    s += X6_texel(c);
#endif
#if N > 7
    s += X7_texel(c);
#endif
    return s;
}
