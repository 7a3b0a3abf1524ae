// Select / SelectV2: C ? T : E with all three read broadcast at the output coordinates.
OUT_VEC compute(int c[OUT_R]) { return select4(notEqual(C_texel(c), ivec4(0)), T_texel(c), E_texel(c)); }
