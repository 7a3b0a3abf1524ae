// Shared bodies of the index-remapping kernels (slices, tiles, space/depth/batch moves, gathers).
// Each output value is one input value (or 0) at coordinates computed by the kernel's own
// map_coords(), defined in its section of another file and passed here as a library:
//     bool map_coords(int c[OUT_R], out int x[X_R]);   // false: the output is 0 there
// The same map_coords serves both styles because it works in "units": in the texel style the
// last dimension counts texels and the kernel only uses it where the mapping moves whole texels
// (the packed last dimension is copied, or scaled by a multiple of 4 values); the Python side
// passes its sizes in the matching unit.

//@section view
// The input is read through an explicit view with the output's shape (strided window,
// stride-0 broadcast, splat of a broadcast last dimension): output texel c is view texel c.
// The generated main() zeroes lanes past the end, so the view's tail may hold anything.
OUT_VEC compute(int c[OUT_R]) { return X_texel(c); }

//@section texel
bool map_coords(int c[OUT_R], out int x[X_R]);
OUT_VEC compute(int c[OUT_R]) {
    int x[X_R];
    return map_coords(c, x) ? X_texel(x) : OUT_VEC(0);
}

//@section elem
bool map_coords(int c[OUT_R], out int x[X_R]);
OUT_SCALAR value(int c[OUT_R]) {
    int x[X_R];
    return map_coords(c, x) ? X_elem(x) : OUT_SCALAR(0);
}
