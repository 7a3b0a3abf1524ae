// Transpose moving the last axis: out[c] = X[c permuted]; iperm[i] is the output dim that
// input dim i takes.  (A transpose keeping the last axis is a strided view, no draw.)
uniform int iperm[X_R];
OUT_SCALAR value(int c[OUT_R]) {
    int x[X_R];
    for (int i = 0; i < X_R; ++i) x[i] = c[iperm[i]];
    return X_elem(x);
}
