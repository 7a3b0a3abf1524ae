// Copies between layouts: relayout (same shape, other packing or a dense copy of a view)
// and reshape where no view is possible (the packed last dimension changes).

//@section same_shape
OUT_SCALAR value(int c[OUT_R]) { return X_elem(c); }

//@section reshape
uniform int X_rowstr[X_R];      // row-major element strides of the input shape
uniform int out_rowstr[OUT_R];  // row-major element strides of the output shape
OUT_SCALAR value(int c[OUT_R]) {
    int idx = 0;
    for (int i = 0; i < OUT_R; ++i) idx += c[i] * out_rowstr[i];
    int x[X_R];
    for (int i = 0; i < X_R; ++i) {
        x[i] = udiv(idx, X_rowstr[i]);
        idx -= x[i] * X_rowstr[i];
    }
    return X_elem(x);
}
