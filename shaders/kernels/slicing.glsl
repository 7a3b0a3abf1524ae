// Slicing family: strided copies (Slice, StridedSlice, SplitV, Unpack, Reverse, ExpandDims,
// Squeeze when no view is possible), Tile, Concat/Pack, and Pad/PadV2/MirrorPad.
// Shapes, offsets, strides and pads are uniforms; only ranks, styles and input counts are
// compiled in.  Cases that keep the packed last dimension's lanes in place are texel programs
// (one fetch per output texel); the rest gather element by element.

// a % b for a >= 0, b >= 1, without an integer division (header.glsl's udiv)
int umod(int a, int b) { return a - udiv(a, b) * b; }

//@section strided
// out[c] = X[x] with x = sb + c * smat (element units): smat[k * X_R + i] is how far input dim i
// moves per step of output dim k (the slice's stride, 0 for unrelated dims); input dims no
// output dim walks stay at sb (shrunk or squeezed dims).  A matrix rather than an index map
// keeps every array index constant, which the shader compiler turns into straight-line code.
uniform int sb[X_R];
uniform int smat[OUT_R * X_R];
bool map_coords(int c[OUT_R], out int x[X_R]) {
    for (int i = 0; i < X_R; ++i) {
        int v = sb[i];
        for (int k = 0; k < OUT_R; ++k) v += c[k] * smat[k * X_R + i];
        x[i] = v;
    }
    return true;
}

//@section tile
// Tile: out[c] = X[c % lim] per dim; lim is the input shape in the style's units (>= 1).
uniform int lim[X_R];
bool map_coords(int c[OUT_R], out int x[X_R]) {
    for (int i = 0; i < X_R; ++i) x[i] = umod(c[i], max(lim[i], 1));
    return true;
}

//@section concat
// Concat / Pack of N inputs X0..X(N-1) (N <= 8) along `axis` (amask: 1 at the axis, so array
// indices stay constant).  Input k covers output positions [cat_off[k], cat_off[k+1]) along
// the axis (texels or elements, as the style).  PACK: the axis is new, input k is the slice
// c[axis] == k and has no axis coordinate (X0_R == OUT_R - 1).
// STYLE_TEXEL selects compute() over whole texels, else value() per element.
uniform int axis;
uniform int amask[OUT_R];
uniform int cat_off[N + 1];

void input_coords(int c[OUT_R], int k, out int x[X0_R]) {
#if PACK
    for (int j = 0; j < X0_R; ++j) x[j] = j < axis ? c[j] : c[j + 1];
#else
    for (int i = 0; i < OUT_R; ++i) x[i] = c[i] - amask[i] * cat_off[k];
#endif
}

#if STYLE_TEXEL
#define PIECE(k, TEXEL, ELEM) if (a < cat_off[k + 1]) { input_coords(c, k, x); return TEXEL(x); }
OUT_VEC compute(int c[OUT_R]) {
#else
#define PIECE(k, TEXEL, ELEM) if (a < cat_off[k + 1]) { input_coords(c, k, x); return ELEM(x); }
OUT_SCALAR value(int c[OUT_R]) {
#endif
    int a = 0;
    for (int i = 0; i < OUT_R; ++i) a += c[i] * amask[i];
    int x[X0_R];
    PIECE(0, X0_texel, X0_elem)
#if N > 1
    PIECE(1, X1_texel, X1_elem)
#endif
#if N > 2
    PIECE(2, X2_texel, X2_elem)
#endif
#if N > 3
    PIECE(3, X3_texel, X3_elem)
#endif
#if N > 4
    PIECE(4, X4_texel, X4_elem)
#endif
#if N > 5
    PIECE(5, X5_texel, X5_elem)
#endif
#if N > 6
    PIECE(6, X6_texel, X6_elem)
#endif
#if N > 7
    PIECE(7, X7_texel, X7_elem)
#endif
#if STYLE_TEXEL
    return OUT_VEC(0);          // unreachable: the last piece ends at the axis' end
#else
    return OUT_SCALAR(0);
#endif
}

//@section pad
// Pad / PadV2 (mode 0: constant fval / ival) and MirrorPad (mode 1 reflect, 2 symmetric).
// lo: padding before each dim, xs: the input shape, both in elements.  In the texel style the
// packed last dim is either unpadded (mirror) or padded by a multiple of 4 before (constant),
// so each output texel is one input texel with some lanes replaced by the constant.
uniform int lo[X_R];
uniform int xs[X_R];
uniform int mode;
uniform float fval;
uniform int ival;

#if OUT_INT
#define PAD_VALUE ival
#else
#define PAD_VALUE fval
#endif

// Input coordinate of output coordinate c along dim d; false where it is constant padding.
// The amounts are validated (reflect < n, symmetric <= n), so one reflection suffices.
bool pad_coord(int c, int d, out int x) {
    int j = c - lo[d];
    int n = xs[d];
    if (mode == 0) {
        x = j;
        return j >= 0 && j < n;
    }
    int sym = mode - 1;
    if (j < 0) j = -j - sym;
    else if (j >= n) j = 2 * n - 2 - j + sym;
    x = j;
    return true;
}

#if STYLE_TEXEL
OUT_VEC compute(int c[OUT_R]) {
    int x[X_R];
    bool inside = true;
#if X_PACKED
    const int last = X_R - 1;
#else
    const int last = X_R;
#endif
    for (int d = 0; d < last; ++d) {
        int v;
        bool ok = pad_coord(c[d], d, v);
        x[d] = v;
        inside = inside && ok;
    }
    bvec4 lanes = bvec4(true);
#if X_PACKED
    // lane k holds input element e0 + k of the last dim (lo[last] % 4 == 0 here, so e0 % 4 == 0)
    int e0 = 4 * c[last] - lo[last];
    ivec4 e = ivec4(e0) + ivec4(0, 1, 2, 3);
    lanes = and4(greaterThanEqual(e, ivec4(0)), lessThan(e, ivec4(xs[last])));
    inside = inside && e0 >= 0 && e0 < xs[last];
    x[last] = max(e0, 0) / 4;
#endif
    OUT_VEC fill = OUT_VEC(PAD_VALUE);
    if (!inside) return fill;
    return select4(lanes, X_texel(x), fill);
}
#else
OUT_SCALAR value(int c[OUT_R]) {
    int x[X_R];
    for (int d = 0; d < X_R; ++d) {
        int v;
        if (!pad_coord(c[d], d, v)) return PAD_VALUE;
        x[d] = v;
    }
    return X_elem(x);
}
#endif
