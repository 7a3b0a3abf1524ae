// MatrixBandPart and Diag.  (Einsum has no shader: it runs as Transpose / Reshape / Sum /
// Multiply / BatchMatMul draws, see gpu_backend/kernels/misc.py.)

//@section band
// Keep x[..., m, n] where (num_lower < 0 or m - n <= num_lower) and (num_upper < 0 or
// n - m <= num_upper), zero elsewhere; X has the output's shape and packing.
uniform int num_lower;
uniform int num_upper;
OUT_VEC compute(int c[OUT_R]) {
    int m = c[OUT_R - 2];
#if OUT_PACKED
    ivec4 col = 4 * c[OUT_R - 1] + ivec4(0, 1, 2, 3);
#else
    ivec4 col = ivec4(c[OUT_R - 1]);
#endif
    bvec4 below_ok = or4(bvec4(num_lower < 0), lessThanEqual(m - col, ivec4(num_lower)));
    bvec4 above_ok = or4(bvec4(num_upper < 0), lessThanEqual(col - m, ivec4(num_upper)));
    return select4(and4(below_ok, above_ok), X_texel(c), OUT_VEC(0));
}

//@section diag
// out[i1..ir, j1..jr] = x[i1..ir] where i == j, else 0; the output has rank 2 * X_R.
OUT_SCALAR value(int c[OUT_R]) {
    int x[X_R];
    bool on = true;
    for (int i = 0; i < X_R; ++i) {
        x[i] = c[i];
        on = on && c[i] == c[X_R + i];
    }
    return on ? X_elem(x) : OUT_SCALAR(0);
}
