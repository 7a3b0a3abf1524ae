// Gathers and scatters.  X: the data read, I: int32 indices (read per element with I_elem).
// An index outside its dim reads 0 (TF on GPU; the reference does the same).
// A fragment shader cannot scatter, so ScatterNd and TensorScatterUpdate are gathers too: each
// output looks through the (pre-resolved) update rows for the ones that target it.

//@section gather
// GatherV2.  Output dims map to index dims through imap and to params dims through pmap (0/1
// matrices, [output dim * rank + dim]: constant array indices only); the params dim `axis` takes
// the index value, which must lie in [0, adim).
uniform int imap[OUT_R * I_R];
uniform int pmap[OUT_R * X_R];
uniform int axis;
uniform int adim;
bool map_coords(int c[OUT_R], out int x[X_R]) {
    int ic[I_R];
    for (int k = 0; k < I_R; ++k) {
        int v = 0;
        for (int j = 0; j < OUT_R; ++j) v += c[j] * imap[j * I_R + k];
        ic[k] = v;
    }
    int v = I_elem(ic);
    if (v < 0 || v >= adim) return false;
    for (int i = 0; i < X_R; ++i) {
        int w = 0;
        for (int j = 0; j < OUT_R; ++j) w += c[j] * pmap[j * X_R + i];
        x[i] = i == axis ? v : w;
    }
    return true;
}

//@section gather_nd
// GatherNd: indices [..., K]; imap maps output dims to the index rows' dims, pmap to the params
// dims of the gathered slice; params dims kofs .. kofs + K - 1 take the K coordinates of the row.
uniform int imap[OUT_R * I_R];
uniform int pmap[OUT_R * X_R];
uniform int K;
uniform int kofs;
bool map_coords(int c[OUT_R], out int x[X_R]) {
    int ic[I_R];
    for (int k = 0; k < I_R; ++k) {
        int v = 0;
        for (int j = 0; j < OUT_R; ++j) v += c[j] * imap[j * I_R + k];
        ic[k] = v;
    }
    for (int i = 0; i < X_R; ++i) {
        int w = 0;
        for (int j = 0; j < OUT_R; ++j) w += c[j] * pmap[j * X_R + i];
        int q = i - kofs;
        if (q >= 0 && q < K) {
            ic[I_R - 1] = q;
            w = I_elem(ic);
            if (w < 0 || w >= X_shape[i]) return false;
        }
        x[i] = w;
    }
    return true;
}

//@section scatter_rows
// Pass 1 of the scatters: index rows I [U, K] -> the row number each addresses in the output's
// first K dims (row-major over sdims), or -1 when any coordinate is out of range.
uniform int K;
uniform int sdims[SR];
int value(int c[OUT_R]) {
    int row = 0;
    int ic[2];
    ic[0] = c[0];
    for (int j = 0; j < SR; ++j) {
        if (j < K) {
            ic[1] = j;
            int v = I_elem(ic);
            if (v < 0 || v >= sdims[j]) return -1;
            row = row * sdims[j] + v;
        }
    }
    return row;
}

//@section scatter
// Pass 2: Rows [U] from pass 1, Upd [U, ..., slice] and for UPDATE the tensor T.  This output
// position's row is sum c[j] * rowstr[j] (0 for the slice dims); the slice coordinates of Upd come
// from umap (a 0/1 matrix, [output dim * Upd_R + dim]; dim 0 is the update row).  Every update
// row equal to ours is combined: ScatterNd adds in index order (bool: or), TensorScatterUpdate
// takes the last.  Rows are fetched a texel (4 rows when packed) at a time, updates only on a
// match.  The texel style is used when the output's last dim is a slice dim, so all lanes of a
// texel share one row.
uniform int rowstr[OUT_R];
uniform int umap[OUT_R * Upd_R];
uniform int nupd;

#if Rows_PACKED
#define ROW_LANES 4
#else
#define ROW_LANES 1
#endif

#if STYLE_TEXEL
#define VAL OUT_VEC
#define UPD(uc) Upd_texel(uc)
#define TENSOR(c) T_texel(c)
OUT_VEC compute(int c[OUT_R]) {
#else
#define VAL OUT_SCALAR
#define UPD(uc) Upd_elem(uc)
#define TENSOR(c) T_elem(c)
OUT_SCALAR value(int c[OUT_R]) {
#endif
    int r = 0;
    for (int j = 0; j < OUT_R; ++j) r += c[j] * rowstr[j];
    int uc[Upd_R];
    for (int k = 0; k < Upd_R; ++k) {
        int v = 0;
        for (int j = 0; j < OUT_R; ++j) v += c[j] * umap[j * Upd_R + k];
        uc[k] = v;
    }
    int nt = (nupd + ROW_LANES - 1) / ROW_LANES;
    int rc[1];
#if UPDATE
    // last update wins: walk backwards, stop at the first match
    for (int t = nt - 1; t >= 0; --t) {
        rc[0] = t;
        ivec4 rows = Rows_texel(rc);
        for (int l = ROW_LANES - 1; l >= 0; --l) {
            int u = t * ROW_LANES + l;
            if (u < nupd && rows[l] == r) {
                uc[0] = u;
                return UPD(uc);
            }
        }
    }
    return TENSOR(c);
#else
    VAL acc = VAL(0);
    for (int t = 0; t < nt; ++t) {
        rc[0] = t;
        ivec4 rows = Rows_texel(rc);
        for (int l = 0; l < ROW_LANES; ++l) {
            int u = t * ROW_LANES + l;
            if (u < nupd && rows[l] == r) {
                uc[0] = u;
#if OUT_BOOL
                acc = acc | UPD(uc);
#else
                acc = acc + UPD(uc);
#endif
            }
        }
    }
    return acc;
#endif
}

//@section one_hot
// OneHot, always whole texels.  imap maps output dims to index dims.  AXIS_LAST: the depth is
// the output's last dim, so the four lanes are four depths of one index.  Otherwise the output's
// last dim is the indices' last dim and the lanes are four indices compared with one depth, the
// output coordinate selected by amask.
uniform int imap[OUT_R * I_R];
uniform int amask[OUT_R];
uniform float fon;
uniform float foff;
uniform int ion;
uniform int ioff;
OUT_VEC compute(int c[OUT_R]) {
    int ic[I_R];
    int depth0 = 0;
    for (int k = 0; k < I_R; ++k) {
        int v = 0;
        for (int j = 0; j < OUT_R; ++j) v += c[j] * imap[j * I_R + k];
        ic[k] = v;
    }
    for (int j = 0; j < OUT_R; ++j) depth0 += c[j] * amask[j];
#if AXIS_LAST
#if OUT_PACKED
    ivec4 depth = ivec4(4 * depth0) + ivec4(0, 1, 2, 3);
#else
    ivec4 depth = ivec4(depth0);
#endif
    bvec4 hot = equal(ivec4(I_elem(ic)), depth);
#else
    bvec4 hot = equal(I_texel(ic), ivec4(depth0));
#endif
#if OUT_INT
    return select4(hot, ivec4(ion), ivec4(ioff));
#else
    return select4(hot, vec4(fon), vec4(foff));
#endif
}
